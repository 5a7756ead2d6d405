//! Prometheus metrics: every name as a constant (listed in `docs/metrics.md`), one recorder per
//! running service (no global state, so tests can run several services in one process), and
//! the exposition served on the separate metrics listener: the Prometheus text, or OpenMetrics
//! with the latency histogram's exemplars ([`Metrics::render_as`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};
use std::time::Duration;

use crate::http::deadline::Cut;
use crate::http::histogram::{self, Exemplar, Histogram, Layout};
use crate::http::openmetrics::{self, Format};
use crate::routes::{self, Endpoint, ROUTES};
use metrics::{Counter, Gauge, Key, KeyName, Label, Metadata, Recorder, SharedString};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

/// Counter {method, route, status}: every answered request.
pub const HTTP_REQUESTS_TOTAL: &str = "sumapi_http_requests_total";
/// Histogram {method, route, status}: time from request start to response, in seconds.
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "sumapi_http_request_duration_seconds";
/// Gauge: requests being handled right now.
pub const HTTP_REQUESTS_IN_FLIGHT: &str = "sumapi_http_requests_in_flight";
/// Counter {code}: requests answered with an error, by stable error code.
pub const HTTP_REQUESTS_REJECTED_TOTAL: &str = "sumapi_http_requests_rejected_total";
/// Histogram: how many numbers each successful sum request carried.
pub const SUM_INPUT_NUMBERS: &str = "sumapi_sum_input_numbers";
/// Gauge: 1 while ready, 0 once shutdown began.
pub const READY: &str = "sumapi_ready";
/// Gauge {version} = 1.
pub const BUILD_INFO: &str = "sumapi_build_info";
/// Counter {listener, reason}: connections the service cut because a request or an answer
/// stalled past its deadline (`service/src/deadline.rs`), or because a request could not be
/// parsed as HTTP (actix's own 400/431).
pub const CONNECTIONS_CUT_TOTAL: &str = "sumapi_connections_cut_total";
/// Counter {outcome}: sampled server spans by what became of them: `exported` (the collector
/// took them), `dropped` (the export queue was full, or shutdown ran out of time) or `failed`
/// (their export request failed). 0 while no OTLP endpoint is configured.
pub const TRACE_SPANS_TOTAL: &str = "sumapi_trace_spans_total";

/// Every metric name this binary exports (for checks against dashboards and alarms).
pub const ALL: [&str; 9] = [
    HTTP_REQUESTS_TOTAL,
    HTTP_REQUEST_DURATION_SECONDS,
    HTTP_REQUESTS_IN_FLIGHT,
    HTTP_REQUESTS_REJECTED_TOTAL,
    SUM_INPUT_NUMBERS,
    READY,
    BUILD_INFO,
    CONNECTIONS_CUT_TOTAL,
    TRACE_SPANS_TOTAL,
];

/// The `outcome` labels of [`TRACE_SPANS_TOTAL`], in the order of [`Metrics::spans`].
const SPAN_OUTCOMES: [&str; 3] = ["exported", "dropped", "failed"];

/// The `listener` label of [`CONNECTIONS_CUT_TOTAL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// The public port.
    Api,
    /// The metrics port.
    Metrics,
}

impl Listener {
    fn label(self) -> &'static str {
        match self {
            Listener::Api => "api",
            Listener::Metrics => "metrics",
        }
    }
}

/// The `reason` label of [`CONNECTIONS_CUT_TOTAL`].
fn cut_label(cut: Cut) -> &'static str {
    match cut {
        Cut::StalledRequest => "stalled_request",
        Cut::UnreadAnswer => "unread_answer",
        Cut::MalformedRequest => "malformed_request",
    }
}

/// The statuses of `POST /api/v1/sum` exported from the start: the good answer and the server
/// error the SLOs count (`slo/sum-api.yaml`).
const PRESET_SUM_STATUSES: [u16; 2] = [200, 500];

/// The route label of a request that matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The method label for any method outside the standard set, so that clients cannot create
/// series at will by inventing methods.
pub const OTHER_METHOD: &str = "OTHER";

/// Every method label [`method_label`] returns.
const METHOD_LABELS: [&str; 10] = [
    "GET",
    "HEAD",
    "POST",
    "PUT",
    "DELETE",
    "PATCH",
    "OPTIONS",
    "CONNECT",
    "TRACE",
    OTHER_METHOD,
];

/// Statuses the service answers with, whose series get a slot in the lock-free table.
const COMMON_STATUSES: [u16; 12] = [200, 400, 403, 404, 405, 408, 413, 415, 422, 500, 503, 204];

/// Slots in the lock-free table: every method label × route label × common status.
const FAST_SLOTS: usize = METHOD_LABELS.len() * (ROUTES.len() + 1) * COMMON_STATUSES.len();

/// The table slot of a series, if it is one of the common ones.
fn fast_slot(method: &str, route: &str, status: u16) -> Option<usize> {
    let m = METHOD_LABELS.iter().position(|l| *l == method)?;
    let r = ROUTES
        .iter()
        .position(|r| r.pattern == route)
        .or((route == UNMATCHED_ROUTE).then_some(ROUTES.len()))?;
    let s = COMMON_STATUSES.iter().position(|c| *c == status)?;
    Some((m * (ROUTES.len() + 1) + r) * COMMON_STATUSES.len() + s)
}

/// The bounded `method` label for `method`.
pub fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => OTHER_METHOD,
    }
}

/// Labels of one request series: method, route pattern, status.
type SeriesKey = (&'static str, &'static str, u16);

/// Latency buckets, recorded in nanoseconds and exported in seconds: 100 µs to 10 s.
static DURATION_LAYOUT: Layout = Layout {
    bounds: &[
        100_000,
        250_000,
        500_000,
        1_000_000,
        2_500_000,
        5_000_000,
        10_000_000,
        25_000_000,
        50_000_000,
        100_000_000,
        250_000_000,
        500_000_000,
        1_000_000_000,
        2_500_000_000,
        5_000_000_000,
        10_000_000_000,
    ],
    scale: 1e9,
};
/// Numbers-per-sum buckets, from the minimum (2) to the maximum (100).
static NUMBERS_LAYOUT: Layout = Layout {
    bounds: &[2, 3, 5, 10, 20, 30, 50, 100],
    scale: 1.0,
};

const DURATION_HELP: &str = "Time from receiving a request to answering it, in seconds.";
const NUMBERS_HELP: &str = "How many numbers each successful sum request carried.";

/// The handles of one request series.
type SeriesHandles = (Counter, Arc<Histogram>);

/// The metrics of one running service.
#[derive(Clone)]
pub struct Metrics {
    recorder: Arc<PrometheusRecorder>,
    handle: PrometheusHandle,
    in_flight: Gauge,
    ready: Gauge,
    sum_numbers: Arc<Histogram>,
    record_requests: bool,
    /// Handles of the common series, registered on first use: the hot path takes no lock,
    /// hashes nothing and allocates nothing.
    fast: Arc<[OnceLock<SeriesHandles>]>,
    /// Handles of any other series (an unusual status), by label set.
    series: Arc<RwLock<HashMap<SeriesKey, SeriesHandles>>>,
    /// Every latency series, for rendering (the exporter renders the counters and gauges).
    durations: Arc<Mutex<BTreeMap<SeriesKey, Arc<Histogram>>>>,
    rejections: Arc<RwLock<HashMap<&'static str, Counter>>>,
    /// [`CONNECTIONS_CUT_TOTAL`] by listener and reason, all registered up front.
    cuts: Arc<[(Listener, Cut, Counter)]>,
    /// [`TRACE_SPANS_TOTAL`] by outcome ([`SPAN_OUTCOMES`]), set from the tracer's counts at
    /// each scrape.
    spans: Arc<[Counter; 3]>,
}

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

impl Metrics {
    /// A fresh registry; `record_requests = false` turns off per-request recording (for the
    /// benchmark), while readiness and build info are always exported.
    pub fn new(record_requests: bool) -> Self {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let describe = |name: &'static str, help: &'static str| {
            let (key, help) = (KeyName::from_const_str(name), SharedString::const_str(help));
            recorder.describe_counter(key, None, help);
        };
        describe(
            HTTP_REQUESTS_TOTAL,
            "HTTP requests answered, by method, matched route pattern and status.",
        );
        describe(
            HTTP_REQUESTS_IN_FLIGHT,
            "HTTP requests being handled right now.",
        );
        describe(
            HTTP_REQUESTS_REJECTED_TOTAL,
            "Requests answered with an error, by stable error code.",
        );
        describe(
            READY,
            "1 while the service is ready for traffic, 0 once shutdown began.",
        );
        describe(
            BUILD_INFO,
            "Always 1; the version label names the running build.",
        );
        describe(
            CONNECTIONS_CUT_TOTAL,
            "Connections cut: a request or an answer stalled past its deadline, or a request was not valid HTTP.",
        );
        describe(
            TRACE_SPANS_TOTAL,
            "Sampled server spans, by outcome: exported to the OTLP collector, dropped (export queue full), or failed (export request failed).",
        );

        let key = |name: &'static str| Key::from_static_name(name);
        let in_flight = recorder.register_gauge(&key(HTTP_REQUESTS_IN_FLIGHT), &METADATA);
        let ready = recorder.register_gauge(&key(READY), &METADATA);
        let build = Key::from_parts(
            BUILD_INFO,
            vec![Label::new("version", env!("CARGO_PKG_VERSION"))],
        );
        recorder.register_gauge(&build, &METADATA).set(1.0);
        // Exported (as 0) from the start, so that a rate over them is defined.
        let cuts = [Listener::Api, Listener::Metrics]
            .into_iter()
            .flat_map(|listener| {
                [
                    Cut::StalledRequest,
                    Cut::UnreadAnswer,
                    Cut::MalformedRequest,
                ]
                .map(|cut| (listener, cut))
            })
            .map(|(listener, cut)| {
                let key = Key::from_parts(
                    CONNECTIONS_CUT_TOTAL,
                    vec![
                        Label::from_static_parts("listener", listener.label()),
                        Label::from_static_parts("reason", cut_label(cut)),
                    ],
                );
                let counter = recorder.register_counter(&key, &METADATA);
                counter.absolute(0);
                (listener, cut, counter)
            })
            .collect();
        let spans = Arc::new(SPAN_OUTCOMES.map(|outcome| {
            let key = Key::from_parts(
                TRACE_SPANS_TOTAL,
                vec![Label::from_static_parts("outcome", outcome)],
            );
            let counter = recorder.register_counter(&key, &METADATA);
            counter.absolute(0);
            counter
        }));
        // Register the counters so that they are exported (as 0) before the first request.
        in_flight.set(0.0);
        let metrics = Self {
            recorder: Arc::new(recorder),
            handle,
            in_flight,
            ready,
            sum_numbers: Arc::new(Histogram::new(&NUMBERS_LAYOUT)),
            record_requests,
            fast: (0..FAST_SLOTS).map(|_| OnceLock::new()).collect(),
            series: Arc::default(),
            rejections: Arc::default(),
            durations: Arc::default(),
            cuts,
            spans,
        };
        if record_requests {
            // The SLO's series of the sum route, exported (as 0) from the start: Prometheus
            // cannot count the answer that creates a series, so a first 500 would otherwise be
            // missed by every rate over it (and by the SLO alerts' low-traffic guard).
            let sum_route = routes::of(Endpoint::Sum).pattern;
            for status in PRESET_SUM_STATUSES {
                let handles = metrics.register("POST", sum_route, status);
                if let Some(slot) =
                    fast_slot("POST", sum_route, status).and_then(|i| metrics.fast.get(i))
                {
                    let _ = slot.set(handles);
                }
            }
        }
        metrics
    }

    /// Whether per-request metrics are recorded.
    pub fn records_requests(&self) -> bool {
        self.record_requests
    }

    /// Sets the readiness gauge.
    pub fn set_ready(&self, ready: bool) {
        self.ready.set(if ready { 1.0 } else { 0.0 });
    }

    /// Counts one more request in flight until the returned guard is dropped (on every path:
    /// success, error, panic or a client that went away).
    pub fn in_flight(&self) -> Option<InFlight> {
        self.record_requests.then(|| {
            self.in_flight.increment(1.0);
            InFlight(self.in_flight.clone())
        })
    }

    /// Records one answered request; `method` and `route` come from bounded sets
    /// ([`method_label`], the route patterns or [`UNMATCHED_ROUTE`]).
    pub fn request(
        &self,
        method: &'static str,
        route: &'static str,
        status: u16,
        elapsed: Duration,
    ) {
        self.request_traced(method, route, status, elapsed, None);
    }

    /// [`Metrics::request`] for a request whose trace, when sampled, becomes its latency
    /// bucket's `exemplar`.
    pub fn request_traced(
        &self,
        method: &'static str,
        route: &'static str,
        status: u16,
        elapsed: Duration,
        exemplar: Option<Exemplar>,
    ) {
        if !self.record_requests {
            return;
        }
        let record = |duration: &Histogram| match exemplar {
            None => duration.record(nanos(elapsed)),
            Some(exemplar) => duration.record_with_exemplar(nanos(elapsed), exemplar),
        };
        if let Some(slot) = fast_slot(method, route, status).and_then(|i| self.fast.get(i)) {
            let (total, duration) = slot.get_or_init(|| self.register(method, route, status));
            total.increment(1);
            record(duration);
            return;
        }
        let key = (method, route, status);
        let cached = self.series.read().ok().and_then(|m| m.get(&key).cloned());
        let (total, duration) = cached.unwrap_or_else(|| {
            let handles = self.register(method, route, status);
            if let Ok(mut map) = self.series.write() {
                map.insert(key, handles.clone());
            }
            handles
        });
        total.increment(1);
        record(&duration);
    }

    /// Registers the request counter and latency histogram of one label set (the same
    /// handles however often it is called for it).
    fn register(&self, method: &'static str, route: &'static str, status: u16) -> SeriesHandles {
        let labels = vec![
            Label::from_static_parts("method", method),
            Label::from_static_parts("route", route),
            Label::new("status", status.to_string()),
        ];
        let counter = self
            .recorder
            .register_counter(&Key::from_parts(HTTP_REQUESTS_TOTAL, labels), &METADATA);
        let duration = self
            .durations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((method, route, status))
            .or_insert_with(|| Arc::new(Histogram::with_exemplars(&DURATION_LAYOUT)))
            .clone();
        (counter, duration)
    }

    /// Counts a connection the service cut (always recorded: it is not per request).
    pub fn connection_cut(&self, listener: Listener, cut: Cut) {
        if let Some((_, _, counter)) = self
            .cuts
            .iter()
            .find(|(l, c, _)| *l == listener && *c == cut)
        {
            counter.increment(1);
        }
    }

    /// Records a request rejected with an error `code`.
    pub fn rejected(&self, code: &'static str) {
        if !self.record_requests {
            return;
        }
        let cached = self
            .rejections
            .read()
            .ok()
            .and_then(|m| m.get(code).cloned());
        let counter = cached.unwrap_or_else(|| {
            let key = Key::from_parts(
                HTTP_REQUESTS_REJECTED_TOTAL,
                vec![Label::from_static_parts("code", code)],
            );
            let counter = self.recorder.register_counter(&key, &METADATA);
            if let Ok(mut map) = self.rejections.write() {
                map.insert(code, counter.clone());
            }
            counter
        });
        counter.increment(1);
    }

    /// Records how many numbers a successful sum carried.
    pub fn sum_numbers(&self, count: usize) {
        if self.record_requests {
            self.sum_numbers
                .record(u64::try_from(count).unwrap_or(u64::MAX));
        }
    }

    /// The Prometheus text exposition of everything recorded so far: the exporter's counters
    /// and gauges, then the histograms, one family after another.
    pub fn render(&self) -> String {
        self.render_as(Format::Prometheus, None)
    }

    /// The exposition in `format`, with [`TRACE_SPANS_TOTAL`] set from the tracer's `spans`
    /// counts (none without a tracer: they stay 0). OpenMetrics adds the latency buckets'
    /// exemplars and ends with `# EOF`.
    pub fn render_as(&self, format: Format, spans: Option<trace::ExportCounts>) -> String {
        if let Some(counts) = spans {
            let [exported, dropped, failed] = &*self.spans;
            exported.absolute(counts.exported);
            dropped.absolute(counts.dropped);
            failed.absolute(counts.failed);
        }
        let exporter = self.handle.render();
        let mut out = String::with_capacity(exporter.len() + 4096);
        if format.is_openmetrics() {
            openmetrics::to_openmetrics(&exporter, &mut out);
        } else {
            out.push_str(&exporter);
            if !out.is_empty() && !out.ends_with("\n\n") {
                out.push('\n');
            }
        }
        histogram::render_header(SUM_INPUT_NUMBERS, NUMBERS_HELP, &mut out);
        self.sum_numbers
            .render_as(format, SUM_INPUT_NUMBERS, "", &mut out);
        let durations = self
            .durations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if !durations.is_empty() {
            if !format.is_openmetrics() {
                out.push('\n');
            }
            histogram::render_header(HTTP_REQUEST_DURATION_SECONDS, DURATION_HELP, &mut out);
        }
        for ((method, route, status), histogram) in &durations {
            // Method and route come from fixed sets with nothing to escape.
            let labels = format!(r#"method="{method}",route="{route}",status="{status}""#);
            histogram.render_as(format, HTTP_REQUEST_DURATION_SECONDS, &labels, &mut out);
        }
        if format.is_openmetrics() {
            out.push_str(openmetrics::EOF);
        }
        out
    }
}

/// A latency in whole nanoseconds (saturating: 584 years).
fn nanos(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
}

/// Holds one unit of the in-flight gauge; dropping it gives the unit back.
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openmetrics_names_counter_families_without_total_and_carries_exemplars() {
        use crate::http::openmetrics::OpenMetricsVersion;
        let m = Metrics::new(true);
        let trace_id = trace::TraceId::random();
        let exemplar = Exemplar {
            trace_id,
            span_id: trace::SpanId::random(),
            at: std::time::SystemTime::now(),
        };
        m.request_traced(
            "POST",
            "/api/v1/sum",
            200,
            Duration::from_micros(300),
            Some(exemplar),
        );
        m.request("GET", "/healthz", 200, Duration::from_micros(30));
        m.rejected("VALIDATION_ERROR");
        let spans = trace::ExportCounts {
            exported: 5,
            dropped: 2,
            failed: 1,
        };
        let om = m.render_as(Format::OpenMetrics(OpenMetricsVersion::V1_0_0), Some(spans));
        assert!(om.ends_with("\n# EOF\n"), "{om}");
        assert!(!om.contains("\n\n"), "no blank lines in OpenMetrics: {om}");
        for name in [
            HTTP_REQUESTS_TOTAL,
            HTTP_REQUESTS_REJECTED_TOTAL,
            CONNECTIONS_CUT_TOTAL,
            TRACE_SPANS_TOTAL,
        ] {
            let family = name.strip_suffix("_total").expect("counters end in _total");
            assert!(
                om.contains(&format!("# TYPE {family} counter\n")),
                "{name}: {om}"
            );
            assert!(!om.contains(&format!("# TYPE {name} ")), "{name}: {om}");
        }
        assert!(
            om.contains(r#"sumapi_trace_spans_total{outcome="dropped"} 2"#),
            "{om}"
        );
        let exemplars: Vec<&str> = om.lines().filter(|l| l.contains(" # {")).collect();
        assert_eq!(exemplars.len(), 1, "{om}");
        assert!(
            exemplars[0].starts_with(r#"sumapi_http_request_duration_seconds_bucket{method="POST",route="/api/v1/sum",status="200",le="0.0005"} 1 # {trace_id=""#)
                && exemplars[0].contains(&trace_id.to_string()),
            "{om}"
        );
        // The Prometheus text: the same samples, no exemplar, no EOF.
        let text = m.render();
        assert!(!text.contains(" # {") && !text.contains("# EOF"), "{text}");
        assert!(
            text.contains(&format!("# TYPE {TRACE_SPANS_TOTAL} counter")),
            "{text}"
        );
        assert!(
            text.contains(r#"sumapi_trace_spans_total{outcome="dropped"} 2"#),
            "set at the last scrape: {text}"
        );
    }

    #[test]
    fn fast_slots_are_distinct_and_in_range() {
        let mut seen = std::collections::HashSet::new();
        let routes = ROUTES.iter().map(|r| r.pattern).chain([UNMATCHED_ROUTE]);
        for method in METHOD_LABELS {
            for route in routes.clone() {
                for status in COMMON_STATUSES {
                    let slot = fast_slot(method, route, status).expect("a common series");
                    assert!(slot < FAST_SLOTS);
                    assert!(seen.insert(slot), "{method} {route} {status}");
                }
            }
        }
        use actix_web::http::Method;
        for m in [
            "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE", "BREW",
        ] {
            let method = Method::from_bytes(m.as_bytes()).expect("valid method");
            assert!(METHOD_LABELS.contains(&method_label(&method)), "{m}");
        }
        assert_eq!(fast_slot("POST", "/api/v1/sum", 299), None);
        assert_eq!(fast_slot("POST", "/other", 200), None);
    }
}
