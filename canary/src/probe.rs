//! One probe: build the request, send it with retries and backoff (connection errors and 5xx),
//! evaluate the generic assertions and the probe's own check, read Kong's latency headers, and
//! attribute a failure to the gateway or the upstream where the headers allow. Each probe starts
//! a sampled W3C trace of its own: every attempt carries a `traceparent` of that trace (a new
//! span id each), so the gateway and the service record it and a failure names its trace.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, Uri};
use http_body_util::Full;
use serde_json::Value;

use crate::assertions::{Assertions, LATENCY_PREFIX};
use crate::checks::{SumCase, check_rate_limit};
use crate::http_client::{Exchange, HttpClient, HttpError};
use crate::secret::Secret;

/// Kong's header: milliseconds the gateway spent on the request itself.
pub const KONG_PROXY_LATENCY: &str = "x-kong-proxy-latency";
/// Kong's header: milliseconds the upstream took to answer.
pub const KONG_UPSTREAM_LATENCY: &str = "x-kong-upstream-latency";
/// Kong's header on answers it generated itself (401, 429, 413): its whole handling time.
pub const KONG_RESPONSE_LATENCY: &str = "x-kong-response-latency";

/// Which key a probe sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// The canary's own key, from the environment.
    Key,
    /// No key at all.
    None,
    /// A key that no consumer has.
    BadKey,
}

/// What a probe checks beyond its assertions.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// Only the assertions.
    Plain,
    /// Send fresh random numbers and verify the correctly rounded sum and count.
    Sum {
        /// Fewest numbers per request.
        min_numbers: usize,
        /// Most numbers per request.
        max_numbers: usize,
    },
    /// Verify the rate-limit headers and publish the remaining quota.
    RateLimit {
        /// The canary consumer's limit, when the config states it.
        expected_limit: Option<u64>,
        /// Length of the most restrictive window.
        window: Duration,
    },
}

/// A fully checked probe definition.
#[derive(Debug, Clone)]
pub struct ProbeSpec {
    /// Name, used as the `Probe` dimension.
    pub name: String,
    /// HTTP method.
    pub method: Method,
    /// Path (and query) below the target's base URL.
    pub path: String,
    /// Which key to send.
    pub auth: Auth,
    /// JSON body, if any (the `sum` check supplies its own).
    pub body: Option<Value>,
    /// The probe's own check.
    pub check: Check,
    /// Generic assertions.
    pub assertions: Assertions,
    /// Timeout of one attempt.
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub retries: u32,
    /// Backoff before the first retry; doubles for each further retry.
    pub retry_backoff: Duration,
    /// Fewest days an HTTPS target's certificate must have left (fewer fails the probe).
    pub cert_min_days: f64,
}

/// Where a failure most likely comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attribution {
    /// The gateway (its policy, or the canary could not reach it).
    Gateway,
    /// The service behind the gateway.
    Upstream,
    /// The headers do not tell (e.g. no gateway in front).
    Unknown,
}

impl Attribution {
    /// Lower-case name for logs and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Attribution::Gateway => "gateway",
            Attribution::Upstream => "upstream",
            Attribution::Unknown => "unknown",
        }
    }
}

/// The result of one probe.
#[derive(Debug, Clone)]
pub struct ProbeOutcome {
    /// The probe's name.
    pub name: String,
    /// Whether every check passed (possibly after retries).
    pub passed: bool,
    /// Latency of the final attempt, when it produced a response.
    pub latency: Option<Duration>,
    /// Attempts beyond the first.
    pub retries: u32,
    /// Status of the final response.
    pub status: Option<u16>,
    /// From `X-Kong-Proxy-Latency`.
    pub gateway_latency_ms: Option<f64>,
    /// From `X-Kong-Upstream-Latency`.
    pub upstream_latency_ms: Option<f64>,
    /// The canary's remaining quota (rate-limit probes only).
    pub rate_limit_remaining: Option<u64>,
    /// Why it failed (empty when it passed).
    pub failures: Vec<String>,
    /// Where the failure most likely comes from (`None` when it passed).
    pub attribution: Option<Attribution>,
    /// The trace its requests carried (`None` when no request was sent).
    pub trace_id: Option<trace::TraceId>,
}

/// What every probe of a round shares.
pub struct ProbeContext<'a> {
    /// The HTTP client.
    pub client: &'a HttpClient,
    /// The target's base URL, without a trailing slash.
    pub base: &'a str,
    /// The header that carries the key (`apikey`).
    pub key_header: &'a HeaderName,
    /// The canary's key, if any probe needs it.
    pub api_key: Option<&'a Secret>,
    /// The key no consumer has, for `auth_bad_key`.
    pub bad_key: &'a str,
}

/// Runs one probe to its outcome; never panics on what the target sends.
pub async fn run_probe(spec: &ProbeSpec, ctx: &ProbeContext<'_>) -> ProbeOutcome {
    let sum_case = match spec.check {
        Check::Sum {
            min_numbers,
            max_numbers,
        } => Some(SumCase::random(&mut rand::rng(), min_numbers, max_numbers)),
        _ => None,
    };
    let body = sum_case.as_ref().map(SumCase::body).or(spec.body.clone());
    let trace = trace::SpanContext::root(true);
    let mut retries = 0;
    let result = loop {
        let result = match build_request(spec, ctx, body.as_ref()) {
            Ok(mut request) => {
                let traceparent = trace.child(true).traceparent().to_string();
                if let Ok(value) = HeaderValue::from_str(&traceparent) {
                    request.headers_mut().insert("traceparent", value);
                }
                ctx.client.send(request, spec.timeout).await
            }
            Err(message) => return failed_before_sending(spec, message),
        };
        let retryable = match &result {
            Ok(ex) => ex.status.is_server_error(),
            Err(e) => e.is_retryable(),
        };
        if !retryable || retries >= spec.retries {
            break result;
        }
        let backoff = spec.retry_backoff.saturating_mul(1 << retries.min(16));
        tracing::debug!(probe = %spec.name, retry = retries + 1, ?backoff, "retrying");
        tokio::time::sleep(backoff).await;
        retries += 1;
    };
    let mut outcome = evaluate(spec, sum_case.as_ref(), result);
    outcome.retries = retries;
    outcome.trace_id = Some(trace.trace_id);
    if let Some(key) = ctx.api_key {
        outcome.failures = outcome.failures.iter().map(|f| key.scrub(f)).collect();
    }
    outcome
}

fn failed_before_sending(spec: &ProbeSpec, message: String) -> ProbeOutcome {
    ProbeOutcome {
        name: spec.name.clone(),
        passed: false,
        latency: None,
        retries: 0,
        status: None,
        gateway_latency_ms: None,
        upstream_latency_ms: None,
        rate_limit_remaining: None,
        failures: vec![message],
        attribution: Some(Attribution::Unknown),
        trace_id: None,
    }
}

fn build_request(
    spec: &ProbeSpec,
    ctx: &ProbeContext<'_>,
    body: Option<&Value>,
) -> Result<Request<Full<Bytes>>, String> {
    let uri: Uri = format!("{}{}", ctx.base, spec.path)
        .parse()
        .map_err(|e| format!("invalid URL for probe path {:?}: {e}", spec.path))?;
    let mut builder = Request::builder()
        .method(spec.method.clone())
        .uri(uri)
        .header(http::header::USER_AGENT, "sumapi-canary")
        .header(http::header::ACCEPT, "application/json");
    match spec.auth {
        Auth::None => {}
        Auth::Key => {
            let key = ctx
                .api_key
                .ok_or("the probe needs the API key, which is not set")?;
            let mut value = HeaderValue::from_str(key.expose())
                .map_err(|_| "the API key contains characters a header cannot carry")?;
            value.set_sensitive(true);
            builder = builder.header(ctx.key_header, value);
        }
        Auth::BadKey => builder = builder.header(ctx.key_header, ctx.bad_key),
    }
    let bytes = match body {
        Some(v) => {
            builder = builder.header(http::header::CONTENT_TYPE, "application/json");
            Bytes::from(serde_json::to_vec(v).map_err(|e| e.to_string())?)
        }
        None => Bytes::new(),
    };
    builder
        .body(Full::new(bytes))
        .map_err(|e| format!("could not build the request: {e}"))
}

/// Parses a Kong latency header (integer milliseconds).
fn latency_header(exchange: &Exchange, name: &str) -> Option<f64> {
    exchange
        .header(name)
        .and_then(|v| v.trim().parse::<u32>().ok())
        .map(f64::from)
}

fn evaluate(
    spec: &ProbeSpec,
    sum_case: Option<&SumCase>,
    result: Result<Exchange, HttpError>,
) -> ProbeOutcome {
    let mut outcome = ProbeOutcome {
        name: spec.name.clone(),
        passed: false,
        latency: None,
        retries: 0,
        status: None,
        gateway_latency_ms: None,
        upstream_latency_ms: None,
        rate_limit_remaining: None,
        failures: Vec::new(),
        attribution: None,
        trace_id: None,
    };
    let exchange = match result {
        Ok(ex) => ex,
        Err(e) => {
            // The canary talks to the gateway: not reaching it at all is the gateway's side.
            outcome.failures.push(e.to_string());
            outcome.attribution = Some(match e {
                HttpError::Connect(_) => Attribution::Gateway,
                _ => Attribution::Unknown,
            });
            return outcome;
        }
    };
    outcome.latency = Some(exchange.elapsed);
    outcome.status = Some(exchange.status.as_u16());
    outcome.gateway_latency_ms = latency_header(&exchange, KONG_PROXY_LATENCY)
        .or_else(|| latency_header(&exchange, KONG_RESPONSE_LATENCY));
    outcome.upstream_latency_ms = latency_header(&exchange, KONG_UPSTREAM_LATENCY);

    let mut failures = spec.assertions.check(&exchange);
    let mut policy_failure = false;
    // A probe that sends no key or a wrong one and expects a refusal is an auth probe: being let
    // through is a security regression of the gateway, not merely a wrong status.
    let expects_refusal = !spec.assertions.status.is_empty()
        && spec
            .assertions
            .status
            .iter()
            .all(|s| (400..500).contains(s));
    if spec.auth != Auth::Key && expects_refusal && exchange.status.is_success() {
        policy_failure = true;
        failures.push(format!(
            "security regression: a request {} was accepted with status {}",
            if spec.auth == Auth::None {
                "without an API key"
            } else {
                "with an unknown API key"
            },
            exchange.status.as_u16()
        ));
    }
    let status_ok = spec.assertions.status.is_empty()
        || spec.assertions.status.contains(&exchange.status.as_u16());
    match &spec.check {
        Check::Plain => {}
        Check::Sum { .. } => {
            if let Some(case) = sum_case
                && status_ok
            {
                failures.extend(case.check(&exchange));
            }
        }
        Check::RateLimit {
            expected_limit,
            window,
        } => {
            let found = check_rate_limit(&exchange, *expected_limit, *window);
            // The quota is published whatever the status (a 429 still says Remaining: 0); the
            // header checks only count on the expected answer, so a 502 is blamed on its cause.
            outcome.rate_limit_remaining = found.remaining;
            if status_ok {
                policy_failure |= !found.failures.is_empty();
                failures.extend(found.failures);
            }
        }
    }
    outcome.passed = failures.is_empty();
    if !outcome.passed {
        outcome.attribution = Some(attribute(&outcome, &exchange, &failures, policy_failure));
    }
    outcome.failures = failures;
    outcome
}

/// Decides where a failed exchange's fault most likely lies, from Kong's latency headers.
fn attribute(
    outcome: &ProbeOutcome,
    exchange: &Exchange,
    failures: &[String],
    policy_failure: bool,
) -> Attribution {
    let via_gateway = outcome.gateway_latency_ms.is_some() || outcome.upstream_latency_ms.is_some();
    let upstream_answered = outcome.upstream_latency_ms.is_some();
    if policy_failure {
        // Auth and rate limiting are the gateway's policy, whoever answered.
        return Attribution::Gateway;
    }
    if failures.iter().all(|f| f.starts_with(LATENCY_PREFIX))
        && let (Some(g), Some(u)) = (outcome.gateway_latency_ms, outcome.upstream_latency_ms)
    {
        return if u >= g {
            Attribution::Upstream
        } else {
            Attribution::Gateway
        };
    }
    let status = exchange.status.as_u16();
    if upstream_answered {
        Attribution::Upstream
    } else if via_gateway && matches!(status, 502..=504) {
        // The gateway answered that it could not get a response from the upstream.
        Attribution::Upstream
    } else if via_gateway {
        Attribution::Gateway
    } else {
        Attribution::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, StatusCode};

    fn spec(auth: Auth, status: u16, check: Check) -> ProbeSpec {
        ProbeSpec {
            name: "p".into(),
            method: Method::GET,
            path: "/".into(),
            auth,
            body: None,
            check,
            assertions: Assertions {
                status: vec![status],
                ..Assertions::default()
            },
            timeout: Duration::from_secs(1),
            retries: 0,
            retry_backoff: Duration::ZERO,
            cert_min_days: 14.0,
        }
    }

    fn exchange(status: u16, headers: &[(&'static str, &'static str)]) -> Exchange {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, HeaderValue::from_static(v));
        }
        Exchange {
            status: StatusCode::from_u16(status).expect("status"),
            headers: map,
            body: Bytes::from_static(b"{}"),
            elapsed: Duration::from_millis(3),
        }
    }

    const PROXIED: [(&str, &str); 2] = [
        ("x-kong-proxy-latency", "2"),
        ("x-kong-upstream-latency", "7"),
    ];

    #[test]
    fn latencies_come_from_kong_headers() {
        let o = evaluate(
            &spec(Auth::Key, 200, Check::Plain),
            None,
            Ok(exchange(200, &PROXIED)),
        );
        assert!(o.passed);
        assert_eq!(
            (o.gateway_latency_ms, o.upstream_latency_ms),
            (Some(2.0), Some(7.0))
        );
        assert_eq!(o.attribution, None);
        let own = exchange(401, &[("x-kong-response-latency", "1")]);
        let o = evaluate(&spec(Auth::None, 401, Check::Plain), None, Ok(own));
        assert_eq!(
            (o.gateway_latency_ms, o.upstream_latency_ms),
            (Some(1.0), None)
        );
        let garbage = exchange(
            200,
            &[
                ("x-kong-proxy-latency", "-3"),
                ("x-kong-upstream-latency", "x"),
            ],
        );
        let o = evaluate(&spec(Auth::Key, 200, Check::Plain), None, Ok(garbage));
        assert_eq!((o.gateway_latency_ms, o.upstream_latency_ms), (None, None));
    }

    #[test]
    fn failures_are_attributed_where_the_headers_allow() {
        let blame = |auth, expected, ex: Exchange| {
            evaluate(&spec(auth, expected, Check::Plain), None, Ok(ex)).attribution
        };
        // The upstream answered wrongly.
        assert_eq!(
            blame(Auth::Key, 200, exchange(500, &PROXIED)),
            Some(Attribution::Upstream)
        );
        // The gateway reports it could not reach the upstream.
        let bad_gateway = exchange(502, &[("x-kong-response-latency", "0")]);
        assert_eq!(
            blame(Auth::Key, 200, bad_gateway),
            Some(Attribution::Upstream)
        );
        // The gateway refused a valid key on its own.
        let refused = exchange(401, &[("x-kong-response-latency", "0")]);
        assert_eq!(blame(Auth::Key, 200, refused), Some(Attribution::Gateway));
        // An auth probe let through is the gateway's fault even though the upstream answered.
        let o = evaluate(
            &spec(Auth::None, 401, Check::Plain),
            None,
            Ok(exchange(200, &PROXIED)),
        );
        assert_eq!(o.attribution, Some(Attribution::Gateway));
        assert!(o.failures.iter().any(|f| f.contains("security regression")));
        // No gateway headers at all: nothing to go on.
        assert_eq!(
            blame(Auth::Key, 200, exchange(500, &[])),
            Some(Attribution::Unknown)
        );
        // Not reaching the target is the gateway's side.
        let o = evaluate(
            &spec(Auth::Key, 200, Check::Plain),
            None,
            Err(HttpError::Connect("refused".into())),
        );
        assert_eq!(o.attribution, Some(Attribution::Gateway));
        assert_eq!(o.latency, None);
    }

    #[test]
    fn a_blown_latency_budget_is_blamed_on_the_larger_share() {
        let mut s = spec(Auth::Key, 200, Check::Plain);
        s.assertions.latency_budget = Some(Duration::from_millis(1));
        let slow_upstream = exchange(
            200,
            &[
                ("x-kong-proxy-latency", "1"),
                ("x-kong-upstream-latency", "900"),
            ],
        );
        assert_eq!(
            evaluate(&s, None, Ok(slow_upstream)).attribution,
            Some(Attribution::Upstream)
        );
        let slow_gateway = exchange(
            200,
            &[
                ("x-kong-proxy-latency", "900"),
                ("x-kong-upstream-latency", "1"),
            ],
        );
        assert_eq!(
            evaluate(&s, None, Ok(slow_gateway)).attribution,
            Some(Attribution::Gateway)
        );
    }

    #[test]
    fn rate_limit_headers_count_only_on_the_expected_status() {
        let check = Check::RateLimit {
            expected_limit: Some(20),
            window: Duration::from_secs(60),
        };
        let limited = exchange(
            429,
            &[
                ("ratelimit-remaining", "0"),
                ("x-kong-response-latency", "0"),
            ],
        );
        let o = evaluate(&spec(Auth::Key, 200, check.clone()), None, Ok(limited));
        assert!(!o.passed);
        assert_eq!(
            o.rate_limit_remaining,
            Some(0),
            "the exhausted quota is still published"
        );
        assert_eq!(o.failures.len(), 1, "only the status: {:?}", o.failures);
        let wrong_limit = exchange(
            200,
            &[
                ("ratelimit-limit", "100"),
                ("ratelimit-remaining", "99"),
                ("ratelimit-reset", "10"),
            ],
        );
        let o = evaluate(&spec(Auth::Key, 200, check), None, Ok(wrong_limit));
        assert_eq!(o.attribution, Some(Attribution::Gateway));
        assert!(
            o.failures[0].contains("RateLimit-Limit is 100"),
            "{:?}",
            o.failures
        );
    }
}
