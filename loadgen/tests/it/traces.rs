//! `--trace-sample` and `--trace-url` through the built binary, against a keep-alive server
//! that records the `traceparent` of every request: the fraction of requests that carry one,
//! that each is a fresh, valid, sampled trace, that the JSON (schema-valid), text and HTML
//! reports list the slowest and the failed traced requests by the ids the server saw, with
//! links; and bad values of both flags are exit 64 naming the flag.

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{TestServer, loadgen, stderr, stdout};
use testkit::tempdir;
use tokio::io::AsyncWriteExt;

/// What the server saw: per request in arrival order, its path and its `traceparent` fields.
#[derive(Default)]
struct Traceparents {
    seen: Mutex<Vec<(String, Vec<String>)>>,
    count: AtomicU64,
}

/// A keep-alive HTTP/1.1 server: `/ok` 200, `/fail` 503, `/every/N` 200 after 60 ms for every
/// Nth request (counted over the server) and at once otherwise. It records each request's
/// `traceparent` fields and, for the slow ones, says which in `slow`.
fn server() -> (TestServer, Arc<Traceparents>, Arc<Mutex<BTreeSet<String>>>) {
    let log = Arc::new(Traceparents::default());
    let slow = Arc::new(Mutex::new(BTreeSet::new()));
    let (l, s) = (Arc::clone(&log), Arc::clone(&slow));
    let server = TestServer::start_with(move |mut sock, _seen| {
        let (log, slow) = (Arc::clone(&l), Arc::clone(&s));
        async move {
            let mut buf = Vec::with_capacity(4096);
            while let Some(req) = testkit::stub::read_request(&mut sock, &mut buf).await {
                let fields: Vec<String> = req
                    .headers
                    .iter()
                    .filter(|(n, _)| n == "traceparent")
                    .map(|(_, v)| v.clone())
                    .collect();
                let n = log.count.fetch_add(1, Ordering::Relaxed) + 1;
                log.seen
                    .lock()
                    .expect("lock")
                    .push((req.path.clone(), fields.clone()));
                let status = if req.path == "/fail" { 503 } else { 200 };
                let slow_one = req
                    .path
                    .strip_prefix("/every/")
                    .is_some_and(|every| n % every.parse::<u64>().unwrap_or(10) == 0);
                if slow_one {
                    if let Some(tp) = fields.first() {
                        slow.lock().expect("lock").insert(tp[3..35].to_string());
                    }
                    tokio::time::sleep(Duration::from_millis(60)).await;
                }
                let resp = format!("HTTP/1.1 {status} X\r\ncontent-length: 2\r\n\r\nok");
                if sock.write_all(resp.as_bytes()).await.is_err() {
                    return;
                }
            }
        }
    });
    (server, log, slow)
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("the JSON report"))
        .expect("valid JSON")
}

fn schema_valid(report: &serde_json::Value) {
    let schema: serde_json::Value =
        serde_json::from_str(loadgen::report::json::SCHEMA).expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let errors: Vec<String> = validator
        .iter_errors(report)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{report:#}");
}

/// The trace ids of the server's requests, after checking every `traceparent` is one valid,
/// sampled, fresh header (no request carries two; no trace id twice).
fn trace_ids(log: &Traceparents) -> Vec<String> {
    let seen = log.seen.lock().expect("lock");
    let mut ids = Vec::new();
    for (_, fields) in seen.iter() {
        assert!(fields.len() <= 1, "one traceparent at most: {fields:?}");
        if let Some(v) = fields.first() {
            let tp = trace::TraceParent::parse(v.as_bytes())
                .unwrap_or_else(|e| panic!("{v:?} is no valid traceparent: {e}"));
            assert!(v.starts_with("00-") && v.ends_with("-01"), "{v}");
            assert!(tp.flags.is_sampled());
            ids.push(tp.trace_id.to_string());
        }
    }
    let distinct: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(
        distinct.len(),
        ids.len(),
        "every traced request starts a new trace"
    );
    ids
}

#[test]
fn about_half_of_the_requests_carry_a_traceparent_at_ratio_one_half() {
    let (srv, log, _) = server();
    let dir = tempdir::unique("loadgen-trace-half");
    let out = dir.join("r.json");
    let n = 2000;
    let o = loadgen(
        &[
            "run",
            "--quiet",
            "-n",
            &n.to_string(),
            "-c",
            "4",
            "--max-lag",
            "1s",
            "--trace-sample",
            "0.5",
            "--json",
            out.to_str().expect("utf-8"),
            &srv.url("/ok"),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let ids = trace_ids(&log);
    assert_eq!(log.count.load(Ordering::Relaxed), n);
    // Binomial(2000, 0.5): sd about 22; six either side.
    assert!(
        (865..=1135).contains(&ids.len()),
        "{} of {n} requests traced",
        ids.len()
    );
    let r = json(&out);
    schema_valid(&r);
    assert_eq!(r["traces"]["sample_ratio"], 0.5);
    assert_eq!(
        r["traces"]["traced"],
        ids.len() as u64,
        "every traced request counted"
    );
    let slowest = r["traces"]["by_class"]["2xx"]["slowest"]
        .as_array()
        .expect("a list");
    assert_eq!(slowest.len(), 10);
    let sent: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
    for e in slowest {
        assert!(sent.contains(e["trace_id"].as_str().expect("id")), "{e}");
    }
    let lat: Vec<f64> = slowest
        .iter()
        .map(|e| e["latency_ms"].as_f64().expect("ms"))
        .collect();
    assert!(
        lat.windows(2).all(|w| w[0] >= w[1]),
        "slowest first: {lat:?}"
    );
    assert!(
        stdout(&o).contains("requests sent a traceparent"),
        "{}",
        stdout(&o)
    );
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn ratio_zero_or_no_flag_sends_none() {
    let (srv, log, _) = server();
    let dir = tempdir::unique("loadgen-trace-zero");
    let out = dir.join("r.json");
    for flags in [&["--trace-sample", "0"][..], &[]] {
        let mut args = vec!["run", "--quiet", "-n", "300", "-c", "2", "--max-lag", "1s"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["--json", out.to_str().expect("utf-8")]);
        let url = srv.url("/ok");
        args.push(&url);
        let o = loadgen(&args, &[]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let r = json(&out);
        schema_valid(&r);
        if flags.is_empty() {
            assert!(r["traces"].is_null(), "{}", r["traces"]);
        } else {
            assert_eq!(r["traces"]["traced"], 0);
            assert_eq!(r["traces"]["by_class"], serde_json::json!({}));
        }
    }
    assert_eq!(log.count.load(Ordering::Relaxed), 600);
    assert!(
        trace_ids(&log).is_empty(),
        "no request carried a traceparent"
    );
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn the_slowest_and_the_failed_are_listed_by_the_ids_the_server_saw_with_links() {
    let (srv, log, slow) = server();
    let dir = tempdir::unique("loadgen-trace-lists");
    let (out, html) = (dir.join("r.json"), dir.join("r.html"));
    let template = "https://console.example/xray/traces/{trace_id}?r=1";
    let run = |url: &str, env: &[(&str, &str)]| {
        loadgen(
            &[
                "run",
                "--quiet",
                "-n",
                "100",
                "-c",
                "1",
                "--max-lag",
                "1s",
                "--trace-sample",
                "1",
                "--trace-url",
                template,
                "--json",
                out.to_str().expect("utf-8"),
                "--html",
                html.to_str().expect("utf-8"),
                url,
            ],
            env,
        )
    };
    // Every 20th request is slow: exactly those five lead the 2xx list.
    let o = run(&srv.url("/every/20"), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = json(&out);
    schema_valid(&r);
    assert_eq!(r["traces"]["traced"], 100);
    let slowest = r["traces"]["by_class"]["2xx"]["slowest"]
        .as_array()
        .expect("a list");
    let top: BTreeSet<String> = slowest[..5]
        .iter()
        .map(|e| e["trace_id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(
        top,
        *slow.lock().expect("lock"),
        "the five slow requests lead"
    );
    assert!(slowest[4]["latency_ms"].as_f64().expect("ms") >= 60.0);
    assert!(slowest[5]["latency_ms"].as_f64().expect("ms") < 60.0);
    let first = &slowest[0];
    let id = first["trace_id"].as_str().expect("id");
    assert_eq!(
        first["url"],
        format!("https://console.example/xray/traces/{id}?r=1")
    );
    let page = std::fs::read_to_string(&html).expect("the HTML report");
    assert!(
        page.contains(&format!(
            "<a href=\"https://console.example/xray/traces/{id}?r=1\""
        )),
        "the HTML links the trace"
    );
    assert!(stdout(&o).contains("slowest trace: https://console.example/xray/traces/"));

    // Every request fails: the first ten, in the order they completed (the server's order
    // with one connection), are listed as failed. Through hyper's HTTP/1.1 driver this time,
    // which sets the header its own way.
    log.seen.lock().expect("lock").clear();
    let o = run(&srv.url("/fail"), &[("LOADGEN_HTTP1_DRIVER", "hyper")]);
    // Not one request succeeded: the run fails (exit 2), its reports written all the same.
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let sent = trace_ids(&log);
    assert_eq!(sent.len(), 100);
    let r = json(&out);
    schema_valid(&r);
    let failed: Vec<&str> = r["traces"]["by_class"]["5xx"]["first_failed"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|e| e["trace_id"].as_str().expect("id"))
        .collect();
    assert_eq!(
        failed,
        sent[..10].iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(
        r["traces"]["by_class"]["5xx"]["first_failed"][0]["status"],
        503
    );
    assert!(r["traces"]["by_class"].get("2xx").is_none());
    let page = std::fs::read_to_string(&html).expect("the HTML report");
    assert!(page.contains("first failed"), "the HTML lists the failed");
    std::fs::remove_dir_all(&dir).expect("clean up");
}

/// Bad flags and environment variables.
type Flags<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>);

/// A case of bad flags: its name, the flags, and environment variables.
type Case<'a> = (&'a str, Vec<&'a str>, Vec<(&'a str, &'a str)>);

#[test]
fn bad_trace_flags_are_usage_errors_naming_the_flag() {
    let url = "http://127.0.0.1:9/";
    let cases: Vec<(&str, Flags)> = vec![
        ("above one", (vec!["--trace-sample", "1.5"], vec![])),
        ("negative", (vec!["--trace-sample", "-0.5"], vec![])),
        ("not a number", (vec!["--trace-sample", "half"], vec![])),
        ("percent", (vec!["--trace-sample", "50%"], vec![])),
        ("NaN", (vec!["--trace-sample", "NaN"], vec![])),
        ("empty", (vec!["--trace-sample", ""], vec![])),
        ("env", (vec![], vec![("LOADGEN_TRACE_SAMPLE", "2")])),
        (
            "no placeholder",
            (
                vec!["--trace-sample", "1", "--trace-url", "https://x/t/"],
                vec![],
            ),
        ),
        (
            "javascript",
            (
                vec![
                    "--trace-sample",
                    "1",
                    "--trace-url",
                    "javascript:alert(1)//{trace_id}",
                ],
                vec![],
            ),
        ),
        (
            "markup",
            (
                vec![
                    "--trace-sample",
                    "1",
                    "--trace-url",
                    "https://x/\"><script>{trace_id}",
                ],
                vec![],
            ),
        ),
        (
            "url alone",
            (vec!["--trace-url", "https://x/{trace_id}"], vec![]),
        ),
        (
            "two traceparents",
            (
                vec![
                    "--trace-sample",
                    "1",
                    "-H",
                    "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                ],
                vec![],
            ),
        ),
    ];
    let long = format!("https://x/{}{{trace_id}}", "a".repeat(5000));
    let mut all: Vec<Case> = cases.into_iter().map(|(k, (a, e))| (k, a, e)).collect();
    all.push((
        "oversized",
        vec!["--trace-sample", "1", "--trace-url", long.as_str()],
        vec![],
    ));
    for (case, flags, env) in all {
        let mut args = vec!["run", "--quiet", "-n", "1"];
        args.extend_from_slice(&flags);
        args.push(url);
        let o = loadgen(&args, &env);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(64), "{case}: {err}");
        let flag = if case == "url alone" || flags.contains(&"--trace-url") {
            "--trace-url"
        } else {
            "--trace-sample"
        };
        assert!(err.contains(flag), "{case}: {err}");
        assert!(!err.contains("panicked"), "{case}: {err}");
        assert!(err.len() < 2000, "{case}: the message stays short");
    }
}
