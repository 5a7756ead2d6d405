//! Generic assertions any probe can carry: status set, JSON field equals/exists, header
//! present/equals/matches, latency budget. [`ExpectSpec`] is what a config file writes;
//! [`Assertions`] is the checked, compiled form that evaluates an [`Exchange`].

use std::collections::BTreeMap;
use std::time::Duration;

use http::HeaderName;
use regex_lite::Regex;
use serde::Deserialize;
use serde_json::Value;

use crate::http_client::Exchange;
use crate::secret::{quoted, redact};

/// The `[probes.expect]` table of a config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectSpec {
    /// Acceptable statuses.
    pub status: Option<Vec<i64>>,
    /// JSON body fields (dotted paths, array indexes as numbers) and their expected values.
    #[serde(default)]
    pub json_equals: BTreeMap<String, toml::Value>,
    /// JSON body fields that must exist.
    #[serde(default)]
    pub json_exists: Vec<String>,
    /// Headers that must be present.
    #[serde(default)]
    pub header_present: Vec<String>,
    /// Headers and their exact expected values.
    #[serde(default)]
    pub header_equals: BTreeMap<String, String>,
    /// Headers and a regular expression their value must match.
    #[serde(default)]
    pub header_matches: BTreeMap<String, String>,
    /// Longest acceptable latency, humantime (`500ms`).
    pub latency_budget: Option<String>,
}

/// Checked assertions.
#[derive(Debug, Clone, Default)]
pub struct Assertions {
    /// Acceptable statuses (empty: any).
    pub status: Vec<u16>,
    /// The media type `Content-Type` must declare (compared without its parameters and
    /// case-insensitively), e.g. `application/json`; the default suite sets it.
    pub media_type: Option<String>,
    /// JSON fields and values.
    pub json_equals: Vec<(String, Value)>,
    /// JSON fields that must exist.
    pub json_exists: Vec<String>,
    /// Headers that must be present.
    pub header_present: Vec<HeaderName>,
    /// Headers with exact values.
    pub header_equals: Vec<(HeaderName, String)>,
    /// Headers with a pattern.
    pub header_matches: Vec<(HeaderName, Regex)>,
    /// Latency budget.
    pub latency_budget: Option<Duration>,
}

/// A field of the spec that is invalid: (field path below `expect`, reason).
pub type SpecError = (String, String);

impl Assertions {
    /// Checks and compiles a config file's `expect` table.
    pub fn compile(spec: &ExpectSpec) -> Result<Self, Vec<SpecError>> {
        let mut errors = Vec::new();
        let mut out = Assertions::default();
        for &code in spec.status.iter().flatten() {
            match u16::try_from(code) {
                Ok(c) if (100..=599).contains(&c) => out.status.push(c),
                _ => errors.push((
                    "status".to_owned(),
                    format!("{code} is not an HTTP status (100-599)"),
                )),
            }
        }
        if spec.status.as_ref().is_some_and(Vec::is_empty) {
            errors.push(("status".into(), "must list at least one status".into()));
        }
        for (path, value) in &spec.json_equals {
            check_path(path, "json_equals", &mut errors);
            match serde_json::to_value(value) {
                Ok(v) => out.json_equals.push((path.clone(), v)),
                Err(e) => errors.push((format!("json_equals.{path}"), e.to_string())),
            }
        }
        for path in &spec.json_exists {
            check_path(path, "json_exists", &mut errors);
            out.json_exists.push(path.clone());
        }
        for name in &spec.header_present {
            if let Some(h) = header_name(name, "header_present", &mut errors) {
                out.header_present.push(h);
            }
        }
        for (name, value) in &spec.header_equals {
            if let Some(h) = header_name(name, "header_equals", &mut errors) {
                out.header_equals.push((h, value.clone()));
            }
        }
        for (name, pattern) in &spec.header_matches {
            let h = header_name(name, "header_matches", &mut errors);
            match Regex::new(pattern) {
                Ok(re) => {
                    if let Some(h) = h {
                        out.header_matches.push((h, re));
                    }
                }
                Err(e) => errors.push((
                    format!("header_matches.{name}"),
                    format!("invalid regular expression: {e}"),
                )),
            }
        }
        if let Some(text) = &spec.latency_budget {
            match humantime::parse_duration(text) {
                Ok(d) if !d.is_zero() => out.latency_budget = Some(d),
                Ok(_) => errors.push(("latency_budget".into(), "must be above zero".into())),
                Err(e) => errors.push((
                    "latency_budget".into(),
                    format!("{text:?} is not a duration such as 500ms: {e}"),
                )),
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    /// Evaluates the assertions; returns one message per failed assertion.
    pub fn check(&self, exchange: &Exchange) -> Vec<String> {
        let mut failures = Vec::new();
        let status = exchange.status.as_u16();
        if !self.status.is_empty() && !self.status.contains(&status) {
            failures.push(format!(
                "status {status}, expected {}",
                self.status
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(" or ")
            ));
        }
        if let Some(expected) = &self.media_type {
            match exchange.headers.get(http::header::CONTENT_TYPE) {
                None => failures.push(format!("no Content-Type header, expected {expected}")),
                Some(v) => match v.to_str() {
                    Ok(text) if media_type(text).eq_ignore_ascii_case(expected) => {}
                    text => failures.push(format!(
                        "Content-Type is {}, expected {expected}",
                        text.map_or("<not text>".to_owned(), quoted)
                    )),
                },
            }
        }
        if !self.json_equals.is_empty() || !self.json_exists.is_empty() {
            match serde_json::from_slice::<Value>(&exchange.body) {
                Err(e) => failures.push(format!("the body is not JSON: {e}")),
                Ok(body) => {
                    for (path, expected) in &self.json_equals {
                        match lookup(&body, path) {
                            None => failures.push(format!("JSON field `{path}` is missing")),
                            Some(actual) if !json_equal(actual, expected) => {
                                failures.push(format!(
                                    "JSON field `{path}` is {}, expected {expected}",
                                    redact(&actual.to_string())
                                ))
                            }
                            Some(_) => {}
                        }
                    }
                    for path in &self.json_exists {
                        if lookup(&body, path).is_none() {
                            failures.push(format!("JSON field `{path}` is missing"));
                        }
                    }
                }
            }
        }
        for name in &self.header_present {
            if !exchange.headers.contains_key(name) {
                failures.push(format!("header `{name}` is missing"));
            }
        }
        for (name, expected) in &self.header_equals {
            match exchange.headers.get(name).map(|v| v.to_str()) {
                None => failures.push(format!("header `{name}` is missing")),
                Some(Ok(v)) if v == expected => {}
                Some(v) => failures.push(format!(
                    "header `{name}` is {}, expected {expected:?}",
                    v.map_or("<not text>".to_owned(), quoted)
                )),
            }
        }
        for (name, re) in &self.header_matches {
            match exchange.headers.get(name).map(|v| v.to_str()) {
                None => failures.push(format!("header `{name}` is missing")),
                Some(Ok(v)) if re.is_match(v) => {}
                Some(v) => failures.push(format!(
                    "header `{name}` is {}, which does not match /{}/",
                    v.map_or("<not text>".to_owned(), quoted),
                    re.as_str()
                )),
            }
        }
        if let Some(budget) = self.latency_budget
            && exchange.elapsed > budget
        {
            failures.push(latency_failure(exchange.elapsed, budget));
        }
        failures
    }
}

/// A `Content-Type` value without its parameters: `application/json; charset=utf-8` is
/// `application/json`.
fn media_type(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or_default().trim()
}

/// The message for a blown latency budget (recognised by the attribution logic by its prefix).
pub fn latency_failure(elapsed: Duration, budget: Duration) -> String {
    format!(
        "{LATENCY_PREFIX} {:.1} ms over the budget of {} ms",
        elapsed.as_secs_f64() * 1000.0,
        budget.as_millis()
    )
}

/// How latency-budget failure messages start.
pub const LATENCY_PREFIX: &str = "latency";

fn check_path(path: &str, field: &str, errors: &mut Vec<SpecError>) {
    if path.is_empty() || path.split('.').any(str::is_empty) {
        errors.push((
            field.to_owned(),
            format!("{path:?} is not a dotted field path such as `checks.database`"),
        ));
    }
}

fn header_name(name: &str, field: &str, errors: &mut Vec<SpecError>) -> Option<HeaderName> {
    match HeaderName::from_bytes(name.as_bytes()) {
        Ok(h) => Some(h),
        Err(_) => {
            errors.push((field.to_owned(), format!("{name:?} is not a header name")));
            None
        }
    }
}

/// Follows a dotted path (`a.b.0.c`) into a JSON value.
pub fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |v, key| match v {
        Value::Object(map) => map.get(key),
        Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

/// JSON equality where numbers compare by value (`200` equals `200.0`).
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::{HeaderMap, HeaderValue, StatusCode};

    fn exchange(status: u16, body: &str, headers: &[(&'static str, &'static str)]) -> Exchange {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, HeaderValue::from_static(v));
        }
        Exchange {
            status: StatusCode::from_u16(status).expect("valid status"),
            headers: map,
            body: Bytes::from(body.to_owned()),
            elapsed: Duration::from_millis(20),
        }
    }

    fn compile(toml_text: &str) -> Result<Assertions, Vec<SpecError>> {
        let spec: ExpectSpec = toml::from_str(toml_text).expect("parses");
        Assertions::compile(&spec)
    }

    #[test]
    fn passing_exchange_has_no_failures() {
        let a = compile(
            r#"
            status = [200, 201]
            json_equals = { status = "healthy", "checks.db" = "ok", "list.1" = 2 }
            json_exists = ["timestamp"]
            header_present = ["x-request-id"]
            header_equals = { "content-type" = "application/json" }
            header_matches = { "x-request-id" = "^[a-z0-9-]+$" }
            latency_budget = "1s"
            "#,
        )
        .expect("valid");
        let ex = exchange(
            200,
            r#"{"status":"healthy","timestamp":"t","checks":{"db":"ok"},"list":[1,2.0]}"#,
            &[
                ("x-request-id", "abc-123"),
                ("content-type", "application/json"),
            ],
        );
        assert_eq!(a.check(&ex), Vec::<String>::new());
    }

    #[test]
    fn each_assertion_reports_its_own_failure() {
        let a = compile(
            r#"
            status = [200]
            json_equals = { status = "healthy" }
            json_exists = ["timestamp"]
            header_present = ["x-request-id"]
            header_equals = { "content-type" = "application/json" }
            header_matches = { "x-trace" = "^[0-9]+$" }
            latency_budget = "10ms"
            "#,
        )
        .expect("valid");
        let ex = exchange(
            503,
            r#"{"status":"unhealthy"}"#,
            &[("content-type", "text/plain"), ("x-trace", "abc")],
        );
        let failures = a.check(&ex);
        assert_eq!(failures.len(), 7, "{failures:#?}");
        assert!(failures[0].contains("status 503, expected 200"));
        assert!(failures.iter().any(|f| f.contains("latency")));
    }

    #[test]
    fn non_json_body_is_a_failure_not_a_panic() {
        let a = compile(r#"json_exists = ["x"]"#).expect("valid");
        let failures = a.check(&exchange(200, "<html>", &[]));
        assert_eq!(failures.len(), 1);
        assert!(failures[0].contains("not JSON"));
    }

    #[test]
    fn invalid_specs_name_their_field() {
        let errors = compile(
            r#"
            status = [0, 700]
            json_exists = ["a..b"]
            header_present = ["bad header"]
            header_matches = { "x" = "(" }
            latency_budget = "soon"
            "#,
        )
        .expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "status",
                "status",
                "json_exists",
                "header_present",
                "header_matches.x",
                "latency_budget"
            ]
        );
        assert!(compile("status = []").is_err());
    }
}
