//! The trace crate against a real OTLP/HTTP receiver (`testkit::otlp`: Python's
//! `opentelemetry-proto` decodes what is exported), in one test binary, a module per concern:
//!
//! - [`export`]: spans arrive decoded as recorded (ids, parent, name, kind, attributes, status,
//!   trace state, `service.name`, headers), in batches, flushed on shutdown; sampling off sends
//!   nothing; a hostile `traceparent` starts a new trace.
//! - [`collector_down`]: a collector that answers 503, stalls, rejects or refuses costs the
//!   callers nothing, and every span recorded is counted as exported, dropped or failed.

mod collector_down;
mod export;

use std::collections::HashMap;
use std::path::PathBuf;

use trace::{Config, SpanContext, SpanKind, SpanRecord, Status, Tracer};

/// A tracer configured by these OTel variables only (no warnings allowed).
pub fn tracer(vars: &[(&str, &str)]) -> Tracer {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let loaded = Config::from_lookup("trace-it", move |name| map.get(name).cloned());
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    Tracer::start(loaded.config)
        .expect("starts")
        .expect("an endpoint is configured")
}

/// A test's own directory for the receiver's files.
pub fn dir(tag: &str) -> PathBuf {
    testkit::tempdir::unique(&format!("trace-{tag}"))
}

/// A finished server span under `parent`, as the service records one.
pub fn server_span(tracer: &Tracer, parent: Option<&SpanContext>, i: i64) -> SpanRecord {
    let mut span = SpanRecord::start(
        tracer.new_context(parent),
        parent,
        "POST /sum",
        SpanKind::Server,
    );
    span.set("http.request.method", "POST");
    span.set("http.route", "/sum");
    let status = if i % 10 == 9 { 500 } else { 200 };
    span.set("http.response.status_code", status);
    span.set("request.id", format!("req-{i}"));
    span.set("retried", i % 2 == 0);
    if status >= 500 {
        span.status = Status::error("internal");
    }
    span.end();
    span
}
