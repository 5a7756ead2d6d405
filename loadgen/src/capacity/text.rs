//! The text summary of a capacity search: the settings, a table of the steps by throughput
//! with a bar of the gated latency against the SLO line (`|`) and the knee marked, the
//! capacity, the autoscaling target, the baseline comparison and the verdict.

use std::fmt::Write;

use super::curve::Curve;
use super::report::{CapacityReport, fmt_rate};

/// Columns of the bar up to the SLO line.
const LINE_AT: usize = 30;
/// Widest bar.
const BAR_MAX: usize = 44;

/// Renders `r` as the human summary.
pub fn render(r: &CapacityReport) -> String {
    let mut o = String::new();
    // Writing into a String cannot fail.
    let _ = write_report(&mut o, r);
    o
}

/// A bar of `v` with the SLO line `|` at [`LINE_AT`] for `slo` (or scaled to `max` without
/// one); `>` when it goes past the widest bar.
fn bar(v: f64, slo: Option<f64>, max: f64) -> String {
    let unit = match slo {
        Some(s) if s > 0.0 => s / LINE_AT as f64,
        _ => (max / BAR_MAX as f64).max(f64::MIN_POSITIVE),
    };
    let n = (v / unit).round().max(0.0);
    let over = n > BAR_MAX as f64;
    let n = (n as usize).min(BAR_MAX);
    let mut s: String = (0..BAR_MAX)
        .map(|i| {
            if i < n {
                '#'
            } else if slo.is_some() && i == LINE_AT {
                '|'
            } else {
                ' '
            }
        })
        .collect();
    if slo.is_some() && n > LINE_AT {
        s.replace_range(LINE_AT..=LINE_AT, "|");
    }
    if over {
        s.push('>');
    }
    s.trim_end().to_string()
}

fn write_report(o: &mut String, r: &CapacityReport) -> std::fmt::Result {
    let s = &r.settings;
    writeln!(o, "loadgen capacity: {}", r.url)?;
    writeln!(o, "gates: {}", s.gates.join(", "))?;
    writeln!(
        o,
        "steps of {}s from {:.1} to {:.1} req/s (doubling, then bisecting to {:.1}%), {} connections; start {}",
        crate::numfmt::fmt_num(s.step_duration_s),
        s.min_rate,
        s.max_rate,
        s.precision * 100.0,
        s.connections,
        r.start
    )?;
    writeln!(o)?;
    let curve = Curve::of(r);
    let max = curve
        .points
        .iter()
        .map(|p| p.corrected)
        .fold(0.0_f64, f64::max);
    let line = match (&curve.slo_expr, curve.slo_ms) {
        (Some(e), Some(ms)) => format!(
            "{} (corrected) against {e}: | = {}ms",
            curve.metric,
            crate::numfmt::fmt_num(ms)
        ),
        _ => format!("{} (corrected); no latency gate, no SLO line", curve.metric),
    };
    writeln!(
        o,
        "{:>10} {:>10} {:>9} {:>9} {:>9} {:>9} {:>8}  {:<7}  {line}",
        "rate",
        "achieved",
        "p50 ms",
        format!("{} ms", curve.metric),
        format!("{} unc.", curve.metric),
        "p99 ms",
        "errors",
        "verdict"
    )?;
    for p in &curve.points {
        let step = r
            .steps
            .iter()
            .find(|s| s.rate == p.rate && s.achieved == p.achieved);
        let (p99, errors) = step.map_or((0.0, 0.0), |s| (s.latency_ms.corrected.p99, s.error_rate));
        writeln!(
            o,
            "{:>10.1} {:>10.1} {:>9.3} {:>9.3} {:>9} {:>9.3} {:>7.3}%  {:<7}  {}{}",
            p.rate,
            p.achieved,
            p.p50,
            p.corrected,
            p.uncorrected.map_or("-".to_string(), |u| format!("{u:.3}")),
            p99,
            errors * 100.0,
            p.verdict.label(),
            bar(p.corrected, curve.slo_ms, max),
            if p.knee {
                "   <- knee: the capacity"
            } else {
                ""
            }
        )?;
    }
    for s in r
        .steps
        .iter()
        .filter(|s| s.verdict != super::StepVerdict::Pass)
    {
        let mut why = s.reasons.clone();
        why.extend(s.ended_early.iter().map(|e| format!("ended early: {e}")));
        if !why.is_empty() {
            writeln!(o, "  {:.1} req/s: {}", s.rate, why.join("; "))?;
        }
    }
    writeln!(o)?;
    writeln!(
        o,
        "capacity: {} (the highest rate at which every gate held); first failing rate: {}",
        fmt_rate(r.capacity_rps),
        fmt_rate(r.first_failing_rps)
    )?;
    if let Some(a) = &r.autoscaling {
        writeln!(
            o,
            "autoscaling: {:.1} req/s per task (over {} task{}) x headroom {:.0}% = {:.1} req/s per task: \
             ALBRequestCountPerTarget target {} requests per task per minute \
             (terraform compute stack: requests_per_target = {})",
            a.capacity_per_task_rps,
            a.tasks,
            if a.tasks == 1 { "" } else { "s" },
            a.headroom * 100.0,
            a.target_rps_per_task,
            a.alb_request_count_per_target,
            a.alb_request_count_per_target
        )?;
    }
    if let Some(c) = &r.baseline {
        writeln!(
            o,
            "baseline {}: capacity {} -> {} ({}), at most -{:.1}%: {}",
            c.source,
            fmt_rate(c.baseline_capacity_rps),
            fmt_rate(c.capacity_rps),
            c.change
                .map_or("n/a".to_string(), |x| format!("{:+.1}%", x * 100.0)),
            c.max_regression * 100.0,
            if c.pass { "PASS" } else { "FAIL" }
        )?;
        for n in &c.notes {
            writeln!(o, "  note: {n}")?;
        }
    }
    writeln!(o)?;
    writeln!(o, "verdict: {}", r.verdict.label())?;
    for reason in &r.reasons {
        writeln!(o, "  - {reason}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_put_the_slo_line_at_a_fixed_column() {
        assert_eq!(
            bar(0.0, Some(50.0), 0.0),
            format!("{}|", " ".repeat(LINE_AT)).trim_end()
        );
        let half = bar(25.0, Some(50.0), 0.0);
        assert_eq!(half.matches('#').count(), LINE_AT / 2);
        assert_eq!(half.find('|'), Some(LINE_AT));
        let over = bar(60.0, Some(50.0), 0.0);
        assert_eq!(over.find('|'), Some(LINE_AT));
        assert_eq!(over.len(), 36);
        assert!(bar(1000.0, Some(50.0), 0.0).ends_with('>'));
        assert_eq!(bar(10.0, None, 10.0).matches('#').count(), BAR_MAX);
        assert!(!bar(10.0, None, 10.0).contains('|'));
    }
}
