//! The `[[probes]]` tables of a config file, checked and turned into [`ProbeSpec`]s. A probe
//! leaves out what it does not need: its `kind` (`http`, `sum`, `rate_limit`) supplies the
//! method, path, key use and expected status of the default suite's probe of that kind.

use std::time::Duration;

use http::Method;
use serde::Deserialize;

use crate::assertions::{Assertions, ExpectSpec};
use crate::probe::{Auth, Check, ProbeSpec};
use crate::validation::{Errors, dimension_safe, duration, integer};

/// Settings every probe inherits unless it sets its own.
#[derive(Debug, Clone)]
pub struct ProbeDefaults {
    /// Timeout of one attempt.
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub retries: u32,
    /// Backoff before the first retry.
    pub retry_backoff: Duration,
    /// The canary consumer's rate limit, if stated.
    pub rate_limit: Option<u64>,
    /// The most restrictive rate-limit window.
    pub rate_limit_window: Duration,
    /// Fewest days an HTTPS target's certificate must have left.
    pub cert_min_days: f64,
}

/// One `[[probes]]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeFile {
    /// The `Probe` dimension: letters, digits, `_`, `.`, `-`. Required; optional here so that a
    /// probe without one is reported by index like any other invalid field.
    pub name: Option<String>,
    /// `http` (default), `sum` or `rate_limit`.
    pub kind: Option<String>,
    /// HTTP method.
    pub method: Option<String>,
    /// Path below the target, starting with `/`.
    pub path: Option<String>,
    /// `key`, `none` or `bad_key`.
    pub auth: Option<String>,
    /// JSON body (a TOML table or array).
    pub body: Option<toml::Value>,
    /// Timeout of one attempt.
    pub timeout: Option<String>,
    /// Retries.
    pub retries: Option<i64>,
    /// Backoff before the first retry.
    pub retry_backoff: Option<String>,
    /// Fewest days an HTTPS target's certificate must have left for this probe.
    pub cert_min_days: Option<f64>,
    /// `sum` probes: fewest numbers per request (≥ 2).
    pub min_numbers: Option<i64>,
    /// `sum` probes: most numbers per request (≤ 100).
    pub max_numbers: Option<i64>,
    /// Assertions.
    pub expect: Option<ExpectSpec>,
}

/// Checks every probe table; errors are named `probes[i].field`.
pub(crate) fn probes_from_file(
    list: &[ProbeFile],
    defaults: &ProbeDefaults,
    errors: &mut Errors,
) -> Vec<ProbeSpec> {
    if list.is_empty() {
        errors.push("probes", "is empty; leave it out to run the default suite");
    }
    if list.len() > 50 {
        errors.push(
            "probes",
            format!("{} probes; at most 50 per run", list.len()),
        );
    }
    let mut out = Vec::new();
    for (i, p) in list.iter().enumerate() {
        let at = |field: &str| format!("probes[{i}].{field}");
        let name = p.name.as_deref().unwrap_or_default();
        if p.name.is_none() {
            errors.push(
                at("name"),
                "missing: every probe needs a name (its `Probe` dimension)",
            );
        } else if !dimension_safe(name) {
            errors.push(
                at("name"),
                format!("{name:?} must be 1-255 characters of A-Z a-z 0-9 _ . -"),
            );
        }
        if p.name.is_some() && list[..i].iter().any(|q| q.name == p.name) {
            errors.push(at("name"), format!("{name:?} is used by an earlier probe"));
        }
        let kind = p.kind.as_deref().unwrap_or("http");
        let (check, method, path, auth, status) = match kind {
            "http" => (Check::Plain, "GET", None, "none", None),
            "sum" => {
                let min = p
                    .min_numbers
                    .and_then(|v| integer(&at("min_numbers"), v, 2..=100, errors))
                    .unwrap_or(3);
                let max = p
                    .max_numbers
                    .and_then(|v| integer(&at("max_numbers"), v, 2..=100, errors))
                    .unwrap_or(10);
                if min > max {
                    errors.push(
                        at("min_numbers"),
                        format!("{min} is above max_numbers {max}"),
                    );
                }
                let check = Check::Sum {
                    min_numbers: min as usize,
                    max_numbers: max as usize,
                };
                (check, "POST", Some("/api/v1/sum"), "key", Some(200))
            }
            "rate_limit" => {
                let check = Check::RateLimit {
                    expected_limit: defaults.rate_limit,
                    window: defaults.rate_limit_window,
                };
                (check, "GET", Some("/api/v1/sum"), "key", Some(200))
            }
            other => {
                errors.push(
                    at("kind"),
                    format!("unknown kind {other:?}; use http, sum or rate_limit"),
                );
                (Check::Plain, "GET", None, "none", None)
            }
        };
        if kind != "sum" && (p.min_numbers.is_some() || p.max_numbers.is_some()) {
            errors.push(
                at("min_numbers"),
                "only `sum` probes take min_numbers/max_numbers",
            );
        }
        if kind == "sum" && p.body.is_some() {
            errors.push(at("body"), "a `sum` probe generates its own random body");
        }
        let method_text = p.method.as_deref().unwrap_or(method);
        let method = match method_text.to_ascii_uppercase().as_str() {
            "GET" => Method::GET,
            "POST" => Method::POST,
            "PUT" => Method::PUT,
            "HEAD" => Method::HEAD,
            "DELETE" => Method::DELETE,
            "PATCH" => Method::PATCH,
            "OPTIONS" => Method::OPTIONS,
            _ => {
                errors.push(
                    at("method"),
                    format!("{method_text:?} is not an HTTP method"),
                );
                Method::GET
            }
        };
        let path = match p.path.as_deref().or(path) {
            None => {
                errors.push(
                    at("path"),
                    "missing: an `http` probe needs a path such as /healthz",
                );
                String::new()
            }
            Some(path) => {
                let valid = path.starts_with('/')
                    && path.len() <= 2048
                    && format!("http://h{path}").parse::<http::Uri>().is_ok();
                if !valid {
                    errors.push(
                        at("path"),
                        format!("{path:?} is not a path starting with /"),
                    );
                }
                path.to_owned()
            }
        };
        let auth = match p.auth.as_deref().unwrap_or(auth) {
            "key" => Auth::Key,
            "none" => Auth::None,
            "bad_key" => Auth::BadKey,
            other => {
                errors.push(at("auth"), format!("{other:?} is not key, none or bad_key"));
                Auth::None
            }
        };
        let body = p.body.as_ref().and_then(|b| match serde_json::to_value(b) {
            Ok(v) => Some(v),
            Err(e) => {
                errors.push(at("body"), e.to_string());
                None
            }
        });
        let mut assertions = match p.expect.as_ref().map(Assertions::compile) {
            None => Assertions::default(),
            Some(Ok(a)) => a,
            Some(Err(list)) => {
                for (field, message) in list {
                    errors.push(at(&format!("expect.{field}")), message);
                }
                Assertions::default()
            }
        };
        if assertions.status.is_empty() {
            assertions.status = match (status, auth) {
                (Some(s), _) => vec![s],
                (None, Auth::Key | Auth::None) => vec![200],
                (None, Auth::BadKey) => vec![401],
            };
        }
        let timeout = p
            .timeout
            .as_deref()
            .and_then(|t| duration(&at("timeout"), t, false, errors))
            .unwrap_or(defaults.timeout);
        let retries = p
            .retries
            .and_then(|v| integer(&at("retries"), v, 0..=10, errors))
            .map_or(defaults.retries, |v| v as u32);
        let retry_backoff = p
            .retry_backoff
            .as_deref()
            .and_then(|t| duration(&at("retry_backoff"), t, true, errors))
            .unwrap_or(defaults.retry_backoff);
        let min_days = p
            .cert_min_days
            .and_then(|v| cert_min_days(&at("cert_min_days"), v, errors))
            .unwrap_or(defaults.cert_min_days);
        out.push(ProbeSpec {
            name: name.to_owned(),
            method,
            path,
            auth,
            body,
            check,
            assertions,
            timeout,
            retries,
            retry_backoff,
            cert_min_days: min_days,
        });
    }
    out
}

/// Checks a `cert_min_days` value: a finite number of days from 0 to
/// [`MAX_MIN_DAYS`](crate::certificate::MAX_MIN_DAYS).
pub(crate) fn cert_min_days(field: &str, value: f64, errors: &mut Errors) -> Option<f64> {
    use crate::certificate::MAX_MIN_DAYS;
    if value.is_finite() && (0.0..=MAX_MIN_DAYS).contains(&value) {
        Some(value)
    } else {
        errors.push(
            field,
            format!("{value} is not a number of days from 0 to {MAX_MIN_DAYS}"),
        );
        None
    }
}

/// Most names `--probes` takes: a suite holds at most 50 probes.
const MAX_SELECTED: usize = 50;

/// The probes of `suite` named by `--probes`, in the suite's order. An unknown, empty or repeated
/// name is an error naming it, and an unknown one lists the suite's probes.
pub(crate) fn select_probes(
    suite: Vec<ProbeSpec>,
    names: &[String],
    errors: &mut Errors,
) -> Vec<ProbeSpec> {
    const FIELD: &str = "probe_names";
    let known: Vec<&str> = suite.iter().map(|p| p.name.as_str()).collect();
    if names.len() > MAX_SELECTED {
        errors.push(
            FIELD,
            format!("{} names; a suite has at most {MAX_SELECTED}", names.len()),
        );
        return suite;
    }
    let mut wanted: Vec<&str> = Vec::new();
    for name in names.iter().map(|n| n.trim()) {
        if name.is_empty() {
            errors.push(
                FIELD,
                "has an empty name; give probe names separated by commas, such as health,sum",
            );
        } else if wanted.contains(&name) {
            errors.push(FIELD, format!("{name:?} is listed twice"));
        } else if !known.contains(&name) {
            errors.push(
                FIELD,
                format!(
                    "unknown probe {:?}; the suite's probes are {}",
                    crate::region::shorten(name),
                    known.join(", ")
                ),
            );
        } else {
            wanted.push(name);
        }
    }
    suite
        .into_iter()
        .filter(|p| wanted.contains(&p.name.as_str()))
        .collect()
}
