//! The HTTP side of a WebSocket connection: Origin allowlist, subprotocol
//! negotiation and the per-connection limits given to the WebSocket layer.

use crate::Gateway;
use crate::admission::Admitted;
use axum::Extension;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use parley_proto::codec::{Encoding, SUBPROTOCOL_JSON, SUBPROTOCOL_PROTO};
use std::sync::Arc;

pub(crate) async fn ws_handler(
    State(gw): State<Arc<Gateway>>,
    admitted: Option<Extension<Arc<Admitted>>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if !gw.is_ready() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response();
    }
    if !origin_allowed(&gw.config.allowed_origins, &headers) {
        metrics::counter!("parley_gateway_origin_rejected_total").increment(1);
        return (StatusCode::FORBIDDEN, "origin not allowed").into_response();
    }
    let cfg = &gw.config;
    let ws = ws
        .protocols([SUBPROTOCOL_PROTO, SUBPROTOCOL_JSON])
        .read_buffer_size(cfg.read_buffer_bytes)
        .write_buffer_size(cfg.write_buffer_bytes)
        .max_write_buffer_size(cfg.write_buffer_bytes + cfg.max_server_frame())
        .max_message_size(cfg.max_frame_bytes)
        .max_frame_size(cfg.max_frame_bytes);
    let encoding = Encoding::from_subprotocol(ws.selected_protocol().and_then(|p| p.to_str().ok()));
    let tracker = gw.tracker.clone();
    // The session holds the connection's admission until it closes, and
    // frees its address's unauthenticated slot once it authenticates.
    let admitted = admitted.map(|Extension(a)| a);
    ws.on_upgrade(move |socket| {
        tracker.track_future(super::session::run(gw, socket, encoding, admitted))
    })
}

/// Browsers always send Origin; other clients usually do not. A missing
/// Origin is allowed (it protects nothing against non-browser clients),
/// a same-origin request is allowed, and anything else must be listed
/// exactly (scheme, host and port).
///
/// Same origin means the same host and a matching scheme: when a
/// TLS-terminating proxy says the request came over https
/// (`X-Forwarded-Proto`), a page served over plain http (which anyone on
/// the network path can inject script into) is a different origin and is
/// refused. Without that header the scheme cannot be known, so http and
/// https are both taken; any other scheme never is.
pub(crate) fn origin_allowed(allowed: &[String], headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return true;
    };
    if allowed
        .iter()
        .any(|a| a == "*" || a.eq_ignore_ascii_case(origin))
    {
        return true;
    }
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let Some((scheme, origin_host)) = origin.split_once("://") else {
        return false;
    };
    let forwarded = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim);
    let scheme_ok = match forwarded {
        Some(proto) => scheme.eq_ignore_ascii_case(proto),
        None => scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http"),
    };
    scheme_ok && host.eq_ignore_ascii_case(origin_host)
}

#[cfg(test)]
mod tests {
    use super::origin_allowed;
    use axum::http::{HeaderMap, HeaderValue, header};

    fn headers(origin: Option<&'static str>, host: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static(host));
        if let Some(o) = origin {
            h.insert(header::ORIGIN, HeaderValue::from_static(o));
        }
        h
    }

    #[test]
    fn origins() {
        let none: Vec<String> = vec![];
        assert!(origin_allowed(&none, &headers(None, "chat.example.com")));
        assert!(origin_allowed(
            &none,
            &headers(Some("https://chat.example.com"), "chat.example.com")
        ));
        assert!(!origin_allowed(
            &none,
            &headers(Some("https://evil.example"), "chat.example.com")
        ));
        let listed = vec!["https://app.example.com".to_string()];
        assert!(origin_allowed(
            &listed,
            &headers(Some("https://app.example.com"), "api.example.com")
        ));
        assert!(!origin_allowed(
            &listed,
            &headers(Some("http://app.example.com"), "api.example.com")
        ));
        assert!(origin_allowed(
            &["*".to_string()],
            &headers(Some("https://any.where"), "x")
        ));
    }

    #[test]
    fn same_origin_needs_the_scheme_the_proxy_saw() {
        let none: Vec<String> = vec![];
        let mut h = headers(Some("http://chat.example.com"), "chat.example.com");
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(!origin_allowed(&none, &h), "an http page on an https site");
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://chat.example.com"),
        );
        assert!(origin_allowed(&none, &h));
        for odd in ["ftp://chat.example.com", "null", "chat.example.com"] {
            let h = headers(Some(odd), "chat.example.com");
            assert!(!origin_allowed(&none, &h), "{odd}");
        }
    }
}
