//! Prometheus metrics: every name as a constant (listed in `docs/metrics.md`), one recorder per
//! running service (no global state, so tests can run several services in one process), and
//! the text exposition served on the separate metrics listener.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use crate::app::ROUTES;
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Label, Metadata, Recorder, SharedString};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

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

/// Every metric name this binary exports (for checks against dashboards and alarms).
pub const ALL: [&str; 7] = [
    HTTP_REQUESTS_TOTAL,
    HTTP_REQUEST_DURATION_SECONDS,
    HTTP_REQUESTS_IN_FLIGHT,
    HTTP_REQUESTS_REJECTED_TOTAL,
    SUM_INPUT_NUMBERS,
    READY,
    BUILD_INFO,
];

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
        .position(|l| *l == route)
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

/// Latency buckets in seconds: 100 µs to 10 s.
const DURATION_BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];
/// Numbers-per-sum buckets, from the minimum (2) to the maximum (100).
const NUMBERS_BUCKETS: [f64; 8] = [2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 50.0, 100.0];

/// How often histogram samples are folded into their buckets even without a scrape, so that
/// memory stays bounded when nobody scrapes.
pub const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The metrics of one running service.
#[derive(Clone)]
pub struct Metrics {
    recorder: Arc<PrometheusRecorder>,
    handle: PrometheusHandle,
    in_flight: Gauge,
    ready: Gauge,
    sum_numbers: Histogram,
    record_requests: bool,
    /// Handles of the common series, registered on first use: the hot path takes no lock,
    /// hashes nothing and allocates nothing.
    fast: Arc<[OnceLock<(Counter, Histogram)>]>,
    /// Handles of any other series (an unusual status), by label set.
    series: Arc<RwLock<HashMap<SeriesKey, (Counter, Histogram)>>>,
    rejections: Arc<RwLock<HashMap<&'static str, Counter>>>,
}

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

impl Metrics {
    /// A fresh registry; `record_requests = false` turns off per-request recording (for the
    /// benchmark), while readiness and build info are always exported.
    pub fn new(record_requests: bool) -> Self {
        let builder = PrometheusBuilder::new();
        let builder = builder
            .set_buckets_for_metric(
                Matcher::Full(HTTP_REQUEST_DURATION_SECONDS.into()),
                &DURATION_BUCKETS,
            )
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full(SUM_INPUT_NUMBERS.into()), &NUMBERS_BUCKETS)
            })
            .expect("bucket lists are non-empty constants");
        let recorder = builder.build_recorder();
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
            HTTP_REQUEST_DURATION_SECONDS,
            "Time from receiving a request to answering it, in seconds.",
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
            SUM_INPUT_NUMBERS,
            "How many numbers each successful sum request carried.",
        );
        describe(
            READY,
            "1 while the service is ready for traffic, 0 once shutdown began.",
        );
        describe(
            BUILD_INFO,
            "Always 1; the version label names the running build.",
        );

        let key = |name: &'static str| Key::from_static_name(name);
        let in_flight = recorder.register_gauge(&key(HTTP_REQUESTS_IN_FLIGHT), &METADATA);
        let ready = recorder.register_gauge(&key(READY), &METADATA);
        let build = Key::from_parts(
            BUILD_INFO,
            vec![Label::new("version", env!("CARGO_PKG_VERSION"))],
        );
        recorder.register_gauge(&build, &METADATA).set(1.0);
        // Register the counters so that they are exported (as 0) before the first request.
        in_flight.set(0.0);
        let sum_numbers =
            recorder.register_histogram(&Key::from_static_name(SUM_INPUT_NUMBERS), &METADATA);
        Self {
            recorder: Arc::new(recorder),
            handle,
            in_flight,
            ready,
            sum_numbers,
            record_requests,
            fast: (0..FAST_SLOTS).map(|_| OnceLock::new()).collect(),
            series: Arc::default(),
            rejections: Arc::default(),
        }
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
        if !self.record_requests {
            return;
        }
        if let Some(slot) = fast_slot(method, route, status).and_then(|i| self.fast.get(i)) {
            let (total, duration) = slot.get_or_init(|| self.register(method, route, status));
            total.increment(1);
            duration.record(elapsed.as_secs_f64());
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
        duration.record(elapsed.as_secs_f64());
    }

    /// Registers the request counter and latency histogram of one label set.
    fn register(
        &self,
        method: &'static str,
        route: &'static str,
        status: u16,
    ) -> (Counter, Histogram) {
        let labels = vec![
            Label::from_static_parts("method", method),
            Label::from_static_parts("route", route),
            Label::new("status", status.to_string()),
        ];
        (
            self.recorder.register_counter(
                &Key::from_parts(HTTP_REQUESTS_TOTAL, labels.clone()),
                &METADATA,
            ),
            self.recorder.register_histogram(
                &Key::from_parts(HTTP_REQUEST_DURATION_SECONDS, labels),
                &METADATA,
            ),
        )
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
            self.sum_numbers.record(count as f64);
        }
    }

    /// The Prometheus text exposition of everything recorded so far.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Folds pending histogram samples into buckets; call every [`UPKEEP_INTERVAL`].
    pub fn run_upkeep(&self) {
        self.handle.run_upkeep();
    }
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
    fn fast_slots_are_distinct_and_in_range() {
        let mut seen = std::collections::HashSet::new();
        let routes = ROUTES.iter().copied().chain([UNMATCHED_ROUTE]);
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
