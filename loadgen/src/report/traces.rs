//! The traced requests of a run in the report (`--trace-sample`): per outcome class, the trace
//! ids of the slowest requests and of the first failed ones, each with its latency, when it
//! completed and, with `--trace-url`, the link that opens it (the template's `{trace_id}`
//! replaced). Built from the recorder's [`TraceLists`]; a merged or replayed report has none,
//! because interval logs do not carry trace ids.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::recorder::{Outcome, TraceLists, TracedRequest, is_failure};

/// The placeholders of a `--trace-url` template: the W3C id, and the id as X-Ray writes it.
const PLACEHOLDER: &str = "{trace_id}";
const XRAY_PLACEHOLDER: &str = "{xray_trace_id}";

/// A W3C trace id as X-Ray shows it: `1-` then its first 8 hex digits, `-`, the other 24.
pub fn xray_trace_id(id: &str) -> String {
    match (id.get(..8), id.get(8..)) {
        (Some(time), Some(rest)) => format!("1-{time}-{rest}"),
        _ => id.to_string(),
    }
}

/// What the run traced, as the engine knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceMeta {
    /// `--trace-sample`.
    pub ratio: f64,
    /// `--trace-url`.
    pub url: Option<String>,
}

/// One traced request in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceEntry {
    /// 32 lowercase hex digits, as sent in `traceparent`.
    pub trace_id: String,
    /// From the actual send to the response, ms (what the trace covers).
    pub latency_ms: f64,
    /// From the intended send to the response, ms.
    pub corrected_ms: f64,
    /// When it completed, seconds after measurement started.
    pub at_s: f64,
    /// Its status, when a response arrived.
    pub status: Option<u16>,
    /// The `--trace-url` link to it.
    pub url: Option<String>,
}

/// The traced requests of one outcome class.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassTraceReport {
    /// The slowest, slowest first.
    pub slowest: Vec<TraceEntry>,
    /// The first to fail, earliest first (empty for 2xx and 3xx).
    pub first_failed: Vec<TraceEntry>,
}

/// The `traces` object of the JSON report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceReport {
    /// `--trace-sample`: the fraction of requests sent with a `traceparent`.
    pub sample_ratio: f64,
    /// Measured requests that carried one.
    pub traced: u64,
    /// `--trace-url`, if given.
    pub url_template: Option<String>,
    /// Per outcome class among the traced requests ("2xx", "5xx", "timeout", ...).
    pub by_class: BTreeMap<String, ClassTraceReport>,
}

impl TraceReport {
    /// The report's `traces` of a run traced as `meta` says; `None` for a run without
    /// `--trace-sample`.
    pub fn build(lists: &TraceLists, meta: Option<&TraceMeta>) -> Option<TraceReport> {
        let meta = meta?;
        let entry = |r: &TracedRequest| {
            let id = r.trace_id.to_string();
            TraceEntry {
                url: meta.url.as_ref().map(|t| {
                    t.replace(PLACEHOLDER, &id)
                        .replace(XRAY_PLACEHOLDER, &xray_trace_id(&id))
                }),
                trace_id: id,
                latency_ms: r.uncorrected_us as f64 / 1000.0,
                corrected_ms: r.corrected_us as f64 / 1000.0,
                at_s: (r.at.as_micros() as f64 / 1e6 * 1000.0).round() / 1000.0,
                status: r.status,
            }
        };
        let by_class = Outcome::ALL
            .into_iter()
            .filter_map(|o| {
                let c = lists.of(o);
                if c.slowest.is_empty() {
                    return None;
                }
                Some((
                    o.tag().to_string(),
                    ClassTraceReport {
                        slowest: c.slowest.iter().map(entry).collect(),
                        first_failed: if is_failure(o) {
                            c.first.iter().map(entry).collect()
                        } else {
                            Vec::new()
                        },
                    },
                ))
            })
            .collect();
        Some(TraceReport {
            sample_ratio: meta.ratio,
            traced: lists.traced,
            url_template: meta.url.clone(),
            by_class,
        })
    }

    /// The classes in report order (2xx, 3xx, 4xx, 429, 5xx, error, timeout).
    pub fn classes(&self) -> impl Iterator<Item = (&str, &ClassTraceReport)> {
        Outcome::ALL.into_iter().filter_map(|o| {
            self.by_class
                .get_key_value(o.tag())
                .map(|(k, v)| (k.as_str(), v))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use trace::TraceId;

    #[test]
    fn lists_become_entries_with_links() {
        let mut lists = TraceLists::default();
        let id = TraceId::from_hex(b"4bf92f3577b34da6a3ce929d0e0e4736").expect("valid");
        let r = TracedRequest {
            trace_id: id,
            uncorrected_us: 12_345,
            corrected_us: 15_000,
            at: Duration::from_millis(2_500),
            status: Some(503),
        };
        lists.add(Outcome::ServerError, r);
        lists.add(Outcome::Success, r);
        assert!(TraceReport::build(&lists, None).is_none());
        let meta = TraceMeta {
            ratio: 0.5,
            url: Some("https://x.example/t/{trace_id}?a={trace_id}&x={xray_trace_id}".into()),
        };
        let t = TraceReport::build(&lists, Some(&meta)).expect("traced");
        assert_eq!(t.traced, 2);
        let five = &t.by_class["5xx"];
        assert_eq!(five.slowest.len(), 1);
        assert_eq!(five.first_failed.len(), 1);
        let e = &five.first_failed[0];
        assert_eq!(e.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(e.latency_ms, 12.345);
        assert_eq!(e.corrected_ms, 15.0);
        assert_eq!(e.at_s, 2.5);
        assert_eq!(
            e.url.as_deref(),
            Some(
                "https://x.example/t/4bf92f3577b34da6a3ce929d0e0e4736?a=4bf92f3577b34da6a3ce929d0e0e4736&x=1-4bf92f35-77b34da6a3ce929d0e0e4736"
            )
        );
        assert!(t.by_class["2xx"].first_failed.is_empty());
        let order: Vec<&str> = t.classes().map(|(k, _)| k).collect();
        assert_eq!(order, ["2xx", "5xx"]);
    }
}
