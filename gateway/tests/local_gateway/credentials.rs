//! Credentials: what the upstream may never see (Kong's `hide_credentials` clears the key from
//! the header and the query string, whichever one carried it), and what may never reach the
//! disk (the prefix holds no key and no origin secret, whatever nginx logs).

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::{echo_upstream, seen};
use crate::{CANARY, CUSTOMER, LOADGEN, ORIGIN, builder, client, start};

/// Every spelling of `key` a request line or a log could carry: raw, and percent-encoded with
/// upper- or lower-case hex.
fn spellings(key: &str) -> Vec<String> {
    let upper: String = key.bytes().map(|b| format!("%{b:02X}")).collect();
    vec![key.to_owned(), upper.clone(), upper.to_lowercase()]
}

#[tokio::test(flavor = "multi_thread")]
async fn both_credential_places_are_stripped_before_proxying() {
    let echo = echo_upstream().await;
    let gw = start(builder(echo.addr));
    let many_args: String = (0..150).map(|i| format!("a{i}=1&")).collect();
    // (query, consumer the header key names, what the upstream must get as its target)
    let cases = [
        (
            format!("apikey={CUSTOMER}&x=1"),
            "/api/v1/sum?x=1".to_owned(),
        ),
        (
            format!("x=1&apikey={CUSTOMER}"),
            "/api/v1/sum?x=1".to_owned(),
        ),
        (
            format!("apikey={CUSTOMER}&apikey={LOADGEN}&x=1"),
            "/api/v1/sum?x=1".to_owned(),
        ),
        // The name percent-encoded is the same name once decoded, as Kong reads it.
        (
            format!("api%6Bey={CUSTOMER}&x=1"),
            "/api/v1/sum?x=1".to_owned(),
        ),
        // Past the 100 arguments a key lookup reads, the other key is still removed.
        (
            format!("{many_args}apikey={CUSTOMER}"),
            format!("/api/v1/sum?{}", many_args.trim_end_matches('&')),
        ),
    ];
    for (query, target) in &cases {
        let r = client()
            .get(format!("{}/api/v1/sum?{query}", gw.base_url()))
            .header("apikey", CANARY)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{query}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(
            seen(&body, "x-consumer-username"),
            ["canary"],
            "the header's key authenticates ({query})"
        );
        assert_eq!(body["path"], target.as_str(), "{query}");
    }
    let requests = echo.requests();
    assert_eq!(requests.len(), cases.len());
    for req in &requests {
        let line = format!("{} {}", req.method, req.path);
        for key in [CANARY, CUSTOMER, LOADGEN] {
            for spelling in spellings(key) {
                assert!(
                    !line.contains(&spelling),
                    "the upstream saw a key in {line}"
                );
                for (name, value) in &req.headers {
                    assert!(
                        !value.contains(&spelling) && !name.contains(&spelling),
                        "the upstream saw a key in {name}: {value}"
                    );
                }
            }
        }
        assert!(
            !req.headers.iter().any(|(name, _)| name == "apikey"),
            "{:?}",
            req.headers
        );
    }
}

/// Every regular file under `dir`, recursively.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Asserts that no file under `prefix` holds a key or the origin secret, in any spelling.
pub(crate) fn assert_no_secret_under(prefix: &Path, secrets: &[&str]) {
    for file in files(prefix) {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        for secret in secrets {
            for spelling in spellings(secret) {
                assert!(
                    !text.contains(&spelling),
                    "{} holds a secret:\n{text}",
                    file.display()
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_key_or_secret_is_ever_written_to_the_prefix() {
    // A dead upstream makes nginx log each failed try with the request line, query included.
    let dead = testkit::ports::RefusedPort::reserve().unwrap();
    let gw = start(builder(dead.addr()));
    let prefix = gw.prefix().to_owned();
    for (path, key) in [
        (format!("/api/v1/sum?apikey={CUSTOMER}&x=1"), None),
        (format!("/api/v1/sum?x=2&apikey={LOADGEN}"), Some(CANARY)),
        ("/healthz".to_owned(), None),
    ] {
        let mut req = client().get(format!("{}{path}", gw.base_url()));
        if let Some(k) = key {
            req = req.header("apikey", k);
        }
        assert_eq!(req.send().await.unwrap().status(), 502, "{path}");
    }
    // nginx writes its error log as it goes: wait for the failed tries to be there (5 s at most).
    let deadline = Instant::now() + Duration::from_secs(5);
    while gw.error_log().matches("connect() failed").count() < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let log = gw.error_log();
    assert!(
        log.matches("connect() failed").count() >= 3,
        "the failed tries are logged:\n{log}"
    );
    assert!(
        log.contains("/api/v1/sum?"),
        "the path is still there:\n{log}"
    );
    assert_no_secret_under(&prefix, &[CANARY, CUSTOMER, LOADGEN, ORIGIN]);
    drop(gw);
    assert!(!prefix.exists(), "the prefix is removed on stop");
}
