//! The two exposition formats of `/metrics`: the Prometheus text format (version 0.0.4), the
//! default, and OpenMetrics 1.0, chosen when the scraper's `Accept` prefers it ([`negotiate`]).
//! Only OpenMetrics carries exemplars (the trace ids on the latency histogram's buckets).
//!
//! What this replaces: nothing; `metrics-exporter-prometheus` writes only the Prometheus text.
//! [`to_openmetrics`] turns its counters and gauges into OpenMetrics (a counter family is named
//! without `_total`, which stays on its samples; no blank lines), the histograms are written in
//! either format by [`crate::http::histogram`], and [`EOF`] ends an OpenMetrics exposition.

use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// What a scrape is answered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The Prometheus text format 0.0.4.
    Prometheus,
    /// OpenMetrics 1.0.0 (or 0.0.1 when that is the only version the scraper takes; the same
    /// text).
    OpenMetrics(OpenMetricsVersion),
}

/// The OpenMetrics version named in the answer's `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMetricsVersion {
    /// `version=1.0.0`.
    V1_0_0,
    /// `version=0.0.1`.
    V0_0_1,
}

/// The line that ends an OpenMetrics exposition.
pub const EOF: &str = "# EOF\n";

impl Format {
    /// The answer's `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics(OpenMetricsVersion::V1_0_0) => {
                "application/openmetrics-text; version=1.0.0; charset=utf-8"
            }
            Format::OpenMetrics(OpenMetricsVersion::V0_0_1) => {
                "application/openmetrics-text; version=0.0.1; charset=utf-8"
            }
        }
    }

    /// Whether this is OpenMetrics.
    pub fn is_openmetrics(self) -> bool {
        matches!(self, Format::OpenMetrics(_))
    }
}

/// The format for a scrape with this `Accept` header (every field, joined): OpenMetrics when
/// one of its media ranges (without a version, or version 1.0.0 or 0.0.1) has a quality above
/// zero and at least that of any range that takes the Prometheus text (`text/plain`, `text/*`,
/// `*/*`); the Prometheus text otherwise, also for a missing or unreadable header. Prometheus
/// itself sends OpenMetrics first.
pub fn negotiate<'a>(accept: impl IntoIterator<Item = &'a [u8]>) -> Format {
    let mut best_om: Option<(f32, OpenMetricsVersion)> = None;
    let mut best_text = 0.0f32;
    for field in accept {
        let Ok(field) = std::str::from_utf8(field) else {
            continue;
        };
        for range in field.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default().to_ascii_lowercase();
            let mut q = 1.0f32;
            let mut version = None;
            for param in parts {
                let Some((key, value)) = param.split_once('=') else {
                    continue;
                };
                let value = value.trim().trim_matches('"');
                match key.trim().to_ascii_lowercase().as_str() {
                    "q" => {
                        q = value
                            .parse::<f32>()
                            .ok()
                            .filter(|q| q.is_finite())
                            .unwrap_or(0.0)
                            .clamp(0.0, 1.0)
                    }
                    "version" => version = Some(value.to_owned()),
                    _ => {}
                }
            }
            match media.as_str() {
                "application/openmetrics-text" => {
                    let version = match version.as_deref() {
                        None | Some("1.0.0") => OpenMetricsVersion::V1_0_0,
                        Some("0.0.1") => OpenMetricsVersion::V0_0_1,
                        Some(_) => continue,
                    };
                    if q > 0.0 && best_om.is_none_or(|(best, _)| q > best) {
                        best_om = Some((q, version));
                    }
                }
                "text/plain" | "text/*" | "*/*" => best_text = best_text.max(q),
                _ => {}
            }
        }
    }
    match best_om {
        Some((q, version)) if q >= best_text => Format::OpenMetrics(version),
        _ => Format::Prometheus,
    }
}

/// Appends the Prometheus text `text` (counters and gauges, as `metrics-exporter-prometheus`
/// writes them) to `out` as OpenMetrics: a counter family's `# HELP` and `# TYPE` name it
/// without `_total`, blank lines are left out, samples are unchanged.
pub fn to_openmetrics(text: &str, out: &mut String) {
    let counters: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        let descriptor = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|prefix| Some((prefix, line.strip_prefix(prefix)?)));
        if let Some((prefix, rest)) = descriptor {
            let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            if counters.contains(&name)
                && let Some(family) = name.strip_suffix("_total")
            {
                let _ = writeln!(out, "{prefix}{family} {tail}");
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
}

/// Appends an exemplar to a sample line: ` # {labels} value timestamp` (the timestamp in
/// seconds since the Unix epoch, with milliseconds).
pub fn write_exemplar(out: &mut String, labels: &str, value: f64, at: SystemTime) {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let _ = write!(
        out,
        " # {{{labels}}} {value} {}.{:03}",
        since.as_secs(),
        since.subsec_millis()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(accept: &str) -> Format {
        negotiate([accept.as_bytes()])
    }

    #[test]
    fn openmetrics_only_when_the_scraper_prefers_it() {
        let om = Format::OpenMetrics(OpenMetricsVersion::V1_0_0);
        // Prometheus 2.x's scrape header.
        assert_eq!(
            format(
                "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
            ),
            om
        );
        assert_eq!(format("application/openmetrics-text"), om);
        assert_eq!(
            format("Application/OpenMetrics-Text; q=0.9, text/plain; q=0.5"),
            om
        );
        assert_eq!(
            format("application/openmetrics-text; version=0.0.1"),
            Format::OpenMetrics(OpenMetricsVersion::V0_0_1)
        );
        for accept in [
            "",
            "*/*",
            "text/plain",
            "text/plain;version=0.0.4",
            "application/openmetrics-text;q=0.5,text/plain",
            "application/openmetrics-text;q=0",
            "application/openmetrics-text;q=nan",
            "application/openmetrics-text;version=2.0.0",
            "application/json",
            ",,;;==",
        ] {
            assert_eq!(format(accept), Format::Prometheus, "{accept:?}");
        }
        assert_eq!(negotiate([]), Format::Prometheus);
        assert_eq!(negotiate([&b"\xff\xfe"[..]]), Format::Prometheus);
        // Several fields count as one list.
        assert_eq!(
            negotiate([&b"text/plain;q=0.2"[..], b"application/openmetrics-text"]),
            om
        );
    }

    #[test]
    fn counter_families_lose_total_and_blank_lines_go() {
        let text = "# HELP a_total As.\n# TYPE a_total counter\na_total{x=\"1\"} 3\n\n\
                    # HELP g A gauge.\n# TYPE g gauge\ng 1\n\n# TYPE total_total counter\ntotal_total 0\n";
        let mut out = String::new();
        to_openmetrics(text, &mut out);
        out.push_str(EOF);
        assert_eq!(
            out,
            "# HELP a As.\n# TYPE a counter\na_total{x=\"1\"} 3\n# HELP g A gauge.\n\
             # TYPE g gauge\ng 1\n# TYPE total counter\ntotal_total 0\n# EOF\n"
        );
    }

    #[test]
    fn exemplars_have_labels_value_and_a_millisecond_timestamp() {
        let mut out = String::from("x_bucket{le=\"0.1\"} 1");
        let at = UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_123);
        write_exemplar(&mut out, "trace_id=\"ab\"", 0.05, at);
        assert_eq!(
            out,
            "x_bucket{le=\"0.1\"} 1 # {trace_id=\"ab\"} 0.05 1700000000.123"
        );
    }
}
