//! A target that cannot be tested: nothing listening ends the run within seconds with exit 1
//! and the reason (a failure to test, not an SLO breach), TLS spoken to a plain-HTTP port says
//! so, a healthy target runs its whole duration, and a URL without a scheme is a usage error
//! that says what to write.

use crate::common;

use std::time::{Duration, Instant};

use clap::Parser;
use common::{TestServer, loadgen, stderr};
use loadgen::cli::{Cli, Command};
use loadgen::config::RunConfig;
use loadgen::run::run_blocking;
use testkit::ports::RefusedPort;
use testkit::tempdir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[test]
fn a_refused_port_ends_the_run_in_seconds_with_exit_1_and_the_reason() {
    let refused = RefusedPort::reserve().expect("reserve a port");
    let dir = tempdir::unique("loadgen-reach");
    let json = dir.join("report.json");
    let url = format!("{}/x", refused.base_url());
    for model in [&["-c", "2"][..], &["-r", "50", "-c", "2"][..]] {
        let mut args = vec!["run", &url, "-z", "30s", "--quiet"];
        args.extend_from_slice(model);
        args.extend_from_slice(&["--json", json.to_str().expect("utf-8 path")]);
        let t0 = Instant::now();
        let out = loadgen(&args, &[]);
        let took = t0.elapsed();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{model:?}: {err}");
        assert!(took < Duration::from_secs(10), "{model:?} took {took:?}");
        assert!(
            err.contains(&format!("connection refused by {}", refused.addr())),
            "{model:?}: {err}"
        );
        // What ran is still reported.
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).expect("JSON written"))
                .expect("valid JSON");
        assert_eq!(report["requests"]["ok"], 0, "{report}");
    }
}

#[test]
fn https_to_a_plain_http_port_says_it_does_not_speak_tls() {
    // A plain-HTTP server answers what is not an HTTP request (here a TLS ClientHello) with a
    // plain-text 400, as nginx and actix do.
    let s = TestServer::start_with(|mut sock, _| async move {
        let mut buf = [0u8; 1024];
        if sock.read(&mut buf).await.is_ok_and(|n| n > 0) {
            let _ = sock
                .write_all(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await;
        }
    });
    let url = s.url("/fast").replacen("http://", "https://", 1);
    let t0 = Instant::now();
    let out = loadgen(&["run", &url, "-z", "30s", "-c", "2", "--quiet"], &[]);
    let took = t0.elapsed();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(err.contains("does not speak TLS"), "{err}");
    assert!(err.contains("use http://"), "{err}");
    assert!(!err.contains("InvalidContentType"), "{err}");
}

#[test]
fn a_healthy_target_runs_its_whole_duration() {
    let s = TestServer::start(None);
    let url = s.url("/fast");
    let cli = Cli::try_parse_from([
        "loadgen",
        "run",
        "--quiet",
        &url,
        "-r",
        "50",
        "-c",
        "2",
        "-z",
        "3s",
        "--max-lag",
        "250ms",
    ])
    .expect("valid flags");
    let Command::Run(a) = cli.command else {
        panic!("not a run command")
    };
    let cfg = RunConfig::from_args(&a).expect("valid config");
    let m = run_blocking(&cfg, None).expect("run");
    assert_eq!(m.gave_up, None);
    assert_eq!(m.meta.duration, Duration::from_secs(3));
    assert!(m.summary.total >= 140, "{} requests", m.summary.total);
}

#[test]
fn a_url_without_a_scheme_is_a_usage_error_that_says_what_to_write() {
    for url in ["127.0.0.1:8080/x", "localhost:8080"] {
        let out = loadgen(&["run", url, "-n", "1"], &[]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(64), "{url}: {err}");
        assert!(err.contains(&format!("http://{url}")), "{url}: {err}");
        assert!(err.contains("https://"), "{url}: {err}");
        assert!(!err.contains("invalid format"), "{url}: {err}");
    }
}
