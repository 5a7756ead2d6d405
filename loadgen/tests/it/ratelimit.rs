//! `loadgen ratelimit` through the real binary, against the real service behind the local
//! gateway (nginx + Lua from gateway/kong.yaml) on free loopback ports: passes against a
//! correctly configured gateway, fails (exit 2, naming the check) against one with a different
//! limit and one without auth, and refuses bad usage with 64. Needs nginx and
//! libnginx-mod-http-lua (scripts/deps/apt.sh).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Output;

use gateway::{LocalGateway, LocalGatewayBuilder, RateLimits};

const ORIGIN: &str = "origin-secret-for-ratelimit-tests-0123";
const CANARY: &str = "canary-key-for-ratelimit-tests";
const CUSTOMER: &str = "customer-key-for-ratelimit-tests";
const LOADGEN: &str = "loadgen-key-for-ratelimit-tests";

struct Stack {
    service: service::RunningService,
    gateway: LocalGateway,
}

async fn stack(configure: impl FnOnce(LocalGatewayBuilder) -> LocalGatewayBuilder) -> Stack {
    let mut config = service::Config::loopback(&[]).expect("test flags parse");
    config.origin_secrets = vec![ORIGIN.to_owned()];
    let service = service::start(config).await.expect("service starts");
    let builder = LocalGateway::committed()
        .unwrap()
        .upstream(service.addr())
        .consumer_key("canary", CANARY)
        .consumer_key("example-customer", CUSTOMER)
        .consumer_key("loadgen", LOADGEN)
        .origin_secret(ORIGIN);
    let gateway = configure(builder)
        .start()
        .unwrap_or_else(|e| panic!("local gateway (install with scripts/deps/apt.sh): {e}"));
    Stack { service, gateway }
}

async fn loadgen(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_loadgen"));
    cmd.arg("ratelimit").args(args).env_clear();
    for (k, v) in env {
        cmd.env(k, v);
    }
    tokio::time::timeout(std::time::Duration::from_secs(60), cmd.output())
        .await
        .expect("loadgen ratelimit finishes in time")
        .expect("loadgen runs")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn row<'a>(stdout: &'a str, check: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.starts_with(&format!("{check} ")))
        .unwrap_or_else(|| panic!("no row for {check} in\n{stdout}"))
}

fn sum_url(s: &Stack) -> String {
    format!("{}/api/v1/sum", s.gateway.base_url())
}

const POST: [&str; 6] = [
    "-X",
    "POST",
    "-H",
    "Content-Type: application/json",
    "-d",
    r#"{"numbers":[1,2]}"#,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_against_a_correctly_configured_gateway() {
    let s = stack(|b| {
        b.consumer_limits("canary", RateLimits::per_second(5))
            .unwrap()
    })
    .await;
    let dir = testkit::tempdir::unique("loadgen-ratelimit");
    let json = dir.join("pass.json");
    let url = sum_url(&s);
    let mut args = vec![
        url.as_str(),
        "--key-env",
        "K1",
        "--second-key-env",
        "K2",
        "--limit",
        "5/second",
        "--wait-reset",
        "--json",
        json.to_str().unwrap(),
    ];
    args.extend(POST);
    let out = loadgen(&args, &[("K1", CANARY), ("K2", CUSTOMER)]).await;
    let all = text(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{all}\n{}",
        s.gateway.error_log()
    );
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    for check in [
        "no_key_401",
        "unknown_key_401",
        "limit_enforced",
        "retry_after",
        "retry_after_matches_reset",
        "ratelimit_limit_header",
        "remaining_decrements",
        "reset_in_range",
        "consumer_isolation",
        "reset_restores_quota",
        "no_5xx",
    ] {
        assert!(row(&stdout, check).contains(" PASS "), "{check}: {all}");
    }
    assert!(
        !stdout.contains(CANARY) && !stdout.contains(CUSTOMER),
        "keys never printed"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["verdict"], "PASS");
    assert_eq!(report["expected"], "5/second");
    assert!(report["requests"].as_array().unwrap().len() >= 9);
    assert!(
        !report.to_string().contains(CANARY),
        "keys never in the JSON"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    s.service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fails_against_a_gateway_with_a_different_limit() {
    let s = stack(|b| {
        b.consumer_limits("canary", RateLimits::per_second(8))
            .unwrap()
    })
    .await;
    let url = sum_url(&s);
    let mut args = vec![url.as_str(), "--key-env", "K1", "--limit", "5/second"];
    args.extend(POST);
    let out = loadgen(&args, &[("K1", CANARY)]).await;
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(row(&stdout, "limit_enforced").contains(" FAIL "), "{all}");
    assert!(
        row(&stdout, "ratelimit_limit_header").contains("saw 8"),
        "{all}"
    );
    assert!(row(&stdout, "no_key_401").contains(" PASS "), "{all}");
    assert!(
        stdout.contains("failed: ") && stdout.contains("limit_enforced"),
        "{all}"
    );
    s.service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fails_against_a_gateway_without_auth() {
    let s = stack(|b| {
        b.without_auth()
            .default_limits(RateLimits::per_second(5))
            .unwrap()
    })
    .await;
    let url = sum_url(&s);
    let mut args = vec![
        url.as_str(),
        "--key-env",
        "K1",
        "--limit",
        "5/second",
        "--json",
        "-",
    ];
    args.extend(POST);
    let out = loadgen(&args, &[("K1", CANARY)]).await;
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    // With --json -, stdout carries only the JSON and the table goes to stderr.
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect(&all);
    assert_eq!(report["verdict"], "FAIL");
    let status = |name: &str| {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status("no_key_401"), "FAIL", "{all}");
    assert_eq!(status("unknown_key_401"), "FAIL", "{all}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no_key_401"),
        "{all}"
    );

    // A JSON file that passes the up-front check but cannot be written (a full disk) is a
    // failure of its own (exit 1), named. A bad path is a usage error: see the usage test.
    let mut args = vec![
        url.as_str(),
        "--key-env",
        "K1",
        "--limit",
        "5/second",
        "--json",
        "/dev/full",
    ];
    args.extend(POST);
    let out = loadgen(&args, &[("K1", CANARY)]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("writing /dev/full failed"),
        "{}",
        text(&out)
    );
    s.service.shutdown().await;
}

/// Arguments, environment, and what the error must mention.
type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_exit_64_and_unreachable_targets_exit_1() {
    let cases: Vec<Case> = vec![
        (
            vec!["http://127.0.0.1:9/api", "--limit", "10"],
            vec![("LOADGEN_API_KEY", "k")],
            "N/second",
        ),
        (
            vec!["http://127.0.0.1:9/api", "--limit", "0/minute"],
            vec![("LOADGEN_API_KEY", "k")],
            "between 1",
        ),
        (
            vec!["http://127.0.0.1:9/api", "--limit", "10/fortnight"],
            vec![("LOADGEN_API_KEY", "k")],
            "N/second",
        ),
        (
            vec!["http://127.0.0.1:9/api", "--limit", "10/minute"],
            vec![],
            "LOADGEN_API_KEY is not set",
        ),
        (
            vec!["http://127.0.0.1:9/api", "--limit", "10/minute"],
            vec![("LOADGEN_API_KEY", "")],
            "is empty",
        ),
        (
            vec!["http://127.0.0.1:9/api", "--limit", "10/minute"],
            vec![("LOADGEN_API_KEY", "a\u{1}b")],
            "not a valid header value",
        ),
        (
            vec![
                "http://127.0.0.1:9/api",
                "--limit",
                "10/minute",
                "--second-key-env",
                "LOADGEN_API_KEY",
            ],
            vec![("LOADGEN_API_KEY", "k")],
            "same key",
        ),
        (
            vec!["ftp://127.0.0.1/x", "--limit", "10/minute"],
            vec![("LOADGEN_API_KEY", "k")],
            "bad URL",
        ),
        (
            vec!["not a url", "--limit", "10/minute"],
            vec![("LOADGEN_API_KEY", "k")],
            "bad URL",
        ),
        (
            vec![
                "http://127.0.0.1:9/api",
                "--limit",
                "10/minute",
                "-H",
                "no-colon",
            ],
            vec![("LOADGEN_API_KEY", "k")],
            "bad header",
        ),
        (
            vec![
                "http://127.0.0.1:9/api",
                "--limit",
                "10/minute",
                "--key-header",
                "bad header",
            ],
            vec![("LOADGEN_API_KEY", "k")],
            "bad header",
        ),
        (
            vec!["http://127.0.0.1:9/api"],
            vec![("LOADGEN_API_KEY", "k")],
            "--limit",
        ),
        (
            vec![
                "http://127.0.0.1:9/api",
                "--limit",
                "10/minute",
                "--timeout",
                "soon",
            ],
            vec![("LOADGEN_API_KEY", "k")],
            "timeout",
        ),
    ];
    for (args, env, expect) in cases {
        let out = loadgen(&args, &env).await;
        let all = text(&out);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {all}");
        assert!(
            all.contains(expect),
            "{args:?} should mention {expect:?}: {all}"
        );
    }
    // Refused before the first request: a target that answers everything sees no traffic.
    let stub = testkit::stub::Stub::start(|_, _| testkit::stub::Reply::json(200, "{}")).await;
    let url = format!("{}/api", stub.url());
    let with_userinfo = url.replacen("http://", "http://user:pw@", 1);
    let dir = std::env::temp_dir();
    let dir = dir.to_str().unwrap();
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec![&url, "--json", "/nonexistent-dir/ratelimit.json"],
            vec!["--json", "/nonexistent-dir", "does not exist"],
        ),
        (vec![&url, "--json", dir], vec!["--json", "is a directory"]),
        (vec![&url, "--json", ""], vec!["--json", "empty file name"]),
        (
            vec![&with_userinfo],
            vec!["credentials in the URL are not supported"],
        ),
        (
            vec![&url, "--timeout", "0s"],
            vec!["--timeout", "longer than 0s"],
        ),
        (
            vec![&url, "--timeout", "18446744073709551615s"],
            vec!["--timeout", "at most 1h"],
        ),
    ];
    for (mut args, expect) in cases {
        args.extend(["--limit", "10/minute"]);
        let out = loadgen(&args, &[("LOADGEN_API_KEY", "k")]).await;
        let all = text(&out);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {all}");
        for e in expect {
            assert!(all.contains(e), "{args:?} should mention {e:?}: {all}");
        }
        assert!(
            !all.contains("pw@"),
            "the URL's password is not echoed: {all}"
        );
        assert!(stub.requests().is_empty(), "{args:?} sent requests: {all}");
    }

    // A port nobody listens on (held, so no other test's server is handed it): nothing answers.
    let refused = testkit::ports::RefusedPort::reserve().unwrap();
    let url = format!("{}/api/v1/sum", refused.base_url());
    let out = loadgen(
        &[&url, "--limit", "10/minute", "--timeout", "2s"],
        &[("LOADGEN_API_KEY", "k")],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("no response"), "{}", text(&out));
}

/// A TCP load balancer: each new connection goes to the next backend in turn.
async fn round_robin(backends: Vec<std::net::SocketAddr>) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        for i in 0.. {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            let backend = backends[i % backends.len()];
            tokio::spawn(async move {
                if let Ok(mut upstream) = tokio::net::TcpStream::connect(backend).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detects_several_gateway_nodes_counting_separately() {
    let s = stack(|b| {
        b.consumer_limits("canary", RateLimits::per_minute(6))
            .unwrap()
    })
    .await;
    // A second node with the same policy, in front of the same service.
    let second = LocalGateway::committed()
        .unwrap()
        .upstream(s.service.addr())
        .consumer_key("canary", CANARY)
        .origin_secret(ORIGIN)
        .consumer_limits("canary", RateLimits::per_minute(6))
        .unwrap()
        .start()
        .unwrap();
    let lb = round_robin(vec![s.gateway.addr(), second.addr()]).await;
    let url = format!("http://{lb}/api/v1/sum");
    let mut args = vec![url.as_str(), "--key-env", "K1", "--limit", "6/minute"];
    args.extend(POST);
    let out = loadgen(&args, &[("K1", CANARY)]).await;
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        row(&stdout, "remaining_decrements")
            .contains("several gateway nodes counting separately (local policy)"),
        "{all}"
    );
    assert!(row(&stdout, "limit_enforced").contains(" FAIL "), "{all}");
    drop(second);
    s.service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_committed_canary_quota_is_what_the_gateway_enforces() {
    // No overrides: the canary's quota exactly as gateway/kong.yaml declares it.
    let policy = gateway::Policy::committed().unwrap();
    let declared = policy
        .plugins
        .iter()
        .find_map(|p| match (&p.scope.consumer, &p.plugin) {
            (Some(c), gateway::policy::Plugin::RateLimiting(rl)) if c == "canary" => {
                rl.limits.minute
            }
            _ => None,
        })
        .expect("kong.yaml gives the canary a per-minute quota");
    let s = stack(|b| b).await;
    let url = sum_url(&s);
    let limit = format!("{declared}/minute");
    let mut args = vec![
        url.as_str(),
        "--key-env",
        "K1",
        "--second-key-env",
        "K2",
        "--limit",
        limit.as_str(),
    ];
    args.extend(POST);
    let out = loadgen(&args, &[("K1", CANARY), ("K2", CUSTOMER)]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    s.service.shutdown().await;
}
