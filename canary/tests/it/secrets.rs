//! Black-box: the API key never leaves the real canary binary in any spelling — raw, Rust
//! `{:?}`-escaped (`"Sec\"ret\\Key42"`), JSON-escaped, `HeaderValue`-escaped, percent-encoded —
//! on stdout (reports, EMF), stderr (text and JSON logs) or CloudWatch, at every log level,
//! whatever a target echoes back in its headers and body.

use crate::common;

use common::{CANARY_KEY, LocalStack, canary, config_file, finish, stack};
use testkit::stub::{Reply as StubReply, Stub};

/// Keys with what escaping changes (`"`, `\`, `%`, spaces) and unicode; each holds a
/// distinctive run of letters (`Key42`, `Vu42`) that every spelling but the all-bytes
/// percent-encoding keeps, so a partial leak shows too.
const KEYS: [(&str, &str); 2] = [
    ("Zq7\"Wx\\Key42 %41 100%", "Key42"),
    ("Zq7\"Wx\\Kéy✓Vu42 %2F ü", "Vu42"),
];

/// Every way the outputs could spell `key`.
fn spellings(key: &str) -> Vec<String> {
    let trim = |s: String| s[1..s.len() - 1].to_owned();
    let debug = trim(format!("{key:?}"));
    let json = trim(serde_json::to_string(key).expect("a string is JSON"));
    let header = trim(format!(
        "{:?}",
        http::HeaderValue::from_bytes(key.as_bytes()).expect("the test keys are header values")
    ));
    let reserved: String = key
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let every: String = key.bytes().map(|b| format!("%{b:02X}")).collect();
    vec![
        key.to_owned(),
        debug.clone(),
        trim(format!("{debug:?}")),
        trim(serde_json::to_string(&debug).expect("a string is JSON")),
        json.clone(),
        trim(format!("{json:?}")),
        header.clone(),
        trim(serde_json::to_string(&header).expect("a string is JSON")),
        key.escape_default().to_string(),
        reserved.clone(),
        reserved.to_lowercase(),
        reserved.replace("%20", "+"),
        every.clone(),
        every.to_lowercase(),
    ]
}

/// Fails the test when `text` holds `key` in any spelling, or its distinctive part.
fn assert_no_key(what: &str, text: &str, key: &str, marker: &str) {
    for spelling in spellings(key) {
        assert!(
            !text.contains(&spelling),
            "{what}: the key leaked as {spelling:?}:\n{text}"
        );
    }
    assert!(
        !text.contains(marker),
        "{what}: part of the key ({marker}) leaked:\n{text}"
    );
}

/// A target that knows the key and echoes it everywhere: the rate-limit headers the canary
/// checks, other headers, a redirect URL, the JSON fields the probes read, the content type.
async fn echoing_target(key: &'static str) -> Stub {
    Stub::start(move |_, _| {
        let pct: String = key.bytes().map(|b| format!("%{b:02X}")).collect();
        let location = format!("/next?apikey={pct}");
        // The key as an RFC 9110 quoted-string parameter: `"` and `\` backslash-escaped.
        let quoted = key.replace('\\', "\\\\").replace('"', "\\\"");
        let content_type = format!("text/html; k=\"{quoted}\"");
        let body = serde_json::json!({
            "status": key, "sum": key, "count": key, "echo": key, "message": key,
            "url": location, "nested": { "key": [key] },
        });
        StubReply::new(
            200,
            &[
                ("content-type", &content_type),
                ("ratelimit-limit", key),
                ("ratelimit-remaining", key),
                ("ratelimit-reset", key),
                ("x-echo", key),
                ("location", &location),
            ],
            body.to_string(),
        )
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_echoed_key_never_appears_in_any_encoding_at_any_log_level() {
    // Custom probes that quote every echoed value in their failure messages.
    let custom = |url: &str| {
        config_file(&format!(
            r#"
            target = "{url}"
            retries = 0
            [[probes]]
            name = "echo"
            path = "/echo"
            auth = "key"
            expect = {{ status = [201], json_equals = {{ echo = "nothing", "nested.key.0" = "x" }}, json_exists = ["missing"], header_equals = {{ x-echo = "y", location = "/" }}, header_matches = {{ x-echo = "^y$" }} }}
            "#
        ))
    };
    for (key, marker) in KEYS {
        let target = echoing_target(key).await;
        let config = custom(&target.url());
        let mut runs = tokio::task::JoinSet::new();
        for log_format in ["text", "json"] {
            for level in ["error", "warn", "info", "debug", "trace"] {
                for suite in ["default", "custom"] {
                    let mut cmd = canary(None);
                    cmd.env("CANARY_API_KEY", key)
                        .env("RUST_LOG", level)
                        .env("LOG_FORMAT", log_format)
                        .args(["run", "--once", "--sink", "stdout,emf", "--retries", "0"]);
                    if suite == "default" {
                        cmd.args(["--target", &target.url()]);
                    } else {
                        cmd.arg("--config").arg(&config);
                    }
                    let what = format!("{suite} suite, {log_format} logs at {level}");
                    runs.spawn(async move { (what, finish(cmd).await) });
                }
            }
        }
        while let Some(done) = runs.join_next().await {
            let (what, run) = done.expect("the run's task completes");
            assert_eq!(
                run.code,
                1,
                "{what}: the echoes fail the probes\n{}",
                run.all()
            );
            assert!(
                run.stdout.contains("[redacted]"),
                "{what}: the report quotes the echo, redacted\n{}",
                run.all()
            );
            assert_no_key(&what, &run.stdout, key, marker);
            assert_no_key(&what, &run.stderr, key, marker);
        }
        assert!(
            target
                .requests()
                .iter()
                .any(|r| r.headers.iter().any(|(n, v)| n == "apikey" && v == key)),
            "the key was sent, as is"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_echoed_key_never_reaches_cloudwatch_or_its_logs() {
    let ls = LocalStack::start();
    for (key, marker) in KEYS {
        let target = echoing_target(key).await;
        let mut cmd = canary(Some(&ls.endpoint()));
        cmd.env("CANARY_API_KEY", key)
            .env("RUST_LOG", "trace")
            .env("LOG_FORMAT", "json")
            .args(["run", "--once", "--sink", "cloudwatch,stdout"])
            .args(["--environment", "leak", "--target", &target.url()]);
        let run = finish(cmd).await;
        assert_eq!(run.code, 1, "{}", run.all());
        assert_no_key("cloudwatch run", &run.all(), key, marker);
        let listed = ls
            .client()
            .await
            .list_metrics()
            .namespace("SumApi/Canary")
            .send()
            .await
            .expect("ListMetrics succeeds");
        assert!(!listed.metrics().is_empty(), "the round was published");
        let published = format!("{:?}", listed.metrics());
        assert_no_key("CloudWatch", &published, key, marker);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_key_never_appears_in_output() {
    // A target that echoes the key back, so a careless failure message would leak it.
    let stub = Stub::start(|req, _| {
        let key = req
            .headers
            .iter()
            .find(|(k, _)| k == "apikey")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        StubReply::json(500, &format!(r#"{{"echo":"{key}","status":"{key}"}}"#))
    })
    .await;
    let config = config_file(&format!(
        r#"
        target = "{}"
        retries = 1
        retry_backoff = "1ms"
        [[probes]]
        name = "echo"
        path = "/echo"
        auth = "key"
        expect = {{ status = [200], json_equals = {{ echo = "nothing", status = "healthy" }}, header_equals = {{ x = "y" }} }}
        "#,
        stub.url()
    ));
    let stack = stack(true).await;
    let mut runs = Vec::new();
    for log_format in ["text", "json"] {
        let mut cmd = canary(None);
        cmd.env("RUST_LOG", "trace")
            .env("LOG_FORMAT", log_format)
            .args(["run", "--once", "--sink", "stdout,emf", "--config"])
            .arg(&config);
        runs.push(finish(cmd).await);
        let mut cmd = canary(None);
        cmd.env("RUST_LOG", "trace")
            .env("LOG_FORMAT", log_format)
            .args([
                "run",
                "--once",
                "--sink",
                "stdout,emf",
                "--target",
                &stack.url(),
            ]);
        runs.push(finish(cmd).await);
    }
    let mut cmd = canary(None);
    cmd.args(["validate", "--target", &stack.url()]);
    runs.push(finish(cmd).await);
    assert!(stub.hits("/echo") >= 2, "the echo target was probed");
    assert_eq!(runs[1].code, 0, "{}", runs[1].all());
    for run in &runs {
        let all = run.all();
        assert!(!all.contains(CANARY_KEY), "the API key leaked:\n{all}");
        assert!(
            !all.contains(&CANARY_KEY[3..20]),
            "part of the API key leaked:\n{all}"
        );
    }
    assert!(runs[0].stdout.contains("[redacted]"), "{}", runs[0].all());
}
