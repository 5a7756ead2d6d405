//! Black-box: the real canary binary's behaviour as an operator sees it — exit codes, the
//! stdout verdict, auth regressions, retries, timeouts, hostile answers, SIGTERM, the external
//! heartbeat, validation. The API key never showing up anywhere is [`crate::secrets`]' concern.

use crate::common;

use std::time::{Duration, Instant};

use common::{canary, config_file, emf_values, finish, stack};
use testkit::stub::{Reply as StubReply, Stub};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdout_sink_shows_a_passing_round_through_the_gateway() {
    let stack = stack(true).await;
    let mut cmd = canary(None);
    cmd.args([
        "run",
        "--once",
        "--sink",
        "stdout",
        "--environment",
        "local",
    ])
    .args(["--target", &stack.url(), "--rate-limit", "20"]);
    let run = finish(cmd).await;
    assert_eq!(run.code, 0, "{}", run.all());
    for probe in [
        "health",
        "sum",
        "auth_missing_key",
        "auth_bad_key",
        "rate_limit_headers",
    ] {
        assert!(
            run.stdout
                .lines()
                .any(|l| l.starts_with("PASS") && l.contains(probe)),
            "{probe} passes\n{}",
            run.all()
        );
    }
    assert!(
        run.stdout.contains("verdict: PASS (5 of 5 probes passed)"),
        "{}",
        run.all()
    );
    assert!(
        run.stdout
            .contains("metric SumApi/Canary RunStarted{Environment=local} 1 Count")
    );
    assert!(
        run.stdout
            .contains("metric SumApi/Canary Heartbeat{Environment=local} 1 Count")
    );
    assert!(
        run.stdout
            .contains("RateLimitRemaining{Environment=local,Probe=rate_limit_headers} 18 Count"),
        "{}",
        run.all()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_without_auth_fails_the_auth_probes() {
    let stack = stack(false).await;
    let mut cmd = canary(None);
    cmd.args([
        "run",
        "--once",
        "--sink",
        "emf,stdout",
        "--target",
        &stack.url(),
    ]);
    let run = finish(cmd).await;
    assert_eq!(
        run.code,
        1,
        "an auth regression is a failed probe\n{}",
        run.all()
    );
    for probe in ["auth_missing_key", "auth_bad_key"] {
        let line = run
            .stdout
            .lines()
            .find(|l| l.contains(probe) && (l.starts_with("PASS") || l.starts_with("FAIL")))
            .unwrap_or_else(|| panic!("{probe} reported\n{}", run.all()));
        assert!(
            line.starts_with("FAIL") && line.contains("blame=gateway"),
            "{line}"
        );
    }
    assert!(run.stdout.contains("security regression"), "{}", run.all());
    let values = emf_values(&run.emf());
    assert_eq!(values.get("ProbeSuccess/auth_missing_key"), Some(&0.0));
    assert_eq!(values.get("ProbeSuccess/auth_bad_key"), Some(&0.0));
    assert_eq!(values.get("ProbeSuccess/health"), Some(&1.0));
    assert_eq!(values.get("ProbeSuccess/sum"), Some(&1.0));
    assert_eq!(
        values.get("Heartbeat"),
        Some(&1.0),
        "metrics were delivered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_timeouts_hostile_answers_and_the_external_heartbeat() {
    let stub = Stub::start(|req, before| match req.path.as_str() {
        // 503 twice, then healthy: passes, and the two retries are published.
        "/flaky" if before < 2 => StubReply::json(503, r#"{"status":"unavailable"}"#),
        "/flaky" => StubReply::json(200, r#"{"status":"healthy"}"#),
        "/slow" => StubReply::json(200, "{}").delay(Duration::from_secs(5)),
        "/huge" => StubReply::json(200, &format!("\"{}\"", "x".repeat(400 * 1024))),
        "/garbage" => StubReply::raw(b"\x00\xffnot http at all\r\n\r\n"),
        "/always-500" => StubReply::json(500, "{}"),
        "/ping" => StubReply::json(200, "OK"),
        _ => StubReply::json(404, "{}"),
    })
    .await;
    let config = config_file(&format!(
        r#"
        target = "{url}"
        environment = "stub"
        retries = 3
        retry_backoff = "10ms"
        timeout = "300ms"
        heartbeat_url = "{url}/ping"
        [[probes]]
        name = "flaky"
        path = "/flaky"
        expect = {{ json_equals = {{ status = "healthy" }} }}
        [[probes]]
        name = "slow"
        path = "/slow"
        [[probes]]
        name = "huge"
        path = "/huge"
        [[probes]]
        name = "garbage"
        path = "/garbage"
        retries = 1
        [[probes]]
        name = "always_500"
        path = "/always-500"
        retries = 2
        "#,
        url = stub.url()
    ));
    let started = Instant::now();
    let mut cmd = canary(None);
    cmd.args(["run", "--once", "--sink", "emf,stdout", "--config"])
        .arg(&config);
    let run = finish(cmd).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "timeouts bound the run"
    );
    assert_eq!(run.code, 1, "{}", run.all());
    let values = emf_values(&run.emf());
    assert_eq!(
        values.get("ProbeSuccess/flaky"),
        Some(&1.0),
        "{}",
        run.all()
    );
    assert_eq!(values.get("ProbeRetries/flaky"), Some(&2.0));
    assert_eq!(stub.hits("/flaky"), 3);
    assert_eq!(values.get("ProbeSuccess/slow"), Some(&0.0));
    assert_eq!(stub.hits("/slow"), 1, "a timeout is not retried");
    assert_eq!(values.get("ProbeSuccess/huge"), Some(&0.0));
    assert_eq!(values.get("ProbeSuccess/garbage"), Some(&0.0));
    assert_eq!(values.get("ProbeRetries/garbage"), Some(&1.0));
    assert_eq!(values.get("ProbeSuccess/always_500"), Some(&0.0));
    assert_eq!(values.get("ProbeRetries/always_500"), Some(&2.0));
    assert_eq!(stub.hits("/always-500"), 3);
    assert!(
        run.stdout.contains("no complete response within 300ms"),
        "{}",
        run.all()
    );
    assert!(
        run.stdout.contains("larger than 262144 bytes"),
        "{}",
        run.all()
    );
    assert_eq!(values.get("Heartbeat"), Some(&1.0));
    assert_eq!(
        stub.hits("/ping"),
        1,
        "the external heartbeat is called once per run"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_daemon_after_the_round_in_flight() {
    let stub = Stub::start(|req, _| match req.path.as_str() {
        "/slow" => StubReply::json(200, "{}").delay(Duration::from_millis(1500)),
        _ => StubReply::json(404, "{}"),
    })
    .await;
    let config = config_file(&format!(
        "target = \"{}\"\n[[probes]]\nname = \"slow\"\npath = \"/slow\"\n",
        stub.url()
    ));
    let mut cmd = canary(None);
    cmd.args(["run", "--every", "1s", "--sink", "stdout", "--config"])
        .arg(&config);
    let child = cmd.spawn().expect("starts");
    let pid = child.id().expect("pid");
    // Wait until the first round's request is in flight, then ask it to stop.
    let deadline = Instant::now() + Duration::from_secs(10);
    while stub.hits("/slow") == 0 {
        assert!(Instant::now() < deadline, "the first probe never arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let signalled = Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("exits after the round")
        .expect("output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        signalled.elapsed() >= Duration::from_millis(1000),
        "the round in flight was finished"
    );
    assert!(stdout.contains("PASS slow"), "{stdout}");
    assert!(
        stdout.contains("Heartbeat{Environment=dev} 1 Count"),
        "{stdout}"
    );
    assert_eq!(stub.hits("/slow"), 1, "no new round after SIGTERM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_names_invalid_fields_and_exits_64() {
    let good = config_file(
        r#"
        target = "https://api.example.com"
        environment = "prod"
        sinks = ["cloudwatch"]
        rate_limit = 20
        storage_resolution = 1
        "#,
    );
    let mut cmd = canary(None);
    cmd.args(["validate", "--config"]).arg(&good);
    let run = finish(cmd).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("config valid"), "{}", run.all());
    assert!(
        run.stdout
            .contains("health,sum,auth_missing_key,auth_bad_key,rate_limit_headers")
    );

    let bad = config_file(
        r#"
        target = "ftp://nope"
        timeout = "soon"
        storage_resolution = 5
        sinks = ["kafka"]
        [[probes]]
        name = "x y"
        path = "no-slash"
        "#,
    );
    let huge = config_file(&format!("# {}\n", "x".repeat(2 * 1024 * 1024)));
    let garbage = common::config_bytes(&[0u8, 159, 146, 150, 255, 0, 1]);
    let unknown = config_file("tiemout = \"5s\"\n");
    let wrong_type = config_file("retries = \"three\"\n");
    let cases: Vec<(Vec<String>, Vec<&str>)> = vec![
        (
            vec!["--config".into(), bad.display().to_string()],
            vec![
                "`target`",
                "`timeout`",
                "`storage_resolution`",
                "`sinks`",
                "`probes[0].name`",
                "`probes[0].path`",
            ],
        ),
        (
            vec!["--config".into(), "/nonexistent/canary.toml".into()],
            vec!["cannot read config file"],
        ),
        (
            vec!["--config".into(), huge.display().to_string()],
            vec!["larger than 1 MiB"],
        ),
        // A device reports a length of 0 and never ends: the cap is on what is read.
        (
            vec!["--config".into(), "/dev/zero".into()],
            vec!["larger than 1 MiB"],
        ),
        (
            vec!["--config".into(), garbage.display().to_string()],
            vec!["is invalid"],
        ),
        (
            vec!["--config".into(), unknown.display().to_string()],
            vec!["tiemout"],
        ),
        (
            vec!["--config".into(), wrong_type.display().to_string()],
            vec!["retries"],
        ),
        (vec![], vec!["`target`"]),
    ];
    for (args, expected) in cases {
        let mut cmd = canary(None);
        cmd.arg("validate").args(&args);
        let run = finish(cmd).await;
        assert_eq!(run.code, 64, "{args:?}\n{}", run.all());
        for e in expected {
            assert!(
                run.stderr.contains(e),
                "{args:?}: {e} not in\n{}",
                run.all()
            );
        }
        assert!(!run.stderr.contains("panicked"), "{}", run.all());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_lists_every_problem_at_once_with_file_line_and_field() {
    // Unknown keys, mistyped values and refused values, at the top level and in probes: all of
    // them, each on its own line naming the file, the line and column, and the field.
    let several = config_file(
        r#"target = "ftp://nope"
timeout = "soon"
retries = "three"
tiemout = "5s"
sinks = ["kafka"]

[[probes]]
name = "x y"
path = "no-slash"

[[probes]]
kind = "sum"
min_numbers = 50
expect = { status = [1000], latence = "1s" }
"#,
    );
    let path = several.display().to_string();
    let mut cmd = canary(None);
    cmd.args(["validate", "--config", &path]);
    let run = finish(cmd).await;
    assert_eq!(run.code, 64, "{}", run.all());
    let lines: Vec<&str> = run.stderr.lines().map(str::trim).collect();
    let expected = [
        "1:1: `target`: \"ftp://nope\" is not an http:// or https:// base URL",
        "2:1: `timeout`: \"soon\" is not a duration",
        "3:11: `retries`: invalid type: string \"three\", expected i64",
        "4:1: `tiemout`: unknown field `tiemout`",
        "5:1: `sinks`: unknown sink \"kafka\"",
        "8:1: `probes[0].name`: \"x y\" must be 1-255 characters",
        "9:1: `probes[0].path`: \"no-slash\" is not a path starting with /",
        "11:1: `probes[1].name`: missing",
        "13:1: `probes[1].min_numbers`: 50 is above max_numbers 10",
        "14:12: `probes[1].expect.status`: 1000 is not an HTTP status",
        "14:29: `probes[1].expect.latence`: unknown field `latence`",
    ];
    for e in expected {
        let line = format!("{path}:{e}");
        assert!(
            lines.iter().any(|l| l.starts_with(&line)),
            "{line} not a line of\n{}",
            run.all()
        );
    }
    let listed = lines.iter().filter(|l| l.starts_with(&path)).count();
    assert_eq!(
        listed,
        expected.len(),
        "one line per problem\n{}",
        run.all()
    );

    // A syntax error is reported with its line and column, beside the problems of the values
    // that could be read; what the broken line held is not guessed at.
    let syntax = config_file(
        r#"target = "http://127.0.0.1:1"
retries = = 3
environment = "has space"
[[probes]]
name = "p"
path = "/unterminated
"#,
    );
    let path = syntax.display().to_string();
    let mut cmd = canary(None);
    cmd.args(["validate", "--config", &path]);
    let run = finish(cmd).await;
    assert_eq!(run.code, 64, "{}", run.all());
    let lines: Vec<&str> = run.stderr.lines().map(str::trim).collect();
    for e in [
        "2:11: TOML syntax error: ",
        "3:1: `environment`: \"has space\" must be 1-255 characters",
        "6:22: TOML syntax error: invalid basic string",
    ] {
        let line = format!("{path}:{e}");
        assert!(
            lines.iter().any(|l| l.starts_with(&line)),
            "{line} not a line of\n{}",
            run.all()
        );
    }
    assert_eq!(
        lines.iter().filter(|l| l.starts_with(&path)).count(),
        3,
        "no guesses about the broken lines (`retries`, `probes[0].path`)\n{}",
        run.all()
    );

    // A value from a flag or its variable is blamed on them, not on the file it overrides.
    let mut cmd = canary(None);
    cmd.env("CANARY_TIMEOUT", "never")
        .args(["validate", "--config", &path, "--retries", "x"]);
    let run = finish(cmd).await;
    assert_eq!(run.code, 64, "{}", run.all());
    for e in [
        "`retries` (from --retries or CANARY_RETRIES): \"x\" is not an integer",
        "`timeout` (from --timeout or CANARY_TIMEOUT): \"never\" is not a duration",
    ] {
        assert!(
            run.stderr.lines().any(|l| l.trim().starts_with(e)),
            "{e} not a line of\n{}",
            run.all()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_config_is_valid_and_passes_through_the_local_gateway() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/canary.toml");
    let mut cmd = canary(None);
    cmd.args(["validate", "--config", example]);
    let run = finish(cmd).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout
            .contains("probes health,live,sum,auth_missing_key,auth_bad_key,rate_limit_headers"),
        "{}",
        run.all()
    );
    assert!(run.stderr.is_empty(), "{}", run.all());

    // Its probes hold for the real service behind the gateway policy of gateway/kong.yaml.
    let stack = stack(true).await;
    common::assert_round_passes(example, &stack.url(), &[], 6).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudwatch_without_a_region_fails_with_one_clear_line() {
    // No region anywhere: no variables, empty AWS config and credentials files. Instance
    // metadata, which the SDK asks last, is either switched off or, as on a laptop behind a
    // proxy that refuses it, a local stand-in that answers 403.
    let empty = config_file("");
    let metadata = Stub::start(|_, _| StubReply::json(403, "forbidden")).await;
    for imds in [None, Some(metadata.url())] {
        let mut cmd = canary(None);
        cmd.env_remove("AWS_REGION")
            .env_remove("AWS_DEFAULT_REGION")
            .env("AWS_CONFIG_FILE", &empty)
            .env("AWS_SHARED_CREDENTIALS_FILE", &empty);
        if let Some(url) = &imds {
            cmd.env_remove("AWS_EC2_METADATA_DISABLED")
                .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", url);
        }
        cmd.args(["run", "--once", "--sink", "cloudwatch"])
            .args(["--target", "http://127.0.0.1:1"]);
        let run = finish(cmd).await;
        assert_eq!(run.code, 64, "{imds:?}\n{}", run.all());
        assert_eq!(
            run.stderr.lines().count(),
            1,
            "one line, no SDK error dump ({imds:?})\n{}",
            run.all()
        );
        assert!(
            run.stderr
                .starts_with("canary: the cloudwatch sink needs an AWS region and found none")
                && run.stderr.contains("set AWS_REGION"),
            "{}",
            run.all()
        );
        assert!(run.stdout.is_empty(), "{}", run.all());
    }
    assert!(
        metadata.hits("/latest/api/token") >= 1,
        "instance metadata was asked, so its failure had a chance to show"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_usage_exits_64_without_running() {
    let long_url = format!("http://127.0.0.1/{}", "a".repeat(100_000));
    let cases: Vec<Vec<&str>> = vec![
        vec![],
        vec!["run", "--bogus"],
        vec![
            "run",
            "--once",
            "--every",
            "5s",
            "--target",
            "http://127.0.0.1:1",
        ],
        vec!["run", "--every", "banana", "--target", "http://127.0.0.1:1"],
        vec!["run", "--every", "0s", "--target", "http://127.0.0.1:1"],
        vec!["run", "--once"],
        vec!["run", "--once", "--target", "javascript:alert(1)"],
        vec!["run", "--once", "--target", "http://"],
        vec!["run", "--once", "--target", "http://ünïcode host/"],
        vec!["run", "--once", "--target", &long_url, "--timeout", "1ms1"],
        vec![
            "run",
            "--once",
            "--target",
            "http://127.0.0.1:1",
            "--sink",
            "",
        ],
        vec![
            "run",
            "--once",
            "--target",
            "http://127.0.0.1:1",
            "--retries",
            "99999999999999999999",
        ],
        vec![
            "run",
            "--once",
            "--target",
            "http://127.0.0.1:1",
            "--api-key",
            "abc",
        ],
        vec![
            "run",
            "--once",
            "--target",
            "http://127.0.0.1:1",
            "--api-key-env",
            "abc def",
        ],
    ];
    for args in cases {
        let mut cmd = canary(None);
        cmd.args(&args);
        let run = finish(cmd).await;
        assert_eq!(run.code, 64, "{args:?}\n{}", run.all());
        assert!(!run.stderr.contains("panicked"), "{}", run.all());
        assert!(
            run.stdout.is_empty(),
            "nothing published on a usage error: {}",
            run.all()
        );
    }

    // Out of range or duplicated: 64, and the message names the setting and the rule.
    let env_256 = "e".repeat(256);
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["--every", "25h"],
            vec!["--every", "\"25h\" must be 1s to 24h"],
        ),
        (
            vec!["--once", "--environment", &env_256],
            vec!["`environment`", "must be 1-255 characters"],
        ),
        (
            vec!["--once", "--sink", "stdout,stdout"],
            vec!["`sinks`", "\"stdout\" is listed twice"],
        ),
    ];
    for (args, expected) in cases {
        let mut cmd = canary(None);
        cmd.args(["run", "--target", "http://127.0.0.1:1"])
            .args(&args);
        let run = finish(cmd).await;
        assert_eq!(run.code, 64, "{args:?}\n{}", run.all());
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.all());
        for e in expected {
            assert!(
                run.stderr.contains(e),
                "{args:?}: {e} not in\n{}",
                run.all()
            );
        }
    }
    // The bounds themselves are accepted.
    let env_255 = "e".repeat(255);
    let mut cmd = canary(None);
    cmd.args([
        "validate",
        "--target",
        "http://127.0.0.1:1",
        "--environment",
    ])
    .arg(&env_255)
    .args(["--sink", "stdout,emf"]);
    let run = finish(cmd).await;
    assert_eq!(run.code, 0, "{}", run.all());

    // The key variable unset: a clear message naming it.
    let mut cmd = canary(None);
    cmd.env_remove("CANARY_API_KEY")
        .args(["run", "--once", "--target", "http://127.0.0.1:1"]);
    let run = finish(cmd).await;
    assert_eq!(run.code, 64, "{}", run.all());
    assert!(run.stderr.contains("CANARY_API_KEY"), "{}", run.all());

    let mut cmd = canary(None);
    cmd.env(
        "CANARY_HEARTBEAT_URL",
        "https://hc.example/ping/secret-token-123",
    )
    .args(["run", "--help"]);
    let run = finish(cmd).await;
    assert_eq!(run.code, 0);
    assert!(!run.stdout.contains("secret-token-123"), "{}", run.stdout);
    for text in [
        "Exit codes",
        "64",
        "--every",
        "CANARY_TARGET",
        "CANARY_API_KEY",
    ] {
        assert!(
            run.stdout.contains(text),
            "{text} in --help\n{}",
            run.stdout
        );
    }
}

#[test]
fn dockerfile_is_small_non_root_and_runs_one_round() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/Dockerfile");
    let text = std::fs::read_to_string(path).expect("canary/Dockerfile exists");
    let froms: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(froms.len(), 2, "multi-stage: build and runtime");
    assert!(
        froms[1].contains("distroless"),
        "small runtime image: {}",
        froms[1]
    );
    let user = text
        .lines()
        .rfind(|l| l.starts_with("USER "))
        .expect("a USER line");
    assert!(
        !user.contains("root") && !user.contains(" 0"),
        "non-root: {user}"
    );
    assert!(text.contains("--locked -p canary --bin canary"));
    assert!(text.contains(r#"ENTRYPOINT ["/usr/local/bin/canary"]"#));
    assert!(text.contains(r#"CMD ["run", "--once"]"#));
    assert!(
        !text.to_ascii_lowercase().contains("api_key="),
        "no secret baked in"
    );
}
