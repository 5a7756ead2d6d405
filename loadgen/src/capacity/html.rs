//! `capacity --html`: one self-contained HTML page (no external scripts, fonts or
//! stylesheets; the run report's style) with the verdict, the capacity and the autoscaling
//! target, the baseline comparison, an inline SVG of latency against throughput (the gated
//! percentile corrected and uncorrected and the median per step, the SLO line dashed, the knee
//! marked) and the table of steps. Every string from the user or the network is escaped.

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use plotters::prelude::*;

use super::StepVerdict;
use super::curve::Curve;
use super::report::{CapacityReport, fmt_rate};
use crate::numfmt::{fmt_num, fmt_value};
use crate::report::html::{CSS, esc};
use crate::report::plot::{draw_legend, plot_err};
use crate::verdict::Verdict;

const W: u32 = 900;
const H: u32 = 420;
const CORRECTED: RGBColor = RGBColor(198, 40, 40);
const UNCORRECTED: RGBColor = RGBColor(2, 119, 189);
const MEDIAN: RGBColor = RGBColor(46, 125, 50);
const SLO: RGBColor = RGBColor(239, 108, 0);
const KNEE: RGBColor = RGBColor(69, 90, 100);

/// One line of the plot: legend label, colour, points.
type Series = (String, RGBColor, Vec<(f64, f64)>);

/// Writes the page to `path`.
pub fn write(path: &Path, r: &CapacityReport) -> io::Result<()> {
    std::fs::write(path, render(r)?)
}

/// The whole HTML document.
pub fn render(r: &CapacityReport) -> io::Result<String> {
    let mut o = String::with_capacity(32 * 1024);
    let title = format!("loadgen capacity: {}", r.url);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t}</title><style>{CSS}</style></head><body>\n<h1>{t}</h1>\n",
        t = esc(&title)
    );
    let class = match r.verdict {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        _ => "invalid",
    };
    let _ = writeln!(
        o,
        "<p class=\"verdict {class}\" id=\"verdict\">Verdict: {}</p>",
        r.verdict.label()
    );
    let _ = writeln!(o, "<ul class=\"reasons\">");
    for reason in &r.reasons {
        let _ = writeln!(o, "<li>{}</li>", esc(reason));
    }
    let _ = writeln!(o, "</ul>");
    summary(&mut o, r);
    baseline(&mut o, r);
    let curve = Curve::of(r);
    let _ = writeln!(
        o,
        "<h2>Latency against throughput</h2>\n<figure id=\"curve\"><figcaption>{} per step against the throughput it achieved{}</figcaption>\n{}\n</figure>",
        esc(&curve.metric),
        curve.slo_expr.as_ref().map_or(String::new(), |e| format!(
            "; dashed: the SLO line of {}",
            esc(e)
        )),
        plot(&curve)?
    );
    steps(&mut o, r);
    let _ = writeln!(
        o,
        "<p class=\"note\">Each step is a whole open-model run at its rate; corrected latency is \
         measured from each request's intended send time (coordinated-omission corrected), \
         uncorrected from the moment it was sent. {} {}</p>\n</body></html>",
        esc(&r.tool),
        esc(&r.start)
    );
    Ok(o)
}

fn summary(o: &mut String, r: &CapacityReport) {
    let s = &r.settings;
    let mut rows = vec![
        ("Target", esc(&r.url)),
        ("Gates", esc(&s.gates.join(", "))),
        (
            "Search",
            format!(
                "steps of {} s from {:.1} to {:.1} req/s, doubling then bisecting to {:.1} %, {} connections",
                fmt_num(s.step_duration_s),
                s.min_rate,
                s.max_rate,
                s.precision * 100.0,
                s.connections
            ),
        ),
        (
            "Capacity",
            format!("<strong>{}</strong>", fmt_rate(r.capacity_rps)),
        ),
        ("First failing rate", fmt_rate(r.first_failing_rps)),
    ];
    if let Some(a) = &r.autoscaling {
        rows.push((
            "Autoscaling target",
            format!(
                "{:.1} req/s per task &times; headroom {:.0} % = {:.1} req/s per task: \
                 <code>ALBRequestCountPerTarget</code> target <strong id=\"alb-target\">{}</strong> \
                 requests per task per minute (terraform compute stack: \
                 <code>requests_per_target</code>)",
                a.capacity_per_task_rps,
                a.headroom * 100.0,
                a.target_rps_per_task,
                a.alb_request_count_per_target
            ),
        ));
    }
    let _ = writeln!(o, "<h2>Capacity</h2>\n<table id=\"capacity\"><tbody>");
    for (k, v) in rows {
        let _ = writeln!(o, "<tr><th>{k}</th><td>{v}</td></tr>");
    }
    let _ = writeln!(o, "</tbody></table>");
}

fn baseline(o: &mut String, r: &CapacityReport) {
    let Some(c) = &r.baseline else { return };
    let (cl, l) = if c.pass {
        ("pass", "PASS")
    } else {
        ("fail", "FAIL")
    };
    let _ = writeln!(
        o,
        "<h2>Baseline comparison</h2>\n<table id=\"baseline\"><thead><tr><th>baseline</th>\
         <th>capacity then</th><th>now</th><th>change</th><th>largest drop</th><th>result</th>\
         </tr></thead><tbody>\n<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1} %</td>\
         <td class=\"{cl}\">{l}</td></tr>\n</tbody></table>",
        esc(&c.source),
        fmt_rate(c.baseline_capacity_rps),
        fmt_rate(c.capacity_rps),
        c.change
            .map_or("n/a".to_string(), |x| format!("{:+.1} %", x * 100.0)),
        c.max_regression * 100.0
    );
    for n in &c.notes {
        let _ = writeln!(o, "<p class=\"note\">{}</p>", esc(n));
    }
}

fn steps(o: &mut String, r: &CapacityReport) {
    let _ = writeln!(
        o,
        "<h2>Steps</h2>\n<table id=\"steps\"><thead><tr><th>#</th><th>rate</th><th>achieved</th>\
         <th>p50</th><th>p99</th><th>p99 uncorrected</th><th>error rate</th><th>gates</th>\
         <th>verdict</th></tr></thead><tbody>"
    );
    let knee = r.knee().map(|s| s.rate);
    for (i, s) in r.steps.iter().enumerate() {
        let gates: Vec<String> = s
            .slo
            .iter()
            .map(|g| format!("{} {}", esc(&g.label()), esc(&fmt_value(&g.expr, g.actual))))
            .collect();
        let mut why: Vec<String> = s.reasons.iter().map(|x| esc(x)).collect();
        why.extend(
            s.ended_early
                .iter()
                .map(|e| format!("ended early: {}", esc(e))),
        );
        let cl = match s.verdict {
            StepVerdict::Pass => "pass",
            StepVerdict::Fail => "fail",
            _ => "invalid",
        };
        let mark = if knee == Some(s.rate) && s.verdict == StepVerdict::Pass {
            " (knee)"
        } else {
            ""
        };
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{:.1}{mark}</td><td>{:.1}</td><td>{:.3} ms</td><td>{:.3} ms</td>\
             <td>{:.3} ms</td><td>{:.3} %</td><td>{}</td><td class=\"{cl}\" title=\"{}\">{}</td></tr>",
            i + 1,
            s.rate,
            s.achieved,
            s.latency_ms.corrected.p50,
            s.latency_ms.corrected.p99,
            s.latency_ms.uncorrected.p99,
            s.error_rate * 100.0,
            gates.join("<br>"),
            why.join("; "),
            s.verdict.label()
        );
    }
    let _ = writeln!(o, "</tbody></table>");
}

/// The SVG of `c`.
fn plot(c: &Curve) -> io::Result<String> {
    let x_max = c
        .points
        .iter()
        .map(|p| p.achieved.max(p.rate))
        .fold(1.0_f64, f64::max)
        * 1.1;
    // A log latency axis: the steps below the knee (a few ms) and above it (up to the timeout)
    // both stay readable.
    let values = || {
        c.points
            .iter()
            .flat_map(|p| [Some(p.corrected), p.uncorrected, Some(p.p50)])
            .flatten()
            .chain(c.slo_ms)
            .filter(|v| *v > 0.0)
    };
    let y_max = values().fold(0.01_f64, f64::max) * 1.5;
    let y_min = values().fold(y_max, f64::min).max(0.001) / 1.5;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("Latency ({}) against throughput", c.metric),
                ("sans-serif", 20),
            )
            .margin(12)
            .margin_right(45)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..x_max, (y_min..y_max).log_scale())
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc("Achieved throughput (req/s)")
            .y_desc("Latency (ms, log scale)")
            .y_label_formatter(&|v: &f64| fmt_num((v * 1000.0).round() / 1000.0))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(plot_err)?;
        let line =
            |colour: RGBColor, pts: Vec<(f64, f64)>| LineSeries::new(pts, colour.stroke_width(2));
        let mut series: Vec<Series> = vec![
            (
                format!("{} corrected (from intended send)", c.metric),
                CORRECTED,
                c.points.iter().map(|p| (p.achieved, p.corrected)).collect(),
            ),
            (
                format!("{} uncorrected (from actual send)", c.metric),
                UNCORRECTED,
                c.points
                    .iter()
                    .filter_map(|p| p.uncorrected.map(|u| (p.achieved, u)))
                    .collect(),
            ),
        ];
        if c.metric != "p50" {
            series.push((
                "p50 corrected".to_string(),
                MEDIAN,
                c.points.iter().map(|p| (p.achieved, p.p50)).collect(),
            ));
        }
        for (label, colour, pts) in series {
            if pts.is_empty() {
                continue;
            }
            // Uncorrected dashed over corrected: where the two agree, both stay visible.
            let drawn = if colour == UNCORRECTED {
                chart.draw_series(DashedLineSeries::new(pts, 6, 4, colour.stroke_width(2)))
            } else {
                chart.draw_series(line(colour, pts))
            };
            drawn.map_err(plot_err)?.label(label).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
            });
        }
        // Each step's gated latency as a dot: filled when it passed, hollow when it did not.
        chart
            .draw_series(c.points.iter().map(|p| {
                let style = if p.verdict == StepVerdict::Pass {
                    CORRECTED.filled()
                } else {
                    CORRECTED.stroke_width(2)
                };
                Circle::new((p.achieved, p.corrected), 4, style)
            }))
            .map_err(plot_err)?;
        if let (Some(slo), Some(expr)) = (c.slo_ms, &c.slo_expr) {
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(0.0, slo), (x_max, slo)],
                    8,
                    5,
                    SLO.stroke_width(2),
                ))
                .map_err(plot_err)?
                .label(format!("SLO {expr}"))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], SLO.stroke_width(2)));
        }
        if let Some(k) = c.knee() {
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(k.achieved, y_min), (k.achieved, y_max)],
                    4,
                    4,
                    KNEE.stroke_width(1),
                ))
                .map_err(plot_err)?
                .label(format!("knee: capacity {:.1} req/s", k.rate))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], KNEE.stroke_width(1)));
            chart
                .draw_series(std::iter::once(Text::new(
                    format!("knee {:.1} req/s", k.rate),
                    (k.achieved, y_max / 1.3),
                    ("sans-serif", 14).into_font().color(&KNEE),
                )))
                .map_err(plot_err)?;
        }
        if !c.points.is_empty() {
            draw_legend(&mut chart)?;
        }
        root.present().map_err(plot_err)?;
    }
    Ok(svg)
}
