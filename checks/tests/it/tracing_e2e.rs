//! One request followed end to end by its trace id, with the real binaries: `loadgen`
//! (`--trace-sample 1`, so it sends a fresh sampled `traceparent`) through the real
//! `local-gateway` (Kong's stand-in, opentelemetry's W3C propagation) to the real `service`,
//! which exports its span over OTLP/HTTP to a real receiver decoding with Python's
//! `opentelemetry-proto` (`testkit::otlp`). The trace id loadgen's JSON report lists must be the
//! one in the gateway's access log line, in the service's access log line and in the exported
//! span, and no other trace may show up anywhere.
//!
//! Needs the built binaries (`cargo build --bins`), nginx with its Lua module
//! (scripts/deps/apt.sh) and the OTLP receiver's Python (scripts/deps/otlp.sh, `OTLP_PYTHON`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use testkit::otlp::OtlpReceiver;
use testkit::process::Process;

use crate::common;

const ORIGIN_SECRET: &str = "tracing-e2e-origin-secret";
const LOADGEN_KEY: &str = "tracing-e2e-loadgen-key";

/// Waits (at most 20 s) until `found` returns something from the process's stderr.
fn wait_for<T>(process: &mut Process, what: &str, found: impl Fn(&str) -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(t) = found(&process.stderr()) {
            return t;
        }
        assert!(
            process.exit_status().is_none() && Instant::now() < deadline,
            "{what}:\n{}",
            process.output_text()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The service, exporting to `otlp` quickly (a 100 ms batch delay), logging JSON.
fn service(dir: &Path, otlp: &OtlpReceiver) -> (SocketAddr, Process) {
    let mut cmd = Command::new(common::built("service"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("SERVICE_ORIGIN_SECRET", ORIGIN_SECRET)
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.base_url())
        .env("OTEL_SERVICE_NAME", "sum-api")
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .args(["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"]);
    let mut process = Process::spawn("service", &mut cmd, dir);
    let addr = wait_for(
        &mut process,
        "the service did not start",
        common::serving_addr,
    );
    (addr, process)
}

/// The local gateway in front of `upstream`; its address and the prefix its logs are in.
fn gateway(dir: &Path, upstream: SocketAddr) -> (SocketAddr, PathBuf, Process) {
    let addr = SocketAddr::from(([127, 0, 0, 1], testkit::ports::free_port()));
    let mut cmd = Command::new(common::built("local-gateway"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("SUM_API_ORIGIN_SECRET", ORIGIN_SECRET)
        .env("LOADGEN_API_KEY", LOADGEN_KEY)
        .arg("--upstream")
        .arg(upstream.to_string())
        .arg("--listen")
        .arg(addr.to_string());
    let mut process = Process::spawn("gateway", &mut cmd, dir);
    let prefix = wait_for(&mut process, "the local gateway did not start", |err| {
        let line = err.lines().find(|l| l.contains("local gateway on"))?;
        let prefix = line.split("prefix: ").nth(1)?;
        let prefix = prefix.trim_end_matches(|c: char| c == ')' || c.is_whitespace());
        std::net::TcpStream::connect(addr).ok()?;
        Some(PathBuf::from(prefix.split(')').next()?))
    });
    (addr, prefix, process)
}

/// The lines of `text` that mention `needle`.
fn lines_with<'a>(text: &'a str, needle: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.contains(needle)).collect()
}

#[test]
fn one_request_carries_one_trace_id_through_loadgen_the_gateway_the_service_and_its_span() {
    let dir = common::temp_dir("tracing-e2e");
    let otlp = OtlpReceiver::start(&dir);
    let (service_addr, mut service) = service(&dir, &otlp);
    let (gateway_addr, prefix, _gateway) = gateway(&dir, service_addr);

    let report = dir.join("loadgen.json");
    let out = common::run(
        Command::new(common::built("loadgen"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("LOADGEN_API_KEY", LOADGEN_KEY)
            .arg("run")
            .arg(format!("http://{gateway_addr}/api/v1/sum"))
            .args(["-X", "POST", "-H", "content-type: application/json"])
            .args(["--body", r#"{"numbers":[1,2,3]}"#])
            .args(["--header-env", "apikey=LOADGEN_API_KEY"])
            .args(["-n", "1", "-c", "1", "--quiet", "--max-lag", "1s"])
            .args(["--trace-sample", "1"])
            .args([
                "--trace-url",
                "https://console.aws.amazon.com/cloudwatch/home#xray:traces/{xray_trace_id}",
            ])
            .arg("--json")
            .arg(&report),
    );
    assert!(out.status.success(), "loadgen:\n{}", common::text(&out));

    // loadgen's report: one traced request, answered 200, listed by its trace id.
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("the report")).expect("JSON");
    assert_eq!(r["status_counts"]["200"], 1, "{r:#}");
    assert_eq!(r["traces"]["traced"], 1, "{r:#}");
    let entry = &r["traces"]["by_class"]["2xx"]["slowest"][0];
    let trace_id = entry["trace_id"].as_str().expect("a trace id").to_string();
    assert_eq!(trace_id.len(), 32, "{trace_id}");
    assert_eq!(
        entry["url"],
        format!(
            "https://console.aws.amazon.com/cloudwatch/home#xray:traces/1-{}-{}",
            &trace_id[..8],
            &trace_id[8..]
        )
    );

    // The exported span: the service's server span of that request, in that trace.
    let spans = otlp.wait_for_spans(1, Duration::from_secs(20));
    assert_eq!(spans.len(), 1, "one request, one span: {spans:#?}");
    let span = &spans[0];
    assert_eq!(
        span.trace_id, trace_id,
        "the exported span's trace: {span:#?}"
    );
    assert_eq!(span.kind, "SPAN_KIND_SERVER");
    assert_eq!(span.service_name.as_deref(), Some("sum-api"));
    assert!(
        !span.parent_span_id.is_empty(),
        "the caller's span is its parent (the gateway passes it on): {span:#?}"
    );

    // The service's access log line of the request names the same trace.
    let logged = wait_for(&mut service, "the service's access line", |err| {
        err.lines().find_map(|line| {
            let v: Value = serde_json::from_str(line).ok()?;
            (v["message"] == "request" && v["route"] == "/api/v1/sum").then_some(v)
        })
    });
    assert_eq!(logged["trace_id"], trace_id.as_str(), "{logged}");
    assert_eq!(logged["status"], 200, "{logged}");
    assert_eq!(
        logged["span_id"],
        span.span_id.as_str(),
        "the exported span is the logged one"
    );

    // The gateway's access log line of the request: the same trace, and no other.
    let access = std::fs::read_to_string(prefix.join("logs/access.log")).unwrap_or_default();
    let api = lines_with(&access, "/api/v1/sum");
    assert_eq!(api.len(), 1, "one request through the gateway:\n{access}");
    assert!(
        api[0].contains(" 200 ") && api[0].ends_with(&format!("trace_id={trace_id}")),
        "{}",
        api[0]
    );

    // Nowhere another trace: the receiver, the service's log and the gateway's log.
    let others: Vec<String> = otlp
        .spans()
        .into_iter()
        .map(|s| s.trace_id)
        .filter(|t| *t != trace_id)
        .collect();
    assert!(others.is_empty(), "other traces exported: {others:?}");
    assert_eq!(
        lines_with(&service.stderr(), "\"message\":\"request\"").len(),
        1,
        "one access line:\n{}",
        service.stderr()
    );
    drop(otlp);
    let _ = std::fs::remove_dir_all(&dir);
}
