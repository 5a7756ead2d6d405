//! Black-box: the real canary binary probes the real service behind the local gateway and
//! publishes through the real AWS SDK to LocalStack's CloudWatch; metrics are read back.

use crate::common;

use std::collections::BTreeSet;

use common::{CANARY_RATE_LIMIT, LocalStack, canary, finish, stack, stat};

const NS: &str = "SumApi/Canary";
/// The canary's Region dimension here: the AWS_REGION of `common::canary`. Reads select it:
/// LocalStack, unlike CloudWatch, matches a query's dimensions as a subset, so a query without
/// it would add the all-regions series and this region's together.
const REGION: (&str, &str) = ("Region", "us-east-1");
const PROBES: [&str; 5] = [
    "health",
    "sum",
    "auth_missing_key",
    "auth_bad_key",
    "rate_limit_headers",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_round_is_published_to_cloudwatch_and_reads_back() {
    let ls = LocalStack::start();
    let stack = stack(true).await;
    let mut cmd = canary(Some(&ls.endpoint()));
    cmd.args([
        "run",
        "--once",
        "--sink",
        "cloudwatch",
        "--environment",
        "e2e",
        "--storage-resolution",
        "1",
    ])
    .args(["--target", &stack.url()])
    .args(["--rate-limit", &CANARY_RATE_LIMIT.to_string()]);
    let run = finish(cmd).await;
    assert_eq!(
        run.code,
        0,
        "all probes pass and metrics are delivered\n{}",
        run.all()
    );
    assert!(
        run.emf().is_empty(),
        "no fallback when CloudWatch works\n{}",
        run.all()
    );

    let cw = ls.client().await;
    let listed = cw
        .list_metrics()
        .namespace(NS)
        .send()
        .await
        .expect("ListMetrics succeeds");
    let names: BTreeSet<String> = listed
        .metrics()
        .iter()
        .filter_map(|m| m.metric_name().map(str::to_owned))
        .collect();
    for name in [
        "RunStarted",
        "Heartbeat",
        "ProbeSuccess",
        "ProbeLatency",
        "ProbeRetries",
        "GatewayLatency",
        "UpstreamLatency",
        "RateLimitRemaining",
    ] {
        assert!(
            names.contains(name),
            "{name} missing from ListMetrics: {names:?}"
        );
    }
    // Per-run metrics carry only Environment; per-probe ones Environment and Probe. Each is
    // published as well with the Region the canary runs in (AWS_REGION here).
    let mut regional = 0;
    for m in listed.metrics() {
        let mut dims: Vec<&str> = m.dimensions().iter().filter_map(|d| d.name()).collect();
        if dims.last() == Some(&"Region") {
            let region = m.dimensions().iter().find(|d| d.name() == Some("Region"));
            assert_eq!(region.and_then(|d| d.value()), Some("us-east-1"), "{m:?}");
            dims.pop();
            regional += 1;
        }
        match m.metric_name() {
            Some("RunStarted" | "Heartbeat") => assert_eq!(dims, ["Environment"]),
            _ => assert_eq!(dims, ["Environment", "Probe"], "{m:?}"),
        }
    }
    assert_eq!(
        regional * 2,
        listed.metrics().len(),
        "every metric for all regions and for this one"
    );

    for name in ["RunStarted", "Heartbeat"] {
        let s = stat(&cw, NS, name, &[("Environment", "e2e"), REGION]).await;
        let s = s.unwrap_or_else(|| panic!("{name} has no datapoint"));
        assert_eq!((s.sum, s.unit.as_str()), (1.0, "Count"), "{name}");
    }
    for probe in PROBES {
        let dims = [("Environment", "e2e"), ("Probe", probe), REGION];
        let success = stat(&cw, NS, "ProbeSuccess", &dims)
            .await
            .expect("ProbeSuccess");
        assert_eq!(
            (success.sum, success.unit.as_str()),
            (1.0, "Count"),
            "{probe}"
        );
        let retries = stat(&cw, NS, "ProbeRetries", &dims)
            .await
            .expect("ProbeRetries");
        assert_eq!(
            (retries.sum, retries.unit.as_str()),
            (0.0, "Count"),
            "{probe}"
        );
        let latency = stat(&cw, NS, "ProbeLatency", &dims)
            .await
            .expect("ProbeLatency");
        assert_eq!(latency.unit, "Milliseconds", "{probe}");
        assert!(
            latency.maximum > 0.0 && latency.maximum < 5000.0,
            "{probe}: {latency:?}"
        );
        let gateway = stat(&cw, NS, "GatewayLatency", &dims)
            .await
            .expect("GatewayLatency");
        assert_eq!(gateway.unit, "Milliseconds");
    }
    // Proxied probes also know the upstream's share; the auth probes never reach it.
    for probe in ["health", "sum", "rate_limit_headers"] {
        let dims = [("Environment", "e2e"), ("Probe", probe), REGION];
        let up = stat(&cw, NS, "UpstreamLatency", &dims)
            .await
            .expect("UpstreamLatency");
        assert_eq!(up.unit, "Milliseconds", "{probe}");
    }
    for probe in ["auth_missing_key", "auth_bad_key"] {
        let dims = [("Environment", "e2e"), ("Probe", probe), REGION];
        assert!(
            stat(&cw, NS, "UpstreamLatency", &dims).await.is_none(),
            "{probe}"
        );
    }
    let quota = stat(
        &cw,
        NS,
        "RateLimitRemaining",
        &[
            ("Environment", "e2e"),
            ("Probe", "rate_limit_headers"),
            REGION,
        ],
    )
    .await
    .expect("RateLimitRemaining");
    // This round spent two requests (sum, rate_limit_headers) of a fresh quota.
    assert_eq!(
        (quota.sum, quota.unit.as_str()),
        ((CANARY_RATE_LIMIT - 2) as f64, "Count")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_published_and_a_dead_cloudwatch_falls_back_to_emf() {
    let mut ls = LocalStack::start();
    let mut stack = stack(true).await;
    stack.stop_service().await;

    // The service is down behind a working gateway: the probes that need it fail, the gateway's
    // own auth answers still pass, and all of it is published.
    // The service-specific endpoint variable works as well as AWS_ENDPOINT_URL.
    let mut cmd = canary(None);
    cmd.env("AWS_ENDPOINT_URL_CLOUDWATCH", ls.endpoint());
    cmd.args([
        "run",
        "--once",
        "--sink",
        "cloudwatch",
        "--environment",
        "down",
    ])
    .args([
        "--target",
        &stack.url(),
        "--retries",
        "1",
        "--retry-backoff",
        "10ms",
    ]);
    let run = finish(cmd).await;
    assert_eq!(
        run.code,
        1,
        "a failed probe with delivered metrics is exit 1\n{}",
        run.all()
    );
    assert!(
        run.stderr.contains("blame=\"upstream\"") || run.stderr.contains("upstream"),
        "{}",
        run.all()
    );
    let cw = ls.client().await;
    for (probe, expected) in [
        ("health", 0.0),
        ("sum", 0.0),
        ("rate_limit_headers", 0.0),
        ("auth_missing_key", 1.0),
        ("auth_bad_key", 1.0),
    ] {
        let dims = [("Environment", "down"), ("Probe", probe), REGION];
        let s = stat(&cw, NS, "ProbeSuccess", &dims)
            .await
            .expect("published");
        assert_eq!(s.sum, expected, "{probe}");
        if expected == 0.0 {
            // A 502 is retried once; the retry is published.
            let r = stat(&cw, NS, "ProbeRetries", &dims)
                .await
                .expect("published");
            assert_eq!(r.sum, 1.0, "{probe}");
        }
    }
    let hb = stat(&cw, NS, "Heartbeat", &[("Environment", "down"), REGION]).await;
    assert_eq!(
        hb.map(|s| s.sum),
        Some(1.0),
        "the run completed and was delivered"
    );

    // CloudWatch unreachable: every datum goes to stdout as EMF, exit 2, no Heartbeat.
    ls.stop();
    let mut cmd = canary(Some(&ls.endpoint()));
    cmd.args([
        "run",
        "--once",
        "--sink",
        "cloudwatch,stdout",
        "--environment",
        "down",
    ])
    .args(["--target", &stack.url(), "--retries", "0"])
    .args(["--publish-timeout", "2s", "--publish-retries", "1"]);
    let run = finish(cmd).await;
    assert_eq!(run.code, 2, "undelivered metrics are exit 2\n{}", run.all());
    assert!(
        run.stderr.contains("PutMetricData failed"),
        "the reason is logged\n{}",
        run.all()
    );

    // The stdout sink lists every datum of the run; each must appear in the EMF fallback.
    let listed: BTreeSet<String> = run
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("metric SumApi/Canary "))
        .map(str::to_owned)
        .collect();
    let mut in_emf = BTreeSet::new();
    for record in run.emf() {
        let directive = &record["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NS);
        let dims: Vec<String> = directive["Dimensions"][0]
            .as_array()
            .expect("dimension set")
            .iter()
            .map(|d| {
                let name = d.as_str().expect("dimension name");
                format!("{name}={}", record[name].as_str().expect("dimension value"))
            })
            .collect();
        for m in directive["Metrics"].as_array().expect("metrics") {
            let name = m["Name"].as_str().expect("metric name");
            let unit = m["Unit"].as_str().expect("unit");
            let value = record[name].as_f64().expect("value");
            in_emf.insert(format!("{name}{{{}}} {value} {unit}", dims.join(",")));
        }
    }
    // RunStarted, and per probe at least ProbeSuccess, ProbeLatency and ProbeRetries.
    assert!(listed.len() >= 16, "{listed:#?}");
    assert_eq!(listed, in_emf, "every datum appears in the EMF fallback");
    assert!(listed.iter().any(|l| l.starts_with("RunStarted{")));
    assert!(
        !listed.iter().any(|l| l.starts_with("Heartbeat{")),
        "no Heartbeat without delivery"
    );
}
