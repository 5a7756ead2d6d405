//! `--html`: one self-contained HTML report (no external scripts, fonts or stylesheets) for a
//! person: verdict and reasons, run parameters, errors by kind, the latency table, one row per
//! entry of a `--targets` mix, the SLO table, the baseline comparison, and the four SVG plots of
//! `report::plot` inlined, each as wide as the page (latency by percentile and per second with
//! the latency gates drawn on them, throughput and outcome classes per second). Every string
//! that came from the user or the network is HTML-escaped.

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use crate::numfmt::{fmt_num, fmt_value};
use crate::recorder::Summary;
use crate::report::plot::{
    classes_plot, full_seconds, latency_gates, latency_plot, percentile_plot, throughput_plot,
};
use crate::report::{Latency, Report};
use crate::verdict::Verdict;

/// Writes the report to `path`.
pub fn write(path: &Path, report: &Report, summary: &Summary) -> io::Result<()> {
    std::fs::write(path, render(report, summary)?)
}

/// The whole HTML document.
pub fn render(report: &Report, summary: &Summary) -> io::Result<String> {
    let mut o = String::with_capacity(64 * 1024);
    let title = format!("loadgen report: {}", report.url);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{CSS}</style></head><body>\n<h1>{}</h1>\n",
        esc(&title),
        esc(&title)
    );
    let (class, label) = match report.verdict {
        Verdict::Pass => ("pass", "PASS"),
        Verdict::Fail => ("fail", "FAIL"),
        Verdict::Invalid => ("invalid", "INVALID"),
        Verdict::Aborted => ("invalid aborted", "ABORTED"),
    };
    let _ = writeln!(
        o,
        "<p class=\"verdict {class}\" id=\"verdict\">Verdict: {label}</p>"
    );
    if !report.reasons.is_empty() {
        let _ = writeln!(o, "<ul class=\"reasons\">");
        for r in &report.reasons {
            let _ = writeln!(o, "<li>{}</li>", esc(r));
        }
        let _ = writeln!(o, "</ul>");
    }
    parameters(&mut o, report);
    errors_table(&mut o, report);
    latency_table(&mut o, report);
    targets_table(&mut o, report);
    traces_table(&mut o, report);
    slo_table(&mut o, report);
    baseline_table(&mut o, report);

    let gates = latency_gates(report);
    let _ = writeln!(o, "<h2>Plots</h2>");
    let (svg, notes) = percentile_plot(summary, &gates)?;
    figure(&mut o, "percentiles", "Latency by percentile", svg);
    off_scale(&mut o, &notes);
    let (svg, notes) = latency_plot(&summary.intervals, &gates)?;
    figure(&mut o, "latency-over-time", "Latency over time", svg);
    off_scale(&mut o, &notes);
    let full = full_seconds(&summary.intervals, report.duration_s);
    figure(
        &mut o,
        "throughput-over-time",
        "Throughput over time",
        throughput_plot(full)?,
    );
    figure(
        &mut o,
        "classes-over-time",
        "Outcome classes over time",
        classes_plot(full)?,
    );
    let _ = writeln!(
        o,
        "<p class=\"note\">Corrected latency is measured from each request's intended send time \
         (coordinated-omission corrected); uncorrected from the moment it was actually sent. \
         {} {}</p>\n</body></html>",
        esc(&report.tool),
        esc(&report.start)
    );
    Ok(o)
}

pub(crate) const CSS: &str = "body{font-family:sans-serif;margin:2em;color:#222}p,ul{max-width:60em}\
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}\
th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}\
.verdict{font-size:1.4em;font-weight:bold;padding:.3em .6em;display:inline-block;color:#fff}\
.pass{background:#2e7d32}.fail{background:#c62828}.invalid{background:#ef6c00}\
td.pass,td.fail{color:#fff}figure{margin:1em 0}figcaption{font-weight:bold;margin-bottom:.3em}\
figure svg{display:block;width:100%;height:auto}\
.note{color:#555;font-size:.9em}";

/// Escapes text for HTML element content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn row(o: &mut String, cells: &[String]) {
    let _ = write!(o, "<tr>");
    for c in cells {
        let _ = write!(o, "<td>{c}</td>");
    }
    let _ = writeln!(o, "</tr>");
}

fn parameters(o: &mut String, r: &Report) {
    let _ = writeln!(o, "<h2>Run</h2>\n<table id=\"parameters\"><tbody>");
    let rate = |v: Option<f64>| v.map_or("closed model".to_string(), |t| format!("{t:.1} req/s"));
    let mut rows = vec![
        ("Target", esc(&r.url)),
        ("Model", esc(&r.model)),
        ("Start", esc(&r.start)),
        ("Duration", format!("{:.2} s", r.duration_s)),
        ("Target rate", rate(r.target_rate)),
        ("Achieved rate", format!("{:.1} req/s", r.achieved_rate)),
        ("Requests", r.requests.total.to_string()),
        (
            "OK / errors / timeouts",
            format!(
                "{} / {} / {}",
                r.requests.ok, r.requests.errors, r.requests.timeouts
            ),
        ),
        ("Error rate", format!("{:.3} %", r.error_rate * 100.0)),
        (
            "Server error rate (5xx, unanswered)",
            format!("{:.3} %", r.server_error_rate * 100.0),
        ),
    ];
    if let Some(c) = r.connections {
        rows.insert(2, ("Connections", c.to_string()));
    }
    if !r.generators.is_empty() {
        rows.push(("Generators", esc(&r.generators.join(", "))));
    }
    let status: Vec<String> = r
        .status_counts
        .iter()
        .map(|(k, v)| format!("{}: {v}", esc(k)))
        .collect();
    rows.push(("Status counts", status.join(", ")));
    if let Some(c) = &r.self_check {
        let mut v = if c.valid {
            "ok".to_string()
        } else {
            "INVALID: the generator was the bottleneck".into()
        };
        if let Some(l) = &c.schedule_lag_ms {
            let _ = write!(
                v,
                "; schedule lag p99 {:.2} ms (bound {:.1} ms)",
                l.p99, c.max_lag_ms
            );
        }
        if let Some(b) = c.generator_busy {
            let _ = write!(v, "; generator busy {:.0} %", b * 100.0);
        }
        for n in &c.notes {
            let _ = write!(v, "; {}", esc(n));
        }
        rows.push(("Generator self-check", v));
    }
    for (k, v) in rows {
        let _ = writeln!(o, "<tr><th>{k}</th><td>{v}</td></tr>");
    }
    let _ = writeln!(o, "</tbody></table>");
}

/// Errors by kind: why requests failed, and the 4xx and 5xx answers.
fn errors_table(o: &mut String, r: &Report) {
    let _ = writeln!(
        o,
        "<h2>Errors by kind</h2>\n<table id=\"errors-by-kind\"><thead><tr><th></th>"
    );
    let named = r.errors_by_kind.named();
    for (k, _) in &named {
        let _ = write!(o, "<th>{k}</th>");
    }
    let _ = writeln!(o, "</tr></thead><tbody>");
    let counts = named.iter().map(|(_, n)| n.to_string());
    row(
        o,
        &std::iter::once("requests".to_string())
            .chain(counts)
            .collect::<Vec<_>>(),
    );
    let _ = writeln!(o, "</tbody></table>");
}

/// One row per entry of a `--targets` mix: which entry got the errors, and how fast it was.
fn targets_table(o: &mut String, r: &Report) {
    if r.targets.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "<h2>Per entry of the mix</h2>\n<table id=\"targets\"><thead><tr><th>entry</th>\
         <th>requests</th><th>status counts</th><th>errors by kind</th><th>error rate</th>\
         <th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>max ms</th><th>p99 uncorrected ms</th>\
         </tr></thead><tbody>"
    );
    for t in &r.targets {
        let status: Vec<String> = t
            .status_counts
            .iter()
            .map(|(k, v)| format!("{}: {v}", esc(k)))
            .collect();
        let l = &t.latency_ms.corrected;
        row(
            o,
            &[
                esc(&t.name()),
                t.requests.to_string(),
                status.join(", "),
                esc(&t.errors_by_kind.brief()),
                format!("{:.3} %", t.error_rate * 100.0),
                format!("{:.3}", l.p50),
                format!("{:.3}", l.p90),
                format!("{:.3}", l.p99),
                format!("{:.3}", l.max),
                format!("{:.3}", t.latency_ms.uncorrected.p99),
            ],
        );
    }
    let _ = writeln!(o, "</tbody></table>");
}

/// The traced requests (`--trace-sample`): per class the slowest and the first failed, each
/// trace id a link when `--trace-url` was given.
fn traces_table(o: &mut String, r: &Report) {
    let Some(t) = &r.traces else {
        return;
    };
    let _ = writeln!(
        o,
        "<h2>Traces</h2>\n<p>{} requests sent a sampled <code>traceparent</code> (--trace-sample \
         {}); latency from the actual send, which is what the trace shows.</p>\n\
         <table id=\"traces\"><thead><tr><th>class</th><th>list</th><th>trace id</th>\
         <th>latency (ms)</th><th>corrected (ms)</th><th>status</th><th>at (s)</th></tr></thead><tbody>",
        t.traced,
        crate::numfmt::fmt_num(t.sample_ratio)
    );
    for (class, c) in t.classes() {
        for (list, entries) in [("slowest", &c.slowest), ("first failed", &c.first_failed)] {
            for e in entries {
                let id = match &e.url {
                    Some(url) => format!(
                        "<a href=\"{}\" rel=\"noopener noreferrer\"><code>{}</code></a>",
                        esc(url),
                        esc(&e.trace_id)
                    ),
                    None => format!("<code>{}</code>", esc(&e.trace_id)),
                };
                row(
                    o,
                    &[
                        esc(class),
                        list.to_string(),
                        id,
                        format!("{:.3}", e.latency_ms),
                        format!("{:.3}", e.corrected_ms),
                        e.status.map_or("-".to_string(), |s| s.to_string()),
                        format!("{:.3}", e.at_s),
                    ],
                );
            }
        }
    }
    let _ = writeln!(o, "</tbody></table>");
}

fn latency_table(o: &mut String, r: &Report) {
    let _ = writeln!(
        o,
        "<h2>Latency (ms)</h2>\n<table id=\"latency\"><thead><tr><th></th><th>p50</th><th>p90</th>\
         <th>p99</th><th>p99.9</th><th>p99.99</th><th>max</th><th>mean</th></tr></thead><tbody>"
    );
    let cells = |name: &str, l: &Latency| {
        [name.to_string()]
            .into_iter()
            .chain(
                [l.p50, l.p90, l.p99, l.p999, l.p9999, l.max, l.mean]
                    .iter()
                    .map(|v| format!("{v:.3}")),
            )
            .collect::<Vec<_>>()
    };
    row(o, &cells("corrected", &r.latency_ms.corrected));
    row(o, &cells("uncorrected", &r.latency_ms.uncorrected));
    let _ = writeln!(o, "</tbody></table>");
}

fn slo_table(o: &mut String, r: &Report) {
    let _ = writeln!(o, "<h2>SLOs</h2>");
    if r.slo.is_empty() {
        let _ = writeln!(o, "<p>No SLO gates were given.</p>");
        return;
    }
    let _ = writeln!(
        o,
        "<table id=\"slo\"><thead><tr><th>SLO</th><th>actual</th><th>result</th></tr></thead><tbody>"
    );
    for s in &r.slo {
        let (c, l) = if s.pass {
            ("pass", "PASS")
        } else {
            ("fail", "FAIL")
        };
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td><td class=\"{c}\">{l}</td></tr>",
            esc(&s.label()),
            esc(&fmt_value(&s.expr, s.actual))
        );
    }
    let _ = writeln!(o, "</tbody></table>");
}

fn baseline_table(o: &mut String, r: &Report) {
    let Some(c) = &r.baseline else { return };
    let _ = writeln!(
        o,
        "<h2>Baseline comparison</h2>\n<p>Against {} (max regression {:.1} %, latency floor \
         {} ms: a latency regresses when new &minus; floor &gt; (baseline + floor) &times; \
         (1 + max regression))</p>\n\
         <table id=\"baseline\"><thead><tr><th>metric</th><th>baseline</th><th>current</th>\
         <th>change</th><th>result</th></tr></thead><tbody>",
        esc(&c.source),
        c.max_regression * 100.0,
        fmt_num(c.regression_floor_ms)
    );
    for x in &c.rows {
        let (cl, l) = if x.within_floor {
            ("pass", "PASS (within the latency floor)")
        } else if x.pass {
            ("pass", "PASS")
        } else {
            ("fail", "FAIL")
        };
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{cl}\">{l}</td></tr>",
            esc(&x.metric),
            fmt_num(x.baseline),
            fmt_num(x.current),
            x.change
                .map_or("n/a".to_string(), |c| format!("{:+.1} %", c * 100.0))
        );
    }
    let _ = writeln!(o, "</tbody></table>");
}

fn figure(o: &mut String, id: &str, caption: &str, svg: String) {
    let _ = writeln!(
        o,
        "<figure id=\"{id}\"><figcaption>{caption}</figcaption>\n{svg}\n</figure>"
    );
}

/// Says which gates' lines are above a plot's range.
fn off_scale(o: &mut String, notes: &[String]) {
    for n in notes {
        let _ = writeln!(o, "<p class=\"note\">{}</p>", esc(n));
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            esc("<script>\"x\"&'y'</script>\n"),
            "&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;&lt;/script&gt; "
        );
    }

    #[test]
    fn an_empty_run_still_renders_every_plot() {
        use crate::recorder::Recorder;
        use crate::report::RunMeta;
        use std::time::{Duration, Instant, SystemTime};
        let summary = Recorder::new(Instant::now(), SystemTime::now()).summary();
        let meta = RunMeta {
            url: "http://127.0.0.1:9/<x>".into(),
            model: "open".into(),
            connections: Some(1),
            target_rate: Some(10.0),
            achieved_rate: 0.0,
            duration: Duration::from_secs(1),
            generator_id: None,
            self_check: None,
            trace: None,
        };
        let report = Report::build(&summary, &meta, &[], None);
        let page = render(&report, &summary).expect("renders");
        assert_eq!(page.matches("<svg").count(), 4);
        assert!(page.contains("Verdict: INVALID"));
        assert!(page.contains("http://127.0.0.1:9/&lt;x&gt;"));
    }
}
