//! Where an SLO's events are counted: a Prometheus series selector, or CloudWatch metrics (one
//! metric, or several and the metric-math expression over them, OpenSLO's `json` form), read
//! from a document's `metricSource` and checked field by field.

use serde::Deserialize;

use crate::spec::{MetricSource, MetricSourceHolder};

/// Which system holds an SLI's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The service's own metrics, scraped by Prometheus.
    Prometheus,
    /// CloudWatch (the ALB's metrics, the canary's).
    CloudWatch,
}

/// Where events are counted.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A Prometheus series selector: a metric name and label matchers.
    Prometheus(Selector),
    /// CloudWatch: one metric, or several combined by a metric-math expression.
    CloudWatch(CloudWatchQuery),
}

impl Source {
    /// The source's system.
    pub fn backend(&self) -> Backend {
        match self {
            Self::Prometheus(_) => Backend::Prometheus,
            Self::CloudWatch(_) => Backend::CloudWatch,
        }
    }
}

/// `name{label="value", …}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// The metric name (for a threshold SLI, a histogram's base name).
    pub metric: String,
    /// The label matchers, as written: (label, operator, value without quotes).
    pub matchers: Vec<(String, String, String)>,
}

impl Selector {
    /// The selector as PromQL, for metric `metric` with `extra` matchers appended.
    pub fn render(&self, metric: &str, extra: &[(&str, &str, &str)]) -> String {
        let matchers: Vec<String> = self
            .matchers
            .iter()
            .map(|(l, o, v)| (l.as_str(), o.as_str(), v.as_str()))
            .chain(extra.iter().copied())
            .map(|(l, o, v)| format!("{l}{o}\"{v}\""))
            .collect();
        if matchers.is_empty() {
            metric.to_owned()
        } else {
            format!("{metric}{{{}}}", matchers.join(", "))
        }
    }
}

/// Events counted in CloudWatch: one metric (OpenSLO's `namespace`, `metricName`, `stat`,
/// `dimensions`), or several metrics and the expression over their ids that counts the events
/// (OpenSLO's `json`: a MetricDataQuery list whose one returned query is the expression).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudWatchQuery {
    /// The metrics, each with the id the expression names it by (`None` for the one metric of
    /// the single-metric form, which needs no id).
    pub metrics: Vec<(Option<String>, CloudWatchMetric)>,
    /// The expression over the metrics' ids; `None` in the single-metric form.
    pub expression: Option<String>,
}

impl CloudWatchQuery {
    /// The single-metric form's metric.
    pub fn single(&self) -> Option<&CloudWatchMetric> {
        match self.metrics.as_slice() {
            [(None, metric)] if self.expression.is_none() => Some(metric),
            _ => None,
        }
    }
}

/// One CloudWatch metric with its dimensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudWatchMetric {
    /// The namespace (`AWS/ApplicationELB`, the canary's `${canary_namespace}`).
    pub namespace: String,
    /// The metric name.
    pub metric_name: String,
    /// The statistic (`Sum`, `SampleCount`, …); none for a threshold SLI, whose statistic is
    /// the percentile rank of the bound.
    pub stat: Option<String>,
    /// (name, value) pairs; values may hold Terraform template variables.
    pub dimensions: Vec<(String, String)>,
}

/// Reads one metric source at `field`; `threshold`: it is a distribution (no statistic).
pub(crate) fn read(
    holder: &MetricSourceHolder,
    field: &str,
    threshold: bool,
    fail: &mut dyn FnMut(&str, String),
) -> Option<Source> {
    let MetricSource { kind, spec } = &holder.metric_source;
    let field = format!("{field}.metricSource");
    let text = |key: &str, fail: &mut dyn FnMut(&str, String)| -> Option<String> {
        match spec.get(key) {
            Some(serde_norway::Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
            Some(_) => {
                fail(
                    &format!("{field}.spec.{key}"),
                    "must be a non-empty string".into(),
                );
                None
            }
            None => {
                fail(&format!("{field}.spec.{key}"), "missing".into());
                None
            }
        }
    };
    let unknown = |allowed: &[&str], fail: &mut dyn FnMut(&str, String)| {
        for key in spec.keys() {
            if !allowed.contains(&key.as_str()) {
                fail(
                    &format!("{field}.spec.{key}"),
                    format!("unknown field, expected one of: {}", allowed.join(", ")),
                );
            }
        }
    };
    match kind.as_str() {
        "Prometheus" => {
            unknown(&["query"], fail);
            let query = text("query", fail)?;
            match parse_selector(&query) {
                Ok(selector) => Some(Source::Prometheus(selector)),
                Err(message) => {
                    fail(&format!("{field}.spec.query"), message);
                    None
                }
            }
        }
        "CloudWatch" if spec.contains_key("json") => {
            unknown(&["json"], fail);
            if threshold {
                fail(
                    &format!("{field}.spec.json"),
                    "a thresholdMetric takes one metric (namespace, metricName, dimensions), not a query".into(),
                );
                return None;
            }
            let json = text("json", fail)?;
            match parse_queries(&json) {
                Ok(query) => Some(Source::CloudWatch(query)),
                Err(message) => {
                    fail(&format!("{field}.spec.json"), message);
                    None
                }
            }
        }
        "CloudWatch" => {
            unknown(
                &["namespace", "metricName", "stat", "dimensions", "json"],
                fail,
            );
            let namespace = text("namespace", fail);
            let metric_name = text("metricName", fail);
            let stat = if threshold {
                if spec.contains_key("stat") {
                    fail(
                        &format!("{field}.spec.stat"),
                        "a thresholdMetric has no stat: the percentile rank of the objective's value is used".into(),
                    );
                }
                None
            } else {
                text("stat", fail)
            };
            let dimensions = match spec.get("dimensions") {
                None => Some(Vec::new()),
                Some(value) => match serde_norway::from_value::<Vec<Dimension>>(value.clone()) {
                    Ok(dims) => Some(dims.into_iter().map(|d| (d.name, d.value)).collect()),
                    Err(e) => {
                        fail(
                            &format!("{field}.spec.dimensions"),
                            format!("must be a list of {{name, value}}: {e}"),
                        );
                        None
                    }
                },
            };
            if !threshold && stat.is_none() {
                return None;
            }
            let metric = CloudWatchMetric {
                namespace: namespace?,
                metric_name: metric_name?,
                stat,
                dimensions: dimensions?,
            };
            Some(Source::CloudWatch(CloudWatchQuery {
                metrics: vec![(None, metric)],
                expression: None,
            }))
        }
        other => {
            fail(
                &format!("{field}.type"),
                format!("{other:?} is not supported: Prometheus or CloudWatch"),
            );
            None
        }
    }
}

/// Ids the generators give their own queries; a source's ids must differ from them.
pub const RESERVED_IDS: [&str; 4] = ["counted", "total", "within", "bad_ratio"];

/// One MetricDataQuery of OpenSLO's CloudWatch `json` form (AWS's field names).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct DataQuery {
    id: String,
    #[serde(default)]
    expression: Option<String>,
    #[serde(default)]
    metric_stat: Option<DataMetricStat>,
    #[serde(default)]
    return_data: Option<bool>,
    #[serde(default)]
    label: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct DataMetricStat {
    metric: DataMetric,
    stat: String,
    #[serde(default)]
    period: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct DataMetric {
    namespace: String,
    metric_name: String,
    #[serde(default)]
    dimensions: Vec<DataDimension>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct DataDimension {
    name: String,
    value: String,
}

/// OpenSLO's CloudWatch `json`: metric queries (not returned) and one returned expression over
/// their ids. The period is the generators' (each window's), so none may be given.
fn parse_queries(json: &str) -> Result<CloudWatchQuery, String> {
    let queries: Vec<DataQuery> =
        serde_json::from_str(json).map_err(|e| format!("not a MetricDataQuery list: {e}"))?;
    let mut metrics = Vec::new();
    let mut expression = None;
    let mut ids = std::collections::BTreeSet::new();
    for q in queries {
        let _ = q.label;
        let id_ok = q.id.starts_with(|c: char| c.is_ascii_lowercase())
            && q.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !id_ok || RESERVED_IDS.contains(&q.id.as_str()) {
            return Err(format!(
                "id {:?} must start with a lowercase letter, hold letters, digits and '_', and not be one of {}",
                q.id,
                RESERVED_IDS.join(", ")
            ));
        }
        if !ids.insert(q.id.clone()) {
            return Err(format!("id {:?} is used twice", q.id));
        }
        match (q.metric_stat, q.expression, q.return_data.unwrap_or(true)) {
            (Some(stat), None, false) => {
                if stat.period.is_some() {
                    return Err(format!(
                        "query {:?}: no Period: each generated alarm uses its window as the period",
                        q.id
                    ));
                }
                metrics.push((
                    Some(q.id),
                    CloudWatchMetric {
                        namespace: stat.metric.namespace,
                        metric_name: stat.metric.metric_name,
                        stat: Some(stat.stat),
                        dimensions: stat
                            .metric
                            .dimensions
                            .into_iter()
                            .map(|d| (d.name, d.value))
                            .collect(),
                    },
                ))
            }
            (None, Some(expr), true) if expression.is_none() => expression = Some(expr),
            (None, Some(_), true) => return Err("more than one query returns data".into()),
            (Some(_), None, true) => {
                return Err(format!(
                    "query {:?}: a metric is read through the expression: set \"ReturnData\": false",
                    q.id
                ));
            }
            (None, Some(_), false) => {
                return Err(format!(
                    "query {:?}: only one expression, the returned one, is supported",
                    q.id
                ));
            }
            _ => {
                return Err(format!(
                    "query {:?} needs exactly one of MetricStat and Expression",
                    q.id
                ));
            }
        }
    }
    let expression =
        expression.ok_or("no query returns data: add the expression with \"ReturnData\": true")?;
    if metrics.is_empty() {
        return Err("no MetricStat query for the expression to read".into());
    }
    Ok(CloudWatchQuery {
        metrics,
        expression: Some(expression),
    })
}

/// A CloudWatch dimension as OpenSLO writes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Dimension {
    name: String,
    value: String,
}

/// `name{label="value", …}`: a metric name and equality or regex matchers, nothing else.
pub fn parse_selector(text: &str) -> Result<Selector, String> {
    let text = text.trim();
    let bad = |why: &str| {
        format!("{text:?} is not a series selector such as name{{label=\"value\"}}: {why}")
    };
    let name_end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(text.len());
    let metric = &text[..name_end];
    if metric.is_empty() || metric.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(bad("it must start with a metric name"));
    }
    let rest = text[name_end..].trim();
    let mut matchers = Vec::new();
    if !rest.is_empty() {
        let inner = rest
            .strip_prefix('{')
            .and_then(|r| r.strip_suffix('}'))
            .ok_or_else(|| bad("only {…} may follow the name"))?;
        let mut rest = inner.trim();
        while !rest.is_empty() {
            let label_end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            let label = &rest[..label_end];
            if label.is_empty() {
                return Err(bad("a matcher needs a label name"));
            }
            rest = rest[label_end..].trim_start();
            let op = ["=~", "!~", "!=", "="]
                .into_iter()
                .find(|op| rest.starts_with(op))
                .ok_or_else(|| bad("a matcher needs =, !=, =~ or !~"))?;
            rest = rest[op.len()..].trim_start();
            let value_text = rest
                .strip_prefix('"')
                .ok_or_else(|| bad("a matcher's value is in double quotes"))?;
            let close = value_text
                .find('"')
                .ok_or_else(|| bad("a quoted value is not closed"))?;
            let value = &value_text[..close];
            if value.contains('\\') {
                return Err(bad("escapes in values are not supported"));
            }
            matchers.push((label.to_owned(), op.to_owned(), value.to_owned()));
            rest = value_text[close + 1..].trim_start();
            if let Some(after) = rest.strip_prefix(',') {
                rest = after.trim_start();
            } else if !rest.is_empty() {
                return Err(bad("matchers are separated by commas"));
            }
        }
    }
    Ok(Selector {
        metric: metric.to_owned(),
        matchers,
    })
}
