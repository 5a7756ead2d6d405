//! opentelemetry's W3C propagation in the local gateway, against the echo upstream: a valid
//! `traceparent` goes on (same trace and parent, Kong's sampling decision) with its
//! `tracestate`; a missing or hostile one (every way the W3C rules make one invalid) is replaced
//! by a fresh, valid one, its `tracestate` dropped, and the request still answered 200; the
//! trace id the upstream saw is in the access log line of the request.

use gateway::LocalGateway;

use crate::common::{echo_upstream, seen};
use crate::{builder, client, start};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

/// GET /healthz (public) with these header fields; the echoed request.
async fn send(gw: &LocalGateway, headers: &[(&str, &str)]) -> serde_json::Value {
    let mut req = client().get(format!("{}/healthz", gw.base_url()));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), 200, "a trace header never fails a request");
    r.json().await.unwrap()
}

/// The one `traceparent` the upstream saw, split into its four fields (checked valid).
fn upstream_traceparent(body: &serde_json::Value) -> (String, String, String) {
    let fields = seen(body, "traceparent");
    assert_eq!(fields.len(), 1, "exactly one traceparent upstream: {body}");
    let tp = trace::TraceParent::parse(fields[0].as_bytes())
        .unwrap_or_else(|e| panic!("{:?} is no valid traceparent: {e}", fields[0]));
    let parts: Vec<&str> = fields[0].split('-').collect();
    assert_eq!(parts.len(), 4, "version 00: {}", fields[0]);
    assert_eq!(parts[0], "00");
    assert_eq!(tp.trace_id.to_string(), parts[1]);
    (
        parts[1].to_owned(),
        parts[2].to_owned(),
        parts[3].to_owned(),
    )
}

/// The access log's `trace_id=` of its last line.
fn logged_trace_id(gw: &LocalGateway) -> String {
    let log = gw.access_log();
    let last = log.lines().last().unwrap_or_default().to_owned();
    last.split("trace_id=")
        .nth(1)
        .unwrap_or_else(|| panic!("no trace_id in {last:?}"))
        .trim()
        .to_owned()
}

/// Waits until the access log has `n` lines (nginx writes the line after the response).
async fn log_lines(gw: &LocalGateway, n: usize) {
    for _ in 0..200 {
        if gw.access_log().lines().count() >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("access log:\n{}", gw.access_log());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_valid_traceparent_goes_on_with_its_tracestate_and_is_logged() {
    let echo = echo_upstream().await;
    let gw = start(builder(echo.addr));
    let parent = format!("00-{TRACE}-{PARENT}-01");
    let body = send(
        &gw,
        &[
            ("traceparent", &parent),
            ("tracestate", "congo=t61rcWkgMzE"),
        ],
    )
    .await;
    assert_eq!(
        upstream_traceparent(&body),
        (TRACE.into(), PARENT.into(), "01".into())
    );
    assert_eq!(seen(&body, "tracestate"), ["congo=t61rcWkgMzE"]);
    log_lines(&gw, 1).await;
    assert_eq!(logged_trace_id(&gw), TRACE);

    // A parent that is not sampled is followed, as Kong does.
    let body = send(&gw, &[("traceparent", &format!("00-{TRACE}-{PARENT}-00"))]).await;
    assert_eq!(upstream_traceparent(&body).2, "00");

    // A later version is read as far as version 00 goes and sent on as version 00.
    let later = format!("cc-{TRACE}-{PARENT}-01-what-comes-next");
    let body = send(&gw, &[("traceparent", &later)]).await;
    assert_eq!(
        upstream_traceparent(&body),
        (TRACE.into(), PARENT.into(), "01".into())
    );
    assert!(echo.hits() == 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_or_hostile_traceparent_starts_a_fresh_trace() {
    let echo = echo_upstream().await;
    let gw = start(builder(echo.addr));
    let zeros32 = "0".repeat(32);
    let zeros16 = "0".repeat(16);
    let long = format!("01-{TRACE}-{PARENT}-01-{}", "a".repeat(250));
    let hostile: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("absent", vec![]),
        (
            "version ff",
            vec![("traceparent", format!("ff-{TRACE}-{PARENT}-01"))],
        ),
        (
            "zero trace id",
            vec![("traceparent", format!("00-{zeros32}-{PARENT}-01"))],
        ),
        (
            "zero parent id",
            vec![("traceparent", format!("00-{TRACE}-{zeros16}-01"))],
        ),
        (
            "uppercase",
            vec![(
                "traceparent",
                format!("00-{}-{PARENT}-01", TRACE.to_uppercase()),
            )],
        ),
        (
            "non-hex",
            vec![("traceparent", format!("00-{}g-{PARENT}-01", &TRACE[..31]))],
        ),
        (
            "short",
            vec![("traceparent", format!("00-{TRACE}-{PARENT}-1"))],
        ),
        (
            "version 00 with more",
            vec![("traceparent", format!("00-{TRACE}-{PARENT}-01-x"))],
        ),
        (
            "later version glued",
            vec![("traceparent", format!("01-{TRACE}-{PARENT}-01x"))],
        ),
        ("overlong", vec![("traceparent", long)]),
        (
            "garbage",
            vec![("traceparent", "%00<script>alert(1)</script>".into())],
        ),
        (
            "twice",
            vec![
                ("traceparent", format!("00-{TRACE}-{PARENT}-01")),
                ("traceparent", format!("00-{TRACE}-{PARENT}-01")),
            ],
        ),
    ];
    let mut traces = std::collections::BTreeSet::new();
    for (i, (case, mut headers)) in hostile.into_iter().enumerate() {
        headers.push(("tracestate", "congo=t61rcWkgMzE".into()));
        let refs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let body = send(&gw, &refs).await;
        let (trace_id, parent_id, flags) = upstream_traceparent(&body);
        assert_ne!(trace_id, TRACE, "{case}: a new trace");
        assert_ne!(parent_id, PARENT, "{case}");
        assert_eq!(flags, "01", "{case}: sampled at the committed rate 1");
        assert!(
            seen(&body, "tracestate").is_empty(),
            "{case}: the dropped trace's tracestate is not passed on"
        );
        assert!(
            traces.insert(trace_id.clone()),
            "{case}: fresh ids each time"
        );
        log_lines(&gw, i + 1).await;
        assert_eq!(logged_trace_id(&gw), trace_id, "{case}: the log names it");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sampling_rate_decides_new_traces_and_thins_sampled_parents_as_kong_does() {
    let echo = echo_upstream().await;
    let gw = start(builder(echo.addr).trace_sampling_rate(0.0).unwrap());
    let body = send(&gw, &[]).await;
    assert_eq!(
        upstream_traceparent(&body).2,
        "00",
        "rate 0: new traces unsampled"
    );
    let body = send(&gw, &[("traceparent", &format!("00-{TRACE}-{PARENT}-01"))]).await;
    let (trace_id, parent_id, flags) = upstream_traceparent(&body);
    assert_eq!((trace_id.as_str(), parent_id.as_str()), (TRACE, PARENT));
    assert_eq!(flags, "00", "Kong applies its rate to a sampled parent too");
    assert!(
        builder(echo.addr).trace_sampling_rate(1.5).is_err(),
        "a rate outside 0..=1 is refused"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_refused_by_the_gateway_are_logged_with_their_trace_too() {
    let echo = echo_upstream().await;
    let gw = start(builder(echo.addr));
    let r = client()
        .get(format!("{}/api/v1/sum", gw.base_url()))
        .header("traceparent", format!("00-{TRACE}-{PARENT}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    log_lines(&gw, 1).await;
    assert_eq!(logged_trace_id(&gw), TRACE);
    // A request nginx refuses before any location (a malformed request line) has no trace.
    let r = testkit::raw::send(gw.addr(), b"GET /a b c HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(r.status, 400);
    log_lines(&gw, 2).await;
    assert_eq!(logged_trace_id(&gw), "-");
    assert_eq!(echo.hits(), 0);
}
