//! The SVG plots of the HTML report, drawn with `plotters`: latency by percentile on
//! HdrHistogram's log `1/(1-p)` axis (corrected drawn wide, uncorrected dashed on top of it, so
//! both show where they coincide), latency per second (corrected p50/p99/max, uncorrected p99
//! dashed), throughput per second, and outcome classes per second. The latency gates
//! (`p99<250ms`) are drawn on both latency plots as labelled dashed lines, or named in a note
//! when they lie far above the data. The SVGs hold only our own labels, numbers and gate
//! expressions (escaped by `plotters`); the page sizes them (`viewBox`) to its width.

use std::io;

use hdrhistogram::Histogram;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::numfmt::fmt_num;
use crate::recorder::{IntervalStats, Outcome, Summary};
use crate::report::Report;
use crate::slo::Slo;

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

/// A latency gate to draw: its expression and threshold, ms.
pub(super) type Gate = (String, f64);

/// The report's latency gates (percentiles, mean, max), read back from their expressions.
pub(super) fn latency_gates(r: &Report) -> Vec<Gate> {
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

/// A drawing error as an I/O error (the report's writers return those).
pub(crate) fn plot_err<E: std::error::Error + Send + Sync>(
    e: DrawingAreaErrorKind<E>,
) -> io::Error {
    io::Error::other(format!("drawing a plot failed: {e}"))
}

/// Draws the legend of `chart`'s labelled series in its upper left corner, the same in every
/// chart (the capacity curve's too).
pub(crate) fn draw_legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
) -> io::Result<()> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(plot_err)
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
            if stroke == Stroke::Threshold
                && let Some(end) = points.last().cloned()
            {
                // Above the line's right end: the legend sits at the upper left.
                let style = ("sans-serif", 14)
                    .into_font()
                    .color(&colour)
                    .pos(Pos::new(HPos::Right, VPos::Bottom));
                chart
                    .draw_series(std::iter::once(
                        EmptyElement::at(end) + Text::new(label.clone(), (-6, -4), style),
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
            draw_legend(&mut chart)?;
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
pub(super) fn percentile_plot(s: &Summary, gates: &[Gate]) -> io::Result<(String, Vec<String>)> {
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
pub(super) fn full_seconds(intervals: &[IntervalStats], duration_s: f64) -> &[IntervalStats] {
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
pub(super) fn latency_plot(
    intervals: &[IntervalStats],
    gates: &[Gate],
) -> io::Result<(String, Vec<String>)> {
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

pub(super) fn throughput_plot(intervals: &[IntervalStats]) -> io::Result<String> {
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

pub(super) fn classes_plot(intervals: &[IntervalStats]) -> io::Result<String> {
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
    fn labels_and_full_seconds() {
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
}
