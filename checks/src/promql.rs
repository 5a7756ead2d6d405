//! Prometheus side: the alerting rules file (`alarms/prometheus/*.rules.yml`) and the metric
//! selectors inside PromQL, so that rules and the Grafana dashboard can be checked against the
//! metric names the service exports and the scrape job name.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A Prometheus rules file.
#[derive(Debug, Deserialize)]
pub struct RulesFile {
    /// Rule groups.
    pub groups: Vec<RuleGroup>,
}

/// One rule group.
#[derive(Debug, Deserialize)]
pub struct RuleGroup {
    /// Group name.
    pub name: String,
    /// Its rules.
    pub rules: Vec<Rule>,
}

/// An alerting (or recording) rule.
#[derive(Debug, Deserialize)]
pub struct Rule {
    /// Alert name (absent for recording rules).
    pub alert: Option<String>,
    /// Recording rule name.
    pub record: Option<String>,
    /// PromQL.
    pub expr: String,
    /// Labels, e.g. severity.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Annotations, e.g. runbook_url.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// Parses a rules file.
pub fn parse_rules(yaml: &str) -> Result<RulesFile, serde_norway::Error> {
    serde_norway::from_str(yaml)
}

/// Metric names used as selectors in a PromQL expression: identifiers directly followed by a
/// `{` label matcher or a `[` range, and bare identifiers starting with `prefix`.
pub fn selectors(expr: &str, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    let mut in_string: Option<u8> = None;
    while i < bytes.len() {
        let c = bytes[i];
        if let Some(q) = in_string {
            if c == b'\\' {
                i += 2;
                continue;
            }
            if c == q {
                in_string = None;
            }
            i += 1;
            continue;
        }
        if c == b'"' || c == b'\'' || c == b'`' {
            in_string = Some(c);
            i += 1;
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' || c == b':' {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b':')
            {
                i += 1;
            }
            let ident = &expr[start..i];
            let next = expr[i..].trim_start().as_bytes().first().copied();
            if next == Some(b'{') || next == Some(b'[') || ident.starts_with(prefix) {
                out.push(ident.to_string());
            }
            continue;
        }
        i += 1;
    }
    out
}

/// Values of every `job` label matcher (`job="x"`, `job=~"x"`) in a PromQL expression.
pub fn job_matchers(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(pos) = rest.find("job") {
        let before_ok = pos == 0
            || !rest.as_bytes()[pos - 1].is_ascii_alphanumeric()
                && rest.as_bytes()[pos - 1] != b'_';
        let after = rest[pos + 3..].trim_start();
        rest = &rest[pos + 3..];
        if !before_ok {
            continue;
        }
        let Some(after) = after.strip_prefix("=~").or_else(|| after.strip_prefix('=')) else {
            continue;
        };
        if let Some(value) = after
            .trim_start()
            .strip_prefix('"')
            .and_then(|v| v.split_once('"'))
            .map(|(v, _)| v)
        {
            out.push(value.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_selectors_not_functions_or_labels() {
        let expr = r#"histogram_quantile(0.99, sum by (le) (rate(sumapi_http_request_duration_seconds_bucket{job="sum-api", route="/x"}[5m]))) > 0.5 and on() absent(up{job="sum-api"}) or sumapi_ready == 0"#;
        assert_eq!(
            selectors(expr, "sumapi_"),
            vec![
                "sumapi_http_request_duration_seconds_bucket",
                "up",
                "sumapi_ready"
            ]
        );
    }

    #[test]
    fn strings_are_not_selectors() {
        assert_eq!(
            selectors(r#"up{route="sumapi_fake{"}"#, "sumapi_"),
            vec!["up"]
        );
        assert!(selectors("label_values(up, instance)", "sumapi_").is_empty());
        assert_eq!(
            selectors("absent(sumapi_ready)", "sumapi_"),
            vec!["sumapi_ready"]
        );
    }

    #[test]
    fn job_matchers_are_extracted() {
        assert_eq!(
            job_matchers(r#"up{job="sum-api"} + x{job =~ "other", myjob="no"}"#),
            vec!["sum-api", "other"]
        );
    }
}
