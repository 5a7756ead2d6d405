//! The checked SLOs: [`load`] reads `slo/*.yaml` files (several documents each), checks every
//! document against what the generators support, and returns every problem at once, each
//! naming the file, the SLO and the field. What it returns is what every generator reads.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::spec::{Document, MetricSource, MetricSourceHolder};

/// One checked SLO.
#[derive(Debug, Clone, PartialEq)]
pub struct Slo {
    /// Its name (`metadata.name`), the `slo` label of everything generated from it.
    pub name: String,
    /// A name for people (`metadata.displayName`, else the name).
    pub display_name: String,
    /// What it promises (`spec.description`).
    pub description: String,
    /// The service (`spec.service`).
    pub service: String,
    /// Its labels (`metadata.labels`); `sli` says what it measures (`availability`, `latency`,
    /// `synthetic`), which release gates read.
    pub labels: std::collections::BTreeMap<String, String>,
    /// The rolling compliance window, in seconds.
    pub window_secs: u64,
    /// The share of good events it promises, in (0, 1).
    pub target: f64,
    /// How good and bad events are counted.
    pub sli: Sli,
    /// The file it came from.
    pub file: PathBuf,
}

impl Slo {
    /// The error budget: the share of events that may be bad, `1 - target`.
    pub fn budget(&self) -> f64 {
        1.0 - self.target
    }

    /// Where its events are counted.
    pub fn backend(&self) -> Backend {
        match &self.sli {
            Sli::Ratio { total, .. } => total.backend(),
            Sli::Threshold { source, .. } => source.backend(),
        }
    }
}

/// How an SLI counts good and bad events.
#[derive(Debug, Clone, PartialEq)]
pub enum Sli {
    /// Counters: `counted` are the good (or bad) events, `total` all events.
    Ratio {
        /// Whether `counted` counts good events (else bad ones).
        good: bool,
        /// The good or bad events.
        counted: Source,
        /// All events.
        total: Source,
    },
    /// A distribution (latency): an event is good when its value is at most `value` (`lte`).
    Threshold {
        /// The distribution: a Prometheus histogram, or a CloudWatch metric.
        source: Source,
        /// The bound, in the metric's unit (seconds for latency).
        value: f64,
    },
}

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

/// One problem with an SLO file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub file: PathBuf,
    /// The SLO's name, when it could be read.
    pub slo: Option<String>,
    /// The field, as a path (`spec.objectives[0].target`), or empty for the whole document.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(slo) = &self.slo {
            write!(f, ": SLO {slo}")?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found in a set of files.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct Problems(pub Vec<Problem>);

/// Reads and checks every SLO of `files`; every problem of every file at once.
pub fn load(files: &[PathBuf]) -> Result<Vec<Slo>, Problems> {
    let mut slos = Vec::new();
    let mut problems = Vec::new();
    for file in files {
        match std::fs::read_to_string(file) {
            Ok(text) => parse_into(file, &text, &mut slos, &mut problems),
            Err(e) => problems.push(Problem {
                file: file.clone(),
                slo: None,
                field: String::new(),
                message: format!("cannot read it: {e}"),
            }),
        }
    }
    let mut seen = std::collections::BTreeMap::new();
    for slo in &slos {
        if let Some(first) = seen.insert(slo.name.clone(), slo.file.clone()) {
            problems.push(Problem {
                file: slo.file.clone(),
                slo: Some(slo.name.clone()),
                field: "metadata.name".into(),
                message: format!("the name is used twice (also in {})", first.display()),
            });
        }
    }
    if slos.is_empty() && problems.is_empty() {
        problems.push(Problem {
            file: files.first().cloned().unwrap_or_default(),
            slo: None,
            field: String::new(),
            message: "no SLO found".into(),
        });
    }
    if problems.is_empty() {
        Ok(slos)
    } else {
        Err(Problems(problems))
    }
}

/// Checks the SLO documents of one file's `text`.
pub fn parse(file: &Path, text: &str) -> Result<Vec<Slo>, Problems> {
    let mut slos = Vec::new();
    let mut problems = Vec::new();
    parse_into(file, text, &mut slos, &mut problems);
    if problems.is_empty() {
        Ok(slos)
    } else {
        Err(Problems(problems))
    }
}

fn parse_into(file: &Path, text: &str, slos: &mut Vec<Slo>, problems: &mut Vec<Problem>) {
    for (i, doc) in serde_norway::Deserializer::from_str(text).enumerate() {
        let value = match serde_norway::Value::deserialize(doc) {
            Ok(value) => value,
            Err(e) => {
                problems.push(Problem {
                    file: file.to_owned(),
                    slo: None,
                    field: format!("document {}", i + 1),
                    message: format!("not YAML: {e}"),
                });
                // The parser cannot go on past a syntax error.
                return;
            }
        };
        if value.is_null() {
            continue;
        }
        let name = value
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(|n| n.as_str())
            .map(str::to_owned);
        let mut report = |field: &str, message: String| {
            problems.push(Problem {
                file: file.to_owned(),
                slo: name.clone(),
                field: field.to_owned(),
                message,
            })
        };
        let mut unknown = Vec::new();
        let mut collect = |path: serde_ignored::Path<'_>| unknown.push(path.to_string());
        let read =
            serde_path_to_error::deserialize(serde_ignored::Deserializer::new(value, &mut collect));
        for path in unknown {
            report(&path, "unknown field".into());
        }
        let document: Document = match read {
            Ok(document) => document,
            Err(e) => {
                let path = e.path().to_string();
                let message = e.into_inner().to_string();
                report(if path == "." { "" } else { &path }, message);
                continue;
            }
        };
        if let Some(slo) = check(file, document, &mut report) {
            slos.push(slo);
        }
    }
}

/// The checks beyond the document's shape; `None` when any failed (all reported).
fn check(file: &Path, doc: Document, report: &mut dyn FnMut(&str, String)) -> Option<Slo> {
    let mut ok = true;
    let mut fail = |field: &str, message: String| {
        ok = false;
        report(field, message);
    };
    if doc.api_version != "openslo/v1" {
        fail(
            "apiVersion",
            format!("{:?} is not openslo/v1", doc.api_version),
        );
    }
    if doc.kind != "SLO" {
        fail(
            "kind",
            format!("{:?} is not SLO (the only kind read here)", doc.kind),
        );
    }
    let name = doc.metadata.name.clone();
    if !is_dns_label(&name) {
        fail(
            "metadata.name",
            format!(
                "{name:?} must be 1 to 63 lowercase letters, digits or '-', starting and ending with a letter or digit"
            ),
        );
    }
    for (field, text) in [
        ("metadata.displayName", doc.metadata.display_name.as_deref()),
        ("spec.description", doc.spec.description.as_deref()),
    ] {
        if let Some(text) = text
            && let Some(c) = text.chars().find(|c| !is_plain_text(*c))
        {
            fail(
                field,
                format!(
                    "{c:?} is not allowed: the text goes into generated YAML, alert templates and Terraform templates (letters, digits, spaces and .,;()%/+<>=-_' only)"
                ),
            );
        }
    }
    match doc.metadata.labels.get("sli").map(String::as_str) {
        Some("availability" | "latency" | "synthetic") => {}
        Some(other) => fail(
            "metadata.labels.sli",
            format!("{other:?} is not one of availability, latency, synthetic (release gates read it)"),
        ),
        None => fail(
            "metadata.labels.sli",
            "missing: availability, latency or synthetic says what the SLO measures (release gates read it)".into(),
        ),
    }
    if doc.spec.service.trim().is_empty() {
        fail("spec.service", "must not be empty".into());
    }
    let window_secs = match doc.spec.time_window.as_slice() {
        [window] => {
            if !window.is_rolling {
                fail(
                    "spec.timeWindow[0].isRolling",
                    "must be true: only rolling windows are supported".into(),
                );
            }
            match parse_window(&window.duration) {
                Ok(secs) if !(MIN_WINDOW..=MAX_WINDOW).contains(&secs) => {
                    fail(
                        "spec.timeWindow[0].duration",
                        format!(
                            "{:?} is not supported: the burn-rate alerts are those of a 28- to 31-day budget (30d)",
                            window.duration
                        ),
                    );
                    secs
                }
                Ok(secs) => secs,
                Err(message) => {
                    fail("spec.timeWindow[0].duration", message);
                    0
                }
            }
        }
        windows => {
            fail(
                "spec.timeWindow",
                format!("must hold exactly one window, not {}", windows.len()),
            );
            0
        }
    };
    if doc.spec.budgeting_method != "Occurrences" {
        fail(
            "spec.budgetingMethod",
            format!(
                "{:?} is not supported: only Occurrences (good events over all events)",
                doc.spec.budgeting_method
            ),
        );
    }
    let objective = match doc.spec.objectives.as_slice() {
        [objective] => Some(objective.clone()),
        objectives => {
            fail(
                "spec.objectives",
                format!("must hold exactly one objective, not {}", objectives.len()),
            );
            None
        }
    };
    let target = objective.as_ref().map_or(0.0, |o| o.target);
    if objective.is_some() && !(target > 0.0 && target < 1.0) {
        fail(
            "spec.objectives[0].target",
            format!("{target} is not strictly between 0 and 1 (e.g. 0.999 for 99.9%)"),
        );
    }
    if target > 0.0 && target < 1.0 {
        let budget = 1.0 - target;
        if let Some(burn) = crate::burn::BURNS.iter().find(|b| b.factor * budget >= 1.0) {
            fail(
                "spec.objectives[0].target",
                format!(
                    "{target} leaves a budget of {budget:.4}: the {}x burn alert could never fire (an error ratio cannot exceed 1); targets above {:.4} only",
                    burn.factor,
                    1.0 - 1.0
                        / crate::burn::BURNS
                            .iter()
                            .map(|b| b.factor)
                            .fold(0.0, f64::max)
                ),
            );
        }
    }
    let indicator = &doc.spec.indicator.spec;
    let sli = match (&indicator.ratio_metric, &indicator.threshold_metric) {
        (Some(ratio), None) => {
            if let Some(o) = &objective {
                if o.op.is_some() {
                    fail(
                        "spec.objectives[0].op",
                        "only a thresholdMetric has an op".into(),
                    );
                }
                if o.value.is_some() {
                    fail(
                        "spec.objectives[0].value",
                        "only a thresholdMetric has a value".into(),
                    );
                }
            }
            if !ratio.counter {
                fail(
                    "spec.indicator.spec.ratioMetric.counter",
                    "must be true: the sources are counters".into(),
                );
            }
            let base = "spec.indicator.spec.ratioMetric";
            let counted = match (&ratio.good, &ratio.bad) {
                (Some(good), None) => Some((
                    true,
                    source(good, &format!("{base}.good"), false, &mut fail),
                )),
                (None, Some(bad)) => {
                    Some((false, source(bad, &format!("{base}.bad"), false, &mut fail)))
                }
                _ => {
                    fail(base, "needs exactly one of good and bad".into());
                    None
                }
            };
            let total = source(&ratio.total, &format!("{base}.total"), false, &mut fail);
            match (counted, total) {
                (Some((good, Some(counted))), Some(total)) => {
                    if counted.backend() != total.backend() {
                        fail(
                            base,
                            "the counted events and the total must come from the same metric source type".into(),
                        );
                    }
                    Some(Sli::Ratio {
                        good,
                        counted,
                        total,
                    })
                }
                _ => None,
            }
        }
        (None, Some(threshold)) => {
            let field = "spec.indicator.spec.thresholdMetric";
            let source = source(threshold, field, true, &mut fail);
            let value = match &objective {
                Some(o) => {
                    match o.op.as_deref() {
                        Some("lte") => {}
                        Some(op) => fail(
                            "spec.objectives[0].op",
                            format!("{op:?} is not supported: lte (good events are at most value)"),
                        ),
                        None => fail(
                            "spec.objectives[0].op",
                            "missing: a thresholdMetric needs op: lte".into(),
                        ),
                    }
                    match o.value {
                        Some(v) if v > 0.0 && v.is_finite() => v,
                        Some(v) => {
                            fail(
                                "spec.objectives[0].value",
                                format!("{v} is not a positive bound"),
                            );
                            0.0
                        }
                        None => {
                            fail(
                                "spec.objectives[0].value",
                                "missing: a thresholdMetric needs the bound (seconds for latency)"
                                    .into(),
                            );
                            0.0
                        }
                    }
                }
                None => 0.0,
            };
            source.map(|source| Sli::Threshold { source, value })
        }
        _ => {
            fail(
                "spec.indicator.spec",
                "needs exactly one of ratioMetric and thresholdMetric".into(),
            );
            None
        }
    };
    match (doc.metadata.labels.get("sli").map(String::as_str), &sli) {
        (Some("latency"), Some(Sli::Ratio { .. })) => fail(
            "metadata.labels.sli",
            "latency needs a thresholdMetric (a latency distribution and its bound)".into(),
        ),
        (Some("availability" | "synthetic"), Some(Sli::Threshold { .. })) => fail(
            "metadata.labels.sli",
            "availability needs a ratioMetric (bad or good events over all events)".into(),
        ),
        _ => {}
    }
    let slo = Slo {
        display_name: doc
            .metadata
            .display_name
            .clone()
            .unwrap_or_else(|| name.clone()),
        name,
        description: doc.spec.description.clone().unwrap_or_default(),
        labels: doc.metadata.labels.clone(),
        service: doc.spec.service.clone(),
        window_secs,
        target,
        sli: sli?,
        file: file.to_owned(),
    };
    ok.then_some(slo)
}

/// Reads one metric source at `field`; `threshold`: it is a distribution (no statistic).
fn source(
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

/// Shortest and longest compliance windows the burn factors are meant for (a 30-day budget).
const MIN_WINDOW: u64 = 28 * 86_400;
const MAX_WINDOW: u64 = 31 * 86_400;

/// Characters allowed in the texts copied into generated files: none that YAML, Prometheus'
/// alert templates (`{{`) or Terraform's templatefile (`${`) would read as syntax.
fn is_plain_text(c: char) -> bool {
    c.is_alphanumeric() || " .,;()%/+<>=-_'".contains(c)
}

/// Whether `name` is an RFC 1123 label (as OpenSLO asks of names).
fn is_dns_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.first() != Some(&b'-')
        && bytes.last() != Some(&b'-')
}

/// A window such as `30d`, `4w`, `12h` or `90m`, in seconds.
pub fn parse_window(text: &str) -> Result<u64, String> {
    let err = || format!("{text:?} is not a duration: a whole number and m, h, d or w (e.g. 30d)");
    let unit_at = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(err)?;
    let (number, unit) = text.split_at(unit_at);
    let n: u64 = number.parse().map_err(|_| err())?;
    let unit_secs = match unit {
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(err()),
    };
    if n == 0 {
        return Err(format!(
            "{text:?} is empty: a window must be longer than zero"
        ));
    }
    n.checked_mul(unit_secs)
        .filter(|secs| *secs <= 400 * 86_400)
        .ok_or_else(|| format!("{text:?} is longer than 400 days"))
}

/// A duration in seconds as Prometheus writes it (`5m`, `1h`, `30d`).
pub fn prometheus_duration(secs: u64) -> String {
    for (unit, size) in [("w", 7 * 86_400), ("d", 86_400), ("h", 3600), ("m", 60)] {
        if secs >= size && secs.is_multiple_of(size) {
            return format!("{}{unit}", secs / size);
        }
    }
    format!("{secs}s")
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

#[cfg(test)]
mod tests {
    use super::*;

    const REPO: &str = include_str!("../sum-api.yaml");

    fn documents() -> Vec<String> {
        REPO.split("\n---\n").map(str::to_owned).collect()
    }

    /// The document of the SLO named `name`.
    fn document(name: &str) -> String {
        documents()
            .into_iter()
            .find(|d| d.contains(&format!("  name: {name}\n")))
            .unwrap_or_else(|| panic!("no SLO {name} in slo/sum-api.yaml"))
    }

    /// The problems of `text`, as printed.
    fn problems(text: &str) -> Vec<String> {
        match parse(Path::new("x.yaml"), text) {
            Ok(slos) => panic!("accepted: {slos:?}"),
            Err(Problems(all)) => all.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn the_repository_file_is_valid_and_read_as_written() {
        let slos = parse(Path::new("slo/sum-api.yaml"), REPO).expect("valid");
        let names: Vec<&str> = slos.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "sum-api-availability",
                "sum-api-latency",
                "sum-api-availability-alb",
                "sum-api-latency-alb",
                "sum-api-synthetic"
            ]
        );
        let latency = &slos[1];
        assert_eq!(latency.target, 0.99);
        assert_eq!(latency.window_secs, 30 * 86_400);
        assert_eq!(latency.backend(), Backend::Prometheus);
        let Sli::Threshold {
            source: Source::Prometheus(histogram),
            value,
        } = &latency.sli
        else {
            panic!("latency is a threshold SLI: {:?}", latency.sli);
        };
        assert_eq!(*value, 0.25);
        assert_eq!(histogram.metric, "sumapi_http_request_duration_seconds");
        assert_eq!(slos[4].backend(), Backend::CloudWatch);
        let Sli::Ratio {
            good: false,
            counted: Source::CloudWatch(bad),
            ..
        } = &slos[2].sli
        else {
            panic!(
                "the ALB's availability counts bad events: {:?}",
                slos[2].sli
            );
        };
        let ids: Vec<Option<&str>> = bad.metrics.iter().map(|(id, _)| id.as_deref()).collect();
        assert_eq!(ids, [Some("target_5xx"), Some("elb_5xx")]);
        assert_eq!(
            bad.expression.as_deref(),
            Some("FILL(target_5xx, 0) + FILL(elb_5xx, 0)")
        );
    }

    #[test]
    fn every_problem_of_every_document_is_listed_with_file_slo_and_field() {
        let docs = documents();
        let bad = docs[0]
            .replace("target: 0.999", "target: 1.5")
            .replace("duration: 30d", "duration: 30 days")
            .replacen(
                "  service: sum-api\n",
                "  service: sum-api\n  colour: blue\n",
                1,
            );
        let other = docs[1].replace("op: lte", "op: gte");
        let got = problems(&format!("{bad}\n---\n{other}"));
        assert_eq!(
            got,
            [
                "x.yaml: SLO sum-api-availability: spec.colour: unknown field",
                "x.yaml: SLO sum-api-availability: spec.timeWindow[0].duration: \"30 days\" is not a duration: a whole number and m, h, d or w (e.g. 30d)",
                "x.yaml: SLO sum-api-availability: spec.objectives[0].target: 1.5 is not strictly between 0 and 1 (e.g. 0.999 for 99.9%)",
                "x.yaml: SLO sum-api-latency: spec.objectives[0].op: \"gte\" is not supported: lte (good events are at most value)",
            ]
        );
    }

    #[test]
    fn targets_outside_zero_and_one_are_refused() {
        for target in ["0", "1", "-0.5", "99.9", ".nan"] {
            let text = documents()[0].replace("target: 0.999", &format!("target: {target}"));
            let got = problems(&text);
            assert!(
                got.iter().any(|p| p.contains("spec.objectives[0].target")),
                "{target}: {got:?}"
            );
        }
        let text = documents()[0].replace("target: 0.999", "target: high");
        let got = problems(&text);
        assert!(
            got[0].starts_with(
                "x.yaml: SLO sum-api-availability: spec.objectives[0].target: invalid type"
            ),
            "{got:?}"
        );
    }

    #[test]
    fn targets_whose_page_alerts_could_never_fire_are_refused() {
        let text = documents()[0].replace("target: 0.999", "target: 0.9");
        let got = problems(&text);
        assert!(
            got.iter().any(
                |p| p.contains("spec.objectives[0].target: 0.9 leaves a budget")
                    && p.contains("14.4x burn alert could never fire")
            ),
            "{got:?}"
        );
        let ok = documents()[0].replace("target: 0.999", "target: 0.95");
        assert!(parse(Path::new("x.yaml"), &ok).is_ok());
    }

    #[test]
    fn the_sli_label_is_required_known_and_matches_the_indicator() {
        let cases = [
            (
                documents()[0].replace("sli: availability", "sli: availabilty"),
                "\"availabilty\" is not one of",
            ),
            (
                documents()[0].replace("  labels:\n    sli: availability\n", ""),
                "metadata.labels.sli: missing",
            ),
            (
                documents()[0].replace("sli: availability", "sli: latency"),
                "latency needs a thresholdMetric",
            ),
            (
                documents()[1].replace("sli: latency", "sli: availability"),
                "availability needs a ratioMetric",
            ),
        ];
        for (text, expected) in cases {
            let got = problems(&text);
            assert!(
                got.iter().any(|p| p.contains(expected)),
                "{expected}: {got:?}"
            );
        }
    }

    #[test]
    fn texts_copied_into_generated_files_hold_no_template_syntax() {
        for bad in [
            "Sum {{ $value }}",
            "Sum ${x}",
            "a: b",
            "a # b",
            "\"quoted\"",
        ] {
            let text = documents()[0].replace(
                "displayName: Sum API availability",
                &format!("displayName: '{}'", bad.replace('\'', "''")),
            );
            let got = problems(&text);
            assert!(
                got.iter().any(|p| p.contains("metadata.displayName: ")),
                "{bad}: {got:?}"
            );
        }
    }

    #[test]
    fn windows_must_be_rolling_durations() {
        for (window, why) in [
            ("30", "is not a duration"),
            ("0d", "longer than zero"),
            ("1y", "is not a duration"),
            ("999d", "longer than 400 days"),
            ("7d", "28- to 31-day budget"),
            ("90d", "28- to 31-day budget"),
            ("-3d", "is not a duration"),
        ] {
            let text = documents()[0].replace("duration: 30d", &format!("duration: \"{window}\""));
            let got = problems(&text);
            assert!(
                got.iter()
                    .any(|p| p.contains("spec.timeWindow[0].duration") && p.contains(why)),
                "{window}: {got:?}"
            );
        }
        let text = documents()[0].replace("isRolling: true", "isRolling: false");
        assert!(problems(&text)[0].contains("spec.timeWindow[0].isRolling: must be true"));
        assert_eq!(parse_window("4w"), Ok(28 * 86_400));
        assert_eq!(parse_window("90m"), Ok(5400));
    }

    #[test]
    fn sources_are_checked_field_by_field() {
        let doc = documents()[0].clone();
        let cases = [
            (
                doc.replace("type: Prometheus\n            spec:\n              query: sumapi_http_requests_total{job=\"sum-api\", route=\"/api/v1/sum\", method=\"POST\", status=~\"5..\"}", "type: Datadog\n            spec:\n              query: x"),
                "spec.indicator.spec.ratioMetric.bad.metricSource.type: \"Datadog\" is not supported",
            ),
            (
                doc.replacen("status=~\"5..\"}", "status=~\"5..\"} > 0", 1),
                "spec.indicator.spec.ratioMetric.bad.metricSource.spec.query: ",
            ),
            (
                doc.replacen("              query: sumapi", "              querry: sumapi", 1),
                "spec.indicator.spec.ratioMetric.bad.metricSource.spec.querry: unknown field",
            ),
            (
                doc.replace("        bad:\n", "        good:\n"),
                "",
            ),
        ];
        for (text, expected) in cases {
            if expected.is_empty() {
                // `good` instead of `bad` is valid: the ratio is read the other way round.
                let slos = parse(Path::new("x.yaml"), &text).expect("good is valid too");
                assert!(matches!(slos[0].sli, Sli::Ratio { good: true, .. }));
                continue;
            }
            let got = problems(&text);
            assert!(
                got.iter().any(|p| p.contains(expected)),
                "{expected}: {got:?}"
            );
        }
        let synthetic =
            document("sum-api-synthetic").replace("              stat: SampleCount\n", "");
        assert!(
            problems(&synthetic)
                .iter()
                .any(|p| p.ends_with("total.metricSource.spec.stat: missing"))
        );
    }

    #[test]
    fn the_cloudwatch_json_form_is_checked() {
        let doc = document("sum-api-availability-alb");
        let field = "spec.indicator.spec.ratioMetric.bad.metricSource.spec.json: ";
        for (from, to, why) in [
            (
                "\"Id\": \"elb_5xx\"",
                "\"Id\": \"target_5xx\"",
                "is used twice",
            ),
            (
                "\"Id\": \"elb_5xx\"",
                "\"Id\": \"total\"",
                "not be one of counted, total",
            ),
            (
                "\"Id\": \"elb_5xx\", \"ReturnData\": false",
                "\"Id\": \"elb_5xx\", \"ReturnData\": true",
                "a metric is read through the expression",
            ),
            (
                "\"ReturnData\": true, \"Expression\"",
                "\"ReturnData\": false, \"Expression\"",
                "only one expression",
            ),
            (
                "{\"Stat\": \"Sum\", \"Metric\"",
                "{\"Stat\": \"Sum\", \"Period\": 60, \"Metric\"",
                "no Period",
            ),
            (
                "\"MetricName\": \"HTTPCode_ELB_5XX_Count\"",
                "\"Name\": \"HTTPCode_ELB_5XX_Count\"",
                "not a MetricDataQuery list",
            ),
        ] {
            assert!(doc.contains(from), "{from}");
            let got = problems(&doc.replacen(from, to, 1));
            assert!(
                got.iter().any(|p| p.contains(field) && p.contains(why)),
                "{why}: {got:?}"
            );
        }
    }

    #[test]
    fn a_syntax_error_and_a_duplicate_name_are_reported() {
        let got = problems("apiVersion: openslo/v1\nkind: SLO\nmetadata: [unclosed\n");
        assert!(
            got[0].starts_with("x.yaml: document 1: not YAML: "),
            "{got:?}"
        );
        let dir = std::env::temp_dir().join(format!("slo-model-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let (a, b) = (dir.join("a.yaml"), dir.join("b.yaml"));
        std::fs::write(&a, &documents()[0]).expect("write");
        std::fs::write(&b, &documents()[0]).expect("write");
        let Err(Problems(all)) = load(&[a, b.clone()]) else {
            panic!("a name used twice is refused");
        };
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].file, b);
        assert!(all[0].message.starts_with("the name is used twice"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn selectors_are_a_name_and_matchers_only() {
        let s = parse_selector(r#"up{job="a", x!~"b.*"}"#).expect("valid");
        assert_eq!(s.metric, "up");
        assert_eq!(
            s.render("up_count", &[("le", "=", "1")]),
            r#"up_count{job="a", x!~"b.*", le="1"}"#
        );
        for bad in [
            "",
            "{job=\"a\"}",
            "rate(up[5m])",
            "up{job=a}",
            "up{job=\"a\"",
            "up{=\"a\"}",
            "up{job==\"a\"}x",
        ] {
            assert!(parse_selector(bad).is_err(), "{bad:?} accepted");
        }
    }
}
