//! The text summary printed on stdout: requests, rates, status counts, errors by kind, the
//! percentile table (corrected and uncorrected), one row per entry of a `--targets` mix, each
//! SLO, the baseline comparison, the self-check, the verdict.

use std::fmt::Write;

use crate::numfmt::{fmt_num, fmt_value};
use crate::report::{Latency, Report, TargetRow, TraceReport};

/// Widest entry name shown in the per-entry table; longer ones are cut (the JSON has them whole).
const MAX_NAME: usize = 48;

/// Renders `r` as the human summary.
pub fn render(r: &Report) -> String {
    let mut o = String::new();
    // Writing into a String cannot fail.
    let _ = write_report(&mut o, r);
    o
}

fn write_report(o: &mut String, r: &Report) -> std::fmt::Result {
    writeln!(
        o,
        "loadgen: {} ({} model{})",
        r.url,
        r.model,
        r.connections
            .map_or(String::new(), |c| format!(", {c} connections"))
    )?;
    if !r.generators.is_empty() {
        writeln!(o, "generators: {}", r.generators.join(", "))?;
    }
    writeln!(o, "start {}  duration {:.2}s", r.start, r.duration_s)?;
    let target = r
        .target_rate
        .map_or("closed model".to_string(), |t| format!("target {t:.1}"));
    writeln!(
        o,
        "requests {}  rps {:.1} ({target})",
        r.requests.total, r.achieved_rate
    )?;
    writeln!(
        o,
        "ok {}  errors {}  timeouts {}  error rate {:.3}%  server error rate {:.3}%",
        r.requests.ok,
        r.requests.errors,
        r.requests.timeouts,
        r.error_rate * 100.0,
        r.server_error_rate * 100.0
    )?;
    if !r.status_counts.is_empty() {
        let s: Vec<String> = r
            .status_counts
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        writeln!(o, "status {}", s.join("  "))?;
    }
    let by_class: Vec<String> = r
        .requests
        .by_class
        .iter()
        .filter(|(k, _)| *k == "error" || *k == "timeout")
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    if !by_class.is_empty() {
        writeln!(o, "failures {}", by_class.join("  "))?;
    }
    writeln!(o, "errors by kind: {}", r.errors_by_kind.brief())?;
    writeln!(o)?;
    writeln!(
        o,
        "latency (ms)   {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "p50", "p90", "p99", "p99.9", "p99.99", "max", "mean"
    )?;
    row(o, "corrected", &r.latency_ms.corrected)?;
    row(o, "uncorrected", &r.latency_ms.uncorrected)?;
    if !r.targets.is_empty() {
        targets(o, &r.targets)?;
    }
    if let Some(t) = &r.traces {
        traces(o, t)?;
    }
    if !r.slo.is_empty() {
        writeln!(o)?;
        writeln!(o, "SLO")?;
        // Gates from an SLO file carry the SLO's name and are longer: one column for all.
        let width = r
            .slo
            .iter()
            .map(|s| s.label().len())
            .max()
            .unwrap_or(0)
            .max(28);
        for s in &r.slo {
            writeln!(
                o,
                "  {:<width$} actual {:<14} {}",
                s.label(),
                fmt_value(&s.expr, s.actual),
                if s.pass { "PASS" } else { "FAIL" }
            )?;
        }
    }
    if let Some(c) = &r.baseline {
        writeln!(o)?;
        writeln!(
            o,
            "baseline {} (max regression {:.1}%, latency floor {}ms: a latency regresses when new - floor > (baseline + floor) * (1 + max regression))",
            c.source,
            c.max_regression * 100.0,
            fmt_num(c.regression_floor_ms)
        )?;
        writeln!(
            o,
            "  {:<12} {:>12} {:>12} {:>9}",
            "metric", "baseline", "current", "change"
        )?;
        for row in &c.rows {
            let change = row
                .change
                .map_or("n/a".to_string(), |x| format!("{:+.1}%", x * 100.0));
            writeln!(
                o,
                "  {:<12} {:>12} {:>12} {:>9}  {}{}",
                row.metric,
                fmt_num(row.baseline),
                fmt_num(row.current),
                change,
                if row.pass { "PASS" } else { "FAIL" },
                if row.within_floor {
                    " (within the latency floor)"
                } else {
                    ""
                }
            )?;
        }
    }
    if let Some(c) = &r.self_check {
        writeln!(o)?;
        let lag = c.schedule_lag_ms.as_ref().map_or("n/a".to_string(), |l| {
            format!("p50 {:.2}ms p99 {:.2}ms max {:.2}ms", l.p50, l.p99, l.max)
        });
        let busy = c
            .generator_busy
            .map_or("n/a".to_string(), |b| format!("{:.0}%", b * 100.0));
        writeln!(
            o,
            "self-check {}: schedule lag {lag} (bound {:.1}ms), queued {}, generator busy {busy}",
            if c.valid { "ok" } else { "FAILED" },
            c.max_lag_ms,
            c.queued
        )?;
        for n in &c.notes {
            writeln!(o, "  {n}")?;
        }
    }
    writeln!(o)?;
    writeln!(o, "verdict: {}", r.verdict.label())?;
    for reason in &r.reasons {
        writeln!(o, "  {reason}")?;
    }
    Ok(())
}

fn row(o: &mut String, name: &str, l: &Latency) -> std::fmt::Result {
    writeln!(
        o,
        "  {name:<12} {:>10.3} {:>10.3} {:>10.3} {:>10.3} {:>10.3} {:>10.3} {:>10.3}",
        l.p50, l.p90, l.p99, l.p999, l.p9999, l.max, l.mean
    )
}

/// The per-entry table: requests, corrected percentiles, status counts and error kinds.
fn targets(o: &mut String, rows: &[TargetRow]) -> std::fmt::Result {
    let names: Vec<String> = rows.iter().map(|t| cut(&t.name(), MAX_NAME)).collect();
    let width = names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0)
        .max(5);
    writeln!(o)?;
    writeln!(o, "per entry of the mix (corrected latency, ms)")?;
    writeln!(
        o,
        "  {:<width$} {:>9} {:>9} {:>9} {:>9}  status / errors by kind",
        "entry", "requests", "p50", "p99", "max"
    )?;
    for (t, name) in rows.iter().zip(&names) {
        let status: Vec<String> = t
            .status_counts
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        let kinds: Vec<String> = t
            .errors_by_kind
            .named()
            .iter()
            .filter(|(k, n)| *n > 0 && !k.starts_with("http_"))
            .map(|(k, n)| format!("{k}: {n}"))
            .collect();
        let l = &t.latency_ms.corrected;
        writeln!(
            o,
            "  {name:<width$} {:>9} {:>9.3} {:>9.3} {:>9.3}  {}",
            t.requests,
            l.p50,
            l.p99,
            l.max,
            status
                .into_iter()
                .chain(kinds)
                .collect::<Vec<_>>()
                .join("  ")
        )?;
    }
    Ok(())
}

/// Trace ids shown per list; the JSON and HTML reports have them all.
const TEXT_TRACES: usize = 3;

/// The traced requests: per class the slowest few and the first few failures, and the link
/// to the slowest of all when `--trace-url` was given.
fn traces(o: &mut String, t: &TraceReport) -> std::fmt::Result {
    writeln!(o)?;
    writeln!(
        o,
        "traces: {} requests sent a traceparent (--trace-sample {}); latency from the actual send",
        t.traced,
        fmt_num(t.sample_ratio)
    )?;
    for (class, c) in t.classes() {
        let list = |entries: &[crate::report::traces::TraceEntry]| {
            entries
                .iter()
                .take(TEXT_TRACES)
                .map(|e| format!("{} {:.3}ms", e.trace_id, e.latency_ms))
                .collect::<Vec<_>>()
                .join("  ")
        };
        writeln!(o, "  {class:<8} slowest {}", list(&c.slowest))?;
        if !c.first_failed.is_empty() {
            writeln!(o, "  {class:<8} first   {}", list(&c.first_failed))?;
        }
    }
    let slowest = t
        .classes()
        .flat_map(|(_, c)| c.slowest.first())
        .max_by(|a, b| a.latency_ms.total_cmp(&b.latency_ms));
    if let Some(url) = slowest.and_then(|e| e.url.as_deref()) {
        writeln!(o, "  slowest trace: {url}")?;
    }
    Ok(())
}

/// `s` cut to `max` characters, marking the cut with `…`.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}
