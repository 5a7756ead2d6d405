//! Every probe's request carries a sampled W3C `traceparent` of a trace of its own (retries
//! share it, each attempt a new span id); a failing probe names that trace on its stdout line
//! and in its JSON log line, and every EMF record of a probe carries it as the `TraceId`
//! property, never as a dimension. Checked against the trace ids a stub target received.

use std::collections::{BTreeMap, BTreeSet};

use testkit::stub::{Reply as StubReply, Stub};

use crate::common::{canary, config_file, finish};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_probe_sends_its_own_sampled_trace_and_a_failure_names_it() {
    let stub = Stub::start(|req, _| match req.path.as_str() {
        "/ok" => StubReply::json(200, r#"{"status":"healthy"}"#),
        _ => StubReply::json(503, r#"{"status":"unavailable"}"#),
    })
    .await;
    let config = config_file(&format!(
        r#"
        target = "{url}"
        environment = "stub"
        retries = 2
        retry_backoff = "10ms"
        timeout = "2s"
        [[probes]]
        name = "fine"
        path = "/ok"
        [[probes]]
        name = "broken"
        path = "/down"
        "#,
        url = stub.url()
    ));
    let mut cmd = canary(None);
    cmd.env("LOG_FORMAT", "json")
        .args(["run", "--once", "--sink", "emf,stdout", "--config"])
        .arg(&config);
    let run = finish(cmd).await;
    assert_eq!(run.code, 1, "{}", run.all());

    // What the target received: per path, the trace ids and parent ids.
    let mut traces: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for req in stub.requests() {
        let fields: Vec<&String> = req
            .headers
            .iter()
            .filter(|(n, _)| n == "traceparent")
            .map(|(_, v)| v)
            .collect();
        assert_eq!(fields.len(), 1, "one traceparent per request: {req:?}");
        let tp = trace::TraceParent::parse(fields[0].as_bytes())
            .unwrap_or_else(|e| panic!("{:?} is no valid traceparent: {e}", fields[0]));
        assert!(tp.flags.is_sampled(), "{}", fields[0]);
        traces
            .entry(req.path.clone())
            .or_default()
            .push((tp.trace_id.to_string(), tp.parent_id.to_string()));
    }
    let broken = &traces["/down"];
    assert_eq!(broken.len(), 3, "the first attempt and two retries");
    let ids: BTreeSet<&str> = broken.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(ids.len(), 1, "the attempts of one probe share its trace");
    let spans: BTreeSet<&str> = broken.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(spans.len(), 3, "each attempt is a span of its own");
    let broken_id = broken[0].0.clone();
    let fine_id = traces["/ok"][0].0.clone();
    assert_ne!(broken_id, fine_id, "each probe starts a trace of its own");

    // The stdout line of the failed probe names its trace; the passing one's does not need to.
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("FAIL") && l.contains("broken"))
        .unwrap_or_else(|| panic!("the failed probe's line\n{}", run.all()));
    assert!(line.ends_with(&format!("trace_id={broken_id}")), "{line}");
    // Its JSON log line too.
    let logged = run
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["fields"]["message"] == "probe failed")
        .unwrap_or_else(|| panic!("a JSON 'probe failed' line\n{}", run.all()));
    assert_eq!(logged["fields"]["trace_id"], broken_id.as_str(), "{logged}");

    // Every EMF record of a probe carries its trace id as a property, not a dimension.
    let mut seen = BTreeMap::new();
    for record in run.emf() {
        let Some(probe) = record["Probe"].as_str() else {
            assert!(
                record.get("TraceId").is_none(),
                "only probe records: {record}"
            );
            continue;
        };
        let dims = record["_aws"]["CloudWatchMetrics"][0]["Dimensions"].to_string();
        assert!(!dims.contains("TraceId"), "never a dimension: {dims}");
        seen.insert(
            probe.to_owned(),
            record["TraceId"].as_str().unwrap_or_default().to_owned(),
        );
    }
    assert_eq!(seen.get("broken"), Some(&broken_id), "{}", run.all());
    assert_eq!(seen.get("fine"), Some(&fine_id), "{}", run.all());
}
