//! Kong's documented answers from the local gateway in front of an echo upstream: auth
//! matrix, rate limits, isolation, reset, size limit, origin secret, latency headers, errors
//! (the gateway's and nginx's own), the access log, upstream timeouts and retries, lifecycle.

use std::time::{Duration, Instant};

use gateway::{GatewayError, LocalGateway, Policy, RateLimits};

use testkit::raw::{self, Response as RawResponse};
use testkit::server::Server;

use crate::common::{echo_upstream, header, num, seen, wait_for_window_room};
use crate::{
    CANARY, CUSTOMER, LOADGEN, ORIGIN, builder, builder_for, client, get, kong_error, start,
};

#[tokio::test(flavor = "multi_thread")]
async fn auth_matrix_matches_kong() {
    let echo = echo_upstream().await;
    let gw = start(builder(echo.addr));

    let r = get(&gw, "/api/v1/sum", None).await;
    assert_eq!(header(&r, "www-authenticate").as_deref(), Some("Key"));
    kong_error(r, 401, "No API key found in request").await;

    let r = get(&gw, "/api/v1/sum", Some("not-a-key")).await;
    assert_eq!(header(&r, "www-authenticate").as_deref(), Some("Key"));
    kong_error(r, 401, "Unauthorized").await;

    // An empty key is a missing one, in the header or the query (Kong's key-auth: `if not key
    // or key == ""`).
    let r = get(&gw, "/api/v1/sum", Some("")).await;
    assert_eq!(header(&r, "www-authenticate").as_deref(), Some("Key"));
    kong_error(r, 401, "No API key found in request").await;
    kong_error(
        get(&gw, "/api/v1/sum?apikey=", None).await,
        401,
        "No API key found in request",
    )
    .await;

    let r = client()
        .get(format!("{}/api/v1/sum", gw.base_url()))
        .header("apikey", CANARY)
        .header("apikey", CUSTOMER)
        .send()
        .await
        .unwrap();
    kong_error(r, 401, "Duplicate API key found").await;
    assert_eq!(echo.hits(), 0, "refused requests never reach the upstream");

    // Valid key in the header: proxied, key hidden, consumer named.
    let r = get(&gw, "/api/v1/sum?x=1", Some(CANARY)).await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(seen(&body, "apikey").is_empty(), "hide_credentials: {body}");
    assert_eq!(seen(&body, "x-consumer-username"), ["canary"]);
    assert_eq!(body["path"], "/api/v1/sum?x=1", "strip_path is false");

    // Valid key in the query string: proxied, key removed from the query.
    let r = get(&gw, &format!("/api/v1/sum?apikey={CUSTOMER}&x=2"), None).await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["path"], "/api/v1/sum?x=2");
    assert_eq!(seen(&body, "x-consumer-username"), ["example-customer"]);

    // A bare ?apikey flag carries no key.
    kong_error(
        get(&gw, "/api/v1/sum?apikey", None).await,
        401,
        "No API key found in request",
    )
    .await;

    // A client cannot claim a consumer identity.
    let r = client()
        .get(format!("{}/api/v1/sum", gw.base_url()))
        .header("apikey", CUSTOMER)
        .header("X-Consumer-Username", "loadgen")
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(seen(&body, "x-consumer-username"), ["example-customer"]);

    // Public health route, unknown routes.
    let r = get(&gw, "/healthz", None).await;
    assert_eq!(r.status(), 200);
    assert!(
        header(&r, "ratelimit-limit").is_none(),
        "health is not rate limited"
    );
    kong_error(
        get(&gw, "/nope", None).await,
        404,
        "no Route matched with those values",
    )
    .await;
    kong_error(
        client()
            .post(format!("{}/healthz", gw.base_url()))
            .send()
            .await
            .unwrap(),
        404,
        "no Route matched with those values",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn origin_secret_and_latency_headers_reach_the_right_side() {
    let echo = echo_upstream().await;
    let gw = start(builder(echo.addr));
    let r = client()
        .get(format!("{}/api/v1/sum", gw.base_url()))
        .header("apikey", CANARY)
        .header("X-Origin-Secret", "forged")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let request_id = header(&r, "x-kong-request-id").unwrap();
    assert_eq!(request_id.len(), 32);
    for h in ["x-kong-upstream-latency", "x-kong-proxy-latency"] {
        let v: u64 = header(&r, h)
            .unwrap_or_else(|| panic!("{h}"))
            .parse()
            .unwrap();
        assert!(v < 10_000, "{h}={v}");
    }
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        seen(&body, "x-origin-secret"),
        [ORIGIN],
        "forged value replaced"
    );
    assert_eq!(seen(&body, "x-kong-request-id"), [request_id]);

    let body: serde_json::Value = get(&gw, "/healthz", None).await.json().await.unwrap();
    assert_eq!(
        seen(&body, "x-origin-secret"),
        [ORIGIN],
        "health also carries it"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_onset_headers_and_isolation() {
    let echo = echo_upstream().await;
    let gw = start(
        builder(echo.addr)
            .consumer_limits("canary", RateLimits::per_minute(5))
            .unwrap(),
    );
    wait_for_window_room(60, Duration::from_secs(8)).await;
    for i in 1..=5 {
        let r = get(&gw, "/api/v1/sum", Some(CANARY)).await;
        assert_eq!(r.status(), 200, "request {i} is within the limit");
        assert_eq!(num(&r, "ratelimit-limit"), 5);
        assert_eq!(num(&r, "x-ratelimit-limit-minute"), 5);
        assert_eq!(num(&r, "ratelimit-remaining"), 5 - i);
        assert_eq!(num(&r, "x-ratelimit-remaining-minute"), 5 - i);
        let reset = num(&r, "ratelimit-reset");
        assert!((1..=60).contains(&reset), "reset {reset}");
        assert!(header(&r, "retry-after").is_none());
    }
    let hits = echo.hits();
    let r = get(&gw, "/api/v1/sum", Some(CANARY)).await;
    assert_eq!(num(&r, "ratelimit-remaining"), 0);
    assert_eq!(num(&r, "x-ratelimit-remaining-minute"), 0);
    let retry = num(&r, "retry-after");
    assert_eq!(retry, num(&r, "ratelimit-reset"));
    assert!((1..=60).contains(&retry));
    kong_error(r, 429, "API rate limit exceeded").await;
    assert_eq!(echo.hits(), hits, "the 429 was not proxied");

    // Other consumers keep their own quota.
    let r = get(&gw, "/api/v1/sum", Some(CUSTOMER)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(num(&r, "x-ratelimit-limit-minute"), 100);
    assert_eq!(num(&r, "x-ratelimit-limit-hour"), 3000);
    assert_eq!(num(&r, "ratelimit-remaining"), 99);
    let r = get(&gw, "/api/v1/sum", Some(LOADGEN)).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn most_restrictive_window_drives_the_ratelimit_headers() {
    let echo = echo_upstream().await;
    let limits = RateLimits {
        second: Some(3),
        minute: Some(4),
        ..RateLimits::default()
    };
    let gw = start(
        builder(echo.addr)
            .consumer_limits("canary", limits)
            .unwrap(),
    );
    wait_for_window_room(60, Duration::from_secs(8)).await;
    wait_for_window_room(1, Duration::from_millis(600)).await;
    let r = get(&gw, "/api/v1/sum", Some(CANARY)).await;
    assert_eq!(r.status(), 200);
    // second: 2 left, minute: 3 left -> second is the most restrictive.
    assert_eq!(num(&r, "x-ratelimit-remaining-second"), 2);
    assert_eq!(num(&r, "x-ratelimit-remaining-minute"), 3);
    assert_eq!(num(&r, "ratelimit-limit"), 3);
    assert_eq!(num(&r, "ratelimit-remaining"), 2);
    assert_eq!(num(&r, "ratelimit-reset"), 1);
    for _ in 0..2 {
        assert_eq!(get(&gw, "/api/v1/sum", Some(CANARY)).await.status(), 200);
    }
    // Now the minute has 1 left; the second is exhausted.
    let r = get(&gw, "/api/v1/sum", Some(CANARY)).await;
    assert_eq!(r.status(), 429);
    assert_eq!(num(&r, "retry-after"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn limits_reset_with_the_next_window() {
    let echo = echo_upstream().await;
    let gw = start(
        builder(echo.addr)
            .consumer_limits("canary", RateLimits::per_second(2))
            .unwrap(),
    );
    wait_for_window_room(1, Duration::from_millis(600)).await;
    assert_eq!(get(&gw, "/api/v1/sum", Some(CANARY)).await.status(), 200);
    assert_eq!(get(&gw, "/api/v1/sum", Some(CANARY)).await.status(), 200);
    let r = get(&gw, "/api/v1/sum", Some(CANARY)).await;
    assert_eq!(r.status(), 429);
    let retry = num(&r, "retry-after") as u64;
    tokio::time::sleep(Duration::from_secs(retry) + Duration::from_millis(50)).await;
    let r = get(&gw, "/api/v1/sum", Some(CANARY)).await;
    assert_eq!(r.status(), 200, "a new window starts with a full quota");
    assert_eq!(num(&r, "ratelimit-remaining"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_bodies_get_413_before_they_cost_quota() {
    let echo = echo_upstream().await;
    let gw = start(builder(echo.addr).max_payload_bytes(100));
    let url = format!("{}/api/v1/sum", gw.base_url());
    let post = |body: Vec<u8>| {
        client()
            .post(&url)
            .header("apikey", CANARY)
            .body(body)
            .send()
    };

    let r = post(vec![b'1'; 100]).await.unwrap();
    assert_eq!(r.status(), 200);
    let remaining = num(&r, "ratelimit-remaining");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["body_len"], 100);

    let r = post(vec![b'1'; 101]).await.unwrap();
    assert!(
        header(&r, "ratelimit-remaining").is_none(),
        "size is checked before rate limiting"
    );
    kong_error(r, 413, "Request size limit exceeded").await;

    // Without Content-Length (chunked), the body actually read counts.
    let raw = raw_chunked_post(gw.addr(), CANARY, 5000).await;
    assert!(raw.starts_with("HTTP/1.1 413"), "{raw}");
    assert!(raw.contains("Request size limit exceeded"), "{raw}");

    let r = post(vec![b'1'; 10]).await.unwrap();
    assert_eq!(
        num(&r, "ratelimit-remaining"),
        remaining - 1,
        "413s cost no quota"
    );
}

/// Sends a chunked POST over a raw socket and returns the whole response as text.
async fn raw_chunked_post(addr: std::net::SocketAddr, key: &str, size: usize) -> String {
    let head = format!(
        "POST /api/v1/sum HTTP/1.1\r\nHost: x\r\napikey: {key}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{size:x}\r\n"
    );
    let body = vec![b'2'; size];
    let parts: [&[u8]; 3] = [head.as_bytes(), &body, b"\r\n0\r\n\r\n"];
    let out = raw::exchange(addr, &parts, Duration::ZERO).await;
    String::from_utf8_lossy(&out).to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_keys_are_data_not_code() {
    let echo = echo_upstream().await;
    let hostile = "k\"]] os.exit(1) --[[\\";
    let gw = start(builder(echo.addr).consumer_key("canary", hostile));
    let r = get(&gw, "/api/v1/sum", Some(hostile)).await;
    assert_eq!(r.status(), 200, "{}", gw.error_log());
    kong_error(
        get(&gw, "/api/v1/sum", Some(CANARY)).await,
        401,
        "Unauthorized",
    )
    .await;
}

#[test]
fn missing_secrets_and_tools_fail_clearly() {
    let addr = "127.0.0.1:9".parse().unwrap();
    let err = LocalGateway::committed()
        .unwrap()
        .upstream(addr)
        .secret("SUM_API_ORIGIN_SECRET", "")
        .start()
        .unwrap_err();
    assert!(
        matches!(&err, GatewayError::MissingSecret { env_var, .. } if env_var == "SUM_API_ORIGIN_SECRET"),
        "{err}"
    );
    let err = LocalGateway::committed()
        .unwrap()
        .origin_secret(ORIGIN)
        .start()
        .unwrap_err();
    assert!(matches!(err, GatewayError::NoUpstream), "{err}");
    let err = LocalGateway::committed()
        .unwrap()
        .upstream(addr)
        .origin_secret(ORIGIN)
        .nginx("/nonexistent/nginx".into())
        .start()
        .unwrap_err();
    assert!(err.to_string().contains("scripts/deps/apt.sh"), "{err}");
    let err = LocalGateway::committed()
        .unwrap()
        .upstream(addr)
        .origin_secret(ORIGIN)
        .consumer_key("canary", "same")
        .consumer_key("loadgen", "same")
        .start()
        .unwrap_err();
    assert!(matches!(err, GatewayError::DuplicateKey { .. }), "{err}");
}

#[test]
fn origin_secret_with_a_line_break_is_refused_without_echoing_it() {
    let err = LocalGateway::committed()
        .unwrap()
        .upstream("127.0.0.1:9".parse().unwrap())
        .origin_secret("abc\r\nX-Evil: 1")
        .start()
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("line break"), "{msg}");
    assert!(!msg.contains("abc"), "the secret is not echoed: {msg}");
}

#[tokio::test(flavor = "multi_thread")]
async fn drop_stops_nginx_and_removes_the_prefix() {
    let echo = echo_upstream().await;
    let gw = start(builder(echo.addr));
    let addr = gw.addr();
    let prefix = gw.prefix().to_owned();
    let pid: i32 = std::fs::read_to_string(prefix.join("nginx.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // No key is on disk at all (the policy reaches nginx through a pipe), and what is there is
    // owner-only.
    crate::credentials::assert_no_secret_under(&prefix, &[CANARY, CUSTOMER, LOADGEN, ORIGIN]);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&prefix).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "prefix mode {mode:o}");
    drop(gw);
    assert!(!prefix.exists(), "prefix removed");
    assert!(std::net::TcpStream::connect(addr).is_err(), "port closed");
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "master gone"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_down_gives_kongs_502_with_rate_limit_headers() {
    // A port nobody listens on, held so that no other test's server is handed it meanwhile.
    let dead = testkit::ports::RefusedPort::reserve().unwrap();
    let gw = start(builder(dead.addr()));
    let r = get(&gw, "/api/v1/sum", Some(CANARY)).await;
    assert_eq!(num(&r, "ratelimit-limit"), 20, "{:?}", r.headers());
    assert_eq!(num(&r, "ratelimit-remaining"), 19);
    kong_error(
        r,
        502,
        "An invalid response was received from the upstream server",
    )
    .await;
}

/// Asserts that a raw response is Kong's JSON error (as `kong_error` does for reqwest).
fn raw_kong_error(what: &str, r: &RawResponse, status: u16, message: &str) {
    assert_eq!(r.status, status, "{what}: {r:?}");
    assert_eq!(
        r.header("content-type"),
        Some("application/json; charset=utf-8"),
        "{what}: {r:?}"
    );
    assert!(
        !r.text().contains("<html"),
        "{what}: nginx's HTML page: {r:?}"
    );
    let request_id = r
        .header("x-kong-request-id")
        .unwrap_or_else(|| panic!("{what}: no X-Kong-Request-Id: {r:?}"));
    assert!(
        r.header("x-kong-response-latency").is_some(),
        "{what}: {r:?}"
    );
    let body: serde_json::Value = serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("{what}: body is not JSON ({e}): {r:?}"));
    assert_eq!(body["message"], message, "{what}");
    assert_eq!(body["request_id"], request_id, "{what}");
}

#[tokio::test(flavor = "multi_thread")]
async fn nginx_errors_answer_kongs_json_not_html() {
    let echo = echo_upstream().await;
    let gw = start(builder(echo.addr));
    let addr = gw.addr();
    // nginx's large_client_header_buffers are 8 KiB (Kong keeps the default).
    let long_uri = format!("/api/{}", "a".repeat(9 * 1024));
    let long_header = "b".repeat(9 * 1024);
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "a malformed request line",
            b"GET /api/v1/sum HTTP/1.1 trailing\r\nHost: x\r\n\r\n".to_vec(),
            400,
            "Bad request",
        ),
        (
            "a 9 KiB URI",
            format!("GET {long_uri} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .into_bytes(),
            414,
            "URI too long",
        ),
        (
            // nginx's internal 494 goes out as 400 with its own message (Kong 3.6 and later).
            "a 9 KiB header line",
            format!(
                "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Large: {long_header}\r\nConnection: close\r\n\r\n"
            )
            .into_bytes(),
            400,
            "Request header or cookie too large",
        ),
        (
            "TRACE",
            b"TRACE /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
            405,
            "Method not allowed",
        ),
        (
            "Content-Length: abc",
            b"POST /api/v1/sum HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\nConnection: close\r\n\r\n"
                .to_vec(),
            400,
            "Bad request",
        ),
    ];
    let mut ids = Vec::new();
    for (what, request, status, message) in cases {
        let r = raw::send(addr, &request).await;
        raw_kong_error(what, &r, status, message);
        let id = r.header("x-kong-request-id").unwrap_or_default().to_owned();
        ids.push((what, id, request));
    }
    assert_eq!(echo.hits(), 0, "none of them reached the upstream");

    // The access log names the method the client sent, not the GET of nginx's internal
    // redirect to the error page.
    let deadline = Instant::now() + Duration::from_secs(5);
    let log = loop {
        let log = gw.access_log();
        if ids.iter().all(|(_, id, _)| log.contains(id.as_str())) || Instant::now() > deadline {
            break log;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    for (what, expected) in [
        ("TRACE", "\"TRACE /healthz HTTP/1.1\" 405 "),
        ("Content-Length: abc", "\"POST /api/v1/sum HTTP/1.1\" 400 "),
        ("a 9 KiB header line", "\"GET /healthz HTTP/1.1\" 400 "),
    ] {
        let (_, id, _) = ids.iter().find(|(w, _, _)| *w == what).unwrap();
        let line = log
            .lines()
            .find(|l| l.contains(id.as_str()))
            .unwrap_or_else(|| panic!("{what}: no line for request {id}:\n{log}"));
        assert!(line.contains(expected), "{what}: {line}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_access_log_holds_each_request_but_never_a_key() {
    let echo = echo_upstream().await;
    let gw = start(builder(echo.addr));
    let wrong = "wrong-key-sent-in-the-query";
    let mut ids = Vec::new();
    for (path, key, status) in [
        (format!("/api/v1/sum?apikey={CUSTOMER}&x=1"), None, 200),
        (format!("/api/v1/sum?apikey={wrong}&x=2"), None, 401),
        ("/api/v1/sum?x=3".to_owned(), Some(CANARY), 200),
    ] {
        let r = get(&gw, &path, key).await;
        assert_eq!(r.status(), status, "{path}");
        ids.push((header(&r, "x-kong-request-id").unwrap(), status));
    }
    // nginx writes the line once the response is sent: wait for all three, at most 5 s.
    let deadline = Instant::now() + Duration::from_secs(5);
    let log = loop {
        let log = gw.access_log();
        if ids.iter().all(|(id, _)| log.contains(id.as_str())) || Instant::now() > deadline {
            break log;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    for secret in [CUSTOMER, wrong, CANARY, "apikey"] {
        assert!(!log.contains(secret), "{secret} in the access log:\n{log}");
    }
    for (id, status) in &ids {
        let line = log
            .lines()
            .find(|l| l.contains(id.as_str()))
            .unwrap_or_else(|| panic!("no line for request {id}:\n{log}"));
        assert!(
            line.contains(&format!("\"GET /api/v1/sum HTTP/1.1\" {status} ")),
            "method, path and status: {line}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_upstream_gets_kongs_504_after_the_read_timeout_and_retries() {
    let silent = Server::silent();
    let text = gateway::policy::KONG_YAML.replace("read_timeout: 10000", "read_timeout: 300");
    assert_ne!(
        text,
        gateway::policy::KONG_YAML,
        "kong.yaml sets read_timeout"
    );
    let gw = start(builder_for(Policy::parse(&text).unwrap(), silent.addr()));

    let started = Instant::now();
    let r = get(&gw, "/healthz", None).await;
    let took = started.elapsed();
    kong_error(r, 504, "The upstream server is timing out").await;
    // One try and kong.yaml's 2 retries, 300 ms each, all to the service's one address.
    assert_eq!(silent.connections(), 3, "{}", gw.error_log());
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "took {took:?}"
    );

    // A POST that was sent is not sent again (nginx's rule, which Kong keeps).
    let r = client()
        .post(format!("{}/api/v1/sum", gw.base_url()))
        .header("apikey", CANARY)
        .body("{}")
        .send()
        .await
        .unwrap();
    kong_error(r, 504, "The upstream server is timing out").await;
    assert_eq!(silent.connections(), 4, "{}", gw.error_log());
}
