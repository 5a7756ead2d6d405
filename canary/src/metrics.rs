//! The canary's CloudWatch vocabulary in one place: namespace, metric and dimension names, units,
//! and the [`Datum`] every sink receives. `docs/metrics.md` lists these names, and the workspace
//! checks read this file to verify that dashboards and alarms only name metrics that exist.

use std::time::{Duration, SystemTime};

/// Default CloudWatch namespace (configurable with `--namespace`).
pub const DEFAULT_NAMESPACE: &str = "SumApi/Canary";

/// Dimension carried by every datum: the deployment environment (`dev`, `prod`, `local`).
pub const DIM_ENVIRONMENT: &str = "Environment";
/// Dimension carried by per-probe data: the probe's name, never a URL.
pub const DIM_PROBE: &str = "Probe";
/// Dimension carried by every datum: where the canary ran (its AWS region on ECS, else
/// `--region-label`), so that the alarms can count the regions that see a failure. The publisher
/// (`publish::Publisher`) sends every datum twice: as it is (all regions together) and with this
/// dimension appended.
pub const DIM_REGION: &str = "Region";
/// Dimension carried by per-host data: the host name of an HTTPS target (or its IP address),
/// never a URL, a port, credentials or a query.
pub const DIM_HOST: &str = "Host";

/// A latency in milliseconds, from whole microseconds: `1.566`, not `1.5655560000000002`, in
/// the log, the stdout sink and the published value alike.
pub fn millis(d: Duration) -> f64 {
    d.as_micros() as f64 / 1000.0
}

/// 1 when the probe passed (after retries), 0 when it failed. Unit Count.
pub const PROBE_SUCCESS: &str = "ProbeSuccess";
/// Wall-clock latency of the probe's last attempt as the canary saw it. Unit Milliseconds.
pub const PROBE_LATENCY: &str = "ProbeLatency";
/// Attempts beyond the first (0 when the first attempt settled the probe). Unit Count.
pub const PROBE_RETRIES: &str = "ProbeRetries";
/// Time spent inside the gateway (`X-Kong-Proxy-Latency`, or `X-Kong-Response-Latency` when the
/// gateway answered itself), when the header is present. Milliseconds.
pub const GATEWAY_LATENCY: &str = "GatewayLatency";
/// Time the upstream took (`X-Kong-Upstream-Latency`), when the header is present. Milliseconds.
pub const UPSTREAM_LATENCY: &str = "UpstreamLatency";
/// The canary consumer's remaining gateway quota (`RateLimit-Remaining`). Unit Count.
pub const RATE_LIMIT_REMAINING: &str = "RateLimitRemaining";
/// 1, published when a run starts (dimension `Environment` only). Unit Count.
pub const RUN_STARTED: &str = "RunStarted";
/// 1, published only when a run completed and its metrics were delivered. Unit Count.
pub const HEARTBEAT: &str = "Heartbeat";
/// Property (not a dimension) of a probe's EMF records: the W3C trace id its request carried,
/// so that a failed or slow probe in the logs leads to its trace in X-Ray.
pub const PROP_TRACE_ID: &str = "TraceId";
/// Days until the leaf certificate an HTTPS target presented expires, fractional, negative once
/// expired; once per host per run (dimensions `Environment` and `Host`). Unit None.
pub const CERTIFICATE_DAYS_REMAINING: &str = "CertificateDaysRemaining";

/// Every metric name the canary can emit.
pub const ALL: &[&str] = &[
    PROBE_SUCCESS,
    PROBE_LATENCY,
    PROBE_RETRIES,
    GATEWAY_LATENCY,
    UPSTREAM_LATENCY,
    RATE_LIMIT_REMAINING,
    RUN_STARTED,
    HEARTBEAT,
    CERTIFICATE_DAYS_REMAINING,
];

/// The CloudWatch units the canary uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// A count (also used for 1/0 flags).
    Count,
    /// A duration in milliseconds.
    Milliseconds,
    /// A quantity CloudWatch has no unit for (days: the name says so).
    None,
}

impl Unit {
    /// The unit's name as CloudWatch and EMF spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::None => "None",
        }
    }
}

/// One data point, independent of the sink that will carry it.
#[derive(Clone, Debug, PartialEq)]
pub struct Datum {
    /// Metric name (one of the constants above).
    pub name: String,
    /// Dimensions as (name, value) pairs, in a fixed order.
    pub dimensions: Vec<(String, String)>,
    /// The value.
    pub value: f64,
    /// The unit.
    pub unit: Unit,
    /// When the value was observed.
    pub timestamp: SystemTime,
    /// Properties that travel with the value in EMF records, never as dimensions (PutMetricData
    /// has no place for them): [`PROP_TRACE_ID`].
    pub properties: Vec<(String, String)>,
}

impl Datum {
    /// This datum with the dimension `name` set to `value`, appended after the others (kept
    /// as it is when the datum has that dimension already).
    pub fn with_dimension(mut self, name: &str, value: &str) -> Self {
        if !self.dimensions.iter().any(|(n, _)| n == name) {
            self.dimensions.push((name.to_owned(), value.to_owned()));
        }
        self
    }

    /// This datum with the property `name` set to `value` (see [`Datum::properties`]).
    pub fn with_property(mut self, name: &str, value: &str) -> Self {
        self.properties.retain(|(n, _)| n != name);
        self.properties.push((name.to_owned(), value.to_owned()));
        self
    }

    /// A per-run datum (dimension `Environment` only).
    pub fn run(name: &str, environment: &str, value: f64, timestamp: SystemTime) -> Self {
        Datum {
            name: name.to_owned(),
            dimensions: vec![(DIM_ENVIRONMENT.to_owned(), environment.to_owned())],
            value,
            unit: Unit::Count,
            timestamp,
            properties: Vec::new(),
        }
    }

    /// A per-probe datum (dimensions `Environment` and `Probe`).
    pub fn probe(
        name: &str,
        environment: &str,
        probe: &str,
        value: f64,
        unit: Unit,
        timestamp: SystemTime,
    ) -> Self {
        Self::per(
            name,
            environment,
            (DIM_PROBE, probe),
            value,
            unit,
            timestamp,
        )
    }

    /// A datum with the dimensions `Environment` and one more, `(dimension, of)`.
    fn per(
        name: &str,
        environment: &str,
        (dimension, of): (&str, &str),
        value: f64,
        unit: Unit,
        timestamp: SystemTime,
    ) -> Self {
        Datum {
            name: name.to_owned(),
            dimensions: vec![
                (DIM_ENVIRONMENT.to_owned(), environment.to_owned()),
                (dimension.to_owned(), of.to_owned()),
            ],
            value,
            unit,
            timestamp,
            properties: Vec::new(),
        }
    }

    /// A per-host datum (dimensions `Environment` and `Host`).
    pub fn host(
        name: &str,
        environment: &str,
        host: &str,
        value: f64,
        unit: Unit,
        timestamp: SystemTime,
    ) -> Self {
        Self::per(name, environment, (DIM_HOST, host), value, unit, timestamp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_are_whole_microseconds_in_milliseconds() {
        assert_eq!(millis(Duration::from_nanos(1_565_556)).to_string(), "1.565");
        assert_eq!(millis(Duration::from_nanos(499_272)).to_string(), "0.499");
        assert_eq!(millis(Duration::from_secs(2)).to_string(), "2000");
        assert_eq!(millis(Duration::ZERO), 0.0);
    }
}
