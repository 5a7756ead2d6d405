//! The real `service` binary on free loopback ports: the contract over a socket, JSON logs,
//! metrics checked by Prometheus' own `promtool`, graceful shutdown under load, config errors
//! and the `healthcheck` subcommand.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Binary, ErrorCode as _};
use testkit::raw;

const SECRET: &str = "binary-test-origin-secret-7f3a9c";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_the_contract_and_logs_one_json_line_per_request() {
    let bin = Binary::spawn(
        &["--shutdown-drain", "0s"],
        &[("SERVICE_ORIGIN_SECRET", SECRET)],
    );
    let secret_header = format!("\r\nX-Origin-Secret: {SECRET}\r\nX-Request-ID: binary-req-1");
    let res = common::post_sum(bin.addr, r#"{"numbers":[1e16,1,-1e16]}"#, &secret_header).await;
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    assert!(String::from_utf8_lossy(&res.body).contains(r#""sum":1,"#));
    let res = common::post_sum(
        bin.addr,
        r#"{"numbers":[1,2]}"#,
        "\r\nX-Origin-Secret: wrong",
    )
    .await;
    assert_eq!(
        (res.status, res.code().as_deref()),
        (403, Some("FORBIDDEN_ORIGIN"))
    );
    // HEAD answers carry no body over a real socket.
    for path in ["/healthz", "/healthz/live", "/healthz/ready"] {
        let res = raw::request(bin.addr, &format!("HEAD {path} HTTP/1.1\r\nHost: t"), b"").await;
        assert_eq!(res.status, 200, "HEAD {path}");
        assert!(res.body.is_empty(), "HEAD {path} sent a body");
    }
    // Metrics are never on the public port.
    let res = raw::request(
        bin.addr,
        &format!("GET /metrics HTTP/1.1\r\nHost: t\r\nX-Origin-Secret: {SECRET}"),
        b"",
    )
    .await;
    assert_eq!(
        (res.status, res.code().as_deref()),
        (404, Some("NOT_FOUND"))
    );

    // Logs are flushed line by line; give the last one a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    let access: Vec<serde_json::Value> = loop {
        let lines: Vec<serde_json::Value> = bin
            .log_lines()
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["message"] == "request")
            .collect();
        if lines.len() >= 6 || Instant::now() > deadline {
            break lines;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(access.len(), 6, "one line per request: {access:?}");
    let first = &access[0];
    assert_eq!(first["method"], "POST");
    assert_eq!(first["route"], "/api/v1/sum");
    assert_eq!(first["status"], 200);
    assert_eq!(first["request_id"], "binary-req-1");
    assert_eq!(first["client_ip"], "127.0.0.1");
    // Milliseconds with at most three decimals (whole microseconds), as people read them.
    let latency = first["latency_ms"].to_string();
    let decimals = latency.split_once('.').map_or(0, |(_, d)| d.len());
    assert!(
        first["latency_ms"].as_f64().is_some_and(|l| l >= 0.0) && decimals <= 3,
        "{first}"
    );
    assert_eq!(access[1]["code"], "FORBIDDEN_ORIGIN");
    assert_eq!(access[5]["route"], "unmatched");
    // Every stderr line is JSON, and the secret is in none of them.
    for line in bin.log_lines() {
        assert!(
            serde_json::from_str::<serde_json::Value>(&line).is_ok(),
            "not JSON: {line}"
        );
        assert!(
            !line.contains(SECRET),
            "the origin secret leaked into the logs: {line}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_injected_origin_secrets_are_accepted_for_a_rotation_without_refusals() {
    // As deployed: one secret per variable (terraform's origin-secret and origin-secret-alt).
    let alternate = "binary-test-alternate-secret-41d2";
    let bin = Binary::spawn(
        &["--shutdown-drain", "0s"],
        &[
            ("SERVICE_ORIGIN_SECRET", SECRET),
            ("SERVICE_ORIGIN_SECRET_ALT", alternate),
        ],
    );
    for (secret, status) in [(SECRET, 200), (alternate, 200), ("neither-of-them", 403)] {
        let res = common::post_sum(
            bin.addr,
            r#"{"numbers":[1,2]}"#,
            &format!("\r\nX-Origin-Secret: {secret}"),
        )
        .await;
        assert_eq!(res.status, status, "{secret}");
    }
    for line in bin.log_lines() {
        assert!(
            !line.contains(SECRET) && !line.contains(alternate),
            "a secret leaked into the logs: {line}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scraped_metrics_pass_promtool() {
    let bin = Binary::spawn(&[], &[]);
    for body in [
        r#"{"numbers":[1,2,3]}"#,
        r#"{"numbers":[1]}"#,
        "{",
        r#"{"numbers":[1.7e308,1.7e308]}"#,
    ] {
        common::post_sum(bin.addr, body, "").await;
    }
    common::get(bin.addr, "/nowhere").await;
    raw::request(bin.addr, "DELETE /healthz HTTP/1.1\r\nHost: t", b"").await;
    let res = common::get(bin.metrics_addr, "/metrics").await;
    assert_eq!(res.status, 200);
    assert!(
        res.header("content-type")
            .is_some_and(|c| c.starts_with("text/plain"))
    );
    let text = String::from_utf8(res.body).expect("exposition is UTF-8");
    for name in service::metrics::ALL {
        assert!(
            text.contains(&format!("# TYPE {name} ")),
            "{name} missing:\n{text}"
        );
    }
    assert!(
        text.contains(r#"sumapi_http_requests_rejected_total{code="SUM_OUT_OF_RANGE"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"sumapi_http_request_duration_seconds_bucket{method="POST",route="/api/v1/sum",status="200",le="10"} 1"#), "{text}");

    let dir = testkit::tempdir::unique("service-promtool");
    let file = dir.join("metrics.txt");
    std::fs::write(&file, &text).expect("write scrape");
    let out = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&file).expect("open scrape"))
        .output()
        .unwrap_or_else(|e| {
            panic!("promtool is required ({e}); install it with scripts/deps/apt.sh (Debian package `prometheus`)")
        });
    let complaints = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && complaints.trim().is_empty(),
        "promtool check metrics complained:\n{complaints}\n--- scrape ---\n{text}"
    );
    std::fs::remove_dir_all(&dir).ok();

    // Unknown paths on the metrics port are 404, and nothing else is served there.
    assert_eq!(common::get(bin.metrics_addr, "/").await.status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_metrics_port_serves_only_get_metrics_and_never_a_5xx() {
    let bin = Binary::spawn(&[], &[]);
    let m = bin.metrics_addr;
    // HEAD is GET without the body; a query string is ignored.
    let head = raw::request(m, "HEAD /metrics HTTP/1.1\r\nHost: t", b"").await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty(), "HEAD has no body");
    assert_eq!(common::get(m, "/metrics?debug=1&x=%zz").await.status, 200);
    // Other methods on /metrics: 405 naming what is allowed, even with a body.
    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"] {
        let res = raw::request(
            m,
            &format!("{method} /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: 5"),
            b"hello",
        )
        .await;
        assert_eq!(res.status, 405, "{method}");
        assert_eq!(res.header("allow"), Some("GET, HEAD"), "{method}");
    }
    // Other paths and malformed HTTP: a 4xx (or a closed connection), never a 5xx.
    for path in ["/metrics/", "/../metrics", "/"] {
        assert_eq!(common::get(m, path).await.status, 404, "{path}");
    }
    let sent = refuses_malformed_http(m).await;
    let cut = common::cuts(m, "metrics", "malformed_request").await;
    assert_eq!(cut, sent as f64, "every malformed request is counted");
    // Still serving after all of it.
    assert_eq!(common::get(m, "/metrics").await.status, 200);
}

/// Sends requests that are not valid HTTP/1.1, or exceed actix's limits, to `addr`: each gets
/// a 4xx or a closed connection within 10 s, never a 5xx. actix-http answers these itself,
/// before the app: an empty 400 or 431, so no JSON body and no `X-Request-ID` (in the deployed
/// path the ALB and Kong refuse malformed HTTP first). Returns how many were sent.
async fn refuses_malformed_http(addr: std::net::SocketAddr) -> usize {
    let long_path = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "m".repeat(100_000));
    let many_headers = format!(
        "GET / HTTP/1.1\r\nHost: t{}\r\n\r\n",
        "\r\nX-Junk: 1".repeat(200)
    );
    let hostile: Vec<(&str, Vec<u8>)> = vec![
        ("a 100 KB path", long_path.into_bytes()),
        ("200 headers", many_headers.into_bytes()),
        ("a malformed request line", b"GET\r\n\r\n".to_vec()),
        ("binary junk", vec![0u8, 159, 146, 150, 255, b'\r', b'\n', b'\r', b'\n']),
        (
            "a bad content length",
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n".to_vec(),
        ),
        (
            "two content lengths",
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"
                .to_vec(),
        ),
        (
            "content length and chunked",
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                .to_vec(),
        ),
        (
            "an unknown transfer coding",
            b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n".to_vec(),
        ),
        ("HTTP/0.9", b"GET /\r\n\r\n".to_vec()),
        ("HTTP/9.9", b"GET / HTTP/9.9\r\nHost: t\r\n\r\n".to_vec()),
    ];
    let sent = hostile.len();
    for (what, request) in hostile {
        let bytes = tokio::time::timeout(Duration::from_secs(10), async {
            let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
            let _ = tokio::io::AsyncWriteExt::write_all(&mut stream, &request).await;
            let mut out = Vec::new();
            let _ = tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut out).await;
            out
        })
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer or close within 10 s"));
        if bytes.is_empty() {
            continue; // closed without an answer: fine for garbage
        }
        let status = raw::parse(&bytes).status;
        assert!(
            (400..500).contains(&status),
            "{addr} {what}: answered {status}"
        );
    }
    sent
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_http_on_the_public_port_is_a_4xx_never_a_5xx() {
    let bin = Binary::spawn(&[], &[]);
    let sent = refuses_malformed_http(bin.addr).await;
    // Each one counted, on its listener.
    let cut = |listener| common::cuts(bin.metrics_addr, listener, "malformed_request");
    assert_eq!(
        cut("api").await,
        sent as f64,
        "every malformed request is counted"
    );
    assert_eq!(cut("metrics").await, 0.0);
    // Still serving, with the contract's JSON for what reaches the app.
    let res = common::post_sum(bin.addr, r#"{"numbers":[1,2]}"#, "").await;
    assert_eq!(res.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_drains_without_failing_a_request_and_exits_zero() {
    let drain = Duration::from_millis(2500);
    let mut bin = Binary::spawn(
        &["--shutdown-drain", "2500ms", "--shutdown-timeout", "5s"],
        &[],
    );
    let addr = bin.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let mut workers = Vec::new();
    for w in 0..8 {
        let (stop, ok, failed, client) = (stop.clone(), ok.clone(), failed.clone(), client.clone());
        workers.push(tokio::spawn(async move {
            // Half the workers reuse keep-alive connections, half open a new one each time.
            let fresh = reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .expect("client");
            let client = if w % 2 == 0 { client } else { fresh };
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) && i < 100_000 {
                i += 1;
                let res = client
                    .post(format!("http://{addr}/api/v1/sum"))
                    .header("content-type", "application/json")
                    .body(format!(r#"{{"numbers":[{i},{w}]}}"#))
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status() == 200 => {
                        ok.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(r) => failed
                        .lock()
                        .expect("lock")
                        .push(format!("status {}", r.status())),
                    Err(e) => failed.lock().expect("lock").push(format!("{e:?}")),
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(common::get(addr, "/healthz/ready").await.status, 200);
    let before = ok.load(Ordering::SeqCst);
    assert!(before > 0, "the load is flowing before SIGTERM");

    bin.terminate();
    let signalled = Instant::now();
    // Readiness flips to 503 at once (well within the drain).
    let flipped = loop {
        let res = common::get(addr, "/healthz/ready").await;
        if res.status == 503 {
            assert_eq!(res.json()["status"], "not_ready");
            break signalled.elapsed();
        }
        assert!(
            signalled.elapsed() < Duration::from_millis(1000),
            "readiness still 200 after 1 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(
        flipped < Duration::from_millis(1000),
        "flip took {flipped:?}"
    );
    // Liveness and the metrics port keep answering during the drain.
    assert_eq!(common::get(addr, "/healthz/live").await.status, 200);
    let scrape = common::get(bin.metrics_addr, "/metrics").await;
    assert!(String::from_utf8_lossy(&scrape.body).contains("sumapi_ready 0"));

    // A request that is still in flight when the drain ends must complete.
    tokio::time::sleep(
        drain
            - Duration::from_millis(800)
            - signalled.elapsed().min(drain - Duration::from_millis(800)),
    )
    .await;
    let body = br#"{"numbers":[40,2]}"#;
    let head = format!(
        "POST /api/v1/sum HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let in_flight = tokio::spawn(async move {
        let parts: [&[u8]; 3] = [head.as_bytes(), &body[..4], &body[4..]];
        // The second half arrives ~1.6 s later, after the drain has ended.
        raw::parse(&raw::exchange(addr, &parts, Duration::from_millis(800)).await)
    });

    // Keep the load up until just before the drain ends: none of it may fail.
    let until = drain - Duration::from_millis(300);
    tokio::time::sleep(until.saturating_sub(signalled.elapsed())).await;
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.await.expect("load worker");
    }
    drop(client);
    let during = ok.load(Ordering::SeqCst) - before;
    let failures = failed.lock().expect("lock").clone();
    assert!(
        failures.is_empty(),
        "{} requests failed during the drain: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(
        during > 50,
        "the load kept flowing during the drain ({during} requests)"
    );

    let slow = in_flight.await.expect("in-flight request");
    assert_eq!(
        slow.status,
        200,
        "the in-flight request finished: {}",
        String::from_utf8_lossy(&slow.body)
    );
    assert_eq!(slow.json()["sum"], 42);
    assert!(
        signalled.elapsed() > drain,
        "the slow request really spanned the end of the drain"
    );

    let (code, _) = bin.wait_exit(Duration::from_secs(10));
    let total = signalled.elapsed();
    assert_eq!(code, Some(0), "graceful shutdown exits 0");
    assert!(total >= drain, "exited before the drain ended ({total:?})");
    assert!(
        total < drain + Duration::from_secs(5),
        "exit took {total:?}, beyond drain + timeout"
    );
    // After the exit nobody listens any more.
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still accepting after exit"
    );
    // Every answer has its access line, the last ones included: none is lost at exit.
    let lines = bin.all_log_lines();
    let answered = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["message"] == "request" && v["route"] == "/api/v1/sum" && v["status"] == 200)
        .count();
    let sent = ok.load(Ordering::SeqCst) + 1;
    assert_eq!(answered, sent, "access lines for the {sent} answered sums");
    let logs = lines.join("\n");
    assert!(logs.contains("shutdown complete"), "{logs}");
}

/// Arguments, environment, and what the error message must name.
type ConfigCase<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);

#[test]
fn invalid_configuration_exits_64_before_binding() {
    // Hold a port: if the service tried to bind before validating, it would fail with 1.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").to_string();
    let cases: Vec<ConfigCase> = vec![
        (
            vec!["--listen", &port, "--max-body", "0"],
            vec![],
            "--max-body",
        ),
        (
            vec!["--listen", &port, "--workers", "0"],
            vec![],
            "--workers",
        ),
        (
            vec!["--listen", &port, "--shutdown-timeout", "0s"],
            vec![],
            "--shutdown-timeout",
        ),
        (
            vec!["--listen", &port, "--metrics-listen", &port],
            vec![],
            "--metrics-listen",
        ),
        (vec!["--listen", "not-an-address"], vec![], "--listen"),
        (
            vec!["--listen", &port, "--shutdown-drain", "soon"],
            vec![],
            "--shutdown-drain",
        ),
        (
            vec!["--listen", &port],
            vec![("SERVICE_MAX_BODY", "lots")],
            "--max-body",
        ),
        (
            vec!["--listen", &port],
            vec![("SERVICE_BODY_TIMEOUT", "-1s")],
            "--body-timeout",
        ),
        (
            vec!["--listen", &port],
            vec![("LOG_FORMAT", "xml")],
            "--log-format",
        ),
        (
            vec![
                "--listen",
                &port,
                "--origin-secret-file",
                "/nonexistent/secret",
            ],
            vec![],
            "/nonexistent/secret",
        ),
        (
            vec!["--listen", &port, "--no-such-flag"],
            vec![],
            "--no-such-flag",
        ),
        // Oversized values: refused before they can overflow a deadline (these panicked the
        // worker on every connection, or main at start) or be obeyed as a typo.
        (
            vec!["--listen", &port, "--keep-alive", "18446744073709551615s"],
            vec![],
            "--keep-alive",
        ),
        (
            vec!["--listen", &port],
            vec![("SERVICE_BODY_TIMEOUT", "18446744073709551615s")],
            "--body-timeout",
        ),
        (
            vec!["--listen", &port, "--body-timeout", "0s"],
            vec![],
            "--body-timeout",
        ),
        (
            vec!["--listen", &port, "--shutdown-timeout", "584942417355y"],
            vec![],
            "--shutdown-timeout",
        ),
        (
            vec!["--listen", &port, "--shutdown-drain", "11m"],
            vec![],
            "between 0s and 10m",
        ),
        (
            vec!["--listen", &port, "--max-body", "16777217"],
            vec![],
            "--max-body",
        ),
        (
            vec!["--listen", &port, "--workers", "257"],
            vec![],
            "--workers",
        ),
        (
            vec!["--listen", &port, "--workers", "many"],
            vec![],
            "--workers",
        ),
        (
            vec!["--listen", &port, "--metrics-listen", "localhost"],
            vec![],
            "--metrics-listen",
        ),
        // A device or a huge file named as the secret file is refused, not read forever.
        (
            vec!["--listen", &port, "--origin-secret-file", "/dev/zero"],
            vec![],
            "larger than 65536 bytes",
        ),
        // A flag without its value.
        (
            vec!["--listen", &port, "--keep-alive"],
            vec![],
            "--keep-alive",
        ),
        // A secret variable that is set but holds nothing would turn the guard off silently.
        (
            vec!["--listen", &port],
            vec![("SERVICE_ORIGIN_SECRET", "")],
            "SERVICE_ORIGIN_SECRET is set but holds no secret",
        ),
        (
            vec!["--listen", &port],
            vec![("SERVICE_ORIGIN_SECRET_ALT", " , ")],
            "SERVICE_ORIGIN_SECRET_ALT is set but holds no secret",
        ),
    ];
    for (args, envs, mentions) in cases {
        let (code, _, stderr) = common::run_to_exit(&args, &envs);
        assert_eq!(code, Some(64), "{args:?} {envs:?}: {stderr}");
        assert!(
            stderr.contains(mentions),
            "{args:?}: the message should name {mentions}: {stderr}"
        );
    }
    // A port already in use is a runtime failure (1), with the address in the message.
    let (code, _, stderr) =
        common::run_to_exit(&["--listen", &port, "--metrics-listen", "127.0.0.1:0"], &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains(&port), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "stderr is not a terminal, yet has colour codes: {stderr:?}"
    );
    // --help documents the exit codes and succeeds.
    let (code, stdout, _) = common::run_to_exit(&["--help"], &[]);
    assert_eq!(code, Some(0));
    assert!(
        stdout.contains("64") && stdout.contains("Exit codes"),
        "{stdout}"
    );
    assert!(
        stdout.contains("SERVICE_SHUTDOWN_DRAIN"),
        "env fallbacks are documented: {stdout}"
    );
    drop(taken);
}

#[test]
fn healthcheck_subcommand() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let bin = Binary::spawn(&[], &[]);
    let url = format!("http://{}/healthz/live", bin.addr);
    let (code, _, stderr) = common::run_to_exit(&["healthcheck", "--url", &url], &[]);
    assert_eq!(code, Some(0), "{stderr}");
    // A non-200 answer, a closed port, a bad URL: all unhealthy with a reason.
    let missing = format!("http://{}/nope", bin.addr);
    let (code, _, stderr) = common::run_to_exit(&["healthcheck", "--url", &missing], &[]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("404"), "{stderr}");
    let closed = testkit::ports::RefusedPort::reserve().expect("reserve a port");
    let closed_url = format!("{}/healthz/live", closed.base_url());
    let (code, _, stderr) = common::run_to_exit(&["healthcheck", "--url", &closed_url], &[]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("cannot reach"), "{stderr}");
    let (code, _, stderr) =
        common::run_to_exit(&["healthcheck", "--url", "https://example.invalid/"], &[]);
    assert_eq!(code, Some(64), "{stderr}");
    assert!(stderr.contains("plain http"), "{stderr}");
    // A server that accepts but never answers: bounded by --timeout.
    let silent = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let silent_url = format!("http://{}/healthz/live", silent.local_addr().expect("addr"));
    let started = Instant::now();
    let (code, _, stderr) = common::run_to_exit(
        &["healthcheck", "--url", &silent_url, "--timeout", "500ms"],
        &[],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(stderr.contains("no answer"), "{stderr}");
    // A timeout that could never pass, or that would hang the container's check, is a usage
    // error, not "unhealthy".
    for (args, envs) in [
        (
            vec!["healthcheck", "--url", &url, "--timeout", "0s"],
            vec![],
        ),
        (
            vec!["healthcheck", "--url", &url],
            vec![("SERVICE_HEALTHCHECK_TIMEOUT", "1000d")],
        ),
        (
            vec!["healthcheck", "--url", &url, "--timeout", "soon"],
            vec![],
        ),
        (vec!["healthcheck", "--url", &url, "--timeout"], vec![]),
    ] {
        let (code, _, stderr) = common::run_to_exit(&args, &envs);
        assert_eq!(code, Some(64), "{args:?} {envs:?}: {stderr}");
        assert!(stderr.contains("--timeout"), "{stderr}");
    }
}

#[test]
fn dockerfile_is_multi_stage_non_root_with_a_binary_healthcheck() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/Dockerfile");
    let text = std::fs::read_to_string(path).expect("service/Dockerfile exists");
    let instructions: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let froms = instructions
        .iter()
        .filter(|l| l.starts_with("FROM "))
        .count();
    assert!(froms >= 2, "multi-stage build expected, found {froms} FROM");
    let user = instructions
        .iter()
        .rev()
        .find(|l| l.starts_with("USER "))
        .expect("the final stage sets USER");
    assert!(
        !user.contains("root") && !user.ends_with(" 0") && !user.contains(" 0:"),
        "{user}"
    );
    let healthcheck = text
        .split("HEALTHCHECK")
        .nth(1)
        .expect("HEALTHCHECK present");
    assert!(
        healthcheck.contains(r#""healthcheck""#),
        "HEALTHCHECK runs `service healthcheck`"
    );
    assert!(!healthcheck.contains("curl") && !healthcheck.contains("wget"));
    assert!(instructions.contains(&"EXPOSE 8080 9090"));
    // The HEALTHCHECK's arguments are ones the binary accepts.
    let (code, _, stderr) = common::run_to_exit(
        &[
            "healthcheck",
            "--url",
            "http://127.0.0.1:1/healthz/live",
            "--timeout",
            "2s",
        ],
        &[],
    );
    assert_eq!(code, Some(1), "flags accepted, nothing listening: {stderr}");
}
