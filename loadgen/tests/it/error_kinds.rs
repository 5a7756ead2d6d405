//! Errors by kind, through the built binary against raw loopback servers: a 200 whose chunked
//! body is broken is a `malformed` error and never a 2xx (so `status_2xx>=1` fails at a 100 %
//! error rate), with either HTTP/1.1 driver; refused, reset, timeout, TLS, 4xx and 5xx are each
//! counted as their kind and add up to the errors and timeouts, in the JSON, the text summary
//! and the per-kind gates.

use crate::common;

use std::path::Path;

use common::{TestServer, loadgen, stderr, stdout};
use serde_json::Value;
use testkit::ports::RefusedPort;
use testkit::tempdir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A 200 whose chunked framing breaks at once: `zz` is not a chunk size.
const BROKEN_CHUNKED: &[u8] =
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n";

/// Answers requests by path: `/broken` with [`BROKEN_CHUNKED`] (then closes), `/reset` by
/// closing unanswered, `/status/NNN` with that status, `/slow/MS` with a 200 after MS ms, anything
/// else with a 200.
async fn serve(mut sock: TcpStream) {
    let mut buf = Vec::new();
    while let Some(req) = testkit::stub::read_request(&mut sock, &mut buf).await {
        let path = req.path.as_str();
        if path == "/broken" {
            let _ = sock.write_all(BROKEN_CHUNKED).await;
            return;
        }
        if path == "/reset" {
            return;
        }
        let status = path
            .strip_prefix("/status/")
            .and_then(|c| c.parse::<u16>().ok())
            .unwrap_or(200);
        if let Some(ms) = path.strip_prefix("/slow/").and_then(|m| m.parse().ok()) {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
        let resp = format!("HTTP/1.1 {status} X\r\ncontent-length: 2\r\n\r\nok");
        if sock.write_all(resp.as_bytes()).await.is_err() {
            return;
        }
    }
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

fn json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).expect("JSON report written"))
        .expect("valid JSON")
}

/// The kinds of a report's `errors_by_kind`, in report order.
const KINDS: [&str; 8] = [
    "refused",
    "reset",
    "timeout",
    "tls",
    "malformed",
    "other",
    "http_4xx",
    "http_5xx",
];

/// Every kind is counted, and together they are the errors and timeouts.
fn assert_kinds_add_up(r: &Value) {
    let kinds = &r["errors_by_kind"];
    let sum: u64 = KINDS
        .iter()
        .map(|k| {
            kinds[k]
                .as_u64()
                .unwrap_or_else(|| panic!("{k} missing: {r}"))
        })
        .sum();
    let (errors, timeouts) = (&r["requests"]["errors"], &r["requests"]["timeouts"]);
    assert_eq!(
        sum,
        errors.as_u64().expect("errors") + timeouts.as_u64().expect("timeouts"),
        "{kinds}"
    );
}

#[test]
fn a_200_with_broken_chunked_framing_is_a_malformed_error_never_a_2xx() {
    let server = TestServer::start_with(|sock, _| serve(sock));
    let dir = tempdir::unique("loadgen-malformed");
    let url = server.url("/broken");
    for driver in ["lean", "hyper"] {
        let out_json = dir.join(format!("{driver}.json"));
        let o = loadgen(
            &[
                "run",
                &url,
                "-r",
                "50",
                "-z",
                "1s",
                "-c",
                "2",
                "--quiet",
                "--slo",
                "status_2xx>=1",
                "--slo",
                "errors_malformed==0",
                "--json",
                s(&out_json),
            ],
            &[("LOADGEN_HTTP1_DRIVER", driver)],
        );
        assert_eq!(
            o.status.code(),
            Some(2),
            "{driver}: the gates breach: {}",
            stderr(&o)
        );
        let r = json(&out_json);
        let total = r["requests"]["total"].as_u64().expect("total");
        assert!(total >= 40, "{driver}: {total} requests");
        assert_eq!(
            r["status_counts"],
            serde_json::json!({}),
            "{driver}: a broken 200 is no status at all"
        );
        assert_eq!(r["errors_by_kind"]["malformed"], total, "{driver}: {r}");
        assert_eq!(r["error_rate"], 1.0, "{driver}");
        assert_eq!(r["requests"]["by_class"]["error"], total, "{driver}");
        assert_kinds_add_up(&r);
        let gates = r["slo"].as_array().expect("gates");
        assert_eq!(gates[0]["expr"], "status_2xx>=1");
        assert_eq!(gates[0]["actual"], 0.0, "{driver}");
        assert_eq!(gates[0]["pass"], false, "{driver}");
        assert_eq!(gates[1]["actual"], total as f64, "{driver}");
        assert_eq!(gates[1]["pass"], false, "{driver}");
        let text = stdout(&o);
        assert!(
            text.contains(&format!("errors by kind: malformed {total}\n")),
            "{driver}: {text}"
        );
        assert!(!text.contains("200:"), "{driver}: no 200 shown: {text}");
    }
}

#[test]
fn each_kind_is_counted_by_entry_and_all_add_up_to_the_errors() {
    let server = TestServer::start_with(|sock, _| serve(sock));
    let dir = tempdir::unique("loadgen-kinds");
    let targets = dir.join("targets.json");
    let base = server.url("");
    std::fs::write(
        &targets,
        format!(
            r#"[{{"url":"{base}/fast"}},
                {{"url":"{base}/broken"}},
                {{"url":"{base}/reset"}},
                {{"url":"{base}/slow/3000"}},
                {{"url":"{base}/status/404"}},
                {{"url":"{base}/status/503"}}]"#
        ),
    )
    .expect("write targets");
    let out_json = dir.join("kinds.json");
    let o = loadgen(
        &[
            "run",
            "--targets",
            s(&targets),
            "-n",
            "60",
            "-c",
            "1",
            "--timeout",
            "200ms",
            "--quiet",
            "--json",
            s(&out_json),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = json(&out_json);
    assert_eq!(r["requests"]["total"], 60, "{r}");
    let want = serde_json::json!({
        "refused": 0, "reset": 10, "timeout": 10, "tls": 0, "malformed": 10, "other": 0,
        "http_4xx": 10, "http_5xx": 10
    });
    assert_eq!(r["errors_by_kind"], want, "{r}");
    assert_eq!(
        r["status_counts"],
        serde_json::json!({"200": 10, "404": 10, "503": 10}),
        "only complete exchanges have a status"
    );
    assert_kinds_add_up(&r);

    // Each entry's row holds its own kind.
    let rows = r["targets"].as_array().expect("rows");
    let kind_of_row: Vec<(String, String)> = rows
        .iter()
        .map(|t| {
            let kinds = &t["errors_by_kind"];
            let nonzero: Vec<&str> = KINDS
                .iter()
                .copied()
                .filter(|k| kinds[k].as_u64() != Some(0))
                .collect();
            (
                t["label"].as_str().expect("label").to_string(),
                nonzero.join(","),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("GET /fast", ""),
        ("GET /broken", "malformed"),
        ("GET /reset", "reset"),
        ("GET /slow/3000", "timeout"),
        ("GET /status/404", "http_4xx"),
        ("GET /status/503", "http_5xx"),
    ]
    .iter()
    .map(|(l, k)| (l.to_string(), k.to_string()))
    .collect();
    assert_eq!(kind_of_row, expected);
    for t in rows {
        assert_eq!(t["requests"], 10, "{t}");
    }

    // The text summary says the same.
    let text = stdout(&o);
    assert!(
        text.contains(
            "errors by kind: reset 10  timeout 10  malformed 10  http_4xx 10  http_5xx 10\n"
        ),
        "{text}"
    );
}

#[test]
fn a_refused_port_counts_as_refused_and_tls_to_plain_http_as_tls() {
    let dir = tempdir::unique("loadgen-kinds-connect");
    let refused = RefusedPort::reserve().expect("reserve a port");
    let plain = TestServer::start_with(|mut sock, _| async move {
        let mut buf = [0u8; 1024];
        if sock.read(&mut buf).await.is_ok_and(|n| n > 0) {
            let _ = sock
                .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                .await;
        }
    });
    for (url, kind) in [
        (format!("{}/x", refused.base_url()), "refused"),
        (format!("https://{}/x", plain.addr), "tls"),
    ] {
        let out_json = dir.join(format!("{kind}.json"));
        let o = loadgen(
            &[
                "run",
                &url,
                "-r",
                "50",
                "-c",
                "2",
                "-z",
                "20s",
                "--quiet",
                "--slo",
                &format!("errors_{kind}==0"),
                "--json",
                s(&out_json),
            ],
            &[],
        );
        assert_eq!(o.status.code(), Some(1), "{kind}: {}", stderr(&o));
        let r = json(&out_json);
        let total = r["requests"]["total"].as_u64().expect("total");
        assert!(total > 0, "{kind}: {r}");
        assert_eq!(r["errors_by_kind"][kind], total, "{kind}: {r}");
        assert_eq!(r["slo"][0]["actual"], total as f64, "{kind}");
        assert_kinds_add_up(&r);
    }
}
