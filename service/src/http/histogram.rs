//! A Prometheus histogram of whole-number samples (nanoseconds, counts) as plain atomic
//! counters: recording a sample is a scan of the bucket bounds and two atomic additions, with
//! no clock read, lock or allocation. (The exporter's histograms timestamp every sample and
//! queue it until the next scrape; `docs/performance.md` has what that cost.)
//!
//! A scrape reads the buckets one by one while requests keep recording, so `_sum` may lag or
//! lead the buckets by the samples recorded during the read; `_count` and the `+Inf` bucket are
//! the total of the buckets as read, so that they always agree and never decrease.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// The bucket layout of one histogram family: upper bounds in sample units, and how samples
/// are written (`scale` units to one exported unit: 1e9 for nanoseconds as seconds).
#[derive(Debug)]
pub struct Layout {
    /// Inclusive upper bounds, ascending.
    pub bounds: &'static [u64],
    /// Sample units per exported unit.
    pub scale: f64,
}

/// One series: a counter per bucket (not cumulative; the last one is `+Inf`) and the sum.
#[derive(Debug)]
pub struct Histogram {
    layout: &'static Layout,
    buckets: Box<[AtomicU64]>,
    sum: AtomicU64,
}

impl Histogram {
    /// An empty series with `layout`'s buckets.
    pub fn new(layout: &'static Layout) -> Self {
        Self {
            layout,
            buckets: (0..=layout.bounds.len())
                .map(|_| AtomicU64::new(0))
                .collect(),
            sum: AtomicU64::new(0),
        }
    }

    /// Records one sample, in the layout's units.
    pub fn record(&self, value: u64) {
        let bucket = self
            .layout
            .bounds
            .iter()
            .position(|bound| value <= *bound)
            .unwrap_or(self.layout.bounds.len());
        // Relaxed: each counter only ever grows, and no other memory depends on it.
        if let Some(counter) = self.buckets.get(bucket) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        self.sum.fetch_add(value, Ordering::Relaxed);
    }

    /// Appends the series' `_bucket`, `_sum` and `_count` lines; `labels` is the series'
    /// label list as written inside braces (`method="GET",route="/"`), or empty.
    pub fn render(&self, name: &str, labels: &str, out: &mut String) {
        let separator = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0u64;
        let bounds = self.layout.bounds.iter().map(Some).chain([None]);
        for (counter, bound) in self.buckets.iter().zip(bounds) {
            cumulative = cumulative.saturating_add(counter.load(Ordering::Relaxed));
            let _ = match bound {
                Some(bound) => writeln!(
                    out,
                    "{name}_bucket{{{labels}{separator}le=\"{}\"}} {cumulative}",
                    *bound as f64 / self.layout.scale
                ),
                None => writeln!(
                    out,
                    "{name}_bucket{{{labels}{separator}le=\"+Inf\"}} {cumulative}"
                ),
            };
        }
        let sum = self.sum.load(Ordering::Relaxed) as f64 / self.layout.scale;
        let braces = |out: &mut String| {
            if !labels.is_empty() {
                let _ = write!(out, "{{{labels}}}");
            }
        };
        let _ = write!(out, "{name}_sum");
        braces(out);
        let _ = writeln!(out, " {sum}");
        let _ = write!(out, "{name}_count");
        braces(out);
        let _ = writeln!(out, " {cumulative}");
    }
}

/// Appends the `# HELP` and `# TYPE` lines that open a histogram family.
pub fn render_header(name: &str, help: &str, out: &mut String) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} histogram");
}

#[cfg(test)]
mod tests {
    use super::*;

    static SECONDS: Layout = Layout {
        bounds: &[100_000, 250_000, 1_000_000_000],
        scale: 1e9,
    };
    static COUNTS: Layout = Layout {
        bounds: &[2, 3, 100],
        scale: 1.0,
    };

    #[test]
    fn samples_land_in_the_first_bucket_whose_bound_holds_them() {
        let h = Histogram::new(&SECONDS);
        for ns in [1, 100_000, 100_001, 250_000, 2_000_000_000] {
            h.record(ns);
        }
        let mut out = String::new();
        h.render("x_seconds", r#"route="/""#, &mut out);
        assert_eq!(
            out,
            concat!(
                "x_seconds_bucket{route=\"/\",le=\"0.0001\"} 2\n",
                "x_seconds_bucket{route=\"/\",le=\"0.00025\"} 4\n",
                "x_seconds_bucket{route=\"/\",le=\"1\"} 4\n",
                "x_seconds_bucket{route=\"/\",le=\"+Inf\"} 5\n",
                "x_seconds_sum{route=\"/\"} 2.000450002\n",
                "x_seconds_count{route=\"/\"} 5\n",
            )
        );
    }

    #[test]
    fn a_series_without_labels_has_no_braces_on_sum_and_count() {
        let h = Histogram::new(&COUNTS);
        h.record(3);
        h.record(101);
        let mut out = String::new();
        render_header("n", "Numbers.", &mut out);
        h.render("n", "", &mut out);
        assert_eq!(
            out,
            concat!(
                "# HELP n Numbers.\n# TYPE n histogram\n",
                "n_bucket{le=\"2\"} 0\nn_bucket{le=\"3\"} 1\nn_bucket{le=\"100\"} 1\n",
                "n_bucket{le=\"+Inf\"} 2\nn_sum 104\nn_count 2\n",
            )
        );
    }

    #[test]
    fn concurrent_records_are_all_counted() {
        let h = Histogram::new(&COUNTS);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| (0..10_000).for_each(|i| h.record(i % 4)));
            }
        });
        let mut out = String::new();
        h.render("n", "", &mut out);
        assert!(out.contains("n_count 40000\n"), "{out}");
        assert!(out.contains("n_sum 60000\n"), "{out}");
        assert!(out.contains("n_bucket{le=\"2\"} 30000\n"), "{out}");
    }
}
