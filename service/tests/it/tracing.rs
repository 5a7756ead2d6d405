//! Tracing with real parts: the real `service` binary configured by OpenTelemetry's variables,
//! exporting to the real OTLP/HTTP receiver (`testkit::otlp`, decoding with Python's
//! `opentelemetry-proto`, independent of the Rust encoder), scraped by `promtool` and by a real
//! Prometheus that stores exemplars.
//!
//! What a user would check: a sampled request exports one server span under its caller's span,
//! with the route, status, request id and error code; sampling off exports nothing; each access
//! log line's `trace_id` is the exported span's; hostile `traceparent` values are ignored (the
//! request answered as usual, in a trace of its own); a collector that refuses connections or
//! stalls costs no request anything and every span is counted as exported, dropped or failed;
//! the latency histogram carries the trace ids of sampled requests as exemplars in OpenMetrics.

use crate::common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::Binary;
use serde_json::Value;
use testkit::otlp::{Mode, OtlpReceiver, ReceivedSpan};
use testkit::process::Process;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";
const SUM: &str = r#"{"numbers":[1,2,3]}"#;

/// The service exporting to `endpoint` (an `OTEL_EXPORTER_OTLP_ENDPOINT`), batches sent every
/// 50 ms, plus `extra` variables.
fn traced(endpoint: &str, extra: &[(&str, &str)]) -> Binary {
    let mut envs = vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ("OTEL_BSP_SCHEDULE_DELAY", "50"),
    ];
    envs.extend_from_slice(extra);
    Binary::spawn(&["--shutdown-drain", "0s"], &envs)
}

/// `traceparent` (and more) header lines for a request head.
fn traceparent(value: &str) -> String {
    format!("\r\ntraceparent: {value}")
}

/// The access log lines (`message` = `request`), waiting up to 5 s for `n` of them.
async fn access_lines(bin: &Binary, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let lines: Vec<Value> = bin
            .log_lines()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["message"] == "request")
            .collect();
        if lines.len() >= n || Instant::now() > deadline {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The access line of the request with this `request_id`.
fn line_of<'a>(lines: &'a [Value], request_id: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l["request_id"] == request_id)
        .unwrap_or_else(|| panic!("no access line for {request_id}: {lines:?}"))
}

/// The span whose `request.id` attribute is `request_id`.
fn span_of<'a>(spans: &'a [ReceivedSpan], request_id: &str) -> &'a ReceivedSpan {
    spans
        .iter()
        .find(|s| s.attributes.get("request.id") == Some(&Value::from(request_id)))
        .unwrap_or_else(|| panic!("no span for {request_id}: {spans:?}"))
}

/// Whether `id` is `len` lowercase hex digits and not all zeros.
fn is_id(id: &str, len: usize) -> bool {
    id.len() == len
        && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        && id.bytes().any(|b| b != b'0')
}

/// `sumapi_trace_spans_total` by outcome: (exported, dropped, failed).
async fn span_counts(metrics: SocketAddr) -> (f64, f64, f64) {
    let mut counts = [0.0; 3];
    for (count, outcome) in counts.iter_mut().zip(["exported", "dropped", "failed"]) {
        let series = format!(r#"sumapi_trace_spans_total{{outcome="{outcome}"}}"#);
        *count = common::sample(metrics, &series).await;
    }
    (counts[0], counts[1], counts[2])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sampled_request_exports_one_server_span_under_its_parent_with_the_logged_trace_id() {
    let dir = testkit::tempdir::unique("service-trace-export");
    let receiver = OtlpReceiver::start(&dir);
    let bin = traced(&receiver.base_url(), &[]);
    let parent = format!("00-{TRACE_ID}-{PARENT_ID}-01");
    let res = common::post_sum(
        bin.addr,
        SUM,
        &format!(
            "{}\r\ntracestate: congo=t61rcWkgMzE\r\nX-Request-ID: traced-1",
            traceparent(&parent)
        ),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text());
    // The server span's context is not sent back (docs/tracing.md: the caller has the trace
    // id; X-Request-ID is echoed).
    assert_eq!(res.header("traceparent"), None);
    assert_eq!(res.header("x-request-id"), Some("traced-1"));
    // An error answer, a request without a parent and one that matched no route.
    let bad = common::post_sum(
        bin.addr,
        "{",
        &format!("{}\r\nX-Request-ID: traced-2", traceparent(&parent)),
    )
    .await;
    assert_eq!(bad.status, 400);
    let root = common::post_sum(bin.addr, SUM, "\r\nX-Request-ID: traced-3").await;
    assert_eq!(root.status, 200);
    let nowhere = testkit::raw::request(
        bin.addr,
        "GET /nowhere/42 HTTP/1.1\r\nHost: t\r\nX-Request-ID: traced-4",
        b"",
    )
    .await;
    assert_eq!(nowhere.status, 404);

    let spans = receiver.wait_for_spans(4, Duration::from_secs(20));
    assert_eq!(spans.len(), 4, "one span per request: {spans:?}");
    let lines = access_lines(&bin, 4).await;

    let span = span_of(&spans, "traced-1");
    assert_eq!(span.trace_id, TRACE_ID);
    assert_eq!(span.parent_span_id, PARENT_ID);
    assert!(
        is_id(&span.span_id, 16) && span.span_id != PARENT_ID,
        "{span:?}"
    );
    assert_eq!(span.name, "POST /api/v1/sum");
    assert_eq!(span.kind, "SPAN_KIND_SERVER");
    assert_eq!(span.service_name.as_deref(), Some("sum-api"));
    assert_eq!(span.attributes["http.request.method"], "POST");
    assert_eq!(span.attributes["http.route"], "/api/v1/sum");
    assert_eq!(span.attributes["http.response.status_code"], 200);
    assert_eq!(span.status_code, "STATUS_CODE_UNSET");
    assert_eq!(
        span.json["trace_state"], "congo=t61rcWkgMzE",
        "{:?}",
        span.json
    );
    let line = line_of(&lines, "traced-1");
    assert_eq!(line["trace_id"], TRACE_ID);
    assert_eq!(line["span_id"], span.span_id.as_str());

    let span = span_of(&spans, "traced-2");
    assert_eq!(
        (span.trace_id.as_str(), span.parent_span_id.as_str()),
        (TRACE_ID, PARENT_ID)
    );
    assert_eq!(span.attributes["http.response.status_code"], 400);
    assert_eq!(span.attributes["sumapi.error_code"], "INVALID_REQUEST_BODY");
    // A 4xx is the client's error: the server span's status stays unset.
    assert_eq!(span.status_code, "STATUS_CODE_UNSET");
    assert_eq!(
        line_of(&lines, "traced-2")["span_id"],
        span.span_id.as_str()
    );

    // Without a parent, parent-based sampling samples the new root (the default sampler).
    let span = span_of(&spans, "traced-3");
    assert_eq!(span.parent_span_id, "");
    assert!(is_id(&span.trace_id, 32) && span.trace_id != TRACE_ID);
    assert_eq!(
        line_of(&lines, "traced-3")["trace_id"],
        span.trace_id.as_str()
    );

    let span = span_of(&spans, "traced-4");
    assert_eq!(span.name, "GET", "no route: the method alone");
    assert!(!span.attributes.contains_key("http.route"), "{span:?}");
    assert_eq!(span.attributes["sumapi.error_code"], "NOT_FOUND");
    assert_eq!(
        line_of(&lines, "traced-4")["trace_id"],
        span.trace_id.as_str()
    );

    assert_eq!(span_counts(bin.metrics_addr).await, (4.0, 0.0, 0.0));
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampling_off_exports_nothing_but_still_logs_trace_ids() {
    let dir = testkit::tempdir::unique("service-trace-off");
    let receiver = OtlpReceiver::start(&dir);
    let off = traced(
        &receiver.base_url(),
        &[("OTEL_TRACES_SAMPLER", "always_off")],
    );
    let sampled_parent = format!("00-{TRACE_ID}-{PARENT_ID}-01");
    for (i, extra) in [traceparent(&sampled_parent), String::new()]
        .iter()
        .enumerate()
    {
        let res =
            common::post_sum(off.addr, SUM, &format!("{extra}\r\nX-Request-ID: off-{i}")).await;
        assert_eq!(res.status, 200);
    }
    // The default sampler follows an unsampled parent.
    let parent_based = traced(&receiver.base_url(), &[]);
    let unsampled = format!("00-{TRACE_ID}-{PARENT_ID}-00");
    let res = common::post_sum(
        parent_based.addr,
        SUM,
        &format!("{}\r\nX-Request-ID: unsampled", traceparent(&unsampled)),
    )
    .await;
    assert_eq!(res.status, 200);
    // A sampled request after them: once its span is in, anything exported before it is too.
    let res = common::post_sum(
        parent_based.addr,
        SUM,
        &format!("{}\r\nX-Request-ID: sampled", traceparent(&sampled_parent)),
    )
    .await;
    assert_eq!(res.status, 200);
    let spans = receiver.wait_for_spans(1, Duration::from_secs(20));
    // The always_off service's batches would have been sent within the same 50 ms.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let spans: Vec<_> = receiver.spans().into_iter().chain(spans).collect();
    let ids: HashSet<_> = spans
        .iter()
        .map(|s| s.attributes.get("request.id").cloned())
        .collect();
    assert_eq!(
        ids,
        HashSet::from([Some(Value::from("sampled"))]),
        "{spans:?}"
    );
    assert_eq!(span_counts(off.metrics_addr).await, (0.0, 0.0, 0.0));

    // Unsampled requests still log the caller's trace id, or a fresh one.
    let lines = access_lines(&off, 2).await;
    assert_eq!(line_of(&lines, "off-0")["trace_id"], TRACE_ID);
    let fresh = line_of(&lines, "off-1")["trace_id"]
        .as_str()
        .unwrap_or_default();
    assert!(is_id(fresh, 32) && fresh != TRACE_ID, "{fresh}");
    for line in &lines {
        let span_id = line["span_id"].as_str().unwrap_or_default();
        assert!(is_id(span_id, 16) && span_id != PARENT_ID, "{line}");
    }
    let lines = access_lines(&parent_based, 2).await;
    assert_eq!(line_of(&lines, "unsampled")["trace_id"], TRACE_ID);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_traceparents_are_ignored_and_the_request_answered_in_a_new_trace() {
    let dir = testkit::tempdir::unique("service-trace-hostile");
    let receiver = OtlpReceiver::start(&dir);
    let bin = traced(&receiver.base_url(), &[]);
    let ids = format!("{TRACE_ID}-{PARENT_ID}");
    let hostile: Vec<String> = vec![
        format!("ff-{ids}-01"),                          // forbidden version
        format!("0x-{ids}-01"),                          // version not hex
        format!("00-{}-{PARENT_ID}-01", "0".repeat(32)), // all-zero trace id
        format!("00-{TRACE_ID}-{}-01", "0".repeat(16)),  // all-zero parent id
        format!("00-{}-{PARENT_ID}-01", TRACE_ID.to_uppercase()),
        format!("00-{}g-{PARENT_ID}-01", &TRACE_ID[..31]), // non-hex
        format!("00-{ids}-0z"),
        format!("00-{ids}-01-trailing"), // version 00 is exactly 55 characters
        format!("00-{ids}"),             // too short
        format!("01-{ids}-01{}", "-x".repeat(150)), // over 256 characters
        format!("00-{ids}-01{}", "0".repeat(4000)), // overlong
        format!("00_{TRACE_ID}_{PARENT_ID}_01"),
        format!("00-{TRACE_ID} -{PARENT_ID}-01"),
        "{\"traceparent\":null}".to_owned(),
        format!("00-{ids}-01, 00-{ids}-01"), // two in one field
        format!("00-{ids}-01\r\ntraceparent: 00-{ids}-01"), // the header twice
    ];
    for (i, value) in hostile.iter().enumerate() {
        let res = common::post_sum(
            bin.addr,
            SUM,
            &format!("{}\r\nX-Request-ID: hostile-{i}", traceparent(value)),
        )
        .await;
        assert_eq!(res.status, 200, "{value:?}: {}", res.text());
        assert!(
            res.text().contains(r#""sum":6"#),
            "{value:?}: {}",
            res.text()
        );
    }
    let lines = access_lines(&bin, hostile.len()).await;
    let spans = receiver.wait_for_spans(hostile.len(), Duration::from_secs(20));
    let mut seen = HashSet::new();
    for (i, value) in hostile.iter().enumerate() {
        let id = format!("hostile-{i}");
        let trace_id = line_of(&lines, &id)["trace_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(is_id(&trace_id, 32), "{value:?}: {trace_id}");
        assert_ne!(trace_id, TRACE_ID, "{value:?} was taken as a parent");
        assert!(
            seen.insert(trace_id.clone()),
            "a trace id twice: {trace_id}"
        );
        let span = span_of(&spans, &id);
        assert_eq!(span.trace_id, trace_id, "{value:?}");
        assert_eq!(span.parent_span_id, "", "{value:?}: a root span");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Sends `n` sum requests from 16 concurrent keep-alive clients; returns how many were not
/// answered 200 and the slowest answer.
async fn load(addr: SocketAddr, n: usize) -> (usize, Duration) {
    const CLIENTS: usize = 16;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("an HTTP client");
    let url = format!("http://{addr}/api/v1/sum");
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let (mut failed, mut slowest) = (0, Duration::ZERO);
            for _ in (c..n).step_by(CLIENTS) {
                let start = Instant::now();
                let ok = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(SUM)
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200);
                slowest = slowest.max(start.elapsed());
                failed += usize::from(!ok);
            }
            (failed, slowest)
        }));
    }
    let mut total = (0, Duration::ZERO);
    for task in tasks {
        let (failed, slowest) = task.await.expect("a load task");
        total = (total.0 + failed, total.1.max(slowest));
    }
    total
}

/// Waits (≤ `limit`) until the span counters add up to `n`; returns them.
async fn counted(metrics: SocketAddr, n: f64, limit: Duration) -> (f64, f64, f64) {
    let deadline = Instant::now() + limit;
    loop {
        let counts = span_counts(metrics).await;
        if counts.0 + counts.1 + counts.2 >= n || Instant::now() > deadline {
            return counts;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const LOAD: usize = 2000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_collector_fails_no_request_and_every_span_is_counted() {
    let refused = testkit::ports::RefusedPort::reserve().expect("a refused port");
    let bin = traced(
        &refused.base_url(),
        &[
            ("OTEL_BSP_MAX_QUEUE_SIZE", "64"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "16"),
        ],
    );
    let (failed, slowest) = load(bin.addr, LOAD).await;
    assert_eq!(
        failed, 0,
        "requests failed while the collector refused connections"
    );
    let (exported, dropped, export_failed) =
        counted(bin.metrics_addr, LOAD as f64, Duration::from_secs(30)).await;
    assert_eq!(exported, 0.0);
    assert_eq!(
        dropped + export_failed,
        LOAD as f64,
        "dropped {dropped}, failed {export_failed}"
    );
    assert!(export_failed > 0.0, "the exporter tried");
    assert!(
        slowest < Duration::from_secs(5),
        "slowest answer {slowest:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_collector_slows_no_request_and_the_full_queue_drops_and_counts() {
    let dir = testkit::tempdir::unique("service-trace-stall");
    let receiver = OtlpReceiver::start(&dir);
    receiver.set_mode(Mode::Stall);
    // An export request may hang for 10 s; a request that waited for one would show it.
    let bin = traced(
        &receiver.base_url(),
        &[
            ("OTEL_BSP_MAX_QUEUE_SIZE", "64"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "16"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "10000"),
        ],
    );
    let (failed, slowest) = load(bin.addr, LOAD).await;
    assert_eq!(failed, 0, "requests failed while the collector stalled");
    assert!(
        slowest < Duration::from_secs(5),
        "an answer waited for the stalled export: {slowest:?}"
    );
    let (_, dropped, _) = span_counts(bin.metrics_addr).await;
    assert!(
        dropped >= (LOAD - 64 - 16 * 4) as f64,
        "a stalled export holds one batch; the queue holds 64 more: dropped {dropped}"
    );
    // Once the collector answers again, what was queued is exported and all is counted.
    receiver.set_mode(Mode::Accept);
    let (exported, dropped, export_failed) =
        counted(bin.metrics_addr, LOAD as f64, Duration::from_secs(40)).await;
    assert_eq!(
        exported + dropped + export_failed,
        LOAD as f64,
        "exported {exported}, dropped {dropped}, failed {export_failed}"
    );
    assert!(exported > 0.0, "the queue drained to the collector");
    std::fs::remove_dir_all(&dir).ok();
}

/// Runs `promtool check metrics` on `text`; panics with its complaints unless it is clean.
fn promtool_check(text: &str, dir: &Path, name: &str) {
    let file = dir.join(name);
    std::fs::write(&file, text).expect("write scrape");
    let out = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&file).expect("open scrape"))
        .output()
        .unwrap_or_else(|e| panic!("promtool is required ({e}); install it with scripts/deps/apt.sh (Debian package `prometheus`)"));
    let complaints = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && complaints.trim().is_empty(),
        "promtool check metrics complained about {name}:\n{complaints}\n--- scrape ---\n{text}"
    );
}

/// A GET of `/metrics` with this `Accept`.
async fn scrape(metrics: SocketAddr, accept: &str) -> testkit::raw::Response {
    testkit::raw::request(
        metrics,
        &format!("GET /metrics HTTP/1.1\r\nHost: t\r\nAccept: {accept}"),
        b"",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openmetrics_scrapes_carry_exemplars_of_sampled_requests_and_prometheus_stores_them() {
    let dir = testkit::tempdir::unique("service-trace-exemplars");
    let receiver = OtlpReceiver::start(&dir);
    let bin = traced(&receiver.base_url(), &[]);
    let parent = format!("00-{TRACE_ID}-{PARENT_ID}-01");
    let res = common::post_sum(bin.addr, SUM, &traceparent(&parent)).await;
    assert_eq!(res.status, 200);
    let span = receiver.wait_for_spans(1, Duration::from_secs(20))[0].clone();
    // An unsampled request in another bucket series: no exemplar of its own.
    common::post_sum(
        bin.addr,
        "{",
        &traceparent(&format!("00-{TRACE_ID}-{PARENT_ID}-00")),
    )
    .await;

    let om = scrape(
        bin.metrics_addr,
        "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
    )
    .await;
    assert_eq!(om.status, 200);
    assert_eq!(
        om.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    let text = om.text();
    assert!(text.ends_with("# EOF\n"), "{text}");
    let exemplars: Vec<&str> = text.lines().filter(|l| l.contains(" # {")).collect();
    assert_eq!(
        exemplars.len(),
        1,
        "only the sampled request's bucket: {text}"
    );
    assert!(
        exemplars[0].starts_with(
            r#"sumapi_http_request_duration_seconds_bucket{method="POST",route="/api/v1/sum",status="200",le="#
        ) && exemplars[0].contains(&format!(
            r#" # {{trace_id="{TRACE_ID}",span_id="{}"}} "#,
            span.span_id
        )),
        "{}",
        exemplars[0]
    );

    // The Prometheus text: the same samples, no exemplars, clean by promtool.
    let plain = common::get(bin.metrics_addr, "/metrics").await;
    assert!(
        plain
            .header("content-type")
            .is_some_and(|c| c.starts_with("text/plain; version=0.0.4"))
    );
    let plain = String::from_utf8(plain.body).expect("UTF-8");
    assert!(
        !plain.contains(" # {") && !plain.contains("# EOF"),
        "{plain}"
    );
    promtool_check(&plain, &dir, "metrics.prom");
    // promtool (2.42) reads only the Prometheus text (an exemplar is a syntax error to it, an
    // OpenMetrics counter family a help-less one): the OpenMetrics samples are compared with the
    // promtool-clean ones here, and the whole text is read by Prometheus below.
    let without_exemplars: std::collections::BTreeSet<&str> = text
        .lines()
        .map(|l| l.split_once(" # {").map_or(l, |(sample, _)| sample))
        .filter(|l| !l.starts_with('#'))
        .collect();
    let plain_samples: std::collections::BTreeSet<&str> = plain
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(
        without_exemplars, plain_samples,
        "both formats carry the same samples"
    );

    prometheus_stores_the_exemplar(bin.metrics_addr, &dir, &span.span_id).await;
    std::fs::remove_dir_all(&dir).ok();
}

/// A real Prometheus (Debian's, the version of `promtool`) scrapes `metrics` every second with
/// its default `Accept` (OpenMetrics first) and exemplar storage on: the scrape succeeds and
/// the exemplar with [`TRACE_ID`] and `span_id` is stored.
async fn prometheus_stores_the_exemplar(metrics: SocketAddr, dir: &Path, span_id: &str) {
    let port = testkit::ports::free_port();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: sum-api\n    static_configs:\n      - targets: ['{metrics}']\n"
        ),
    )
    .expect("write prometheus.yml");
    let _prometheus = Process::spawn(
        "prometheus",
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--enable-feature=exemplar-storage"),
        dir,
    );
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("an HTTP client");
    let api = format!("http://127.0.0.1:{port}/api/v1");
    let get = |path: String| {
        let client = client.clone();
        async move {
            let res = client.get(path).send().await.ok()?;
            res.json::<Value>().await.ok()
        }
    };
    let deadline = Instant::now() + Duration::from_secs(45);
    let (mut target, mut exemplars) = (Value::Null, Value::Null);
    while Instant::now() < deadline {
        if let Some(targets) = get(format!("{api}/targets")).await {
            target = targets["data"]["activeTargets"][0].clone();
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if let Some(found) = get(format!(
            "{api}/query_exemplars?query=sumapi_http_request_duration_seconds_bucket&start={}&end={}",
            now - 600,
            now + 60
        ))
        .await
        {
            exemplars = found;
        }
        if target["health"] == "up" && exemplars.to_string().contains(TRACE_ID) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        target["health"], "up",
        "Prometheus could not scrape: {target}"
    );
    assert_eq!(target["lastError"], "", "{target}");
    let found = exemplars.to_string();
    assert!(
        found.contains(&format!(r#""trace_id":"{TRACE_ID}""#))
            && found.contains(&format!(r#""span_id":"{span_id}""#)),
        "the exemplar is not in Prometheus: {exemplars}"
    );
}
