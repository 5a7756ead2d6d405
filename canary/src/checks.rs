//! The probe-specific checks of the default suite, beyond the generic assertions: the `sum`
//! probe's fresh random numbers and its locally computed expected answer, and the consistency of
//! the gateway's rate-limit headers.

use std::time::Duration;

use rand::Rng;
use serde_json::{Value, json};

use crate::exact_sum::correctly_rounded_sum;
use crate::http_client::Exchange;
use crate::secret::quoted;

/// The gateway's rate-limit header for the most restrictive window's limit.
pub const RATELIMIT_LIMIT: &str = "ratelimit-limit";
/// Remaining requests in the most restrictive window.
pub const RATELIMIT_REMAINING: &str = "ratelimit-remaining";
/// Seconds until the most restrictive window resets.
pub const RATELIMIT_RESET: &str = "ratelimit-reset";

/// A sum request body and the answer the service must give.
#[derive(Debug, Clone, PartialEq)]
pub struct SumCase {
    /// The numbers sent.
    pub numbers: Vec<f64>,
    /// Their correctly rounded sum.
    pub expected: f64,
}

impl SumCase {
    /// A fresh random case of `min..=max` numbers (2 ≤ min ≤ max ≤ 100, checked by the config).
    ///
    /// Beside small decimal fractions it usually carries a large number and its negation, so a
    /// service that summed naively (losing the fractions against the large term) fails the probe.
    pub fn random(rng: &mut impl Rng, min: usize, max: usize) -> Self {
        let n = rng.random_range(min..=max.max(min));
        let mut numbers = Vec::with_capacity(n);
        let big = n >= 3;
        let big_value = rng.random_range(1e15_f64..1e17).round();
        if big {
            numbers.push(big_value);
        }
        let smalls = if big { n - 2 } else { n };
        for _ in 0..smalls {
            numbers.push(f64::from(rng.random_range(-100_000_i32..=100_000)) / 100.0);
        }
        if big {
            numbers.push(-big_value);
        }
        let expected = correctly_rounded_sum(&numbers)
            .expect("bounded finite inputs cannot overflow a 64-bit float");
        SumCase { numbers, expected }
    }

    /// The request body.
    pub fn body(&self) -> Value {
        json!({ "numbers": self.numbers })
    }

    /// Checks the service's answer: `sum` equals the expected value and `count` is right.
    pub fn check(&self, exchange: &Exchange) -> Vec<String> {
        let body: Value = match serde_json::from_slice(&exchange.body) {
            Ok(v) => v,
            Err(e) => return vec![format!("the sum response is not JSON: {e}")],
        };
        let mut failures = Vec::new();
        match body.get("sum").and_then(Value::as_f64) {
            Some(sum) if sum == self.expected => {}
            Some(sum) => failures.push(format!(
                "wrong sum: got {sum:?}, the correctly rounded sum is {:?}",
                self.expected
            )),
            None => failures.push("the response has no numeric `sum`".to_owned()),
        }
        match body.get("count").and_then(Value::as_u64) {
            Some(c) if c == self.numbers.len() as u64 => {}
            Some(c) => failures.push(format!(
                "wrong count: got {c}, sent {} numbers",
                self.numbers.len()
            )),
            None => failures.push("the response has no integer `count`".to_owned()),
        }
        failures
    }
}

/// What a rate-limit check found: failures, and the remaining quota when it could be read.
#[derive(Debug, Default, PartialEq)]
pub struct RateLimitFinding {
    /// Failed consistency checks.
    pub failures: Vec<String>,
    /// `RateLimit-Remaining`, when present and numeric.
    pub remaining: Option<u64>,
}

/// Checks `RateLimit-Limit`/`-Remaining`/`-Reset`: present, numeric, `0 ≤ Remaining ≤ Limit`,
/// `1 ≤ Reset ≤ window`, and `Limit` = `expected_limit` when one is configured.
pub fn check_rate_limit(
    exchange: &Exchange,
    expected_limit: Option<u64>,
    window: Duration,
) -> RateLimitFinding {
    let mut finding = RateLimitFinding::default();
    let mut read = |name: &str| -> Option<u64> {
        match exchange.header(name) {
            None => {
                finding
                    .failures
                    .push(format!("rate-limit header `{name}` is missing"));
                None
            }
            Some(v) => match v.trim().parse::<u64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    finding.failures.push(format!(
                        "rate-limit header `{name}` is {}, not a non-negative integer",
                        quoted(v)
                    ));
                    None
                }
            },
        }
    };
    let limit = read(RATELIMIT_LIMIT);
    let remaining = read(RATELIMIT_REMAINING);
    let reset = read(RATELIMIT_RESET);
    finding.remaining = remaining;
    if let (Some(limit), Some(expected)) = (limit, expected_limit)
        && limit != expected
    {
        finding.failures.push(format!(
            "RateLimit-Limit is {limit}, the canary consumer's configured limit is {expected}"
        ));
    }
    if let (Some(limit), Some(remaining)) = (limit, remaining)
        && remaining > limit
    {
        finding.failures.push(format!(
            "RateLimit-Remaining {remaining} exceeds RateLimit-Limit {limit}"
        ));
    }
    if let Some(reset) = reset
        && (reset < 1 || reset > window.as_secs())
    {
        finding.failures.push(format!(
            "RateLimit-Reset {reset} is outside 1..={} seconds",
            window.as_secs()
        ));
    }
    finding
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::{HeaderMap, HeaderValue, StatusCode};
    use rand::SeedableRng;

    fn exchange(body: &str, headers: &[(&'static str, &'static str)]) -> Exchange {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, HeaderValue::from_static(v));
        }
        Exchange {
            status: StatusCode::OK,
            headers: map,
            body: Bytes::from(body.to_owned()),
            elapsed: Duration::from_millis(1),
        }
    }

    #[test]
    fn random_cases_are_fresh_bounded_and_exact() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let a = SumCase::random(&mut rng, 3, 10);
        let b = SumCase::random(&mut rng, 3, 10);
        assert_ne!(a.numbers, b.numbers);
        for case in [&a, &b] {
            assert!((3..=10).contains(&case.numbers.len()));
            let naive: f64 = case.numbers.iter().sum();
            let exact = correctly_rounded_sum(&case.numbers).expect("finite");
            assert_eq!(case.expected, exact);
            // The big pair cancels, so the exact answer is the sum of the small fractions.
            assert!(case.expected.abs() <= 100_000.0, "{naive} {exact}");
        }
        let two = SumCase::random(&mut rng, 2, 2);
        assert_eq!(two.numbers.len(), 2);
    }

    #[test]
    fn sum_answers_are_checked() {
        let case = SumCase {
            numbers: vec![1e16, 1.0, -1e16],
            expected: 1.0,
        };
        assert!(
            case.check(&exchange(r#"{"sum":1,"count":3}"#, &[]))
                .is_empty()
        );
        assert!(
            case.check(&exchange(r#"{"sum":1.0,"count":3}"#, &[]))
                .is_empty()
        );
        let wrong = case.check(&exchange(r#"{"sum":0,"count":2}"#, &[]));
        assert_eq!(wrong.len(), 2, "{wrong:?}");
        assert!(wrong[0].contains("wrong sum"));
        assert_eq!(case.check(&exchange("nope", &[])).len(), 1);
        assert_eq!(case.check(&exchange(r#"{"sum":"1"}"#, &[])).len(), 2);
    }

    #[test]
    fn rate_limit_headers_are_checked() {
        let ok = exchange(
            "",
            &[
                ("ratelimit-limit", "60"),
                ("ratelimit-remaining", "59"),
                ("ratelimit-reset", "30"),
            ],
        );
        let window = Duration::from_secs(60);
        let found = check_rate_limit(&ok, Some(60), window);
        assert_eq!(found.failures, Vec::<String>::new());
        assert_eq!(found.remaining, Some(59));
        assert_eq!(check_rate_limit(&ok, Some(100), window).failures.len(), 1);
        assert!(check_rate_limit(&ok, None, window).failures.is_empty());

        let bad = exchange(
            "",
            &[
                ("ratelimit-limit", "10"),
                ("ratelimit-remaining", "11"),
                ("ratelimit-reset", "0"),
            ],
        );
        assert_eq!(check_rate_limit(&bad, None, window).failures.len(), 2);
        let missing = check_rate_limit(&exchange("", &[]), None, window);
        assert_eq!(missing.failures.len(), 3);
        assert_eq!(missing.remaining, None);
        let garbage = exchange(
            "",
            &[
                ("ratelimit-limit", "-1"),
                ("ratelimit-remaining", "x"),
                ("ratelimit-reset", "9999999999999999999999"),
            ],
        );
        assert_eq!(check_rate_limit(&garbage, None, window).failures.len(), 3);
    }
}
