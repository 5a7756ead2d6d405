//! `--hgrm`: the percentile distribution in HdrHistogram's standard text format, the one that
//! `outputPercentileDistribution` prints, wrk2 prints with `--latency`, and HdrHistogram's
//! online plotter reads: a `Value Percentile TotalCount 1/(1-Percentile)` table with values in
//! milliseconds, then the `#[Mean …]`, `#[Max …]` and `#[Buckets …]` footer. The histogram is
//! the corrected latency of every request (from the intended send time).

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use hdrhistogram::Histogram;

/// Ticks per half distance to 100%, as in HdrHistogram's and wrk2's output.
const TICKS_PER_HALF: u32 = 5;
/// Recorded values are µs; the table shows ms.
const SCALE: f64 = 1000.0;
/// Decimals of each value: the histogram's significant digits, as HdrHistogram prints them.
const DECIMALS: usize = 3;

/// The distribution of `h` (µs) as hgrm text.
pub fn render(h: &Histogram<u64>) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    let mut total = 0u64;
    for v in h.iter_quantiles(TICKS_PER_HALF) {
        total += v.count_since_last_iteration();
        let value = v.value_iterated_to() as f64 / SCALE;
        let q = v.quantile_iterated_to();
        if q < 1.0 {
            let _ = writeln!(
                out,
                "{value:>12.DECIMALS$} {q:>2.12} {total:>10} {:>14.2}",
                1.0 / (1.0 - q)
            );
        } else {
            let _ = writeln!(out, "{value:>12.DECIMALS$} {q:>2.12} {total:>10}");
        }
    }
    let (mean, stdev, max) = if h.is_empty() {
        (0.0, 0.0, 0.0)
    } else {
        (h.mean() / SCALE, h.stdev() / SCALE, h.max() as f64 / SCALE)
    };
    let _ = writeln!(
        out,
        "#[Mean    = {mean:>12.DECIMALS$}, StdDeviation   = {stdev:>12.DECIMALS$}]"
    );
    let _ = writeln!(
        out,
        "#[Max     = {max:>12.DECIMALS$}, Total count    = {:>12}]",
        h.len()
    );
    let _ = writeln!(
        out,
        "#[Buckets = {:>12}, SubBuckets     = {:>12}]",
        h.buckets(),
        // counts length = (buckets + 1) × sub-bucket half count
        2 * h.distinct_values() / (usize::from(h.buckets()) + 1)
    );
    out
}

/// Writes [`render`] of `h` to `path`.
pub fn write(path: &Path, h: &Histogram<u64>) -> io::Result<()> {
    std::fs::write(path, render(h))
}

/// One row of an hgrm table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Latency, ms.
    pub value_ms: f64,
    /// Quantile, 0..=1.
    pub quantile: f64,
    /// Requests at or below `value_ms`.
    pub total_count: u64,
}

/// An hgrm file read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The table, in order.
    pub rows: Vec<Row>,
    /// From the footer, ms.
    pub mean_ms: f64,
    /// From the footer, ms.
    pub max_ms: f64,
    /// From the footer.
    pub total_count: u64,
}

impl Parsed {
    /// The smallest value whose quantile reaches `q` (how the plotter reads a percentile).
    pub fn value_at(&self, q: f64) -> Option<f64> {
        self.rows
            .iter()
            .find(|r| r.quantile >= q)
            .map(|r| r.value_ms)
    }
}

/// Reads hgrm text back (what a user's tooling, or our tests, would do).
pub fn parse(text: &str) -> Result<Parsed, String> {
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, l))
            if l.split_whitespace().eq([
                "Value",
                "Percentile",
                "TotalCount",
                "1/(1-Percentile)",
            ]) => {}
        _ => {
            return Err(
                "line 1: expected the `Value Percentile TotalCount 1/(1-Percentile)` header".into(),
            );
        }
    }
    let (mut rows, mut mean_ms, mut max_ms, mut total_count) = (Vec::new(), None, None, None);
    for (i, line) in lines {
        let bad = |what: &str| format!("line {}: {what}: `{line}`", i + 1);
        if line.trim().is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("#[") {
            let fields = footer_fields(rest.trim_end_matches(']'));
            for (k, v) in fields {
                match k.as_str() {
                    "Mean" => mean_ms = Some(v.parse::<f64>().map_err(|_| bad("bad Mean"))?),
                    "Max" => max_ms = Some(v.parse::<f64>().map_err(|_| bad("bad Max"))?),
                    "Total count" => {
                        total_count = Some(v.parse::<u64>().map_err(|_| bad("bad Total count"))?)
                    }
                    _ => {}
                }
            }
            continue;
        }
        let cols: Vec<&str> = line.split_whitespace().collect();
        if !(3..=4).contains(&cols.len()) {
            return Err(bad("expected 3 or 4 columns"));
        }
        rows.push(Row {
            value_ms: cols[0].parse().map_err(|_| bad("bad value"))?,
            quantile: cols[1].parse().map_err(|_| bad("bad percentile"))?,
            total_count: cols[2].parse().map_err(|_| bad("bad count"))?,
        });
    }
    match (mean_ms, max_ms, total_count) {
        (Some(mean_ms), Some(max_ms), Some(total_count)) => Ok(Parsed {
            rows,
            mean_ms,
            max_ms,
            total_count,
        }),
        _ => Err(
            "the `#[Mean …]` / `#[Max …, Total count …]` footer is missing (truncated file?)"
                .into(),
        ),
    }
}

/// `Mean    =        1.234, StdDeviation   =        0.567` → [("Mean","1.234"), …].
fn footer_fields(s: &str) -> Vec<(String, String)> {
    s.split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::recorder::new_histogram;

    #[test]
    fn format_matches_hdrhistogram_and_reads_back() {
        let mut h = new_histogram();
        for v in 1..=10_000u64 {
            h.record(v * 10).unwrap(); // 10 µs .. 100 ms
        }
        let text = render(&h);
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap(),
            "       Value     Percentile TotalCount 1/(1-Percentile)"
        );
        assert_eq!(lines.next().unwrap(), "");
        let first = lines.next().unwrap();
        assert_eq!(
            first,
            "       0.010 0.000000000000          1           1.00"
        );
        let tail: Vec<&str> = text.lines().rev().take(3).collect();
        assert!(
            tail[2].starts_with("#[Mean    =       50.00"),
            "{}",
            tail[2]
        );
        assert!(tail[1].starts_with("#[Max     =      100.0"), "{}", tail[1]);
        assert!(
            tail[1].ends_with("Total count    =        10000]"),
            "{}",
            tail[1]
        );
        assert_eq!(
            tail[0],
            "#[Buckets =           22, SubBuckets     =         2048]"
        );
        // The last table row is the maximum at percentile 1.0, without the inverse column.
        let last_row = text.lines().rfind(|l| !l.starts_with('#')).unwrap();
        assert_eq!(last_row.split_whitespace().count(), 3, "{last_row}");

        let p = parse(&text).unwrap();
        assert_eq!(p.total_count, 10_000);
        assert_eq!(p.rows.last().unwrap().total_count, 10_000);
        assert!(
            (p.value_at(0.99).unwrap() - 99.0).abs() < 0.1,
            "{:?}",
            p.value_at(0.99)
        );
        assert!((p.value_at(0.5).unwrap() - 50.0).abs() < 0.05);
        assert!((p.max_ms - 100.0).abs() < 0.1);
        assert!(
            p.rows
                .windows(2)
                .all(|w| w[0].quantile <= w[1].quantile && w[0].value_ms <= w[1].value_ms)
        );
    }

    #[test]
    fn empty_histogram_still_has_header_and_footer() {
        let p = parse(&render(&new_histogram())).unwrap();
        assert!(p.rows.is_empty());
        assert_eq!(p.total_count, 0);
    }

    #[test]
    fn parse_rejects_garbage_and_truncation() {
        assert!(parse("").unwrap_err().contains("header"));
        assert!(parse("hello\n").unwrap_err().contains("header"));
        let mut h = new_histogram();
        h.record(5).unwrap();
        let text = render(&h);
        let cut = &text[..text.find("#[Mean").unwrap()];
        assert!(parse(cut).unwrap_err().contains("truncated"));
        let bad = text.replace("0.005", "x.yz");
        assert!(parse(&bad).unwrap_err().contains("bad value"));
    }
}
