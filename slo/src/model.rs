//! The checked SLOs: [`load`] reads `slo/*.yaml` files (several documents each), checks every
//! document against what the generators support, and returns every problem at once, each
//! naming the file, the SLO and the field. What it returns is what every generator reads.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::spec::Document;

pub use crate::source::{
    Backend, CloudWatchMetric, CloudWatchQuery, RESERVED_IDS, Selector, Source, parse_selector,
};

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
                    crate::source::read(good, &format!("{base}.good"), false, &mut fail),
                )),
                (None, Some(bad)) => Some((
                    false,
                    crate::source::read(bad, &format!("{base}.bad"), false, &mut fail),
                )),
                _ => {
                    fail(base, "needs exactly one of good and bad".into());
                    None
                }
            };
            let total =
                crate::source::read(&ratio.total, &format!("{base}.total"), false, &mut fail);
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
            let source = crate::source::read(threshold, field, true, &mut fail);
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

#[cfg(test)]
mod tests;
