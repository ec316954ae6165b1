//! The browser app (web/), built into web/dist and embedded in the binary so
//! that `parley up` serves it with nothing else installed. The built files
//! are committed; a test checks they match the sources (web/dist/SOURCE_HASH).

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use rust_embed::Embed;

#[derive(Embed)]
#[folder = "../../web/dist"]
struct WebApp;

/// Scripts, styles and connections only from this origin; no framing.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// `/`: the app's page. Never cached, so a new release is picked up at once.
pub(crate) async fn index() -> Response {
    match WebApp::get("index.html") {
        Some(f) => {
            let mut r = (
                [
                    (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                    (header::CACHE_CONTROL, "no-cache"),
                ],
                body(f.data),
            )
                .into_response();
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            );
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            h.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            );
            h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            r
        }
        None => (
            StatusCode::NOT_FOUND,
            "the web app was not built into this binary",
        )
            .into_response(),
    }
}

/// `/assets/<name>`: content-hashed files, cached for a year.
pub(crate) async fn asset(Path(name): Path<String>) -> Response {
    match WebApp::get(&format!("assets/{name}")) {
        Some(f) => (
            [
                (header::CONTENT_TYPE, content_type(&name)),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            body(f.data),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

/// The file's bytes without a copy: embedded files are `'static`.
fn body(data: std::borrow::Cow<'static, [u8]>) -> Bytes {
    match data {
        std::borrow::Cow::Borrowed(b) => Bytes::from_static(b),
        std::borrow::Cow::Owned(v) => Bytes::from(v),
    }
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("woff2") => "font/woff2",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};
    use std::path::{Path as FsPath, PathBuf};

    /// The files web/scripts/stamp.mjs hashes, in the same order.
    fn inputs(root: &FsPath) -> Vec<String> {
        fn walk(root: &FsPath, rel: &str, out: &mut Vec<String>) {
            let full = root.join(rel);
            if full.is_dir() {
                for entry in std::fs::read_dir(&full).expect("read web dir") {
                    let name = entry.expect("dir entry").file_name();
                    walk(root, &format!("{rel}/{}", name.to_string_lossy()), out);
                }
            } else if !rel.ends_with(".test.ts") {
                out.push(rel.to_string());
            }
        }
        let mut out = Vec::new();
        for top in [
            "index.html",
            "package-lock.json",
            "tsconfig.json",
            "vite.config.ts",
            "src",
        ] {
            walk(root, top, &mut out);
        }
        out.sort();
        out
    }

    #[test]
    fn committed_web_build_matches_its_sources() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../web");
        let mut hash = Sha256::new();
        for f in inputs(&root) {
            hash.update(format!("{f}\n"));
            hash.update(std::fs::read(root.join(&f)).expect("read web source"));
            hash.update("\n");
        }
        let actual: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
        let stamped =
            std::fs::read_to_string(root.join("dist/SOURCE_HASH")).expect("web/dist/SOURCE_HASH");
        assert_eq!(
            stamped.trim(),
            actual,
            "web/dist was built from other sources: run `npm ci && npm run build` in web/ and commit web/dist"
        );
    }

    #[tokio::test]
    async fn serves_the_app_with_a_strict_policy() {
        let r = index().await;
        assert_eq!(r.status(), StatusCode::OK);
        assert!(
            r.headers()[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'")
        );
        let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        let html = String::from_utf8(body.to_vec()).unwrap();
        let script = html
            .split("src=\"/assets/")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("a script tag");
        let r = asset(Path(script.to_string())).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        assert!(
            r.headers()[header::CACHE_CONTROL]
                .to_str()
                .unwrap()
                .contains("immutable")
        );
        assert_eq!(
            asset(Path("nope.js".into())).await.status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            asset(Path("../index.html".into())).await.status(),
            StatusCode::NOT_FOUND
        );
    }
}
