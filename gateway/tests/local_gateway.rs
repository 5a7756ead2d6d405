//! The local gateway against Kong's documented answers, on free loopback ports in front of an
//! echo upstream: auth matrix, rate limits, isolation, reset, size limit, origin secret,
//! latency headers, lifecycle. Needs nginx + libnginx-mod-http-lua (scripts/deps/apt.sh).

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{echo_upstream, header, num, seen, wait_for_window_room};
use gateway::{GatewayError, LocalGateway, LocalGatewayBuilder, Policy, PolicyError, RateLimits};

const CANARY: &str = "canary-test-key";
const CUSTOMER: &str = "customer-test-key";
const LOADGEN: &str = "loadgen-test-key";
const ORIGIN: &str = "origin-test-secret";

fn builder(upstream: std::net::SocketAddr) -> LocalGatewayBuilder {
    LocalGateway::committed()
        .unwrap()
        .upstream(upstream)
        .consumer_key("canary", CANARY)
        .consumer_key("example-customer", CUSTOMER)
        .consumer_key("loadgen", LOADGEN)
        .origin_secret(ORIGIN)
}

fn start(b: LocalGatewayBuilder) -> LocalGateway {
    match b.start() {
        Ok(g) => g,
        Err(e) => panic!("local gateway failed to start (install with scripts/deps/apt.sh): {e}"),
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn get(gw: &LocalGateway, path: &str, key: Option<&str>) -> reqwest::Response {
    let mut req = client().get(format!("{}{path}", gw.base_url()));
    if let Some(k) = key {
        req = req.header("apikey", k);
    }
    req.send().await.unwrap()
}

async fn kong_error(resp: reqwest::Response, status: u16, message: &str) {
    assert_eq!(resp.status().as_u16(), status);
    assert_eq!(
        header(&resp, "content-type").as_deref(),
        Some("application/json; charset=utf-8")
    );
    let request_id = header(&resp, "x-kong-request-id").expect("X-Kong-Request-Id");
    assert!(header(&resp, "x-kong-response-latency").is_some());
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["message"], message);
    assert_eq!(
        body["request_id"],
        request_id.as_str(),
        "body and header request id agree"
    );
}

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

    // An empty key is a wrong key, not a missing one (as in Kong).
    kong_error(get(&gw, "/api/v1/sum", Some("")).await, 401, "Unauthorized").await;

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
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/v1/sum HTTP/1.1\r\nHost: x\r\napikey: {key}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{size:x}\r\n"
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    sock.write_all(&vec![b'2'; size]).await.unwrap();
    sock.write_all(b"\r\n0\r\n\r\n").await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), sock.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
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
    // Keys are owner-only on disk.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(prefix.join("lua/local_gateway_policy.lua"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "policy file mode {mode:o}");
    drop(gw);
    assert!(!prefix.exists(), "prefix removed");
    assert!(std::net::TcpStream::connect(addr).is_err(), "port closed");
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "master gone"
    );
}

#[test]
fn committed_policy_and_rendered_config_agree() {
    // Read kong.yaml independently (generic YAML) and compare with what the renderer emits.
    let raw: serde_json::Value = serde_norway::from_str(gateway::policy::KONG_YAML).unwrap();
    let policy = Policy::committed().unwrap();
    let plans = gateway::plan::plan(&policy);
    let creds = [("k".to_owned(), "canary".to_owned())]
        .into_iter()
        .collect();
    let secrets = [("SUM_API_ORIGIN_SECRET".to_owned(), "s".to_owned())]
        .into_iter()
        .collect();
    let prefix = std::path::Path::new("/tmp/x");
    let input = gateway::render::RenderInput {
        plans: &plans,
        credentials: &creds,
        secrets: &secrets,
        listen: "127.0.0.1:1".parse().unwrap(),
        upstream: "127.0.0.1:2".parse().unwrap(),
        prefix,
        run_as_root: false,
    };
    let lua = gateway::render::policy_lua(&input).unwrap();
    let conf = gateway::render::nginx_conf(&input);
    assert!(conf.contains("load_module /usr/lib/nginx/modules/ndk_http_module.so;"));
    assert!(conf.contains("load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;"));
    assert!(conf.contains("listen 127.0.0.1:1;"));
    assert!(conf.contains("server 127.0.0.1:2;"));
    assert!(!conf.contains("/var/"), "nothing outside the prefix");

    // Every consumer's own quota from kong.yaml appears as a rate window in the Lua table.
    for c in raw["consumers"].as_array().unwrap() {
        let name = c["username"].as_str().unwrap();
        for p in c["plugins"].as_array().into_iter().flatten() {
            assert_eq!(p["name"], "rate-limiting");
            for w in ["second", "minute", "hour", "day"] {
                if let Some(n) = p["config"][w].as_u64() {
                    let needle = format!("name = \"{w}\", header = ");
                    assert!(lua.contains(&needle));
                    let limit = policy_limit(&plans, name, w);
                    assert_eq!(limit, Some(n), "{name} {w}");
                }
            }
        }
        let key = c["keyauth_credentials"][0]["key"].as_str().unwrap();
        assert!(
            key.starts_with("{vault://env/"),
            "{name}: key is a reference"
        );
    }
    // The key names and the origin header come from kong.yaml.
    assert!(lua.contains("key_names = { \"apikey\", }"));
    assert!(lua.contains("{ \"X-Origin-Secret\", \"s\" }"));
    assert!(lua.contains("max = 65536"));
}

fn policy_limit(plans: &[gateway::plan::RoutePlan], consumer: &str, window: &str) -> Option<u64> {
    let api = plans.iter().find(|p| p.key_auth.is_some()).unwrap();
    let rate = api.sets[&Some(consumer.to_owned())].rate.as_ref()?;
    rate.limits.get(gateway::Window::parse(window)?)
}

#[test]
fn invalid_policies_are_refused_with_reasons() {
    let good = gateway::policy::KONG_YAML;
    let cases: Vec<(String, &str)> = vec![
        (
            good.replace("{vault://env/canary-api-key}", "plain-secret"),
            "never a literal",
        ),
        (good.replace("minute: 20\n", "minute: 0\n"), "positive"),
        (good.replace("hour: 1200", "hour: 10"), "cannot be lower"),
        (
            good.replace("minute: 20\n", "minute: lots\n"),
            "rate-limiting",
        ),
        (good.replace("name: key-auth", "name: oauth2"), "oauth2"),
        (
            good.replace("_format_version: \"3.0\"", "_format_version: \"1.1\""),
            "_format_version",
        ),
        (
            good.replace("paths: [/api]", "paths: [\"~/api$\"]"),
            "regex",
        ),
        (
            good.replace("size_unit: kilobytes", "size_unit: gigabytes"),
            "size_unit",
        ),
        (
            good.replace("key_in_body: false", "key_in_body: true"),
            "key_in_body",
        ),
        (
            good.replace(
                "X-Origin-Secret:{vault://env/sum-api-origin-secret}",
                "X-Origin-Secret:hunter2",
            ),
            "never a literal",
        ),
        (
            good.replace("{vault://env/loadgen-api-key}", "{vault://aws/loadgen}"),
            "env vault",
        ),
        (
            good.replace("username: loadgen", "username: canary"),
            "twice",
        ),
        (
            good.replace(
                "          minute: 20\n",
                "          minute: 20\n          bogus: 1\n",
            ),
            "bogus",
        ),
        ("{".to_owned(), "YAML"),
        ("".to_owned(), "_format_version"),
        ("- a\n- b".to_owned(), "YAML"),
    ];
    for (text, expect) in cases {
        let err = Policy::parse(&text).expect_err(expect);
        let msg = err.to_string();
        assert!(msg.contains(expect), "expected {expect:?} in: {msg}");
    }
    assert!(matches!(
        Policy::parse(&good.replace("{vault://env/canary-api-key}", "x")),
        Err(PolicyError::LiteralSecret { .. })
    ));
}

#[test]
fn deck_template_of_the_committed_policy_resolves_every_secret() {
    let t = gateway::deck::template(gateway::policy::KONG_YAML);
    for v in [
        "DECK_CANARY_API_KEY",
        "DECK_LOADGEN_API_KEY",
        "DECK_EXAMPLE_CUSTOMER_API_KEY",
        "DECK_SUM_API_ORIGIN_SECRET",
    ] {
        assert!(t.contains(&format!("${{{{ env \"{v}\" }}}}")), "{v}");
    }
    assert!(!t.contains("vault://"));
}

fn service_config() -> service::Config {
    use clap::Parser;
    service::Config::try_parse_from([
        "service",
        "--listen",
        "127.0.0.1:0",
        "--metrics-listen",
        "127.0.0.1:0",
        "--shutdown-drain",
        "0s",
        "--shutdown-timeout",
        "1s",
        "--workers",
        "2",
    ])
    .expect("test flags parse")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_service_gets_the_origin_secret_and_refuses_bypass() {
    let secret = "origin-secret-for-gateway-tests-0123456789";
    let mut config = service_config();
    config.origin_secrets = vec![secret.to_owned()];
    let svc = service::start(config).await.expect("service starts");
    let gw = start(
        LocalGateway::committed()
            .unwrap()
            .upstream(svc.addr())
            .consumer_key("canary", CANARY)
            .origin_secret(secret),
    );
    let sum = |base: String, key: Option<&'static str>| {
        let mut req = client()
            .post(format!("{base}/api/v1/sum"))
            .header("Content-Type", "application/json")
            .body(r#"{"numbers":[1,2,3.5]}"#);
        if let Some(k) = key {
            req = req.header("apikey", k);
        }
        req.send()
    };

    // Through the gateway: authorised, the secret reaches the service, the sum comes back.
    let r = sum(gw.base_url(), Some(CANARY)).await.unwrap();
    assert_eq!(r.status(), 200, "{}", gw.error_log());
    assert!(header(&r, "x-kong-upstream-latency").is_some());
    assert_eq!(
        num(&r, "x-ratelimit-limit-minute"),
        20,
        "the canary's own quota"
    );
    let body = r.text().await.unwrap();
    assert!(body.contains("6.5"), "{body}");

    // Health is public through the gateway.
    let r = client()
        .get(format!("{}/healthz", gw.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Around the gateway: the service refuses.
    let r = sum(format!("http://{}", svc.addr()), Some(CANARY))
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("FORBIDDEN_ORIGIN"));

    // A gateway holding the wrong secret is refused by the service too.
    let wrong = start(
        LocalGateway::committed()
            .unwrap()
            .upstream(svc.addr())
            .consumer_key("canary", CANARY)
            .origin_secret("not-the-origin-secret-0123456789"),
    );
    let r = sum(wrong.base_url(), Some(CANARY)).await.unwrap();
    assert_eq!(r.status(), 403);
    drop(wrong);
    drop(gw);
    svc.shutdown().await;
}

// --- the local-gateway binary ---------------------------------------------------------------

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

#[test]
fn binary_check_and_deck_template() {
    let out = local_gateway().arg("--check").output().unwrap();
    let t = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("canary: 20/minute, 1200/hour"), "{t}");
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

#[test]
fn binary_usage_errors_exit_64() {
    let dir = std::env::temp_dir().join(format!("local-gateway-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
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
    let out = local_gateway().arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Exit codes"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn binary_serves_until_sigterm_and_needs_the_origin_secret() {
    let echo = echo_upstream().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
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

#[tokio::test(flavor = "multi_thread")]
async fn upstream_down_gives_kongs_502_with_rate_limit_headers() {
    // A port nobody listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let gw = start(builder(dead));
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
