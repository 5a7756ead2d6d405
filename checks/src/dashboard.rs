//! CloudWatch dashboard bodies (`dashboards/cloudwatch/*.json`, after rendering): the structure
//! PutDashboard accepts (widgets on a 24-column grid, typed properties) and the metrics and
//! links they contain. Grafana dashboards: the PromQL of every panel.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::metric::MetricRef;

/// What a valid CloudWatch dashboard body contains, for further checks.
#[derive(Debug, Default)]
pub struct DashboardContent {
    /// Every metric row of every metric widget (expressions excluded).
    pub metrics: Vec<MetricRef>,
    /// Every Markdown link target of every text widget.
    pub links: Vec<String>,
    /// Every Logs Insights query.
    pub log_queries: Vec<String>,
}

/// Validates a rendered CloudWatch dashboard body and collects its content; the error lists
/// every problem found.
pub fn check_cloudwatch(body: &str) -> Result<DashboardContent, Vec<String>> {
    let root: Value = serde_json::from_str(body).map_err(|e| vec![format!("not JSON: {e}")])?;
    let mut problems = Vec::new();
    let mut content = DashboardContent::default();
    let Some(widgets) = root.get("widgets").and_then(Value::as_array) else {
        return Err(vec!["no `widgets` array".into()]);
    };
    if widgets.is_empty() || widgets.len() > 500 {
        problems.push(format!(
            "{} widgets: a dashboard holds 1 to 500",
            widgets.len()
        ));
    }
    for (i, w) in widgets.iter().enumerate() {
        let at = |msg: String| format!("widget {i}: {msg}");
        let int = |k: &str| w.get(k).and_then(Value::as_i64);
        match (int("x"), int("y"), int("width"), int("height")) {
            (Some(x), Some(y), Some(width), Some(height))
                if (0..24).contains(&x)
                    && y >= 0
                    && (1..=24).contains(&width)
                    && x + width <= 24
                    && (1..=1000).contains(&height) => {}
            _ => problems.push(at(
                "x, y, width, height must place it on the 24-column grid".into(),
            )),
        }
        let Some(props) = w.get("properties").and_then(Value::as_object) else {
            problems.push(at("no `properties` object".into()));
            continue;
        };
        let str_prop = |k: &str| props.get(k).and_then(Value::as_str);
        match w.get("type").and_then(Value::as_str) {
            Some("text") => match str_prop("markdown") {
                Some(md) => content.links.extend(markdown_links(md)),
                None => problems.push(at("text widget without `markdown`".into())),
            },
            Some("metric") => {
                if str_prop("region").is_none_or(str::is_empty) {
                    problems.push(at("metric widget without `region`".into()));
                }
                let Some(rows) = props
                    .get("metrics")
                    .and_then(Value::as_array)
                    .filter(|r| !r.is_empty())
                else {
                    problems.push(at("metric widget without `metrics` rows".into()));
                    continue;
                };
                for (j, row) in rows.iter().enumerate() {
                    match metric_row(row) {
                        Ok(Some(m)) => content.metrics.push(m),
                        Ok(None) => {}
                        Err(e) => problems.push(at(format!("metrics[{j}]: {e}"))),
                    }
                }
            }
            Some("log") => match (str_prop("query"), str_prop("region")) {
                (Some(q), Some(_)) if q.contains("SOURCE '") => {
                    content.log_queries.push(q.to_string())
                }
                _ => problems.push(at(
                    "log widget needs `region` and a `query` starting from SOURCE '<log group>'"
                        .into(),
                )),
            },
            Some("alarm") => {}
            other => problems.push(at(format!("unknown widget type {other:?}"))),
        }
    }
    if problems.is_empty() {
        Ok(content)
    } else {
        Err(problems)
    }
}

/// One row of a metric widget: `[namespace, name, dim, value, ..., {options}?]`, or
/// `[{expression, id, ...}]` (returns `None`).
fn metric_row(row: &Value) -> Result<Option<MetricRef>, String> {
    let items = row.as_array().ok_or("a row must be an array")?;
    let (options, strings) = match items.last() {
        Some(Value::Object(o)) => (Some(o), &items[..items.len() - 1]),
        _ => (None, &items[..]),
    };
    if strings.is_empty() {
        return match options
            .and_then(|o| o.get("expression"))
            .and_then(Value::as_str)
        {
            Some(e) if !e.trim().is_empty() => Ok(None),
            _ => Err("a row without a metric must hold an `expression`".into()),
        };
    }
    let strings: Vec<&str> = strings
        .iter()
        .map(|v| {
            v.as_str()
                .ok_or("metric rows hold strings (the `...` shorthand is not used here)")
        })
        .collect::<Result<_, _>>()?;
    if strings.len() < 2
        || !strings.len().is_multiple_of(2)
        || strings.contains(&"...")
        || strings.contains(&".")
    {
        return Err(format!(
            "expected namespace, name, then dimension name/value pairs, got {strings:?}"
        ));
    }
    let mut dimensions = BTreeMap::new();
    for pair in strings[2..].chunks(2) {
        if dimensions
            .insert(pair[0].to_string(), pair[1].to_string())
            .is_some()
        {
            return Err(format!("dimension {} given twice", pair[0]));
        }
    }
    Ok(Some(MetricRef {
        namespace: strings[0].to_string(),
        name: strings[1].to_string(),
        dimensions,
    }))
}

/// Targets of Markdown links `[text](target)`.
pub fn markdown_links(markdown: &str) -> Vec<String> {
    markdown
        .split("](")
        .skip(1)
        .filter_map(|rest| rest.split_once(')').map(|(target, _)| target.to_string()))
        .collect()
}

/// Every PromQL expression of a Grafana dashboard (panels, nested rows, template variables).
pub fn grafana_queries(dashboard: &Value) -> Vec<String> {
    let mut out = Vec::new();
    collect_strings(dashboard, &["expr", "definition"], &mut out);
    out
}

fn collect_strings(v: &Value, keys: &[&str], out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                match child {
                    Value::String(s) if keys.contains(&k.as_str()) => out.push(s.clone()),
                    _ => collect_strings(child, keys, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|c| collect_strings(c, keys, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(widget: &str) -> String {
        format!(r#"{{"widgets": [{widget}]}}"#)
    }

    #[test]
    fn collects_metrics_links_and_queries() {
        let content = check_cloudwatch(
            r#"{"widgets": [
              {"type": "metric", "x": 0, "y": 0, "width": 12, "height": 6, "properties": {"region": "eu-west-1",
                "metrics": [["AWS/ECS", "CPUUtilization", "ClusterName", "c", "ServiceName", "s", {"stat": "Average"}],
                            [{"expression": "m1 * 2", "id": "e1"}]]}},
              {"type": "text", "x": 0, "y": 6, "width": 24, "height": 2, "properties": {"markdown": "[a](https://x/a.md) and [b](https://x/b.md)"}},
              {"type": "log", "x": 0, "y": 8, "width": 24, "height": 6, "properties": {"region": "r", "query": "SOURCE '/g' | limit 5"}}
            ]}"#
        )
        .expect("valid body");
        assert_eq!(content.metrics.len(), 1);
        assert_eq!(content.metrics[0].dimensions["ServiceName"], "s");
        assert_eq!(content.links, vec!["https://x/a.md", "https://x/b.md"]);
        assert_eq!(content.log_queries.len(), 1);
    }

    #[test]
    fn rejects_malformed_bodies_with_reasons() {
        assert!(check_cloudwatch("not json").is_err());
        assert!(check_cloudwatch("{}").is_err());
        assert!(check_cloudwatch(r#"{"widgets": []}"#).is_err());
        let off_grid = body(
            r#"{"type": "text", "x": 20, "y": 0, "width": 12, "height": 2, "properties": {"markdown": "x"}}"#,
        );
        assert!(check_cloudwatch(&off_grid).is_err());
        let shorthand = body(
            r#"{"type": "metric", "x": 0, "y": 0, "width": 6, "height": 6, "properties": {"region": "r", "metrics": [["...", "X"]]}}"#,
        );
        let errors = check_cloudwatch(&shorthand).expect_err("shorthand rows are rejected");
        assert!(errors[0].contains("metrics[0]"), "{errors:?}");
        let odd = body(
            r#"{"type": "metric", "x": 0, "y": 0, "width": 6, "height": 6, "properties": {"region": "r", "metrics": [["NS", "M", "Dim"]]}}"#,
        );
        assert!(check_cloudwatch(&odd).is_err());
        let no_region = body(
            r#"{"type": "metric", "x": 0, "y": 0, "width": 6, "height": 6, "properties": {"metrics": [["NS", "M"]]}}"#,
        );
        assert!(check_cloudwatch(&no_region).is_err());
        let unknown =
            body(r#"{"type": "video", "x": 0, "y": 0, "width": 6, "height": 6, "properties": {}}"#);
        assert!(check_cloudwatch(&unknown).is_err());
    }

    #[test]
    fn grafana_queries_are_found_anywhere() {
        let d: Value = serde_json::from_str(
            r#"{"panels": [{"targets": [{"expr": "up"}]}, {"panels": [{"targets": [{"expr": "x"}]}]}],
                "templating": {"list": [{"definition": "label_values(up, instance)"}]}}"#,
        )
        .expect("json");
        assert_eq!(grafana_queries(&d).len(), 3);
    }
}
