//! The HTTP contract, in-process: through the same app factory `start` serves (actix test
//! harness), and over real loopback sockets with raw bytes for the hostile-input table.

use crate::common;

use common::ErrorCode as _;

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use serde_json::Value;
use service::metrics::Metrics;
use service::{AppState, app};
use testkit::raw;

fn state(record: bool, secrets: &[&str]) -> AppState {
    let secrets: Vec<String> = secrets.iter().map(|s| s.to_string()).collect();
    AppState::new(
        Metrics::new(record),
        64 * 1024,
        Duration::from_secs(5),
        &secrets,
    )
}

async fn call(
    state: &AppState,
    req: TestRequest,
) -> (
    StatusCode,
    actix_web::http::header::HeaderMap,
    Value,
    String,
) {
    let svc = test::init_service(app(state.clone())).await;
    let res = test::call_service(&svc, req.to_request()).await;
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = test::read_body(res).await;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, headers, json, text)
}

fn sum_request(body: &str) -> TestRequest {
    TestRequest::post()
        .uri("/api/v1/sum")
        .insert_header(("content-type", "application/json"))
        .set_payload(body.to_owned())
}

#[actix_web::test]
async fn sums_are_exact_and_shaped_like_the_old_service() {
    let st = state(true, &[]);
    let cases = [
        (r#"{"numbers":[1e16,1,-1e16]}"#, "1"),
        (
            r#"{"numbers":[0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1]}"#,
            "1",
        ),
        (r#"{"numbers":[3,4]}"#, "7"),
        (r#"{"numbers":[-3,1.5]}"#, "-1.5"),
        (r#"{"numbers":[0.1,0.2]}"#, "0.30000000000000004"),
        (
            r#"{"numbers":[4503599627370496,4503599627370496]}"#,
            "9007199254740992",
        ),
        // Whole but beyond 2^53: written as a float.
        (
            r#"{"numbers":[9007199254740992,9007199254740992]}"#,
            "1.8014398509481984e+16",
        ),
        (r#"{"numbers":[1.7e308,1.7e308,-1.7e308]}"#, "1.7e+308"),
        (r#"{"numbers":[5e-324,5e-324]}"#, "1e-323"),
        // Unknown fields are ignored, as before.
        (
            r#"{"numbers":[1,2],"unit":"apples","nested":{"a":[1,{"b":null}]}}"#,
            "3",
        ),
    ];
    for (body, expected) in cases {
        let (status, _, json, text) = call(&st, sum_request(body)).await;
        assert_eq!(status, StatusCode::OK, "{body}: {text}");
        let sum_text = text
            .split(r#""sum":"#)
            .nth(1)
            .and_then(|r| r.split(',').next());
        assert_eq!(sum_text, Some(expected), "{body}: {text}");
        let numbers: Value =
            serde_json::from_str::<Value>(body).expect("case is JSON")["numbers"].clone();
        assert_eq!(
            json["count"],
            numbers.as_array().map_or(0, Vec::len),
            "{text}"
        );
        assert!(
            json["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{text}"
        );
        assert!(
            json["request_id"].as_str().is_some_and(|t| t.len() == 32),
            "{text}"
        );
    }
    let (_, _, json, text) = call(&st, sum_request(r#"{"numbers":[1,2.5,-0.25]}"#)).await;
    assert_eq!(
        json["numbers"],
        serde_json::json!([1, 2.5, -0.25]),
        "{text}"
    );
    assert!(
        text.contains(r#""numbers":[1,2.5,-0.25]"#),
        "whole inputs echo as integers: {text}"
    );
}

#[actix_web::test]
async fn errors_are_json_with_stable_codes() {
    let st = state(true, &[]);
    let (status, headers, json, _) = call(
        &st,
        sum_request(r#"{"numbers":[1]}"#).insert_header(("x-request-id", "client-chosen-id-1")),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json["code"], "VALIDATION_ERROR");
    assert_eq!(json["error"], "at least 2 numbers are required, got 1");
    assert_eq!(json["request_id"], "client-chosen-id-1");
    assert_eq!(json["path"], "/api/v1/sum");
    assert!(json["timestamp"].is_string());
    assert_eq!(
        headers.get("x-request-id").map(|v| v.as_bytes()),
        Some(&b"client-chosen-id-1"[..])
    );

    let many = format!(r#"{{"numbers":[{}]}}"#, vec!["1"; 101].join(","));
    let (status, _, json, _) = call(&st, sum_request(&many)).await;
    assert_eq!(
        (status, json["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("VALIDATION_ERROR"))
    );
    assert_eq!(json["error"], "maximum 100 numbers allowed, got 101");
    let hundred = format!(r#"{{"numbers":[{}]}}"#, vec!["1"; 100].join(","));
    let (status, _, json, _) = call(&st, sum_request(&hundred)).await;
    assert_eq!((status, json["sum"].as_i64()), (StatusCode::OK, Some(100)));

    let (status, _, json, _) = call(&st, sum_request(r#"{"numbers":[1.7e308,1.7e308]}"#)).await;
    assert_eq!(
        (status, json["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("SUM_OUT_OF_RANGE"))
    );

    let (status, headers, json, _) = call(&st, TestRequest::put().uri("/api/v1/sum")).await;
    assert_eq!(
        (status, json["code"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("METHOD_NOT_ALLOWED"))
    );
    assert_eq!(
        headers.get("allow").map(|v| v.as_bytes()),
        Some(&b"GET, HEAD, POST"[..])
    );
    let (status, headers, _, _) = call(&st, TestRequest::post().uri("/healthz/ready")).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        headers.get("allow").map(|v| v.as_bytes()),
        Some(&b"GET, HEAD"[..])
    );

    let (status, _, json, _) = call(&st, TestRequest::get().uri("/api/v2/sum")).await;
    assert_eq!(
        (status, json["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("NOT_FOUND"))
    );
    assert_eq!(json["path"], "/api/v2/sum");
}

#[actix_web::test]
async fn health_index_and_usage() {
    let st = state(true, &[]);
    let (status, _, json, text) = call(&st, TestRequest::get().uri("/healthz")).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(json["status"], "healthy");
    assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(json["checks"]["exact_sum"], "ok");
    for field in ["timestamp", "uptime", "request_id"] {
        assert!(json[field].is_string(), "{field} missing: {text}");
    }
    let (status, _, json, _) = call(&st, TestRequest::get().uri("/healthz/live")).await;
    assert_eq!(
        (status, json["status"].as_str()),
        (StatusCode::OK, Some("alive"))
    );
    let (status, _, json, _) = call(&st, TestRequest::get().uri("/healthz/ready")).await;
    assert_eq!(
        (status, json["status"].as_str()),
        (StatusCode::OK, Some("ready"))
    );
    for path in [
        "/healthz",
        "/healthz/live",
        "/healthz/ready",
        "/",
        "/api/v1/sum",
    ] {
        let (status, _, _, _) = call(
            &st,
            TestRequest::default()
                .method(actix_web::http::Method::HEAD)
                .uri(path),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "HEAD {path}");
    }
    let (status, _, json, _) = call(&st, TestRequest::get().uri("/")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["service"], "sum-api");
    assert_eq!(json["endpoints"]["sum"], "POST /api/v1/sum");
    let (status, _, json, _) = call(&st, TestRequest::get().uri("/api/v1/sum")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["method"], "POST");
    assert_eq!(json["max_body_bytes"], 65536);

    // Shutdown begins: readiness flips to 503 at once, liveness and the API keep answering.
    st.readiness.begin_shutdown();
    let (status, _, json, _) = call(&st, TestRequest::get().uri("/healthz/ready")).await;
    assert_eq!(
        (status, json["status"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("not_ready"))
    );
    let (status, _, _, _) = call(&st, TestRequest::get().uri("/healthz/live")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _, _) = call(&st, sum_request(r#"{"numbers":[1,2]}"#)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(st.metrics.render().contains("sumapi_ready 0"));
}

#[actix_web::test]
async fn metrics_follow_the_requests() {
    let st = state(true, &[]);
    call(&st, sum_request(r#"{"numbers":[1,2,3]}"#)).await;
    call(&st, sum_request(r#"{"numbers":[1]}"#)).await;
    call(&st, TestRequest::get().uri("/no/such/path/12345")).await;
    call(&st, TestRequest::delete().uri("/healthz")).await;
    // Invented methods must not create series at will.
    for m in ["BREW", "XYZZY1", "XYZZY2"] {
        let method = actix_web::http::Method::from_bytes(m.as_bytes()).expect("token");
        let (status, _, _, _) = call(
            &st,
            TestRequest::default().method(method).uri("/api/v1/sum"),
        )
        .await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    }
    let text = st.metrics.render();
    assert!(!text.contains("BREW") && !text.contains("XYZZY"), "{text}");
    assert!(
        text.contains(
            r#"sumapi_http_requests_total{method="OTHER",route="/api/v1/sum",status="405"} 3"#
        ),
        "{text}"
    );
    for expected in [
        r#"sumapi_http_requests_total{method="POST",route="/api/v1/sum",status="200"} 1"#,
        r#"sumapi_http_requests_total{method="POST",route="/api/v1/sum",status="400"} 1"#,
        r#"sumapi_http_requests_total{method="GET",route="unmatched",status="404"} 1"#,
        r#"sumapi_http_requests_total{method="DELETE",route="/healthz",status="405"} 1"#,
        r#"sumapi_http_requests_rejected_total{code="VALIDATION_ERROR"} 1"#,
        r#"sumapi_http_requests_rejected_total{code="NOT_FOUND"} 1"#,
        r#"sumapi_http_request_duration_seconds_bucket{method="POST",route="/api/v1/sum",status="200",le="0.0001"}"#,
        r#"sumapi_sum_input_numbers_bucket{le="3"} 1"#,
        "sumapi_http_requests_in_flight 0",
        "sumapi_ready 1",
        r#"sumapi_build_info{version=""#,
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(
        !text.contains("/no/such/path"),
        "raw paths must never become labels:\n{text}"
    );
    for name in service::metrics::ALL {
        assert!(
            text.contains(&format!("# TYPE {name} ")),
            "{name} not exported:\n{text}"
        );
    }

    // With recording off (the benchmark's baseline) no request metrics appear.
    let off = state(false, &[]);
    call(&off, sum_request(r#"{"numbers":[1,2]}"#)).await;
    let text = off.metrics.render();
    assert!(!text.contains("sumapi_http_requests_total{"), "{text}");
    assert!(text.contains("sumapi_ready 1"), "{text}");
}

#[actix_web::test]
async fn origin_guard_through_the_app_factory() {
    let st = state(true, &["old-secret-0123456789", "new-secret-0123456789"]);
    let body = r#"{"numbers":[1,2]}"#;
    let (status, _, json, _) = call(&st, sum_request(body)).await;
    assert_eq!(
        (status, json["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("FORBIDDEN_ORIGIN"))
    );
    for secret in ["old-secret-0123456789", "new-secret-0123456789"] {
        let (status, _, _, _) = call(
            &st,
            sum_request(body).insert_header(("x-origin-secret", secret)),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{secret}");
    }
    let (status, _, _, _) = call(&st, TestRequest::get().uri("/healthz/ready")).await;
    assert_eq!(status, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------
// The hostile-input table, over real sockets with raw bytes.

struct Case {
    name: &'static str,
    head: String,
    body: Vec<u8>,
    status: u16,
    code: Option<&'static str>,
}

fn post(
    name: &'static str,
    content_type: &str,
    body: impl Into<Vec<u8>>,
    status: u16,
    code: Option<&'static str>,
) -> Case {
    let body = body.into();
    let ct = if content_type.is_empty() {
        String::new()
    } else {
        format!("\r\nContent-Type: {content_type}")
    };
    Case {
        name,
        head: format!(
            "POST /api/v1/sum HTTP/1.1\r\nHost: t{ct}\r\nContent-Length: {}",
            body.len()
        ),
        body,
        status,
        code,
    }
}

fn json(
    name: &'static str,
    body: impl Into<Vec<u8>>,
    status: u16,
    code: Option<&'static str>,
) -> Case {
    post(name, "application/json", body, status, code)
}

fn request(name: &'static str, head: &str, status: u16, code: Option<&'static str>) -> Case {
    Case {
        name,
        head: format!("{head}\r\nHost: t"),
        body: Vec::new(),
        status,
        code,
    }
}

const BAD: Option<&str> = Some("INVALID_REQUEST_BODY");
const INVALID: Option<&str> = Some("VALIDATION_ERROR");

fn hostile_cases() -> Vec<Case> {
    let deep_unknown = format!(
        r#"{{"x":{}{},"numbers":[1,2]}}"#,
        "[".repeat(30_000),
        "]".repeat(30_000)
    );
    let deep_numbers = format!(r#"{{"numbers":{}1{}}}"#, "[".repeat(200), "]".repeat(200));
    let huge_integer = format!(r#"{{"numbers":[1{},1]}}"#, "0".repeat(400));
    let long_fraction = format!(r#"{{"numbers":[0.{}1,1]}}"#, "0".repeat(5000));
    let many = format!(r#"{{"numbers":[{}]}}"#, vec!["1.5"; 101].join(","));
    let big_body = format!(r#"{{"numbers":[1,2],"pad":"{}"}}"#, "x".repeat(70 * 1024));
    let mut cases = vec![
        json("truncated JSON", r#"{"numbers":[1,2"#, 400, BAD),
        json("empty body", "", 400, BAD),
        json("not JSON at all", "numbers=1,2", 400, BAD),
        json("top-level array", "[1,2]", 400, BAD),
        json("array holding the list", "[[1,2]]", 400, BAD),
        json("top-level string", r#""numbers""#, 400, BAD),
        json("top-level null", "null", 400, BAD),
        json("numbers is a string", r#"{"numbers":"1,2"}"#, 400, BAD),
        json("numbers are strings", r#"{"numbers":["1","2"]}"#, 400, BAD),
        json("null inside the list", r#"{"numbers":[1,null]}"#, 400, BAD),
        json("numbers is null", r#"{"numbers":null}"#, 400, BAD),
        json("NaN spelled out", r#"{"numbers":[1,NaN]}"#, 400, BAD),
        json("nan in lowercase", r#"{"numbers":[1,nan]}"#, 400, BAD),
        json(
            "Infinity spelled out",
            r#"{"numbers":[1,Infinity]}"#,
            400,
            BAD,
        ),
        json(
            "-Infinity spelled out",
            r#"{"numbers":[-Infinity,1]}"#,
            400,
            BAD,
        ),
        json(
            "1e400 overflows a double",
            r#"{"numbers":[1e400,1]}"#,
            400,
            BAD,
        ),
        json(
            "-1e400 overflows a double",
            r#"{"numbers":[-1e400,1]}"#,
            400,
            BAD,
        ),
        json("400-digit integer", huge_integer, 400, BAD),
        json("5000-digit fraction is fine", long_fraction, 200, None),
        json("booleans", r#"{"numbers":[true,false]}"#, 400, BAD),
        json(
            "objects in the list",
            r#"{"numbers":[{"a":1},2]}"#,
            400,
            BAD,
        ),
        json("hex number", r#"{"numbers":[0x10,1]}"#, 400, BAD),
        json("leading zero", r#"{"numbers":[01,1]}"#, 400, BAD),
        json("leading plus", r#"{"numbers":[+1,1]}"#, 400, BAD),
        json("trailing comma", r#"{"numbers":[1,2],}"#, 400, BAD),
        json("trailing garbage", r#"{"numbers":[1,2]} xyz"#, 400, BAD),
        json(
            "two objects",
            r#"{"numbers":[1,2]}{"numbers":[3,4]}"#,
            400,
            BAD,
        ),
        json(
            "duplicate key",
            r#"{"numbers":[1,2],"numbers":[3,4]}"#,
            400,
            BAD,
        ),
        // Ignored values are skipped without recursion: harmless, bounded by the body limit.
        json(
            "deep nesting in an unknown field is skipped",
            deep_unknown,
            200,
            None,
        ),
        json("deep nesting in the list", deep_numbers, 400, BAD),
        json(
            "invalid UTF-8",
            b"{\"numbers\":[1,2],\"x\":\"\xff\xfe\"}".to_vec(),
            400,
            BAD,
        ),
        json(
            "UTF-8 byte order mark",
            "\u{feff}{\"numbers\":[1,2]}",
            400,
            BAD,
        ),
        json(
            "unicode junk in a known-looking key",
            r#"{"nümbers":[1,2]}"#,
            400,
            INVALID,
        ),
        json(
            "emoji in an unknown field is fine",
            r#"{"note":"🧮\u0000","numbers":[1,2]}"#,
            200,
            None,
        ),
        json("no numbers field", "{}", 400, INVALID),
        json("empty list", r#"{"numbers":[]}"#, 400, INVALID),
        json("one number", r#"{"numbers":[42]}"#, 400, INVALID),
        json("101 numbers", many, 400, INVALID),
        json(
            "sum overflows",
            r#"{"numbers":[1.7e308,1.7e308]}"#,
            422,
            Some("SUM_OUT_OF_RANGE"),
        ),
        json(
            "negative sum overflows",
            r#"{"numbers":[-1.7e308,-1.7e308]}"#,
            422,
            Some("SUM_OUT_OF_RANGE"),
        ),
        json(
            "body over the 64 KiB limit",
            big_body,
            413,
            Some("PAYLOAD_TOO_LARGE"),
        ),
        post(
            "text/plain",
            "text/plain",
            r#"{"numbers":[1,2]}"#,
            415,
            Some("UNSUPPORTED_MEDIA_TYPE"),
        ),
        post(
            "form encoded",
            "application/x-www-form-urlencoded",
            "numbers=1&numbers=2",
            415,
            Some("UNSUPPORTED_MEDIA_TYPE"),
        ),
        post(
            "multipart",
            "multipart/form-data; boundary=x",
            "--x--",
            415,
            Some("UNSUPPORTED_MEDIA_TYPE"),
        ),
        post(
            "jsonp is not json",
            "application/jsonp",
            r#"{"numbers":[1,2]}"#,
            415,
            Some("UNSUPPORTED_MEDIA_TYPE"),
        ),
        post(
            "json with charset",
            "application/json; charset=utf-8",
            r#"{"numbers":[1,2]}"#,
            200,
            None,
        ),
        post(
            "no content type (as the old service)",
            "",
            r#"{"numbers":[1,2]}"#,
            200,
            None,
        ),
        request(
            "PUT on the sum",
            "PUT /api/v1/sum HTTP/1.1\r\nContent-Length: 0",
            405,
            Some("METHOD_NOT_ALLOWED"),
        ),
        request(
            "DELETE on the index",
            "DELETE / HTTP/1.1",
            405,
            Some("METHOD_NOT_ALLOWED"),
        ),
        request(
            "POST on health",
            "POST /healthz HTTP/1.1\r\nContent-Length: 0",
            405,
            Some("METHOD_NOT_ALLOWED"),
        ),
        request(
            "PATCH on readiness",
            "PATCH /healthz/ready HTTP/1.1\r\nContent-Length: 0",
            405,
            Some("METHOD_NOT_ALLOWED"),
        ),
        request(
            "OPTIONS on the sum",
            "OPTIONS /api/v1/sum HTTP/1.1",
            405,
            Some("METHOD_NOT_ALLOWED"),
        ),
        request(
            "unknown path",
            "GET /api/v1/summ HTTP/1.1",
            404,
            Some("NOT_FOUND"),
        ),
        request(
            "trailing slash",
            "GET /api/v1/sum/ HTTP/1.1",
            404,
            Some("NOT_FOUND"),
        ),
        request(
            "path traversal",
            "GET /../../etc/passwd HTTP/1.1",
            404,
            Some("NOT_FOUND"),
        ),
        request(
            "percent-encoded junk path",
            "GET /%00%ff%2e%2e HTTP/1.1",
            404,
            Some("NOT_FOUND"),
        ),
    ];
    // A chunked body without Content-Length that grows past the limit.
    let chunk = format!("{:x}\r\n{}\r\n", 8192, "1".repeat(8192));
    let mut chunked = Vec::new();
    for _ in 0..10 {
        chunked.extend_from_slice(chunk.as_bytes());
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    cases.push(Case {
        name: "chunked body over the limit",
        head: "POST /api/v1/sum HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked".into(),
        body: chunked,
        status: 413,
        code: Some("PAYLOAD_TOO_LARGE"),
    });
    cases
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_table() {
    let running = service::start(common::config(&[]))
        .await
        .expect("service starts");
    let cases = hostile_cases();
    assert!(
        cases.len() >= 40,
        "the table must stay at 40+ cases, has {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in &cases {
        let res = raw::request(running.addr(), &case.head, &case.body).await;
        let code = res.code();
        let ok = res.status == case.status && code.as_deref() == case.code;
        // Every answer, error or not, is JSON and carries a request id.
        let json_ok = res
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/json"));
        let id_ok = res.header("x-request-id").is_some_and(|v| v.len() == 32);
        if !ok || !json_ok || !id_ok {
            failures.push(format!(
                "{}: expected {} {:?}, got {} {:?} (json: {json_ok}, id: {id_ok}): {}",
                case.name,
                case.status,
                case.code,
                res.status,
                code,
                String::from_utf8_lossy(&res.body)
                    .chars()
                    .take(300)
                    .collect::<String>()
            ));
        }
        if res.status >= 400 {
            let body = res.json();
            for field in ["error", "code", "timestamp", "request_id", "path"] {
                assert!(
                    body.get(field).is_some(),
                    "{}: no {field} in {body}",
                    case.name
                );
            }
        }
    }
    // The service survived all of it.
    let res = common::post_sum(running.addr(), r#"{"numbers":[2,2]}"#, "").await;
    assert_eq!(res.status, 200);
    running.shutdown().await;
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

// A plain current-thread runtime, as other crates' tests use when they start the service.
#[tokio::test]
async fn request_ids_are_kept_or_replaced() {
    let running = service::start(common::config(&[]))
        .await
        .expect("service starts");
    let addr = running.addr();
    let body = r#"{"numbers":[1,2]}"#;
    let kept = ["abc-123", "a b c", &"x".repeat(128), "~!@#$%^&*()_+{}|:<>?"];
    for id in kept {
        let res = common::post_sum(addr, body, &format!("\r\nX-Request-ID: {id}")).await;
        assert_eq!(res.status, 200);
        assert_eq!(res.header("x-request-id"), Some(id), "kept as sent");
        assert_eq!(res.json()["request_id"], id);
    }
    let long = "y".repeat(129);
    let replaced: [&[u8]; 4] = [
        long.as_bytes(),
        "ünïcode-ïd".as_bytes(),
        b"tab\there",
        b"\xff\xfe",
    ];
    for id in replaced {
        let mut head = format!(
            "POST /api/v1/sum HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\nX-Request-ID: ",
            body.len()
        )
        .into_bytes();
        head.extend_from_slice(id);
        head.extend_from_slice(b"\r\n\r\n");
        head.extend_from_slice(body.as_bytes());
        let res = raw::parse(&raw::exchange(addr, &[&head], Duration::ZERO).await);
        assert_eq!(res.status, 200, "{:?}", String::from_utf8_lossy(id));
        let echoed = res
            .header("x-request-id")
            .expect("an id is always echoed")
            .to_owned();
        assert_eq!(echoed.len(), 32, "replaced by a generated id");
        assert_eq!(res.json()["request_id"], echoed.as_str());
    }
    // An error answer carries the id too.
    let res = common::post_sum(addr, "{", "\r\nX-Request-ID: err-id-7").await;
    assert_eq!(
        (res.status, res.code().as_deref()),
        (400, Some("INVALID_REQUEST_BODY"))
    );
    assert_eq!(res.json()["request_id"], "err-id-7");
    assert_eq!(res.header("x-request-id"), Some("err-id-7"));
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origin_secret_table() {
    let mut config = common::config(&[]);
    config.origin_secrets = vec![
        "current-secret-abcdef012345".into(),
        "next-secret-abcdef0123456".into(),
    ];
    let running = service::start(config).await.expect("service starts");
    let addr = running.addr();
    let body = r#"{"numbers":[1,2]}"#;
    let forbidden = Some("FORBIDDEN_ORIGIN");
    let cases: Vec<(&str, String, u16, Option<&str>)> = vec![
        ("missing secret", String::new(), 403, forbidden),
        (
            "empty secret",
            "\r\nX-Origin-Secret: ".into(),
            403,
            forbidden,
        ),
        (
            "wrong secret",
            "\r\nX-Origin-Secret: guess".into(),
            403,
            forbidden,
        ),
        (
            "prefix of the secret",
            "\r\nX-Origin-Secret: current-secret-abcdef01234".into(),
            403,
            forbidden,
        ),
        (
            "secret plus a char",
            "\r\nX-Origin-Secret: current-secret-abcdef0123456".into(),
            403,
            forbidden,
        ),
        (
            "both secrets joined",
            "\r\nX-Origin-Secret: current-secret-abcdef012345,next-secret-abcdef0123456".into(),
            403,
            forbidden,
        ),
        (
            "secret in another header",
            "\r\nX-Origin: current-secret-abcdef012345".into(),
            403,
            forbidden,
        ),
        (
            "current secret",
            "\r\nX-Origin-Secret: current-secret-abcdef012345".into(),
            200,
            None,
        ),
        (
            "next secret (rotation)",
            "\r\nX-Origin-Secret: next-secret-abcdef0123456".into(),
            200,
            None,
        ),
    ];
    for (name, headers, status, code) in cases {
        let res = common::post_sum(addr, body, &headers).await;
        assert_eq!(
            (res.status, res.code().as_deref()),
            (status, code),
            "{name}"
        );
    }
    // Health stays open for load balancers; everything else is closed, even unknown paths.
    for path in ["/healthz", "/healthz/live", "/healthz/ready"] {
        assert_eq!(common::get(addr, path).await.status, 200, "{path}");
    }
    for path in ["/", "/api/v1/sum", "/nope", "/healthz/other"] {
        let res = common::get(addr, path).await;
        assert_eq!(
            (res.status, res.code().as_deref()),
            (403, forbidden),
            "{path}"
        );
    }
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_bodies() {
    let running = service::start(common::config(&["--body-timeout", "600ms"]))
        .await
        .expect("service starts");
    let addr = running.addr();
    let body = br#"{"numbers":[1,2,3]}"#;
    let head = format!(
        "POST /api/v1/sum HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    // Slow but within the timeout: served.
    let parts: [&[u8]; 4] = [head.as_bytes(), &body[..5], &body[5..10], &body[10..]];
    let res = raw::parse(&raw::exchange(addr, &parts, Duration::from_millis(100)).await);
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    assert_eq!(res.json()["sum"], 6);
    // Stalls past the timeout, after part of the body or before any of it: 408, and the
    // connection is not held forever.
    for sent in [&body[..5], &body[..0]] {
        let started = std::time::Instant::now();
        let res = raw::parse(&raw::exchange(addr, &[head.as_bytes(), sent], Duration::ZERO).await);
        assert_eq!(
            (res.status, res.code().as_deref()),
            (408, Some("REQUEST_TIMEOUT")),
            "after {} body bytes",
            sent.len()
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "took {:?}",
            started.elapsed()
        );
    }
    // A client that sends half a body and goes away: the in-flight gauge still returns to 0.
    {
        use tokio::io::AsyncWriteExt;
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        s.write_all(head.as_bytes()).await.expect("write head");
        s.write_all(&body[..3]).await.expect("write part");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let scrape = loop {
        let text = String::from_utf8(common::get(running.metrics_addr(), "/metrics").await.body)
            .expect("UTF-8 exposition");
        let settled = text.contains("sumapi_http_requests_in_flight 0")
            && text.contains(r#"sumapi_http_requests_rejected_total{code="REQUEST_TIMEOUT"} 2"#);
        if settled || std::time::Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        scrape.contains("sumapi_http_requests_in_flight 0"),
        "{scrape}"
    );
    assert!(
        scrape.contains(r#"sumapi_http_requests_rejected_total{code="REQUEST_TIMEOUT"} 2"#),
        "{scrape}"
    );
    running.shutdown().await;
}

/// Sends `head` (ending in the blank line) and then one body chunk every 100 ms, for at most
/// 8 s, while reading. Returns what was read and how long after the first answer byte the
/// server closed the connection (`None`: still open after 8 s).
async fn trickle_chunks(addr: std::net::SocketAddr, head: &str) -> (Vec<u8>, Option<Duration>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let head = head.to_owned();
    let trickle = tokio::spawn(async move {
        if writer.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        for _ in 0..80 {
            if writer.write_all(b"1\r\nx\r\n").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut got = Vec::new();
    let mut answered = None;
    let read_all = async {
        let mut buf = [0u8; 4096];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answered.get_or_insert_with(std::time::Instant::now);
                    got.extend_from_slice(&buf[..n]);
                }
            }
        }
    };
    let closed = tokio::time::timeout(Duration::from_secs(8), read_all)
        .await
        .is_ok();
    trickle.abort();
    let after = answered.map(|t| t.elapsed());
    (got, if closed { after } else { None })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_body_left_unread_closes_the_connection_after_the_answer() {
    // Short enough for the 408 case, long enough for a head sent by a test on a busy machine
    // (it is also the first request head's timeout).
    let mut config = common::config(&["--body-timeout", "2s"]);
    config.origin_secrets = vec!["a-secret-for-the-chunked-test-0123".into()];
    let running = service::start(config).await.expect("service starts");
    let addr = running.addr();
    let secret = "X-Origin-Secret: a-secret-for-the-chunked-test-0123\r\n";
    let chunked = "Transfer-Encoding: chunked\r\n";
    let json = "Content-Type: application/json\r\n";
    // Each answer is given without the body read to its end; before, actix kept reading the
    // chunks for as long as they came.
    let cases = [
        (
            "unknown path",
            format!("POST /nope HTTP/1.1\r\nHost: t\r\n{secret}{chunked}\r\n"),
            404,
        ),
        (
            "health, any method",
            format!("POST /healthz HTTP/1.1\r\nHost: t\r\n{chunked}\r\n"),
            405,
        ),
        (
            "health with a body",
            format!("GET /healthz/live HTTP/1.1\r\nHost: t\r\n{chunked}\r\n"),
            200,
        ),
        (
            "HEAD without an answer body",
            format!("HEAD /healthz/ready HTTP/1.1\r\nHost: t\r\n{chunked}\r\n"),
            200,
        ),
        (
            "no origin secret",
            format!("POST /api/v1/sum HTTP/1.1\r\nHost: t\r\n{json}{chunked}\r\n"),
            403,
        ),
        (
            "wrong media type",
            format!(
                "POST /api/v1/sum HTTP/1.1\r\nHost: t\r\n{secret}Content-Type: text/plain\r\n{chunked}\r\n"
            ),
            415,
        ),
        (
            "body never ends",
            format!("POST /api/v1/sum HTTP/1.1\r\nHost: t\r\n{secret}{json}{chunked}\r\n"),
            408,
        ),
    ];
    for (name, head, status) in cases {
        let (got, closed_after) = trickle_chunks(addr, &head).await;
        let text = String::from_utf8_lossy(&got);
        assert!(
            text.starts_with(&format!("HTTP/1.1 {status} ")),
            "{name}: {text}"
        );
        let closed_after = closed_after.unwrap_or_else(|| panic!("{name}: still open after 8 s"));
        // actix lingers up to 1 s for the client to close; slack for a busy machine.
        assert!(
            closed_after < Duration::from_secs(5),
            "{name}: closed after {closed_after:?}"
        );
    }

    running.shutdown().await;

    // A chunked body read to its end keeps the connection for the next request. (With the
    // default body timeout: a machine busy with other tests may take longer than 500 ms.)
    let mut config = common::config(&[]);
    config.origin_secrets = vec!["a-secret-for-the-chunked-test-0123".into()];
    let running = service::start(config).await.expect("service starts");
    let addr = running.addr();
    let body = r#"{"numbers":[1,2,3]}"#;
    let request = format!(
        "POST /api/v1/sum HTTP/1.1\r\nHost: t\r\n{secret}{json}{chunked}\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    );
    let second = "GET /healthz/live HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    let all = raw::exchange(
        addr,
        &[request.as_bytes(), second.as_bytes()],
        Duration::from_millis(200),
    )
    .await;
    let all = String::from_utf8_lossy(&all);
    assert!(all.contains(r#""sum":6"#), "{all}");
    assert_eq!(all.matches("HTTP/1.1 200 OK").count(), 2, "{all}");
    running.shutdown().await;
}

/// Reads everything `stream` receives until the service closes it, which must happen within
/// `bound`.
async fn read_to_close(stream: &mut tokio::net::TcpStream, bound: Duration) -> String {
    use tokio::io::AsyncReadExt;
    let mut all = Vec::new();
    tokio::time::timeout(bound, stream.read_to_end(&mut all))
        .await
        .unwrap_or_else(|_| panic!("still open after {bound:?}"))
        .expect("a clean close");
    String::from_utf8_lossy(&all).into_owned()
}

/// Reads one whole answer with a `Content-Length` from `stream` (10 s bound).
async fn read_one_answer(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let read = async {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await.expect("read");
            assert!(n > 0, "closed before the answer was complete");
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .and_then(|v| v.parse::<usize>().ok())
                    .expect("a content length");
                if body.len() >= length {
                    return text;
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("answered within 10 s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_request_on_a_kept_alive_connection_must_finish_in_time() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // Requests must be answered within twice the body timeout of their first byte: 2 s here.
    let running = service::start(common::config(&[
        "--body-timeout",
        "1s",
        "--keep-alive",
        "3s",
    ]))
    .await
    .expect("service starts");
    let addr = running.addr();
    let first = "GET /healthz/live HTTP/1.1\r\nHost: t\r\n\r\n";
    for trickle in [false, true] {
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        // Answered requests, slower in all than the deadline: the connection stays.
        for _ in 0..3 {
            stream.write_all(first.as_bytes()).await.expect("request");
            let answer = read_one_answer(&mut stream).await;
            assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
            tokio::time::sleep(Duration::from_millis(800)).await;
        }
        // A request head that never ends (or ends one byte at a time, for ever).
        stream
            .write_all(b"GET /healthz/live HTTP/1.1\r\nHo")
            .await
            .expect("part of a head");
        let started = std::time::Instant::now();
        let wait_for_close = async {
            let mut buf = [0u8; 256];
            loop {
                tokio::select! {
                    read = stream.read(&mut buf) => match read {
                        Ok(0) | Err(_) => return,
                        Ok(n) => panic!("an answer to half a request: {:?}", String::from_utf8_lossy(&buf[..n])),
                    },
                    () = tokio::time::sleep(Duration::from_millis(200)) => {
                        if trickle {
                            let _ = stream.write_all(b"x").await;
                        }
                    }
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(8), wait_for_close)
            .await
            .unwrap_or_else(|_| panic!("trickle {trickle}: still open after 8 s"));
        let waited = started.elapsed();
        // Not before the deadline; after it within two sweeps, and some slack for a machine
        // busy with other tests.
        assert!(
            waited >= Duration::from_millis(1900) && waited < Duration::from_secs(6),
            "trickle {trickle}: closed after {waited:?}"
        );
    }
    // Pipelined: the unfinished second request came with the first and counts as answered
    // with it (the wrapper sees bytes, not requests); the keep-alive limit (3 s) ends it.
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let started = std::time::Instant::now();
    stream
        .write_all(format!("{first}GET /healthz/live HTTP/1.1\r\nHo").as_bytes())
        .await
        .expect("a request and half of the next");
    let rest = read_to_close(&mut stream, Duration::from_secs(8)).await;
    assert_eq!(rest.matches("HTTP/1.1 200 ").count(), 1, "{rest}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(7),
        "closed after {waited:?}"
    );

    // A slow body on a later request still gets its 408 before the connection's deadline.
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(first.as_bytes()).await.expect("request");
    read_one_answer(&mut stream).await;
    stream
        .write_all(b"POST /api/v1/sum HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n{\"num")
        .await
        .expect("head and part of a body");
    let answer = read_one_answer(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    // The two stalled connections were cut by the deadline, and are counted; the others were
    // not cut by it.
    let metrics = running.metrics_addr();
    assert_eq!(common::cuts(metrics, "api", "stalled_request").await, 2.0);
    // A head cut off by the deadline is not also counted as malformed.
    assert_eq!(common::cuts(metrics, "api", "malformed_request").await, 0.0);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_alive_connections_end_after_the_keep_alive_limit_of_idleness() {
    use tokio::io::AsyncWriteExt;
    let request = "GET /healthz/live HTTP/1.1\r\nHost: t\r\n\r\n";
    let running = service::start(common::config(&["--keep-alive", "1s"]))
        .await
        .expect("service starts");
    let addr = running.addr();
    // Requests every 400 ms for 3 s: each within the limit of the previous answer, so the
    // connection stays although it is older than the limit.
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    for _ in 0..8 {
        stream.write_all(request.as_bytes()).await.expect("request");
        let answer = read_one_answer(&mut stream).await;
        assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    // Timed from before the last request, so never later than the service's idle clock.
    let idle = std::time::Instant::now();
    stream.write_all(request.as_bytes()).await.expect("request");
    let answer = read_one_answer(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    // Then idle: the service closes it after the limit, within two sweeps (1 s) after it, with
    // some slack for a machine busy with other tests.
    let rest = read_to_close(&mut stream, Duration::from_secs(6)).await;
    let waited = idle.elapsed();
    assert!(rest.is_empty(), "{rest}");
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_secs(4),
        "closed after {waited:?} idle"
    );
    // The end of an idle connection is not a cut.
    for reason in ["stalled_request", "unread_answer", "malformed_request"] {
        assert_eq!(
            common::cuts(running.metrics_addr(), "api", reason).await,
            0.0,
            "{reason}"
        );
    }
    running.shutdown().await;

    // A keep-alive shorter than the body timeout times only idleness after an answer: a
    // connection that sends nothing, and a body awaited after `100 Continue`, still get their
    // 408 after the body timeout (2 s), not a quiet close after the keep-alive (1 s).
    let running = service::start(common::config(&[
        "--keep-alive",
        "1s",
        "--body-timeout",
        "2s",
    ]))
    .await
    .expect("service starts");
    let expect_100 = "POST /api/v1/sum HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 17\r\nExpect: 100-continue\r\n\r\n";
    for head in ["", expect_100] {
        let mut stream = tokio::net::TcpStream::connect(running.addr())
            .await
            .expect("connect");
        let started = std::time::Instant::now();
        stream.write_all(head.as_bytes()).await.expect("head");
        let all = read_to_close(&mut stream, Duration::from_secs(8)).await;
        let waited = started.elapsed();
        let answer = all.trim_start_matches("HTTP/1.1 100 Continue\r\n\r\n");
        assert!(
            answer.starts_with("HTTP/1.1 408 "),
            "{head:?}: {all} after {waited:?}"
        );
        // The 408 is what tells both from a quiet close at the keep-alive. The body timer
        // (after `100 Continue`) is the service's own; actix's head timer (nothing sent) counts
        // from a clock actix refreshes every 500 ms, so it may answer up to that much early.
        let earliest = if head.is_empty() {
            Duration::from_millis(1500)
        } else {
            Duration::from_secs(2)
        };
        assert!(waited >= earliest, "{head:?}: {waited:?}");
        if !head.is_empty() {
            assert!(all.starts_with("HTTP/1.1 100 Continue"), "{all}");
        }
    }
    running.shutdown().await;

    // `--keep-alive 0s`: every connection closes after its answer.
    let running = service::start(common::config(&["--keep-alive", "0s"]))
        .await
        .expect("service starts");
    let mut stream = tokio::net::TcpStream::connect(running.addr())
        .await
        .expect("connect");
    stream.write_all(request.as_bytes()).await.expect("request");
    let all = read_to_close(&mut stream, Duration::from_secs(5)).await;
    assert!(all.starts_with("HTTP/1.1 200 "), "{all}");
    assert!(
        all.to_ascii_lowercase().contains("connection: close"),
        "{all}"
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_its_answers_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // Answers that cannot be written for twice the body timeout (2 s here) end the connection.
    let running = service::start(common::config(&["--body-timeout", "1s"]))
        .await
        .expect("service starts");
    let addr = running.addr();
    // A small receive window, and far more pipelined answers than the kernel's buffers hold
    // (the sender's grows to 4 MiB at most): ~11 MB of them. Once an answer cannot go out, the
    // write side's deadline is the one that runs.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(16 * 1024).expect("SO_RCVBUF");
    let mut stream = socket.connect(addr).await.expect("connect");
    let requests: usize = 20_000;
    let request = "GET /api/v1/sum HTTP/1.1\r\nHost: t\r\n\r\n".repeat(requests);
    // The requests fit the service's receive buffer; a reset ends the write early.
    let _ = tokio::time::timeout(
        Duration::from_secs(10),
        stream.write_all(request.as_bytes()),
    )
    .await;
    // Read nothing for well past the deadline.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    let answers = String::from_utf8_lossy(&got)
        .matches("HTTP/1.1 200 OK")
        .count();
    assert!(
        ended.is_ok(),
        "still open after 16 s ({answers} answers read)"
    );
    assert!(
        answers < requests,
        "all {answers} answers were kept waiting for a client that did not read"
    );
    // The service goes on serving everyone else.
    assert_eq!(common::get(addr, "/healthz/live").await.status, 200);
    // Counted once, for its unread answers (not as a stalled request, nor as malformed).
    for (reason, expected) in [
        ("stalled_request", 0.0),
        ("unread_answer", 1.0),
        ("malformed_request", 0.0),
    ] {
        assert_eq!(
            common::cuts(running.metrics_addr(), "api", reason).await,
            expected,
            "{reason}"
        );
    }
    running.shutdown().await;
}
