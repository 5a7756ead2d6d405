//! The Prometheus rules of the SLOs whose events Prometheus counts: recording rules for each
//! SLO's error ratio over every burn window and its compliance window, its bad events over the
//! long windows, its objective, budget and budget remaining; and the burn-rate alerts
//! ([`crate::burn`]), all named `SLOErrorBudgetBurn`, labelled `slo`, `severity`,
//! `long_window` and `short_window`.
//!
//! Recorded series (label `slo`):
//! - `slo:sli_error:ratio_rate<window>`: bad events over all events; no events, no series.
//! - `slo:bad_events:increase<window>`: bad events within the long windows (the page guard).
//! - `slo:objective:ratio`, `slo:error_budget:ratio`: the target and `1 - target`.
//! - `slo:error_budget_remaining:ratio`: the share of the compliance window's budget left
//!   (1 untouched, 0 spent, negative overspent).

use std::fmt::Write;

use crate::burn::{self, BURNS, MIN_BAD_EVENTS_TO_PAGE};
use crate::model::{Backend, Selector, Sli, Slo, Source, prometheus_duration};

/// Where the alerts' runbook is, relative to the repository root.
pub const RUNBOOK: &str = "alarms/runbooks/SLOErrorBudgetBurn.md";

/// The name of every burn-rate alert.
pub const ALERT: &str = "SLOErrorBudgetBurn";

/// The rules file for the Prometheus-backed SLOs of `slos`, as text.
pub fn rules(slos: &[Slo]) -> String {
    let mut out = String::new();
    out.push_str(
        "# Generated from slo/*.yaml by `cargo run -p slo -- generate`: do not edit; change the SLO and\n\
         # regenerate (a test fails when this file differs from what the generator writes).\n\
         # Recording rules for each SLO's error ratio and budget, and the multi-window, multi-burn-rate\n\
         # alerts of the Google SRE workbook (docs/slo.md). Tested by slo.rules.test.yml.\n\
         groups:\n",
    );
    for slo in slos.iter().filter(|s| s.backend() == Backend::Prometheus) {
        group(&mut out, slo);
    }
    out
}

fn group(out: &mut String, slo: &Slo) {
    let name = &slo.name;
    let _ = writeln!(out, "  - name: slo-{name}");
    let _ = writeln!(out, "    rules:");
    let mut windows = burn::windows();
    windows.push(slo.window_secs);
    windows.sort_unstable();
    windows.dedup();
    for secs in windows {
        let w = prometheus_duration(secs);
        record(
            out,
            &format!("slo:sli_error:ratio_rate{w}"),
            name,
            &error_ratio(&slo.sli, &w),
        );
    }
    let mut long: Vec<u64> = BURNS
        .iter()
        .filter(|b| b.severity == burn::Severity::Page)
        .map(|b| b.long_secs)
        .collect();
    long.dedup();
    for secs in long {
        let w = prometheus_duration(secs);
        record(
            out,
            &format!("slo:bad_events:increase{w}"),
            name,
            &bad_events(&slo.sli, &w),
        );
    }
    let budget = num(slo.budget());
    record(
        out,
        "slo:objective:ratio",
        name,
        &format!("vector({})", num(slo.target)),
    );
    record(
        out,
        "slo:error_budget:ratio",
        name,
        &format!("vector({budget})"),
    );
    let period = prometheus_duration(slo.window_secs);
    record(
        out,
        "slo:error_budget_remaining:ratio",
        name,
        &format!("1 - slo:sli_error:ratio_rate{period}{{slo=\"{name}\"}} / {budget}"),
    );
    for b in BURNS {
        let long = prometheus_duration(b.long_secs);
        let short = prometheus_duration(b.short_secs);
        let threshold = num(b.factor * slo.budget());
        let mut expr = format!(
            "slo:sli_error:ratio_rate{long}{{slo=\"{name}\"}} > {threshold}\n\
             and slo:sli_error:ratio_rate{short}{{slo=\"{name}\"}} > {threshold}"
        );
        if b.severity == burn::Severity::Page {
            let _ = write!(
                expr,
                "\nand slo:bad_events:increase{long}{{slo=\"{name}\"}} >= {MIN_BAD_EVENTS_TO_PAGE}"
            );
        }
        let spent = b.budget_spent(slo.window_secs) * 100.0;
        let _ = writeln!(out, "      - alert: {ALERT}");
        let _ = writeln!(out, "        expr: |");
        for line in expr.lines() {
            let _ = writeln!(out, "          {line}");
        }
        let _ = writeln!(out, "        labels:");
        let _ = writeln!(out, "          slo: {name}");
        let _ = writeln!(out, "          severity: {}", b.severity.label());
        let _ = writeln!(out, "          long_window: {long}");
        let _ = writeln!(out, "          short_window: {short}");
        let _ = writeln!(out, "        annotations:");
        let _ = writeln!(
            out,
            "          summary: \"{}: the error budget burns {}x as fast as the SLO allows ({long} and {short})\"",
            slo.display_name,
            num(b.factor)
        );
        let _ = writeln!(
            out,
            "          description: \"{{{{ $value | humanizePercentage }}}} of events were bad over {long} against a budget of {}; at this rate {}% of the {period} budget is gone in {long}.\"",
            percent(slo.budget()),
            num((spent * 10.0).round() / 10.0)
        );
        let _ = writeln!(out, "          runbook_url: {RUNBOOK}");
    }
}

fn record(out: &mut String, record: &str, slo: &str, expr: &str) {
    let _ = writeln!(out, "      - record: {record}");
    let _ = writeln!(out, "        expr: {expr}");
    let _ = writeln!(out, "        labels:");
    let _ = writeln!(out, "          slo: {slo}");
}

/// The PromQL selectors of good-or-bad and total events: (counted, total, counted is good).
fn selectors(sli: &Sli) -> Option<(String, String, bool)> {
    match sli {
        Sli::Ratio {
            good,
            counted: Source::Prometheus(counted),
            total: Source::Prometheus(total),
        } => Some((
            counted.render(&counted.metric, &[]),
            total.render(&total.metric, &[]),
            *good,
        )),
        Sli::Threshold {
            source: Source::Prometheus(histogram),
            value,
        } => Some((bucket(histogram, *value), count(histogram), true)),
        _ => None,
    }
}

/// The histogram's bucket at `value` (its `le` label as Prometheus writes the bound).
fn bucket(histogram: &Selector, value: f64) -> String {
    let le = num(value);
    histogram.render(&format!("{}_bucket", histogram.metric), &[("le", "=", &le)])
}

fn count(histogram: &Selector) -> String {
    histogram.render(&format!("{}_count", histogram.metric), &[])
}

/// Bad events over all events within `w`.
fn error_ratio(sli: &Sli, w: &str) -> String {
    let Some((counted, total, good)) = selectors(sli) else {
        return String::new();
    };
    let counted = format!("(sum(rate({counted}[{w}])) or vector(0))");
    // No events, no sample (rather than 0/0 = NaN on the boards).
    let total = format!("(sum(rate({total}[{w}])) > 0)");
    if good {
        format!("1 - {counted} / {total}")
    } else {
        format!("{counted} / {total}")
    }
}

/// Bad events within `w`.
fn bad_events(sli: &Sli, w: &str) -> String {
    let Some((counted, total, good)) = selectors(sli) else {
        return String::new();
    };
    let counted = format!("(sum(increase({counted}[{w}])) or vector(0))");
    if good {
        format!("sum(increase({total}[{w}])) - {counted}")
    } else {
        counted
    }
}

/// A number as short as it reads back (no float tail such as `0.014400000000000001`).
pub fn num(x: f64) -> String {
    for digits in 1..=12 {
        let text = format!("{x:.digits$}");
        if text
            .parse::<f64>()
            .is_ok_and(|y| (y - x).abs() <= x.abs() * 1e-12)
        {
            let trimmed = text.trim_end_matches('0').trim_end_matches('.');
            return trimmed.to_owned();
        }
    }
    x.to_string()
}

/// `0.001` as `0.1%`.
fn percent(x: f64) -> String {
    format!("{}%", num(x * 100.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_without_float_tails() {
        assert_eq!(num(14.4 * 0.001), "0.0144");
        assert_eq!(num(0.999), "0.999");
        assert_eq!(num(1.0 - 0.999), "0.001");
        assert_eq!(num(0.25), "0.25");
        assert_eq!(num(1.0), "1");
        assert_eq!(num(6.0 * (1.0 - 0.99)), "0.06");
    }
}
