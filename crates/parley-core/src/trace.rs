//! W3C trace context across process boundaries: injected into gRPC
//! metadata and bus message headers, extracted on the other side, so one
//! send is one trace from the sending gateway through storage and fanout to
//! the receiving gateway. Without an OpenTelemetry layer installed these are
//! cheap no-ops (the context is empty).

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Trace headers (`traceparent`, `tracestate`) as name/value pairs.
pub type TraceHeaders = Vec<(String, String)>;

struct Pairs<'a>(&'a mut TraceHeaders);

impl Injector for Pairs<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.push((key.to_string(), value));
    }
}

struct PairsRef<'a>(&'a [(String, String)]);

impl Extractor for PairsRef<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(k, _)| k.as_str()).collect()
    }
}

/// The current span's context as headers (empty when not tracing).
pub fn current_headers() -> TraceHeaders {
    let mut out = TraceHeaders::new();
    let cx = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&cx, &mut Pairs(&mut out));
    out
}

/// Makes `headers` (if they carry a context) the parent of `span`.
pub fn set_parent(span: &tracing::Span, headers: &[(String, String)]) {
    if headers.is_empty() {
        return;
    }
    let cx = TraceContextPropagator::new().extract(&PairsRef(headers));
    let _ = span.set_parent(cx);
}

/// Copies the current span's context into gRPC request metadata.
pub fn inject_metadata(md: &mut tonic::metadata::MetadataMap) {
    for (k, v) in current_headers() {
        if let (Ok(k), Ok(v)) = (
            tonic::metadata::MetadataKey::from_bytes(k.as_bytes()),
            tonic::metadata::MetadataValue::try_from(v.as_str()),
        ) {
            md.insert(k, v);
        }
    }
}

/// The trace headers carried by gRPC request metadata.
pub fn metadata_headers(md: &tonic::metadata::MetadataMap) -> TraceHeaders {
    ["traceparent", "tracestate"]
        .iter()
        .filter_map(|k| {
            md.get(*k)
                .and_then(|v| v.to_str().ok())
                .map(|v| (k.to_string(), v.to_string()))
        })
        .collect()
}
