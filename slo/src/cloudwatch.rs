//! The CloudWatch burn-rate alarms of the SLOs whose events CloudWatch counts, as data in the
//! schema of `alarms/cloudwatch.yaml` (Terraform renders it with `templatefile` the same way,
//! so `${…}` in dimension values are the same template variables).
//!
//! CloudWatch has no rate over a sliding window of a query's choosing, so each window is its
//! own metric-math alarm whose metrics have that window as their period (one evaluation of one
//! period: CloudWatch's sliding evaluation window then covers exactly the last `window`). Each
//! burn of [`crate::burn::BURNS`] is a pair of such alarms, long and short, that notify nobody
//! (`severity: none`), and a composite that is in ALARM when both are: the composite pages or
//! opens a ticket. The long alarm of a page also carries the low-traffic guard.

use std::fmt::Write;

use crate::burn::{BURNS, MIN_BAD_EVENTS_TO_PAGE, Severity};
use crate::model::{
    Backend, CloudWatchMetric, CloudWatchQuery, Sli, Slo, Source, prometheus_duration,
};
use crate::prometheus::num;

/// The runbook of every burn alarm (a file of `alarms/runbooks/`).
pub const RUNBOOK: &str = "SLOErrorBudgetBurn.md";

/// The name of the composite alarm for `slo`'s burn with `severity` over `long` seconds.
pub fn composite_name(slo: &str, severity: Severity, long_secs: u64) -> String {
    format!(
        "slo-{slo}-burn-{}-{}",
        severity.label(),
        prometheus_duration(long_secs)
    )
}

/// The alarms file for the CloudWatch-backed SLOs of `slos`, as text.
pub fn alarms(slos: &[Slo]) -> String {
    let mut alarms = String::new();
    let mut composites = String::new();
    for slo in slos.iter().filter(|s| s.backend() == Backend::CloudWatch) {
        let _ = writeln!(alarms, "  # --- {} ({}) ---", slo.name, slo.display_name);
        for burn in BURNS {
            let threshold = burn.factor * slo.budget();
            let mut pair = Vec::new();
            for (secs, guard) in [
                (burn.long_secs, burn.severity == Severity::Page),
                (burn.short_secs, false),
            ] {
                let name = format!(
                    "{}-{}",
                    composite_name(&slo.name, burn.severity, burn.long_secs)
                        .replacen("-burn-", "-", 1),
                    prometheus_duration(secs)
                );
                window_alarm(&mut alarms, slo, &name, secs, threshold, guard, burn.factor);
                pair.push(name);
            }
            let name = composite_name(&slo.name, burn.severity, burn.long_secs);
            let spent = burn.budget_spent(slo.window_secs) * 100.0;
            let _ = writeln!(composites, "  - name: {name}");
            let _ = writeln!(
                composites,
                "    description: >-\n      {}: the error budget burns {}x as fast as the SLO allows over {} and {}; at this\n      rate {}% of the {} budget is gone in {}.",
                slo.display_name,
                num(burn.factor),
                prometheus_duration(burn.long_secs),
                prometheus_duration(burn.short_secs),
                num((spent * 10.0).round() / 10.0),
                prometheus_duration(slo.window_secs),
                prometheus_duration(burn.long_secs),
            );
            let _ = writeln!(composites, "    severity: {}", burn.severity.label());
            let _ = writeln!(composites, "    runbook: {RUNBOOK}");
            let _ = writeln!(composites, "    all_of:");
            for member in pair {
                let _ = writeln!(composites, "      - {member}");
            }
        }
    }
    let mut out = String::from(
        "# Generated from slo/*.yaml by `cargo run -p slo -- generate`: do not edit; change the SLO and\n\
         # regenerate (a test fails when this file differs from what the generator writes).\n\
         # The CloudWatch burn-rate alarms of the SLOs whose events CloudWatch counts, in the schema of\n\
         # alarms/cloudwatch.yaml (rendered by Terraform the same way). Window alarms have severity\n\
         # none: they notify nobody and feed the composites (all_of: ALARM when every member is), which\n\
         # page or open a ticket. docs/slo.md explains the windows and factors.\n",
    );
    out.push_str("alarms:\n");
    out.push_str(&alarms);
    out.push_str("\ncomposites:\n");
    out.push_str(&composites);
    out
}

/// One window's alarm: the SLI's bad ratio over `secs`, above `threshold`.
fn window_alarm(
    out: &mut String,
    slo: &Slo,
    name: &str,
    secs: u64,
    threshold: f64,
    guard: bool,
    factor: f64,
) {
    let window = prometheus_duration(secs);
    let _ = writeln!(out, "  - name: {name}");
    let _ = writeln!(
        out,
        "    description: {} over {window}, bad events above {}x its budget ({} of events).",
        slo.display_name,
        num(factor),
        num(threshold)
    );
    let _ = writeln!(out, "    severity: none");
    let _ = writeln!(out, "    runbook: {RUNBOOK}");
    let _ = writeln!(out, "    metrics:");
    let Some(Layout { queries, bad, all }) = layout(&slo.sli) else {
        return;
    };
    for query in &queries {
        match query {
            Query::Metric { id, metric, stat } => {
                let _ = writeln!(out, "      - id: {id}");
                let _ = writeln!(out, "        metric:");
                let _ = writeln!(out, "          namespace: \"{}\"", metric.namespace);
                let _ = writeln!(out, "          metric_name: {}", metric.metric_name);
                let _ = writeln!(out, "          dimensions:");
                for (dim, value) in &metric.dimensions {
                    let _ = writeln!(out, "            {dim}: \"{value}\"");
                }
                let _ = writeln!(out, "          stat: \"{stat}\"");
            }
            Query::Expression { id, expression } => {
                let _ = writeln!(out, "      - id: {id}");
                let _ = writeln!(out, "        expression: \"{expression}\"");
            }
        }
    }
    let ratio = format!("{bad} / IF({all} > 0, {all}, 1)");
    let expression = if guard {
        format!("IF({bad} >= {MIN_BAD_EVENTS_TO_PAGE}, {ratio}, 0)")
    } else {
        ratio
    };
    let _ = writeln!(out, "      - id: bad_ratio");
    let _ = writeln!(out, "        expression: \"{expression}\"");
    let _ = writeln!(
        out,
        "        label: {} bad events over {window} (share)",
        slo.display_name
    );
    let _ = writeln!(out, "        return_data: true");
    let _ = writeln!(out, "    period: {secs}");
    let _ = writeln!(out, "    evaluation_periods: 1");
    let _ = writeln!(out, "    datapoints_to_alarm: 1");
    let _ = writeln!(out, "    comparison: GreaterThanThreshold");
    let _ = writeln!(out, "    threshold: {}", num(threshold));
    let _ = writeln!(
        out,
        "    # No events, no ratio: silence is the dead-man alarm's business, not a burn.\n    treat_missing_data: notBreaching"
    );
}

/// One query of an SLI laid out for CloudWatch metric math.
#[derive(Debug, Clone, PartialEq)]
pub enum Query<'a> {
    /// A metric with its statistic.
    Metric {
        /// The query's id.
        id: String,
        /// The metric.
        metric: &'a CloudWatchMetric,
        /// The statistic.
        stat: String,
    },
    /// An expression over other queries' ids.
    Expression {
        /// The query's id.
        id: String,
        /// The expression.
        expression: String,
    },
}

/// A CloudWatch SLI as metric math: its queries, and the expressions (over their ids) of bad
/// events and of all events.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout<'a> {
    /// The queries, none returned.
    pub queries: Vec<Query<'a>>,
    /// Bad events.
    pub bad: String,
    /// All events.
    pub all: String,
}

/// The queries of one side of a ratio, the last of them with id `side`.
fn side<'a>(query: &'a CloudWatchQuery, side: &str, out: &mut Vec<Query<'a>>) {
    if let Some(metric) = query.single() {
        out.push(Query::Metric {
            id: side.to_owned(),
            metric,
            stat: metric.stat.clone().unwrap_or_default(),
        });
        return;
    }
    for (id, metric) in &query.metrics {
        out.push(Query::Metric {
            id: id.clone().unwrap_or_default(),
            metric,
            stat: metric.stat.clone().unwrap_or_default(),
        });
    }
    if let Some(expression) = &query.expression {
        out.push(Query::Expression {
            id: side.to_owned(),
            expression: expression.clone(),
        });
    }
}

/// How `sli` reads in CloudWatch metric math; `None` when it is not CloudWatch's.
pub fn layout(sli: &Sli) -> Option<Layout<'_>> {
    match sli {
        Sli::Ratio {
            good,
            counted: Source::CloudWatch(counted),
            total: Source::CloudWatch(total),
        } => {
            let mut queries = Vec::new();
            side(counted, "counted", &mut queries);
            side(total, "total", &mut queries);
            let bad = if *good {
                "(total - FILL(counted, 0))"
            } else {
                "FILL(counted, 0)"
            };
            Some(Layout {
                queries,
                bad: bad.to_owned(),
                all: "total".to_owned(),
            })
        }
        Sli::Threshold {
            source: Source::CloudWatch(query),
            value,
        } => {
            let metric = query.single()?;
            // The percentile rank of the bound: the share (in %) of data points within it.
            Some(Layout {
                queries: vec![
                    Query::Metric {
                        id: "within".to_owned(),
                        metric,
                        stat: format!("PR(:{})", num(*value)),
                    },
                    Query::Metric {
                        id: "total".to_owned(),
                        metric,
                        stat: "SampleCount".to_owned(),
                    },
                ],
                bad: "(total * (100 - FILL(within, 100)) / 100)".to_owned(),
                all: "total".to_owned(),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse;
    use std::path::Path;

    #[test]
    fn each_burn_is_a_long_and_a_short_window_alarm_and_a_composite_of_both() {
        let slos = parse(
            Path::new("slo/sum-api.yaml"),
            include_str!("../sum-api.yaml"),
        )
        .expect("valid");
        let text = alarms(&slos);
        let file: serde_norway::Value = serde_norway::from_str(&text).expect("YAML");
        let alarms = file["alarms"].as_sequence().expect("alarms");
        let composites = file["composites"].as_sequence().expect("composites");
        let synthetic = slos
            .iter()
            .filter(|s| s.backend() == Backend::CloudWatch)
            .count();
        assert_eq!(alarms.len(), 8 * synthetic);
        assert_eq!(composites.len(), 4 * synthetic);
        let page = composites
            .iter()
            .find(|c| c["name"].as_str() == Some("slo-sum-api-synthetic-burn-page-1h"))
            .expect("the synthetic SLO's fast page");
        assert_eq!(
            page["name"].as_str(),
            Some("slo-sum-api-synthetic-burn-page-1h")
        );
        assert_eq!(page["severity"].as_str(), Some("page"));
        let members: Vec<&str> = page["all_of"]
            .as_sequence()
            .expect("all_of")
            .iter()
            .filter_map(|m| m.as_str())
            .collect();
        assert_eq!(
            members,
            [
                "slo-sum-api-synthetic-page-1h-1h",
                "slo-sum-api-synthetic-page-1h-5m"
            ]
        );
        let at = alarms
            .iter()
            .position(|a| a["name"].as_str() == Some("slo-sum-api-synthetic-page-1h-1h"))
            .expect("the synthetic SLO's 1h window alarm");
        let long = &alarms[at];
        assert_eq!(long["period"].as_u64(), Some(3600));
        assert_eq!(long["threshold"].as_f64(), Some(0.0144));
        assert_eq!(long["severity"].as_str(), Some("none"));
        let expression = long["metrics"][2]["expression"]
            .as_str()
            .expect("expression");
        assert_eq!(
            expression,
            "IF((total - FILL(counted, 0)) >= 5, (total - FILL(counted, 0)) / IF(total > 0, total, 1), 0)"
        );
        let short = &alarms[at + 1];
        assert_eq!(short["period"].as_u64(), Some(300));
        assert!(
            !short["metrics"][2]["expression"]
                .as_str()
                .expect("expression")
                .starts_with("IF((total")
        );
    }
}
