//! The built-in probe suite for the sum API, run when the config file has no `[[probes]]`:
//! `health`, `sum`, `auth_missing_key`, `auth_bad_key`, `rate_limit_headers`. Every one of them
//! expects JSON, declared as `application/json` (JSON served as `text/html` fails the probe).

use http::Method;
use serde_json::json;

use crate::assertions::Assertions;
use crate::probe::{Auth, Check, ProbeSpec};
use crate::probe_config::ProbeDefaults;

/// Name of the health probe.
pub const HEALTH: &str = "health";
/// Name of the sum probe.
pub const SUM: &str = "sum";
/// Name of the probe that sends no key.
pub const AUTH_MISSING_KEY: &str = "auth_missing_key";
/// Name of the probe that sends an unknown key.
pub const AUTH_BAD_KEY: &str = "auth_bad_key";
/// Name of the rate-limit header probe.
pub const RATE_LIMIT_HEADERS: &str = "rate_limit_headers";

/// The media type every default probe expects (the service's answers and Kong's own).
pub const JSON_MEDIA_TYPE: &str = "application/json";

/// The default probes, with the shared timeout, retries and rate-limit expectations.
pub fn default_suite(d: &ProbeDefaults) -> Vec<ProbeSpec> {
    let probe =
        |name: &str, method: Method, path: &str, auth: Auth, check: Check, status: u16| ProbeSpec {
            name: name.to_owned(),
            method,
            path: path.to_owned(),
            auth,
            body: None,
            check,
            assertions: Assertions {
                status: vec![status],
                media_type: Some(JSON_MEDIA_TYPE.to_owned()),
                ..Assertions::default()
            },
            timeout: d.timeout,
            retries: d.retries,
            retry_backoff: d.retry_backoff,
            cert_min_days: d.cert_min_days,
        };
    let mut health = probe(
        HEALTH,
        Method::GET,
        "/healthz",
        Auth::None,
        Check::Plain,
        200,
    );
    health.assertions.json_equals = vec![("status".to_owned(), json!("healthy"))];
    let sum = probe(
        SUM,
        Method::POST,
        "/api/v1/sum",
        Auth::Key,
        Check::Sum {
            min_numbers: 3,
            max_numbers: 10,
        },
        200,
    );
    // The auth probes send a valid request body, so only the missing or wrong key can be the
    // reason for a refusal.
    let valid_body = json!({ "numbers": [1, 2] });
    let mut missing = probe(
        AUTH_MISSING_KEY,
        Method::POST,
        "/api/v1/sum",
        Auth::None,
        Check::Plain,
        401,
    );
    missing.body = Some(valid_body.clone());
    let mut bad = probe(
        AUTH_BAD_KEY,
        Method::POST,
        "/api/v1/sum",
        Auth::BadKey,
        Check::Plain,
        401,
    );
    bad.body = Some(valid_body);
    let rate = probe(
        RATE_LIMIT_HEADERS,
        Method::GET,
        "/api/v1/sum",
        Auth::Key,
        Check::RateLimit {
            expected_limit: d.rate_limit,
            window: d.rate_limit_window,
        },
        200,
    );
    vec![health, sum, missing, bad, rate]
}
