//! Spans exported to a real receiver and decoded there by Python's `opentelemetry-proto`.

use std::time::{Duration, Instant};

use testkit::otlp::OtlpReceiver;
use trace::{SpanContext, SpanKind, SpanRecord, Status};

use crate::{dir, server_span, tracer};

const PARENT: &[u8] = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[test]
fn spans_arrive_decoded_as_they_were_recorded() {
    let receiver = OtlpReceiver::start(&dir("decoded"));
    let base = receiver.base_url();
    let t = tracer(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", base.as_str()),
        ("OTEL_SERVICE_NAME", "sum-api-it"),
        ("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=it"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=t%201"),
    ]);
    // A server span under a caller's context, with every attribute type and an error status.
    let parent = SpanContext::extract([PARENT], [b"congo=t61rcWkgMzE,rojo=1".as_slice()])
        .expect("a valid parent");
    let mut server = SpanRecord::start(
        t.new_context(Some(&parent)),
        Some(&parent),
        "POST /sum",
        SpanKind::Server,
    );
    server.set("http.route", "/sum");
    server.set("http.response.status_code", 500i64);
    server.set("error.code", "internal");
    server.set("retried", false);
    server.status = Status::error("upstream failed");
    server.end();
    // A client span that starts its own trace, as the canary's probe does.
    let mut client = SpanRecord::start(t.new_context(None), None, "GET /health", SpanKind::Client);
    client.set("url.full", "http://127.0.0.1/health");
    client.end();
    t.record(server.clone());
    t.record(client.clone());
    let counts = t.shutdown(Duration::from_secs(10));
    assert_eq!(
        (counts.exported, counts.dropped, counts.failed),
        (2, 0, 0),
        "{counts:?}"
    );

    let spans = receiver.wait_for_spans(2, Duration::from_secs(5));
    assert_eq!(spans.len(), 2, "{spans:?}");
    let s = spans
        .iter()
        .find(|s| s.kind == "SPAN_KIND_SERVER")
        .expect("the server span");
    assert_eq!(
        s.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736",
        "the caller's trace"
    );
    assert_eq!(s.parent_span_id, "00f067aa0ba902b7", "the caller's span");
    assert_eq!(s.span_id, server.context.span_id.to_string());
    assert_ne!(s.span_id, s.parent_span_id);
    assert_eq!(s.name, "POST /sum");
    assert_eq!(s.attributes["http.route"], "/sum");
    assert_eq!(s.attributes["http.response.status_code"], 500);
    assert_eq!(s.attributes["error.code"], "internal");
    assert_eq!(s.attributes["retried"], false);
    assert_eq!(s.status_code, "STATUS_CODE_ERROR");
    assert_eq!(s.status_message, "upstream failed");
    assert_eq!(s.service_name.as_deref(), Some("sum-api-it"));
    assert_eq!(s.json["resource"]["deployment.environment"], "it");
    assert_eq!(s.json["trace_state"], "congo=t61rcWkgMzE,rojo=1");
    assert_eq!(s.json["flags"], 0x301, "sampled; the parent is remote");
    assert_eq!(s.json["start_time_unix_nano"], server.start_unix_nanos);
    assert_eq!(s.json["end_time_unix_nano"], server.end_unix_nanos);
    assert_eq!(s.json["scope"], "trace");

    let c = spans
        .iter()
        .find(|s| s.kind == "SPAN_KIND_CLIENT")
        .expect("the client span");
    assert_eq!(c.trace_id, client.context.trace_id.to_string());
    assert_ne!(c.trace_id, s.trace_id, "a new trace");
    assert_eq!(c.parent_span_id, "", "a root span");
    assert_eq!(c.status_code, "STATUS_CODE_UNSET");
    assert_eq!(c.json["flags"], 1);

    let requests = receiver.requests();
    assert_eq!(requests.len(), 1, "one batch: {requests:?}");
    assert_eq!(requests[0]["path"], "/v1/traces");
    assert_eq!(requests[0]["content_type"], "application/x-protobuf");
    assert_eq!(requests[0]["headers"]["x-tenant"], "t 1");
    assert_eq!(requests[0]["status"], 200);
}

#[test]
fn batches_go_when_full_or_due_and_shutdown_flushes_the_rest() {
    let receiver = OtlpReceiver::start(&dir("batches"));
    let url = receiver.traces_url();
    let t = tracer(&[
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url.as_str()),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "10"),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ]);
    for i in 0..25 {
        t.record(server_span(&t, None, i));
    }
    // Two full batches go at once, the last five when their delay is up; no shutdown needed.
    let spans = receiver.wait_for_spans(25, Duration::from_secs(10));
    assert_eq!(spans.len(), 25);
    let sizes: Vec<u64> = receiver
        .requests()
        .iter()
        .map(|r| r["spans"].as_u64().expect("spans"))
        .collect();
    assert!(sizes.iter().all(|&n| n <= 10), "{sizes:?}");
    assert_eq!(sizes.iter().sum::<u64>(), 25);
    let mut ids: Vec<_> = spans.iter().map(|s| s.span_id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 25, "every span once");
    assert_eq!(t.counts().exported, 25);

    // A long schedule delay: shutdown sends what waits at once instead of waiting it out.
    let receiver = OtlpReceiver::start(&dir("flush"));
    let url = receiver.traces_url();
    let t = tracer(&[
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "600000"),
    ]);
    for i in 0..100 {
        t.record(server_span(&t, None, i));
    }
    let started = Instant::now();
    let counts = t.shutdown(Duration::from_secs(20));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(counts.exported, 100, "{counts:?}");
    assert_eq!(receiver.spans().len(), 100);
}

#[test]
fn sampling_off_exports_nothing() {
    let receiver = OtlpReceiver::start(&dir("off"));
    let base = receiver.base_url();
    for sampler in ["always_off", "parentbased_always_off"] {
        let t = tracer(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", base.as_str()),
            ("OTEL_TRACES_SAMPLER", sampler),
            ("OTEL_BSP_SCHEDULE_DELAY", "10"),
        ]);
        for i in 0..50 {
            t.record(server_span(&t, None, i));
        }
        assert_eq!(t.shutdown(Duration::from_secs(5)).total(), 0, "{sampler}");
    }
    // An unsampled caller under the default parent-based sampler: nothing either.
    let t = tracer(&[("OTEL_EXPORTER_OTLP_ENDPOINT", base.as_str())]);
    let unsampled = SpanContext::extract(
        [b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00".as_slice()],
        [],
    )
    .expect("valid");
    t.record(server_span(&t, Some(&unsampled), 1));
    assert_eq!(t.shutdown(Duration::from_secs(5)).total(), 0);
    assert!(receiver.requests().is_empty(), "{:?}", receiver.requests());
}

#[test]
fn a_ratio_sampler_exports_its_share_and_the_callers_decision_wins() {
    let receiver = OtlpReceiver::start(&dir("ratio"));
    let base = receiver.base_url();
    let t = tracer(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", base.as_str()),
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "10000"),
    ]);
    let n = 4000;
    for i in 0..n {
        t.record(server_span(&t, None, i));
    }
    // A sampled caller is followed whatever its trace id.
    let sampled = SpanContext::extract([PARENT], []).expect("valid");
    for i in 0..10 {
        t.record(server_span(&t, Some(&sampled), i));
    }
    let counts = t.shutdown(Duration::from_secs(10));
    // Binomial(4000, 0.25): the standard deviation is about 27; 6 of them is 164.
    let roots = counts.exported - 10;
    assert!(
        roots.abs_diff(1000) < 165,
        "{roots} of {n} roots exported at 0.25"
    );
    let spans = receiver.spans();
    assert_eq!(spans.len() as u64, counts.exported);
    assert_eq!(
        spans
            .iter()
            .filter(|s| s.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736")
            .count(),
        10
    );
}

#[test]
fn a_hostile_traceparent_starts_a_new_trace() {
    let receiver = OtlpReceiver::start(&dir("hostile"));
    let base = receiver.base_url();
    let t = tracer(&[("OTEL_EXPORTER_OTLP_ENDPOINT", base.as_str())]);
    let hostile: [&[u8]; 8] = [
        b"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        b"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        b"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        b"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        b"00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
        b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        &[b'0'; 4096],
    ];
    for (i, value) in hostile.iter().enumerate() {
        let parent = SpanContext::extract([*value], [b"congo=x".as_slice()]);
        assert!(parent.is_none(), "{:?}", String::from_utf8_lossy(value));
        t.record(server_span(&t, parent.as_ref(), i as i64));
    }
    assert_eq!(
        t.shutdown(Duration::from_secs(10)).exported,
        hostile.len() as u64
    );
    let spans = receiver.spans();
    assert_eq!(spans.len(), hostile.len());
    for s in &spans {
        assert_eq!(s.parent_span_id, "", "a root: {s:?}");
        assert_ne!(s.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(s.json["trace_state"], "", "no trace state without a parent");
    }
}
