//! `--html`: one self-contained HTML report (no external scripts, fonts or stylesheets) for a
//! person: verdict and reasons, run parameters, errors by kind, the latency table, one row per
//! entry of a `--targets` mix, the SLO table, the baseline comparison, and four SVG plots drawn
//! with `plotters` and inlined, each as wide as the page — latency by percentile on
//! HdrHistogram's log `1/(1-p)` axis (corrected, and uncorrected dashed on top of it), latency
//! (p50/p99/max, and uncorrected p99 dashed) per second, throughput per second, and outcome
//! classes per second. The latency gates (`p99<250ms`) are drawn on both latency plots as
//! labelled dashed lines. Every string that came from the user or the network is HTML-escaped;
//! the SVGs hold only our own labels, numbers and gate expressions (escaped by `plotters`).

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use hdrhistogram::Histogram;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

use crate::numfmt::{fmt_num, fmt_value};
use crate::recorder::{IntervalStats, Outcome, Summary};
use crate::report::{Latency, Report};
use crate::slo::Slo;
use crate::verdict::Verdict;

const W: u32 = 900;
const H: u32 = 380;
/// Colour per outcome class, in [`Outcome::ALL`] order.
const CLASS_COLOURS: [RGBColor; 7] = [
    RGBColor(46, 125, 50),
    RGBColor(2, 119, 189),
    RGBColor(239, 108, 0),
    RGBColor(142, 36, 170),
    RGBColor(198, 40, 40),
    RGBColor(69, 90, 100),
    RGBColor(0, 0, 0),
];
const CORRECTED: RGBColor = RGBColor(198, 40, 40);
const UNCORRECTED: RGBColor = RGBColor(2, 119, 189);
/// Uncorrected p99 per second: a colour of its own, for the plot's dashes are by colour.
const UNCORRECTED_P99: RGBColor = RGBColor(21, 101, 192);
/// SLO threshold lines.
const SLO_COLOUR: RGBColor = RGBColor(216, 27, 96);
/// A gate's line is drawn when its threshold is at most this many times the plot's largest
/// value (further up it would flatten the data into the axis); otherwise a note says so.
const MAX_STRETCH: f64 = 20.0;

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
        "<h2>Errors by kind</h2>\n<table id=\"errors-by-kind\"><thead><tr>"
    );
    let named = r.errors_by_kind.named();
    for (k, _) in &named {
        let _ = write!(o, "<th>{k}</th>");
    }
    let _ = writeln!(o, "</tr></thead><tbody>");
    row(
        o,
        &named.iter().map(|(_, n)| n.to_string()).collect::<Vec<_>>(),
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

/// A latency gate to draw: its expression and threshold, ms.
type Gate = (String, f64);

/// The report's latency gates (percentiles, mean, max), read back from their expressions.
fn latency_gates(r: &Report) -> Vec<Gate> {
    r.slo
        .iter()
        .filter_map(|s| s.expr.parse::<Slo>().ok())
        .filter(|s| s.metric.is_latency())
        .map(|s| (s.expr, s.threshold))
        .collect()
}

/// The top of a latency plot whose data reach `data_max`: room for the gates' lines within
/// [`MAX_STRETCH`], and notes for the gates beyond.
fn latency_range(data_max: f64, gates: &[Gate]) -> (f64, Vec<Gate>, Vec<String>) {
    let data_max = data_max.max(0.001);
    let (drawn, above): (Vec<Gate>, Vec<Gate>) = gates
        .iter()
        .cloned()
        .partition(|(_, t)| *t <= data_max * MAX_STRETCH);
    let top = drawn.iter().map(|g| g.1).fold(data_max, f64::max) * 1.1;
    let notes = above
        .into_iter()
        .map(|(expr, t)| {
            format!(
                "SLO {expr} ({} ms) is above this plot, whose largest value is {} ms.",
                fmt_num(t),
                fmt_num(data_max)
            )
        })
        .collect();
    (top, drawn, notes)
}

/// The threshold lines of `gates`, from `x0` to `x1`.
fn gate_series<X: Clone>(gates: &[Gate], x0: X, x1: X) -> Vec<Series<X, f64>> {
    gates
        .iter()
        .map(|(expr, t)| {
            (
                format!("SLO {expr}"),
                SLO_COLOUR,
                vec![(x0.clone(), *t), (x1.clone(), *t)],
                Stroke::Threshold,
            )
        })
        .collect()
}

fn plot_err<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> io::Error {
    io::Error::other(format!("drawing a plot failed: {e}"))
}

/// How a line is drawn.
#[derive(Clone, Copy, PartialEq)]
enum Stroke {
    /// A solid line this wide.
    Solid(u32),
    /// A dashed line, 2 px wide; its colour must be its own in the chart (the dashes are set
    /// by colour).
    Dashed,
    /// An SLO threshold: dashed, and its label written on the plot above the line's start.
    Threshold,
}

/// One line of a chart: legend label, colour, points, stroke.
type Series<X, Y> = (String, RGBColor, Vec<(X, Y)>, Stroke);

/// Draws one line chart into an SVG string.
fn line_chart<X, Y>(
    caption: &str,
    x_desc: &str,
    y_desc: &str,
    x: X,
    y: Y,
    x_fmt: &dyn Fn(&X::Value) -> String,
    series: Vec<Series<X::Value, Y::Value>>,
) -> io::Result<String>
where
    X: AsRangedCoord,
    Y: AsRangedCoord,
    X::CoordDescType: ValueFormatter<X::Value>,
    Y::CoordDescType: ValueFormatter<Y::Value>,
    X::Value: Clone + 'static,
    Y::Value: Clone + 'static,
{
    let mut svg = String::new();
    let mut dashed = Vec::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 20))
            .margin(12)
            .margin_right(45)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(x, y)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_label_formatter(x_fmt)
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(plot_err)?;
        let any = series.iter().any(|s| !s.2.is_empty());
        for (label, colour, points, stroke) in series {
            if points.is_empty() {
                continue;
            }
            let width = match stroke {
                Stroke::Solid(w) => w,
                Stroke::Dashed | Stroke::Threshold => 2,
            };
            if stroke != Stroke::Solid(width) {
                dashed.push(colour);
            }
            if stroke == Stroke::Threshold {
                let at = points[0].clone();
                chart
                    .draw_series(std::iter::once(
                        EmptyElement::at(at)
                            + Text::new(
                                label.clone(),
                                (6, -18),
                                ("sans-serif", 14).into_font().color(&colour),
                            ),
                    ))
                    .map_err(plot_err)?;
            }
            chart
                .draw_series(LineSeries::new(points, colour.stroke_width(width)))
                .map_err(plot_err)?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(width))
                });
        }
        if any {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(plot_err)?;
        }
        root.present().map_err(plot_err)?;
    }
    Ok(dash(svg, &dashed))
}

/// Dashes every stroke of the `colours` in `svg` (plotters draws solid lines only; a dashed
/// series of its own is drawn as many short lines, which a reader cannot follow as one).
fn dash(svg: String, colours: &[RGBColor]) -> String {
    colours.iter().fold(svg, |svg, c| {
        let stroke = format!("stroke=\"#{:02X}{:02X}{:02X}\"", c.0, c.1, c.2);
        svg.replace(&stroke, &format!("{stroke} stroke-dasharray=\"7 5\""))
    })
}

/// (1/(1-q), ms) points of a µs histogram, as HdrHistogram's plotter draws them.
fn percentile_points(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    h.iter_quantiles(5)
        .filter(|v| v.quantile_iterated_to() < 1.0)
        .map(|v| {
            (
                1.0 / (1.0 - v.quantile_iterated_to()),
                v.value_iterated_to() as f64 / 1000.0,
            )
        })
        .collect()
}

/// `10` → "90%", `1000` → "99.9%".
fn percentile_label(x: &f64) -> String {
    let p = (1.0 - 1.0 / x.max(1.0)) * 100.0;
    let s = format!("{p:.4}");
    format!("{}%", s.trim_end_matches('0').trim_end_matches('.'))
}

/// The percentile plot, and notes for gates above its range. The corrected line is drawn wide
/// and the uncorrected one dashed on top, so both show where they coincide.
fn percentile_plot(s: &Summary, gates: &[Gate]) -> io::Result<(String, Vec<String>)> {
    let (c, u) = (
        percentile_points(&s.corrected),
        percentile_points(&s.uncorrected),
    );
    let x_max = c.iter().chain(&u).map(|p| p.0).fold(100.0_f64, f64::max) * 10.0;
    let x_max = 10f64.powf(x_max.log10().ceil()).min(1e7);
    let data_max = c.iter().chain(&u).map(|p| p.1).fold(0.0_f64, f64::max);
    let (y_max, drawn, notes) = latency_range(data_max, gates);
    let mut series = vec![
        (
            "corrected (from intended send)".into(),
            CORRECTED,
            c,
            Stroke::Solid(4),
        ),
        (
            "uncorrected (from actual send)".into(),
            UNCORRECTED,
            u,
            Stroke::Dashed,
        ),
    ];
    series.extend(gate_series(&drawn, 1.0, x_max));
    let svg = line_chart(
        "Latency by percentile (log 1/(1-p) axis)",
        "Percentile",
        "Latency (ms)",
        (1.0..x_max).log_scale(),
        0.0..y_max,
        &percentile_label,
        series,
    )?;
    Ok((svg, notes))
}

fn seconds_axis(intervals: &[IntervalStats]) -> std::ops::Range<f64> {
    0.0..(intervals.len() as f64).max(1.0)
}

fn secs_label(x: &f64) -> String {
    let s = format!("{x:.1}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The seconds that lie fully inside the measurement window: a rate plot of the last, partial
/// second (completions draining after the window) would show a misleading drop.
fn full_seconds(intervals: &[IntervalStats], duration_s: f64) -> &[IntervalStats] {
    let full = intervals
        .iter()
        .take_while(|i| (i.second + 1) as f64 <= duration_s + 1e-3)
        .count();
    if full == 0 {
        intervals
    } else {
        &intervals[..full]
    }
}

/// Each second's value plotted at the middle of that second.
fn per_second(intervals: &[IntervalStats], f: impl Fn(&IntervalStats) -> f64) -> Vec<(f64, f64)> {
    intervals
        .iter()
        .map(|i| (i.second as f64 + 0.5, f(i)))
        .collect()
}

/// Latency per second (corrected p50/p99/max, uncorrected p99 dashed), and notes for gates
/// above its range.
fn latency_plot(intervals: &[IntervalStats], gates: &[Gate]) -> io::Result<(String, Vec<String>)> {
    let ms = |v: u64| v as f64 / 1000.0;
    let data_max = intervals
        .iter()
        .map(|i| ms(i.max_us.max(i.p99_uncorrected_us)))
        .fold(0.0_f64, f64::max);
    let (y_max, drawn, notes) = latency_range(data_max, gates);
    let busy: Vec<&IntervalStats> = intervals.iter().filter(|i| i.total() > 0).collect();
    let pts = |f: &dyn Fn(&IntervalStats) -> f64| {
        busy.iter()
            .map(|i| (i.second as f64 + 0.5, f(i)))
            .collect::<Vec<_>>()
    };
    let axis = seconds_axis(intervals);
    let mut series = vec![
        (
            "max".into(),
            CLASS_COLOURS[4],
            pts(&|i| ms(i.max_us)),
            Stroke::Solid(2),
        ),
        (
            "p99".into(),
            CLASS_COLOURS[2],
            pts(&|i| ms(i.p99_us)),
            Stroke::Solid(2),
        ),
        (
            "p50".into(),
            CLASS_COLOURS[0],
            pts(&|i| ms(i.p50_us)),
            Stroke::Solid(2),
        ),
        (
            "p99 uncorrected".into(),
            UNCORRECTED_P99,
            pts(&|i| ms(i.p99_uncorrected_us)),
            Stroke::Dashed,
        ),
    ];
    series.extend(gate_series(&drawn, axis.start, axis.end));
    let svg = line_chart(
        "Corrected latency per second (uncorrected p99 dashed)",
        "Time since start (s)",
        "Latency (ms)",
        axis,
        0.0..y_max,
        &secs_label,
        series,
    )?;
    Ok((svg, notes))
}

fn throughput_plot(intervals: &[IntervalStats]) -> io::Result<String> {
    let y_max = intervals
        .iter()
        .map(|i| i.total() as f64)
        .fold(0.0_f64, f64::max)
        .max(1.0)
        * 1.15;
    line_chart(
        "Completed requests per second",
        "Time since start (s)",
        "Throughput (req/s)",
        seconds_axis(intervals),
        0.0..y_max,
        &secs_label,
        vec![(
            "all classes".into(),
            CLASS_COLOURS[1],
            per_second(intervals, |i| i.total() as f64),
            Stroke::Solid(2),
        )],
    )
}

fn classes_plot(intervals: &[IntervalStats]) -> io::Result<String> {
    let y_max = intervals
        .iter()
        .map(|i| i.total() as f64)
        .fold(0.0_f64, f64::max)
        .max(1.0)
        * 1.15;
    let series = Outcome::ALL
        .iter()
        .filter(|o| intervals.iter().any(|i| i.count(**o) > 0))
        .map(|o| {
            (
                o.tag().to_string(),
                CLASS_COLOURS[o.index()],
                per_second(intervals, |i| i.count(*o) as f64),
                Stroke::Solid(2),
            )
        })
        .collect();
    line_chart(
        "Responses per second by outcome class",
        "Time since start (s)",
        "Requests per second",
        seconds_axis(intervals),
        0.0..y_max,
        &secs_label,
        series,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_labels() {
        assert_eq!(
            esc("<script>\"x\"&'y'</script>\n"),
            "&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;&lt;/script&gt; "
        );
        assert_eq!(percentile_label(&1.0), "0%");
        assert_eq!(percentile_label(&10.0), "90%");
        assert_eq!(percentile_label(&1000.0), "99.9%");
        assert_eq!(percentile_label(&100_000.0), "99.999%");
        assert_eq!(secs_label(&2.0), "2");
        assert_eq!(secs_label(&2.5), "2.5");
        let iv: Vec<IntervalStats> = (0..4)
            .map(|s| IntervalStats {
                second: s,
                ..Default::default()
            })
            .collect();
        assert_eq!(full_seconds(&iv, 3.0).len(), 3);
        assert_eq!(full_seconds(&iv, 3.5).len(), 3);
        assert_eq!(
            full_seconds(&iv, 0.4).len(),
            4,
            "a run shorter than a second shows all"
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
        };
        let report = Report::build(&summary, &meta, &[], None);
        let page = render(&report, &summary).expect("renders");
        assert_eq!(page.matches("<svg").count(), 4);
        assert!(page.contains("Verdict: INVALID"));
        assert!(page.contains("http://127.0.0.1:9/&lt;x&gt;"));
    }
}
