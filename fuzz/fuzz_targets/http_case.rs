//! One HTTP request decoded from fuzz bytes, and what the service must do with any request:
//! never a 5xx or a panic, a well-formed `X-Request-ID` on every answer, and every error as
//! the JSON body of the contract carrying that id. Shared by the `requests` fuzz target and
//! `service/tests/it/fuzz_corpus.rs` (included by path), which replays its corpus on stable.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use actix_web::body::BoxBody;
use actix_web::dev::ServiceResponse;

use actix_web::http::Method;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::test::{self, TestRequest};
use service::metrics::Metrics;
use service::{AppState, app};

/// The origin secret the fuzzed service is configured with (the fuzzer finds it in a dictionary
/// or by comparison tracing, and then also reaches the handlers behind the guard).
pub const SECRET: &str = "s3cret";

const METHODS: [Method; 7] = [
    Method::GET,
    Method::POST,
    Method::HEAD,
    Method::PUT,
    Method::DELETE,
    Method::OPTIONS,
    Method::PATCH,
];
const PATHS: [&str; 10] = [
    "/api/v1/sum",
    "/healthz",
    "/healthz/live",
    "/healthz/ready",
    "/",
    "/nope",
    "/api/v1/sum/",
    "/api/v1/sum?x=%zz",
    "//healthz",
    "/api/v1/%73um",
];
const HEADERS: [&str; 7] = [
    "content-type",
    "x-request-id",
    "x-origin-secret",
    "x-forwarded-for",
    "accept",
    "content-encoding",
    "expect",
];
/// Ends the headers; what follows is the body.
const END_OF_HEADERS: u8 = 0xff;

/// A request: method and path picked by the first two bytes, then up to eight headers (a name
/// picked by one byte, the value up to the next 0x00), then, after 0xff, the body.
pub struct Case {
    method: Method,
    path: &'static str,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Vec<u8>,
}

/// The request `data` describes; `None` when it is too short to pick a method and a path.
pub fn decode(data: &[u8]) -> Option<Case> {
    let (&method, rest) = data.split_first()?;
    let (&path, mut rest) = rest.split_first()?;
    let mut headers = Vec::new();
    while let Some((&name, after)) = rest.split_first() {
        if name == END_OF_HEADERS {
            rest = after;
            break;
        }
        if headers.len() == 8 {
            break;
        }
        let end = after.iter().position(|&b| b == 0).unwrap_or(after.len());
        let name = HeaderName::from_static(HEADERS[usize::from(name) % HEADERS.len()]);
        // A value no HTTP parser would deliver is left out, as a proxy would refuse it.
        if let Ok(value) = HeaderValue::from_bytes(&after[..end]) {
            headers.push((name, value));
        }
        rest = after.get(end + 1..).unwrap_or_default();
    }
    Some(Case {
        method: METHODS[usize::from(method) % METHODS.len()].clone(),
        path: PATHS[usize::from(path) % PATHS.len()],
        headers,
        body: rest.to_vec(),
    })
}

/// The service the cases go to (origin secret [`SECRET`], default limits), built once: one app
/// and one metrics registry for many cases, as in the running service.
pub struct Target {
    call: Call,
}

/// The app's service with its concrete types erased.
type Call = Rc<dyn Fn(TestRequest) -> Pin<Box<dyn Future<Output = ServiceResponse<BoxBody>>>>>;

impl Target {
    /// Builds the app and its state.
    pub async fn new() -> Target {
        let state = AppState::new(
            Metrics::new(true),
            64 * 1024,
            Duration::from_secs(5),
            &[SECRET.to_owned()],
        );
        let svc = Rc::new(test::init_service(app(state)).await);
        let call: Call = Rc::new(move |req| {
            let svc = svc.clone();
            Box::pin(async move {
                test::call_service(&*svc, req.to_request())
                    .await
                    .map_into_boxed_body()
            })
        });
        Target { call }
    }

    /// Sends `case` and checks the answer; `Err` describes what is wrong with it.
    pub async fn check(&self, case: Case) -> Result<(), String> {
        self.answer(case).await
    }

    async fn answer(&self, case: Case) -> Result<(), String> {
        let mut req = TestRequest::default()
            .method(case.method.clone())
            .uri(case.path);
        for (name, value) in case.headers {
            req = req.append_header((name, value));
        }
        let res = (self.call)(req.set_payload(case.body)).await;
        let status = res.status();
        let id = res
            .headers()
            .get("x-request-id")
            .map(|v| v.as_bytes().to_vec())
            .ok_or_else(|| format!("{status} without X-Request-ID"))?;
        if id.is_empty() || id.len() > 128 || !id.iter().all(|b| (0x20..=0x7e).contains(b)) {
            return Err(format!("{status} with a malformed X-Request-ID {id:?}"));
        }
        let body = test::read_body(res).await;
        // The service starts ready and healthy: no answer may be a 5xx, 503 included.
        if status.is_server_error() {
            return Err(format!("{status}: {}", String::from_utf8_lossy(&body)));
        }
        if status.is_client_error() && case.method != Method::HEAD {
            let json: serde_json::Value = serde_json::from_slice(&body)
                .map_err(|e| format!("{status} with a body that is not JSON ({e})"))?;
            let code = json["code"].as_str().unwrap_or_default();
            if code.is_empty() || !code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
                return Err(format!("{status} without a stable code: {json}"));
            }
            if json["request_id"].as_str().map(str::as_bytes) != Some(&id[..]) {
                return Err(format!(
                    "{status}: the body's request_id is not the header's: {json}"
                ));
            }
        }
        Ok(())
    }
}
