//! A collector that is down, stalled or rejecting costs the callers nothing: `record` never
//! waits, shutdown keeps its bound, and every span recorded is counted exactly once as
//! exported, dropped or failed. Bounds here catch blocking (a stalled request would hold a
//! blocking caller for the 30 s export timeout); they are not performance measurements.

use std::time::{Duration, Instant};

use testkit::otlp::{Mode, OtlpReceiver};
use testkit::ports::RefusedPort;

use crate::{dir, server_span, tracer};

/// Far more than 100,000 non-blocking `record` calls take, far less than one stalled export.
const RECORD_BOUND: Duration = Duration::from_secs(20);

#[test]
fn a_stalled_collector_costs_100k_records_nothing_and_every_span_is_counted() {
    let receiver = OtlpReceiver::start(&dir("stall"));
    receiver.set_mode(Mode::Stall);
    let base = receiver.base_url();
    let t = tracer(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", base.as_str()),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "30000"),
        ("OTEL_BSP_SCHEDULE_DELAY", "5"),
    ]);
    let n = 100_000;
    let spans: Vec<_> = (0..n).map(|i| server_span(&t, None, i)).collect();
    let started = Instant::now();
    for span in spans {
        t.record(span);
    }
    let recording = started.elapsed();
    assert!(recording < RECORD_BOUND, "100k records took {recording:?}");
    // The first batch is stuck in the stalled request; the queue behind it is full.
    let during = t.counts();
    assert_eq!(during.exported, 0, "{during:?}");
    assert!(during.dropped >= n as u64 - 2048 - 512, "{during:?}");

    let started = Instant::now();
    let counts = t.shutdown(Duration::from_secs(1));
    let stopping = started.elapsed();
    assert!(
        stopping < Duration::from_secs(5),
        "shutdown took {stopping:?}"
    );
    assert_eq!(counts.exported, 0, "{counts:?}");
    assert_eq!(
        counts.total(),
        n as u64,
        "every span counted once: {counts:?}"
    );
    assert!(counts.failed >= 1, "the stalled batch failed: {counts:?}");
    assert!(receiver.spans().is_empty());
    // Released, the stalled request shows it reached the receiver: one batch, no more (the
    // exporter gave up on it and sent nothing else).
    receiver.set_mode(Mode::Accept);
    let requests = wait_requests(&receiver, 1);
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(
        requests[0]["mode"], "accept",
        "answered once the stall ended"
    );
}

#[test]
fn an_unavailable_collector_fails_batches_without_retrying_them() {
    let receiver = OtlpReceiver::start(&dir("503"));
    receiver.set_mode(Mode::Unavailable);
    let base = receiver.base_url();
    let t = tracer(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", base.as_str()),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "100"),
        ("OTEL_BSP_SCHEDULE_DELAY", "5"),
    ]);
    let n = 1000;
    let started = Instant::now();
    for i in 0..n {
        t.record(server_span(&t, None, i));
    }
    assert!(started.elapsed() < RECORD_BOUND);
    let counts = t.shutdown(Duration::from_secs(10));
    assert_eq!(counts.exported, 0, "{counts:?}");
    assert_eq!(counts.total(), n as u64, "{counts:?}");
    let requests = receiver.requests();
    assert!(requests.iter().all(|r| r["status"] == 503), "{requests:?}");
    // No retries: each failed span was sent once, in one request of at most 100.
    let sent: u64 = requests.len() as u64;
    assert!(
        sent * 100 >= counts.failed && sent <= counts.failed,
        "{sent} requests, {counts:?}"
    );

    // The collector comes back: new spans are exported again.
    receiver.set_mode(Mode::Accept);
    let t = tracer(&[("OTEL_EXPORTER_OTLP_ENDPOINT", base.as_str())]);
    for i in 0..10 {
        t.record(server_span(&t, None, i));
    }
    assert_eq!(t.shutdown(Duration::from_secs(10)).exported, 10);
}

#[test]
fn spans_the_collector_rejects_count_as_failed() {
    let receiver = OtlpReceiver::start(&dir("reject"));
    receiver.set_mode(Mode::Reject);
    let url = receiver.traces_url();
    let t = tracer(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url.as_str())]);
    for i in 0..7 {
        t.record(server_span(&t, None, i));
    }
    let counts = t.shutdown(Duration::from_secs(10));
    assert_eq!((counts.exported, counts.dropped, counts.failed), (0, 0, 7));
    assert_eq!(receiver.requests().len(), 1);
}

#[test]
fn a_collector_that_refuses_connections_fails_spans_quickly() {
    let port = RefusedPort::reserve().expect("reserve a port");
    let base = port.base_url();
    let t = tracer(&[("OTEL_EXPORTER_OTLP_ENDPOINT", base.as_str())]);
    for i in 0..20 {
        t.record(server_span(&t, None, i));
    }
    let started = Instant::now();
    let counts = t.shutdown(Duration::from_secs(10));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!((counts.exported, counts.dropped, counts.failed), (0, 0, 20));
}

/// The receiver's request log once it has `n` entries (a stalled request is logged when it
/// ends), waiting up to 10 s.
fn wait_requests(receiver: &OtlpReceiver, n: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let requests = receiver.requests();
        if requests.len() >= n || Instant::now() >= deadline {
            return requests;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
