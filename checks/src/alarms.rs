//! The CloudWatch alarm definitions of `alarms/cloudwatch.yaml` and of the SLO burn-rate alarms
//! generated into `alarms/cloudwatch-slo.yaml`: their model (the same fields the observability
//! module reads), and the rules every alarm must follow to be an alarm that can fire: valid
//! comparison, statistic and missing-data treatment, M of N with M <= N, an evaluation window
//! CloudWatch accepts, a metric math query that returns one series, composites over metric
//! alarms of either file, and no alarm that notifies nobody unless a composite reads it.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::metric::MetricRef;

/// The whole file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AlarmFile {
    /// Metric alarms.
    pub alarms: Vec<Alarm>,
    /// Composite alarms over the metric alarms (of this file or of the files checked with it).
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
    /// Notifies nobody: a metric alarm that only feeds composites (an SLO burn's window alarm).
    None,
}

impl Severity {
    /// The word the files use (`page`, `ticket`, `none`).
    pub fn label(self) -> &'static str {
        match self {
            Severity::Page => "page",
            Severity::Ticket => "ticket",
            Severity::None => "none",
        }
    }
}

/// One metric alarm: a single metric, or metric math.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Alarm {
    /// Name, unique; the runbook is `alarms/runbooks/<runbook>`.
    pub name: String,
    /// What the alarm means, for the notification.
    pub description: String,
    /// page, ticket, or none (feeds composites only).
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
    /// Single metric: percentile such as p99 (or percentile rank such as PR(:0.25)).
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

/// A composite alarm: in ALARM when any of its alarms is (`any_of`), or when all of them are
/// (`all_of`); exactly one of the two is given.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Composite {
    /// Name, unique.
    pub name: String,
    /// What it means.
    pub description: String,
    /// page or ticket (a composite exists to notify someone).
    pub severity: Severity,
    /// Runbook file name under `alarms/runbooks/`.
    pub runbook: String,
    /// Names of metric alarms, OR: in ALARM when any of them is.
    #[serde(default)]
    pub any_of: Vec<String>,
    /// Names of metric alarms, AND: in ALARM when every one of them is.
    #[serde(default)]
    pub all_of: Vec<String>,
}

impl Composite {
    /// The member alarms, whichever of `any_of` and `all_of` holds them.
    pub fn members(&self) -> &[String] {
        if self.all_of.is_empty() {
            &self.any_of
        } else {
            &self.all_of
        }
    }

    /// The CloudWatch alarm rule, as the observability module writes it: `ALARM("<prefix>-<name>")`
    /// per member, joined by ` AND ` (`all_of`) or ` OR ` (`any_of`).
    pub fn rule(&self, name_prefix: &str) -> String {
        let operator = if self.all_of.is_empty() {
            " OR "
        } else {
            " AND "
        };
        self.members()
            .iter()
            .map(|m| format!("ALARM(\"{name_prefix}-{m}\")"))
            .collect::<Vec<_>>()
            .join(operator)
    }
}

/// Longest evaluation window (EvaluationPeriods x Period) CloudWatch accepts for a period of at
/// least an hour: seven days.
pub const MAX_WINDOW_SECONDS: u64 = 604_800;

/// Longest evaluation window CloudWatch accepts for a period under an hour: one day.
pub const MAX_SUB_HOUR_WINDOW_SECONDS: u64 = 86_400;

/// The longest evaluation window CloudWatch accepts for alarms of `period` seconds.
pub fn max_window_seconds(period: u32) -> u64 {
    if period >= 3_600 {
        MAX_WINDOW_SECONDS
    } else {
        MAX_SUB_HOUR_WINDOW_SECONDS
    }
}

/// The runbook every SLO burn-rate alarm (named `slo-...`) shares with the Prometheus
/// `SLOErrorBudgetBurn` alert: a burning budget is handled the same way whichever backend saw it.
pub const BURN_RUNBOOK: &str = "SLOErrorBudgetBurn.md";

/// The suffix of an alarm that fires when a single region of the canary sees what its quorum
/// alarm (the name without the suffix) needs several regions to see.
pub const ONE_REGION_SUFFIX: &str = "-one-region";

/// The runbook an alarm named `name` must point to: its own (`<name>.md`), the burn runbook for
/// the SLO burn-rate alarms, and the runbook of the alarm it is a variant of for an alarm per
/// region (`<name>-<aws region>`, such as `canary-heartbeat-missing-eu-west-1`) or for one
/// region of a quorum (`<name>-one-region`).
pub fn expected_runbook(name: &str) -> String {
    if name.starts_with("slo-") {
        return BURN_RUNBOOK.to_owned();
    }
    if let Some(base) = name.strip_suffix(ONE_REGION_SUFFIX) {
        return format!("{base}.md");
    }
    format!("{}.md", region_variant_of(name).unwrap_or(name))
}

/// The alarm name `name` is the per-region variant of: `name` without a trailing AWS region
/// (`-us-east-1`, `-us-gov-west-1`), if it has one.
pub fn region_variant_of(name: &str) -> Option<&str> {
    let parts: Vec<&str> = name.split('-').collect();
    // An AWS region is two letters, one or more words, and a number: try the longest first.
    (3..parts.len()).rev().find_map(|n| {
        let region = &parts[parts.len() - n..];
        let base_len = name.len() - region.iter().map(|p| p.len() + 1).sum::<usize>();
        let is_region = region[0].len() == 2
            && region[..n - 1]
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
            && region[n - 1].len() <= 2
            && !region[n - 1].is_empty()
            && region[n - 1].chars().all(|c| c.is_ascii_digit());
        (is_region && base_len > 0).then(|| &name[..base_len])
    })
}

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
    check_files(&[file])
}

/// Every rule violation of alarm files deployed together (`alarms/cloudwatch.yaml` and
/// `alarms/cloudwatch-slo.yaml`): each file's own rules, names unique across them, composites
/// over metric alarms of any of them, and no silent (`severity: none`) alarm that no composite
/// reads.
pub fn check_files(files: &[&AlarmFile]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut names = BTreeSet::new();
    let metric_alarms: BTreeSet<&str> = files
        .iter()
        .flat_map(|f| &f.alarms)
        .map(|a| a.name.as_str())
        .collect();
    let read_by_composites: BTreeSet<&str> = files
        .iter()
        .flat_map(|f| &f.composites)
        .flat_map(|c| c.members())
        .map(String::as_str)
        .collect();
    for a in files.iter().flat_map(|f| &f.alarms) {
        let p = |msg: String| format!("alarm `{}`: {msg}", a.name);
        if !names.insert(a.name.as_str()) {
            problems.push(p("duplicate name".into()));
        }
        if !valid_name(&a.name) {
            problems.push(p("name must be lowercase letters, digits and dashes".into()));
        }
        let runbook = expected_runbook(&a.name);
        if a.runbook != runbook {
            problems.push(p(format!(
                "runbook must be `{runbook}`, not `{}`",
                a.runbook
            )));
        }
        if a.description.trim().is_empty() {
            problems.push(p("empty description".into()));
        }
        if a.severity == Severity::None && !read_by_composites.contains(a.name.as_str()) {
            problems.push(p(
                "severity none notifies nobody, and no composite reads it: it would never be seen"
                    .into(),
            ));
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
        let limit = max_window_seconds(a.period);
        if window > limit {
            let why = if limit == MAX_WINDOW_SECONDS {
                "seven days"
            } else {
                "one day for a period under an hour"
            };
            problems.push(p(format!(
                "evaluation_periods x period = {window} s exceeds {limit} s ({why})"
            )));
        }
        problems.extend(check_metric_shape(a).into_iter().map(p));
    }
    for c in files.iter().flat_map(|f| &f.composites) {
        let p = |msg: String| format!("composite `{}`: {msg}", c.name);
        if !names.insert(c.name.as_str()) {
            problems.push(p("duplicate name".into()));
        }
        if !valid_name(&c.name) {
            problems.push(p("name must be lowercase letters, digits and dashes".into()));
        }
        let runbook = expected_runbook(&c.name);
        if c.runbook != runbook {
            problems.push(p(format!("runbook must be `{runbook}`")));
        }
        if c.severity == Severity::None {
            problems.push(p(
                "severity none: a composite exists to notify someone (page or ticket)".into(),
            ));
        }
        match (c.any_of.is_empty(), c.all_of.is_empty()) {
            (true, true) => problems.push(p("any_of is empty (and no all_of)".into())),
            (false, false) => problems.push(p("has both any_of and all_of; give one".into())),
            _ => {}
        }
        let mut members = BTreeSet::new();
        for member in c.members() {
            if !members.insert(member.as_str()) {
                problems.push(p(format!("`{member}` is listed twice")));
            }
            if !metric_alarms.contains(member.as_str()) {
                problems.push(p(format!(
                    "`{member}` is not an alarm of this file (nor of the files deployed with it)"
                )));
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
                (None, Some(p)) if is_extended_statistic(p) => {}
                (None, Some(p)) => problems.push(format!(
                    "extended_statistic `{p}` is not a percentile like p99 or a percentile rank like PR(:0.25)"
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
                        if STATISTICS.contains(&m.stat.as_str())
                            || is_extended_statistic(&m.stat) => {}
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

/// A percentile (`p99`) or a percentile rank (`PR(:0.25)`, `PR(0.1:0.25)`: the share of data
/// points within the bounds, which a latency SLI over a CloudWatch metric counts with).
fn is_extended_statistic(s: &str) -> bool {
    if is_percentile(s) {
        return true;
    }
    let Some((low, high)) = s
        .strip_prefix("PR(")
        .and_then(|r| r.strip_suffix(')'))
        .and_then(|r| r.split_once(':'))
    else {
        return false;
    };
    let bound = |b: &str| b.is_empty() || b.parse::<f64>().is_ok_and(f64::is_finite);
    bound(low) && bound(high) && !(low.is_empty() && high.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: &str = "
alarms:
  - name: slo-x-page-1h-1h
    description: long window
    severity: none
    runbook: SLOErrorBudgetBurn.md
    metrics:
      - id: m
        metric: {namespace: N, metric_name: M, dimensions: {}, stat: SampleCount}
      - id: r
        expression: m
        return_data: true
    period: 3600
    evaluation_periods: 1
    datapoints_to_alarm: 1
    comparison: GreaterThanThreshold
    threshold: 0.0144
    treat_missing_data: notBreaching
";

    fn file(composites: &str) -> AlarmFile {
        parse(&format!("{WINDOW}composites:\n{composites}")).expect("fixture parses")
    }

    #[test]
    fn the_window_limit_is_a_week_from_an_hour_and_a_day_below() {
        assert_eq!(max_window_seconds(60), 86_400);
        assert_eq!(max_window_seconds(3_540), 86_400);
        assert_eq!(max_window_seconds(3_600), 604_800);
        let mut f = file(
            "  - {name: slo-x-burn-page-1h, description: d, severity: page, runbook: SLOErrorBudgetBurn.md, all_of: [slo-x-page-1h-1h]}\n",
        );
        f.alarms[0].period = 259_200;
        f.alarms[0].evaluation_periods = 2;
        assert_eq!(check(&f), Vec::<String>::new(), "6 days of 3-day periods");
        f.alarms[0].evaluation_periods = 3;
        assert!(check(&f)[0].contains("exceeds 604800 s (seven days)"));
        f.alarms[0].period = 3_540;
        f.alarms[0].evaluation_periods = 25;
        assert!(check(&f)[0].contains("exceeds 86400 s (one day for a period under an hour)"));
    }

    #[test]
    fn all_of_composites_read_silent_alarms_and_make_an_and_rule() {
        let f = file(
            "  - {name: slo-x-burn-page-1h, description: d, severity: page, runbook: SLOErrorBudgetBurn.md, all_of: [slo-x-page-1h-1h, slo-x-page-1h-1h]}\n",
        );
        assert_eq!(
            check(&f),
            vec!["composite `slo-x-burn-page-1h`: `slo-x-page-1h-1h` is listed twice"]
        );
        assert_eq!(
            f.composites[0].rule("sum-api-dev"),
            "ALARM(\"sum-api-dev-slo-x-page-1h-1h\") AND ALARM(\"sum-api-dev-slo-x-page-1h-1h\")"
        );
        let any = file(
            "  - {name: slo-y, description: d, severity: ticket, runbook: SLOErrorBudgetBurn.md, any_of: [slo-x-page-1h-1h]}\n",
        );
        assert_eq!(any.composites[0].rule("p"), "ALARM(\"p-slo-x-page-1h-1h\")");
    }

    #[test]
    fn silent_alarms_need_a_composite_and_composites_need_someone_to_notify() {
        let f = parse(WINDOW).expect("fixture parses");
        assert!(
            check(&f)[0].contains("no composite reads it"),
            "{:?}",
            check(&f)
        );
        let f = file(
            "  - {name: slo-x-burn, description: d, severity: none, runbook: SLOErrorBudgetBurn.md, all_of: [slo-x-page-1h-1h]}\n",
        );
        assert!(check(&f)[0].contains("a composite exists to notify someone"));
        let f = file(
            "  - {name: slo-x-burn, description: d, severity: page, runbook: SLOErrorBudgetBurn.md, all_of: [slo-x-page-1h-1h], any_of: [slo-x-page-1h-1h]}\n",
        );
        assert!(check(&f)[0].contains("both any_of and all_of"));
        let f = file(
            "  - {name: slo-x-burn, description: d, severity: page, runbook: slo-x-burn.md, all_of: [slo-x-page-1h-1h]}\n",
        );
        assert!(check(&f)[0].contains("runbook must be `SLOErrorBudgetBurn.md`"));
    }

    #[test]
    fn composites_may_read_the_alarms_of_another_file_deployed_with_theirs() {
        let alarms = parse(WINDOW).expect("fixture parses");
        let composite = parse(
            "alarms: []\ncomposites:\n  - {name: slo-x-burn, description: d, severity: page, runbook: SLOErrorBudgetBurn.md, all_of: [slo-x-page-1h-1h]}\n",
        )
        .expect("fixture parses");
        assert!(check(&composite)[0].contains("is not an alarm of this file"));
        assert_eq!(check_files(&[&alarms, &composite]), Vec::<String>::new());
        assert!(
            check_files(&[&alarms, &alarms, &composite])
                .iter()
                .any(|p| p.contains("duplicate name"))
        );
    }

    #[test]
    fn per_region_and_one_region_variants_share_their_alarms_runbook() {
        assert_eq!(
            expected_runbook("canary-heartbeat-missing-eu-west-1"),
            "canary-heartbeat-missing.md"
        );
        assert_eq!(
            expected_runbook("canary-heartbeat-missing-us-gov-west-1"),
            "canary-heartbeat-missing.md"
        );
        assert_eq!(
            expected_runbook("canary-latency-one-region"),
            "canary-latency.md"
        );
        assert_eq!(expected_runbook("canary-latency"), "canary-latency.md");
        assert_eq!(expected_runbook("alb-elb-5xx"), "alb-elb-5xx.md");
        assert_eq!(expected_runbook("ecs-cpu-high"), "ecs-cpu-high.md");
        assert_eq!(region_variant_of("us-east-1"), None, "a region alone");
        assert_eq!(region_variant_of("x-us-east-100"), None);
        assert_eq!(region_variant_of("x-useast-1"), None);
        assert_eq!(region_variant_of("x-us-east-1"), Some("x"));
    }

    #[test]
    fn percentile_ranks_are_extended_statistics() {
        for ok in ["p99", "p99.9", "PR(:0.25)", "PR(0.1:0.25)", "PR(100:)"] {
            assert!(is_extended_statistic(ok), "{ok}");
        }
        for bad in ["p199", "PR(:)", "PR(a:1)", "PR(:0.25", "tm99"] {
            assert!(!is_extended_statistic(bad), "{bad}");
        }
    }
}
