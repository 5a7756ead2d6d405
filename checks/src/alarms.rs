//! The CloudWatch alarm definitions of `alarms/cloudwatch.yaml`: their model (the same fields the
//! observability module reads), and the rules every alarm must follow to be an alarm that can
//! fire: valid comparison, statistic and missing-data treatment, M of N with M <= N, an
//! evaluation window CloudWatch accepts, and a metric math query that returns one series.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::metric::MetricRef;

/// The whole file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AlarmFile {
    /// Metric alarms.
    pub alarms: Vec<Alarm>,
    /// Composite alarms over the metric alarms.
    #[serde(default)]
    pub composites: Vec<Composite>,
}

/// Who is notified.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Wakes someone up.
    Page,
    /// Opens a ticket.
    Ticket,
}

/// One metric alarm: a single metric, or metric math.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Alarm {
    /// Name, unique; the runbook is `alarms/runbooks/<runbook>`.
    pub name: String,
    /// What the alarm means, for the notification.
    pub description: String,
    /// page or ticket.
    pub severity: Severity,
    /// Runbook file name under `alarms/runbooks/`.
    pub runbook: String,
    /// Single metric: namespace.
    pub namespace: Option<String>,
    /// Single metric: name.
    pub metric_name: Option<String>,
    /// Single metric: dimensions.
    pub dimensions: Option<BTreeMap<String, String>>,
    /// Single metric: statistic (Sum, Average, Minimum, Maximum, SampleCount).
    pub statistic: Option<String>,
    /// Single metric: percentile such as p99.
    pub extended_statistic: Option<String>,
    /// Metric math queries.
    pub metrics: Option<Vec<MetricQuery>>,
    /// Seconds per datapoint.
    pub period: u32,
    /// N of "M of N".
    pub evaluation_periods: u32,
    /// M of "M of N".
    pub datapoints_to_alarm: u32,
    /// CloudWatch comparison operator.
    pub comparison: String,
    /// Threshold.
    pub threshold: f64,
    /// missing, ignore, breaching or notBreaching.
    pub treat_missing_data: String,
}

/// One query of a metric math alarm.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MetricQuery {
    /// Query id, referenced by expressions.
    pub id: String,
    /// Metric math expression.
    pub expression: Option<String>,
    /// Label.
    pub label: Option<String>,
    /// Whether this query is the alarm's series.
    #[serde(default)]
    pub return_data: bool,
    /// A metric.
    pub metric: Option<QueryMetric>,
}

/// The metric of a [`MetricQuery`].
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct QueryMetric {
    /// Namespace.
    pub namespace: String,
    /// Metric name.
    pub metric_name: String,
    /// Dimensions.
    pub dimensions: BTreeMap<String, String>,
    /// Statistic or percentile.
    pub stat: String,
}

/// A composite alarm: in ALARM when any of its alarms is.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Composite {
    /// Name, unique.
    pub name: String,
    /// What it means.
    pub description: String,
    /// page or ticket.
    pub severity: Severity,
    /// Runbook file name under `alarms/runbooks/`.
    pub runbook: String,
    /// Names of metric alarms of the same file.
    pub any_of: Vec<String>,
}

/// Longest evaluation window CloudWatch accepts: EvaluationPeriods x Period <= one day.
pub const MAX_WINDOW_SECONDS: u64 = 86_400;

const COMPARISONS: &[&str] = &[
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
];
const MISSING: &[&str] = &["missing", "ignore", "breaching", "notBreaching"];
const STATISTICS: &[&str] = &["SampleCount", "Average", "Sum", "Minimum", "Maximum"];

/// Parses the (rendered) YAML text.
pub fn parse(yaml: &str) -> Result<AlarmFile, serde_norway::Error> {
    serde_norway::from_str(yaml)
}

impl Alarm {
    /// The metrics the alarm reads (one, or every metric of its math).
    pub fn metric_refs(&self) -> Vec<MetricRef> {
        if let Some(queries) = &self.metrics {
            return queries
                .iter()
                .filter_map(|q| q.metric.as_ref())
                .map(|m| MetricRef {
                    namespace: m.namespace.clone(),
                    name: m.metric_name.clone(),
                    dimensions: m.dimensions.clone(),
                })
                .collect();
        }
        match (&self.namespace, &self.metric_name) {
            (Some(namespace), Some(name)) => vec![MetricRef {
                namespace: namespace.clone(),
                name: name.clone(),
                dimensions: self.dimensions.clone().unwrap_or_default(),
            }],
            _ => Vec::new(),
        }
    }
}

/// Every rule violation of the file, one message per problem (empty when all is well).
pub fn check(file: &AlarmFile) -> Vec<String> {
    let mut problems = Vec::new();
    let mut names = BTreeSet::new();
    for a in &file.alarms {
        let p = |msg: String| format!("alarm `{}`: {msg}", a.name);
        if !names.insert(a.name.as_str()) {
            problems.push(p("duplicate name".into()));
        }
        if !valid_name(&a.name) {
            problems.push(p("name must be lowercase letters, digits and dashes".into()));
        }
        if a.runbook != format!("{}.md", a.name) {
            problems.push(p(format!(
                "runbook must be `{}.md`, not `{}`",
                a.name, a.runbook
            )));
        }
        if a.description.trim().is_empty() {
            problems.push(p("empty description".into()));
        }
        if !COMPARISONS.contains(&a.comparison.as_str()) {
            problems.push(p(format!("unknown comparison `{}`", a.comparison)));
        }
        if !MISSING.contains(&a.treat_missing_data.as_str()) {
            problems.push(p(format!(
                "unknown treat_missing_data `{}`",
                a.treat_missing_data
            )));
        }
        if !a.threshold.is_finite() {
            problems.push(p("threshold must be a finite number".into()));
        }
        if a.period == 0 || !(a.period % 60 == 0 || [10, 20, 30].contains(&a.period)) {
            problems.push(p(format!(
                "period {} s: must be 10, 20, 30 or a multiple of 60",
                a.period
            )));
        }
        if a.evaluation_periods == 0
            || a.datapoints_to_alarm == 0
            || a.datapoints_to_alarm > a.evaluation_periods
        {
            problems.push(p(format!(
                "{} of {}: need 1 <= datapoints_to_alarm <= evaluation_periods",
                a.datapoints_to_alarm, a.evaluation_periods
            )));
        }
        let window = u64::from(a.evaluation_periods) * u64::from(a.period);
        if window > MAX_WINDOW_SECONDS {
            problems.push(p(format!(
                "evaluation_periods x period = {window} s exceeds {MAX_WINDOW_SECONDS} s"
            )));
        }
        problems.extend(check_metric_shape(a).into_iter().map(p));
    }
    for c in &file.composites {
        let p = |msg: String| format!("composite `{}`: {msg}", c.name);
        if !names.insert(c.name.as_str()) {
            problems.push(p("duplicate name".into()));
        }
        if c.runbook != format!("{}.md", c.name) {
            problems.push(p(format!("runbook must be `{}.md`", c.name)));
        }
        if c.any_of.is_empty() {
            problems.push(p("any_of is empty".into()));
        }
        for member in &c.any_of {
            if !file.alarms.iter().any(|a| &a.name == member) {
                problems.push(p(format!("`{member}` is not an alarm of this file")));
            }
        }
    }
    problems
}

fn check_metric_shape(a: &Alarm) -> Vec<String> {
    let mut problems = Vec::new();
    let single = a.namespace.is_some() || a.metric_name.is_some() || a.dimensions.is_some();
    match (&a.metrics, single) {
        (Some(_), true) => problems.push("has both a single metric and metric math".into()),
        (None, false) => problems.push("names no metric".into()),
        (None, true) => {
            if a.namespace.is_none() || a.metric_name.is_none() {
                problems.push("needs namespace and metric_name".into());
            }
            match (&a.statistic, &a.extended_statistic) {
                (Some(s), None) if STATISTICS.contains(&s.as_str()) => {}
                (Some(s), None) => problems.push(format!("unknown statistic `{s}`")),
                (None, Some(p)) if is_percentile(p) => {}
                (None, Some(p)) => problems.push(format!(
                    "extended_statistic `{p}` is not a percentile like p99"
                )),
                _ => problems.push("needs exactly one of statistic and extended_statistic".into()),
            }
        }
        (Some(queries), false) => {
            if a.statistic.is_some() || a.extended_statistic.is_some() {
                problems.push("metric math takes its statistics per query".into());
            }
            let returned = queries.iter().filter(|q| q.return_data).count();
            if returned != 1 {
                problems.push(format!(
                    "metric math must return exactly one series, returns {returned}"
                ));
            }
            let mut ids = BTreeSet::new();
            for q in queries {
                if !ids.insert(q.id.as_str()) {
                    problems.push(format!("duplicate query id `{}`", q.id));
                }
                if !q.id.starts_with(|c: char| c.is_ascii_lowercase()) {
                    problems.push(format!(
                        "query id `{}` must start with a lowercase letter",
                        q.id
                    ));
                }
                match (&q.expression, &q.metric) {
                    (Some(_), None) => {}
                    (None, Some(m))
                        if STATISTICS.contains(&m.stat.as_str()) || is_percentile(&m.stat) => {}
                    (None, Some(m)) => {
                        problems.push(format!("query `{}`: unknown stat `{}`", q.id, m.stat))
                    }
                    _ => problems.push(format!(
                        "query `{}` needs exactly one of expression and metric",
                        q.id
                    )),
                }
            }
        }
    }
    problems
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn is_percentile(s: &str) -> bool {
    s.strip_prefix('p')
        .and_then(|n| n.parse::<f64>().ok())
        .is_some_and(|n| n > 0.0 && n < 100.0)
}
