//! The HTTP side of a WebSocket connection: Origin allowlist, subprotocol
//! negotiation and the per-connection limits given to the WebSocket layer.

use crate::Gateway;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use parley_proto::codec::{Encoding, SUBPROTOCOL_JSON, SUBPROTOCOL_PROTO};
use std::sync::Arc;

pub(crate) async fn ws_handler(
    State(gw): State<Arc<Gateway>>,
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
    ws.on_upgrade(move |socket| tracker.track_future(super::session::run(gw, socket, encoding)))
}

/// Browsers always send Origin; other clients usually do not. A missing
/// Origin is allowed (it protects nothing against non-browser clients),
/// a same-origin request is allowed, and anything else must be listed.
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
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    matches!((host, origin_host), (Some(h), Some(o)) if h.eq_ignore_ascii_case(o))
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
}
