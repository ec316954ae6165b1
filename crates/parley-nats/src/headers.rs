//! Trace context in NATS message headers (W3C traceparent/tracestate).

use parley_core::trace::TraceHeaders;

/// NATS headers carrying the current trace context.
pub(crate) fn current() -> async_nats::HeaderMap {
    let mut headers = async_nats::HeaderMap::new();
    for (k, v) in parley_core::trace::current_headers() {
        headers.insert(k.as_str(), v.as_str());
    }
    headers
}

/// The trace context in a message's headers.
pub(crate) fn trace_of(headers: Option<&async_nats::HeaderMap>) -> TraceHeaders {
    let Some(h) = headers else { return Vec::new() };
    ["traceparent", "tracestate"]
        .iter()
        .filter_map(|k| h.get(*k).map(|v| (k.to_string(), v.as_str().to_string())))
        .collect()
}
