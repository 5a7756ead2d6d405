//! Black-box: the default suite's own expectations beyond status codes, against a scripted
//! target that answers every default probe correctly except for what a test changes: here, the
//! declared content type (JSON served as `text/html` fails every probe, saying why).

use crate::common;

use common::{canary, finish};
use testkit::stub::{Reply as StubReply, Stub};

const KEY: &str = "default-suite-test-key";

/// The sum API as the default probes expect it (health, the exact sum, 401 without the key,
/// consistent rate-limit headers), every answer declared as `content_type`.
async fn sum_api(content_type: &'static str) -> Stub {
    Stub::start(move |req, _| {
        let json = |status: u16, body: serde_json::Value| {
            StubReply::new(
                status,
                &[
                    ("content-type", content_type),
                    ("ratelimit-limit", "20"),
                    ("ratelimit-remaining", "19"),
                    ("ratelimit-reset", "30"),
                ],
                body.to_string(),
            )
        };
        let key = req.headers.iter().find(|(n, _)| n == "apikey");
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/healthz") => json(200, serde_json::json!({ "status": "healthy" })),
            (_, "/api/v1/sum") if key.is_none_or(|(_, v)| v != KEY) => json(
                401,
                serde_json::json!({ "message": "No API key found in request" }),
            ),
            ("POST", "/api/v1/sum") => {
                let body: serde_json::Value =
                    serde_json::from_slice(&req.body).expect("the sum probe sends JSON");
                let numbers: Vec<f64> = body["numbers"]
                    .as_array()
                    .expect("the sum probe sends numbers")
                    .iter()
                    .map(|n| n.as_f64().expect("each a number"))
                    .collect();
                let sum =
                    canary::exact_sum::correctly_rounded_sum(&numbers).expect("finite numbers");
                json(
                    200,
                    serde_json::json!({ "sum": sum, "count": numbers.len() }),
                )
            }
            ("GET", "/api/v1/sum") => json(200, serde_json::json!({})),
            _ => json(404, serde_json::json!({ "message": "not found" })),
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_served_as_html_fails_every_default_probe_with_the_reason() {
    for (content_type, code) in [
        // The control: the same target, declaring JSON, passes (parameters are allowed).
        ("application/json; charset=utf-8", 0),
        ("text/html; charset=utf-8", 1),
        ("text/plain", 1),
    ] {
        let target = sum_api(content_type).await;
        let mut cmd = canary(None);
        cmd.env("CANARY_API_KEY", KEY)
            .args(["run", "--once", "--sink", "stdout", "--retries", "0"])
            .args(["--target", &target.url(), "--rate-limit", "20"]);
        let run = finish(cmd).await;
        assert_eq!(run.code, code, "{content_type}\n{}", run.all());
        if code == 0 {
            continue;
        }
        let reason = format!("- Content-Type is \"{content_type}\", expected application/json");
        for probe in [
            "health",
            "sum",
            "auth_missing_key",
            "auth_bad_key",
            "rate_limit_headers",
        ] {
            let mut lines = run
                .stdout
                .lines()
                .skip_while(|l| l.split_whitespace().nth(1) != Some(probe));
            let verdict = lines.next().unwrap_or_default();
            assert!(verdict.starts_with("FAIL"), "{probe}\n{}", run.all());
            let failures: Vec<&str> = lines
                .take_while(|l| l.starts_with("     - "))
                .map(str::trim)
                .collect();
            assert_eq!(failures, [reason.as_str()], "{probe}\n{}", run.all());
        }
    }
}
