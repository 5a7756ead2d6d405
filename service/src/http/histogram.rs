//! A Prometheus histogram of whole-number samples (nanoseconds, counts) as plain atomic
//! counters: recording a sample is a scan of the bucket bounds and two atomic additions, with
//! no clock read, lock or allocation. (The exporter's histograms timestamp every sample and
//! queue it until the next scrape; `docs/performance.md` has what that cost.)
//!
//! A scrape reads the buckets one by one while requests keep recording, so `_sum` may lag or
//! lead the buckets by the samples recorded during the read; `_count` and the `+Inf` bucket are
//! the total of the buckets as read, so that they always agree and never decrease.
//!
//! A series made [`Histogram::with_exemplars`] also keeps, per bucket, the last sample recorded
//! with a trace's ids ([`Exemplar`]), written only in OpenMetrics ([`Format::OpenMetrics`]). A
//! sample that finds its bucket's exemplar being written by another thread leaves it (a
//! `try_lock`): exemplars are examples, and a request never waits for one.

use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use trace::{SpanId, TraceId};

use crate::http::openmetrics::{self, Format};

/// The bucket layout of one histogram family: upper bounds in sample units, and how samples
/// are written (`scale` units to one exported unit: 1e9 for nanoseconds as seconds).
#[derive(Debug)]
pub struct Layout {
    /// Inclusive upper bounds, ascending.
    pub bounds: &'static [u64],
    /// Sample units per exported unit.
    pub scale: f64,
}

/// The trace of one recorded sample: which request it was, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exemplar {
    /// The request's trace.
    pub trace_id: TraceId,
    /// The request's server span.
    pub span_id: SpanId,
    /// When the sample was recorded.
    pub at: SystemTime,
}

/// A bucket's last exemplar and the sample it was recorded with.
type ExemplarSlot = Mutex<Option<(Exemplar, u64)>>;

/// One series: a counter per bucket (not cumulative; the last one is `+Inf`) and the sum.
#[derive(Debug)]
pub struct Histogram {
    layout: &'static Layout,
    buckets: Box<[AtomicU64]>,
    sum: AtomicU64,
    /// Per bucket, the last exemplar and its sample; empty for a series without exemplars.
    exemplars: Box<[ExemplarSlot]>,
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
            exemplars: Box::default(),
        }
    }

    /// An empty series that also keeps an exemplar per bucket.
    pub fn with_exemplars(layout: &'static Layout) -> Self {
        Self {
            exemplars: (0..=layout.bounds.len())
                .map(|_| Mutex::new(None))
                .collect(),
            ..Self::new(layout)
        }
    }

    /// Records one sample, in the layout's units.
    pub fn record(&self, value: u64) {
        self.record_bucket(value);
    }

    /// Records one sample of a traced request: its ids become the bucket's exemplar (unless
    /// another thread is writing that exemplar right now, or the series keeps none).
    pub fn record_with_exemplar(&self, value: u64, exemplar: Exemplar) {
        let bucket = self.record_bucket(value);
        if let Some(slot) = self.exemplars.get(bucket)
            && let Ok(mut slot) = slot.try_lock()
        {
            *slot = Some((exemplar, value));
        }
    }

    /// Counts the sample; returns its bucket's index.
    fn record_bucket(&self, value: u64) -> usize {
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
        bucket
    }

    /// Appends the series' `_bucket`, `_sum` and `_count` lines in the Prometheus text format;
    /// `labels` is the series' label list as written inside braces (`method="GET",route="/"`),
    /// or empty.
    pub fn render(&self, name: &str, labels: &str, out: &mut String) {
        self.render_as(Format::Prometheus, name, labels, out);
    }

    /// [`Histogram::render`] in `format`: with OpenMetrics, each bucket's exemplar follows its
    /// sample (labels `trace_id` and `span_id`, the sample's value and time).
    pub fn render_as(&self, format: Format, name: &str, labels: &str, out: &mut String) {
        let separator = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0u64;
        let bounds = self.layout.bounds.iter().map(Some).chain([None]);
        for (i, (counter, bound)) in self.buckets.iter().zip(bounds).enumerate() {
            cumulative = cumulative.saturating_add(counter.load(Ordering::Relaxed));
            let _ = match bound {
                Some(bound) => write!(
                    out,
                    "{name}_bucket{{{labels}{separator}le=\"{}\"}} {cumulative}",
                    *bound as f64 / self.layout.scale
                ),
                None => write!(
                    out,
                    "{name}_bucket{{{labels}{separator}le=\"+Inf\"}} {cumulative}"
                ),
            };
            if format.is_openmetrics()
                && let Some((exemplar, value)) = self.exemplar(i)
            {
                let ids = format!(
                    "trace_id=\"{}\",span_id=\"{}\"",
                    exemplar.trace_id, exemplar.span_id
                );
                openmetrics::write_exemplar(
                    out,
                    &ids,
                    value as f64 / self.layout.scale,
                    exemplar.at,
                );
            }
            out.push('\n');
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

impl Histogram {
    /// Bucket `i`'s exemplar and its sample, if it has one.
    fn exemplar(&self, i: usize) -> Option<(Exemplar, u64)> {
        let slot = self.exemplars.get(i)?;
        *slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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
    fn exemplars_show_only_in_openmetrics_on_the_bucket_of_their_sample() {
        use crate::http::openmetrics::OpenMetricsVersion;
        let h = Histogram::with_exemplars(&SECONDS);
        let trace_id = TraceId::from_hex(b"4bf92f3577b34da6a3ce929d0e0e4736").expect("id");
        let span_id = SpanId::from_hex(b"00f067aa0ba902b7").expect("id");
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_250);
        h.record(1);
        h.record_with_exemplar(
            200_000,
            Exemplar {
                trace_id,
                span_id,
                at,
            },
        );
        let mut om = String::new();
        h.render_as(
            Format::OpenMetrics(OpenMetricsVersion::V1_0_0),
            "x_seconds",
            "",
            &mut om,
        );
        assert_eq!(
            om,
            concat!(
                "x_seconds_bucket{le=\"0.0001\"} 1\n",
                "x_seconds_bucket{le=\"0.00025\"} 2 # {trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\",",
                "span_id=\"00f067aa0ba902b7\"} 0.0002 1700000000.250\n",
                "x_seconds_bucket{le=\"1\"} 2\n",
                "x_seconds_bucket{le=\"+Inf\"} 2\n",
                "x_seconds_sum 0.000200001\n",
                "x_seconds_count 2\n",
            )
        );
        let mut text = String::new();
        h.render("x_seconds", "", &mut text);
        assert!(
            !text.contains('#'),
            "no exemplar in the Prometheus text: {text}"
        );
        // A series without exemplar slots ignores the ids.
        let plain = Histogram::new(&SECONDS);
        plain.record_with_exemplar(
            5,
            Exemplar {
                trace_id,
                span_id,
                at,
            },
        );
        let mut om = String::new();
        plain.render_as(
            Format::OpenMetrics(OpenMetricsVersion::V1_0_0),
            "x",
            "",
            &mut om,
        );
        assert!(!om.contains('#') && om.contains("x_count 1"), "{om}");
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
