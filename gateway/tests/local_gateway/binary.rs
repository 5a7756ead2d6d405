//! The `local-gateway` binary: --check, --deck-template, usage errors, serving until SIGTERM.

use std::time::Duration;

use crate::common::echo_upstream;
use crate::{CANARY, CUSTOMER, ORIGIN, client};

fn local_gateway() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_local-gateway"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    c
}

fn output_text(o: &std::process::Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs `cmd` to completion, killing it after 20 s so that an unbounded read fails the test
/// instead of hanging it.
fn output_within_20s(mut cmd: std::process::Command) -> std::process::Output {
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn binary_check_and_deck_template() {
    let out = local_gateway().arg("--check").output().unwrap();
    let t = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    for yes_or_no in ["1", "yes", "on", "0", "no", "off", "true", "false"] {
        let out = local_gateway()
            .arg("--check")
            .env("GATEWAY_KEEP_PREFIX", yes_or_no)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "GATEWAY_KEEP_PREFIX={yes_or_no}"
        );
    }
    assert!(t.contains("canary: 20/minute, 1200/hour"), "{t}");
    assert!(
        t.contains("connect 5000 ms, write 10000 ms, read 10000 ms; retries: 2"),
        "{t}"
    );
    assert!(
        t.contains("route sum-api-health [\"/healthz\"]: public"),
        "{t}"
    );

    let out = local_gateway().arg("--deck-template").output().unwrap();
    let t = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(0));
    assert!(t.contains("${{ env \"DECK_CANARY_API_KEY\" }}"), "{t}");
    assert!(!t.contains("vault://"));
}

/// Arguments, environment, and what the output must mention.
type EnvCase<'a> = (Vec<String>, Vec<(&'a str, &'a str)>, Vec<&'a str>);

#[test]
fn binary_usage_errors_exit_64() {
    let dir = testkit::tempdir::unique("local-gateway-cli");
    let literal = dir.join("literal.yaml");
    std::fs::write(
        &literal,
        gateway::policy::KONG_YAML.replace("{vault://env/canary-api-key}", "hunter2"),
    )
    .unwrap();
    let garbage = dir.join("garbage.yaml");
    std::fs::write(&garbage, [0xff, 0xfe, b':', b'{']).unwrap();
    let cases: Vec<(Vec<std::ffi::OsString>, &str)> = vec![
        (vec![], "--upstream"),
        (
            vec!["--upstream".into(), "not-an-address".into()],
            "invalid value",
        ),
        (
            vec![
                "--upstream".into(),
                "127.0.0.1:1".into(),
                "--listen".into(),
                "nowhere".into(),
            ],
            "invalid value",
        ),
        (vec!["--bogus".into()], "unexpected argument"),
        (
            vec!["--check".into(), "--deck-template".into()],
            "cannot be used with",
        ),
        (
            vec!["--check".into(), "--policy".into(), literal.clone().into()],
            "never a literal secret",
        ),
        (
            vec!["--check".into(), "--policy".into(), garbage.clone().into()],
            "error",
        ),
        (
            vec![
                "--check".into(),
                "--policy".into(),
                dir.join("missing.yaml").into(),
            ],
            "cannot read",
        ),
    ];
    for (args, expect) in cases {
        let out = local_gateway().args(&args).output().unwrap();
        let t = output_text(&out);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {t}");
        assert!(t.contains(expect), "{args:?} should say {expect:?}: {t}");
    }

    // Refused before anything is printed or started: --deck-template validates the policy like
    // the other modes, --policy is read through a 1 MiB cap (a huge file, an endless device),
    // nginx may not proxy to itself, and a boolean environment fallback takes only true/false.
    let huge = dir.join("huge.yaml");
    std::fs::write(
        &huge,
        format!("{}# {}\n", gateway::policy::KONG_YAML, "x".repeat(2 << 20)),
    )
    .unwrap();
    let path = |p: &std::path::Path| p.display().to_string();
    let cases: Vec<EnvCase> = vec![
        (
            vec!["--deck-template".into(), "--policy".into(), path(&literal)],
            vec![],
            vec!["never a literal secret"],
        ),
        (
            vec!["--deck-template".into(), "--policy".into(), path(&garbage)],
            vec![],
            vec!["error"],
        ),
        (
            vec!["--check".into(), "--policy".into(), path(&huge)],
            vec![],
            vec!["--policy", "larger than 1048576 bytes"],
        ),
        (
            vec![
                "--deck-template".into(),
                "--policy".into(),
                "/dev/zero".into(),
            ],
            vec![],
            vec!["--policy", "larger than 1048576 bytes"],
        ),
        (
            vec![
                "--upstream".into(),
                "127.0.0.1:9".into(),
                "--listen".into(),
                "127.0.0.1:9".into(),
            ],
            vec![],
            vec!["--listen", "--upstream", "proxy to itself"],
        ),
        (
            vec![
                "--upstream".into(),
                "127.0.0.1:9".into(),
                "--listen".into(),
                "0.0.0.0:9".into(),
            ],
            vec![],
            vec!["proxy to itself"],
        ),
        // A boolean environment fallback takes true/false, 1/0, yes/no, on/off; nothing else.
        (
            vec!["--check".into()],
            vec![("GATEWAY_KEEP_PREFIX", "banana")],
            vec!["--keep-prefix", "banana", "not a boolean"],
        ),
        (
            vec!["--check".into()],
            vec![("GATEWAY_KEEP_PREFIX", "")],
            vec!["--keep-prefix", "not a boolean"],
        ),
        // The modes have no environment fallback (clap would count GATEWAY_CHECK=false as
        // --check): serving still needs --upstream.
        (
            vec![],
            vec![
                ("GATEWAY_CHECK", "false"),
                ("GATEWAY_DECK_TEMPLATE", "true"),
            ],
            vec!["--upstream"],
        ),
    ];
    for (args, env, expect) in cases {
        let mut cmd = local_gateway();
        cmd.args(&args).envs(env.iter().copied());
        let out = output_within_20s(cmd);
        let t = output_text(&out);
        assert_eq!(out.status.code(), Some(64), "{args:?} {env:?}: {t}");
        assert!(out.stdout.is_empty(), "{args:?} {env:?} printed: {t}");
        for e in expect {
            assert!(t.contains(e), "{args:?} {env:?} should say {e:?}: {t}");
        }
    }

    let out = local_gateway().arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Exit codes"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `-h` and `--help` tell a user what each flag does for them: no notes on how clap or the
/// code works, and the exit codes once, after the options.
#[test]
fn binary_help_speaks_to_users() {
    for flag in ["-h", "--help"] {
        let out = local_gateway().arg(flag).output().unwrap();
        let t = output_text(&out);
        assert_eq!(out.status.code(), Some(0), "{flag}: {t}");
        let help = String::from_utf8_lossy(&out.stdout);
        for option in [
            "--policy",
            "--upstream",
            "--listen",
            "--check",
            "--deck-template",
            "--keep-prefix",
        ] {
            assert!(help.contains(option), "{flag} lists {option}: {t}");
        }
        for internal in ["clap", "GATEWAY_CHECK", "environment fallback"] {
            assert!(
                !help.contains(internal),
                "{flag} mentions the internal note {internal:?}: {t}"
            );
        }
        assert_eq!(
            help.matches("Exit codes").count(),
            1,
            "{flag} prints the exit codes once: {t}"
        );
        assert!(
            help.contains("64  usage error or invalid policy"),
            "{flag}: {t}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn binary_serves_until_sigterm_and_needs_the_origin_secret() {
    let echo = echo_upstream().await;
    let port = testkit::ports::free_port();
    let listen = format!("127.0.0.1:{port}");

    // Without SUM_API_ORIGIN_SECRET it refuses to start, naming the variable.
    let out = local_gateway()
        .args(["--upstream", &echo.addr.to_string(), "--listen", &listen])
        .output()
        .unwrap();
    let t = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("SUM_API_ORIGIN_SECRET"), "{t}");

    let child = local_gateway()
        .args(["--upstream", &echo.addr.to_string(), "--listen", &listen])
        .env("SUM_API_ORIGIN_SECRET", ORIGIN)
        .env("CANARY_API_KEY", CANARY)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let url = format!("http://{listen}/api/v1/sum");
    let mut status = None;
    for _ in 0..100 {
        if let Ok(r) = client().get(&url).header("apikey", CANARY).send().await {
            status = Some(r.status().as_u16());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, Some(200));
    let r = client()
        .get(&url)
        .header("apikey", CUSTOMER)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        401,
        "example-customer has no key in this environment"
    );

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let t = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(
        t.contains("EXAMPLE_CUSTOMER_API_KEY"),
        "the warning names the variable: {t}"
    );
    assert!(
        !t.contains(CANARY) && !t.contains(ORIGIN),
        "secrets are never printed: {t}"
    );
    assert!(
        std::net::TcpStream::connect(&listen).is_err(),
        "nginx stopped with it"
    );
}
