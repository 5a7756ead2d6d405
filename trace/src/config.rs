//! The tracer's configuration, from OpenTelemetry's standard environment variables or in code.
//!
//! Export is on only when an endpoint is given: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as
//! is) or `OTEL_EXPORTER_OTLP_ENDPOINT` (with `v1/traces` appended to its path). Unlike the OTel
//! SDKs, there is no default `http://localhost:4318`: a process without an endpoint builds no
//! tracer at all. `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` also turn it off.
//! Every other setting has the spec's default, and a value that cannot be read is ignored with
//! a warning (see [`crate::env`](mod@crate::env)). docs/tracing.md lists the variables.

use std::fmt;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue, Uri};

use crate::env::{Env, Warning, quote};
use crate::sampler::{Ratio, RootSampler, Sampler};

/// Spans waiting for export at most (`OTEL_BSP_MAX_QUEUE_SIZE`'s default).
pub const DEFAULT_MAX_QUEUE_SIZE: usize = 2048;
/// Spans per export request at most (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`'s default).
pub const DEFAULT_MAX_EXPORT_BATCH_SIZE: usize = 512;
/// The longest a span waits for a batch to fill (`OTEL_BSP_SCHEDULE_DELAY`'s default).
pub const DEFAULT_SCHEDULE_DELAY: Duration = Duration::from_secs(5);
/// The longest one export request may take (`OTEL_EXPORTER_OTLP_TIMEOUT`'s default).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How spans are sampled, described, and where and how they are exported.
#[derive(Clone)]
pub struct Config {
    /// The URL spans are POSTed to; `None` turns tracing off (no tracer is built).
    pub endpoint: Option<Uri>,
    /// The resource's `service.name`.
    pub service_name: String,
    /// Other resource attributes (`OTEL_RESOURCE_ATTRIBUTES`).
    pub resource_attributes: Vec<(String, String)>,
    /// Which new spans are sampled.
    pub sampler: Sampler,
    /// Extra headers on every export request (credentials, tenant ids); marked sensitive so
    /// that they never show in `Debug` output.
    pub headers: HeaderMap,
    /// The longest one export request may take before its spans count as failed.
    pub timeout: Duration,
    /// Spans waiting for export at most; beyond it new spans are dropped.
    pub max_queue_size: usize,
    /// Spans per export request at most.
    pub max_export_batch_size: usize,
    /// The longest a span waits for its batch to fill before the batch is sent anyway.
    pub schedule_delay: Duration,
}

/// A configuration read from the environment, with what in it was ignored.
#[derive(Debug)]
pub struct Loaded {
    /// The configuration to start the tracer with.
    pub config: Config,
    /// Settings that were ignored (the caller logs them); never secrets.
    pub warnings: Vec<Warning>,
}

impl Config {
    /// Export to `endpoint` (used as is) as `service_name`, everything else the spec's default.
    pub fn new(endpoint: Uri, service_name: impl Into<String>) -> Config {
        Config {
            endpoint: Some(endpoint),
            service_name: service_name.into(),
            resource_attributes: Vec::new(),
            sampler: Sampler::default(),
            headers: HeaderMap::new(),
            timeout: DEFAULT_TIMEOUT,
            max_queue_size: DEFAULT_MAX_QUEUE_SIZE,
            max_export_batch_size: DEFAULT_MAX_EXPORT_BATCH_SIZE,
            schedule_delay: DEFAULT_SCHEDULE_DELAY,
        }
    }

    /// Reads the process environment; `default_service_name` names the service when neither
    /// `OTEL_SERVICE_NAME` nor `OTEL_RESOURCE_ATTRIBUTES` does.
    pub fn from_env(default_service_name: &str) -> Loaded {
        Config::from_lookup(default_service_name, |name| std::env::var(name).ok())
    }

    /// Reads the variables through `lookup` (a map in tests, the environment otherwise).
    pub fn from_lookup(
        default_service_name: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Loaded {
        let mut env = Env::new(&lookup);
        let resource_attributes = env.key_values("OTEL_RESOURCE_ATTRIBUTES");
        let service_name = env
            .get("OTEL_SERVICE_NAME")
            .or_else(|| {
                resource_attributes
                    .iter()
                    .find(|(k, _)| k == "service.name")
                    .map(|(_, v)| v.clone())
            })
            .unwrap_or_else(|| default_service_name.to_owned());
        let endpoint = endpoint(&mut env);
        let sampler = sampler(&mut env);
        let headers = headers(&mut env);
        let timeout = match env.get("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT") {
            Some(_) => env.timeout_ms("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", DEFAULT_TIMEOUT),
            None => env.timeout_ms("OTEL_EXPORTER_OTLP_TIMEOUT", DEFAULT_TIMEOUT),
        };
        unsupported_protocol_or_compression(&mut env);
        let max_queue_size = env.positive("OTEL_BSP_MAX_QUEUE_SIZE", DEFAULT_MAX_QUEUE_SIZE);
        let mut max_export_batch_size = env.positive(
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
            DEFAULT_MAX_EXPORT_BATCH_SIZE,
        );
        if max_export_batch_size > max_queue_size {
            env.warn(
                "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
                format!("larger than the queue; using the queue size, {max_queue_size}"),
            );
            max_export_batch_size = max_queue_size;
        }
        let schedule_delay = env.duration_ms("OTEL_BSP_SCHEDULE_DELAY", DEFAULT_SCHEDULE_DELAY);
        Loaded {
            config: Config {
                endpoint,
                service_name,
                resource_attributes,
                sampler,
                headers,
                timeout,
                max_queue_size,
                max_export_batch_size,
                schedule_delay,
            },
            warnings: env.warnings,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("endpoint", &self.endpoint.as_ref().map(Uri::to_string))
            .field("service_name", &self.service_name)
            .field("resource_attributes", &self.resource_attributes)
            .field("sampler", &self.sampler.to_string())
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("timeout", &self.timeout)
            .field("max_queue_size", &self.max_queue_size)
            .field("max_export_batch_size", &self.max_export_batch_size)
            .field("schedule_delay", &self.schedule_delay)
            .finish()
    }
}

/// The export URL, or `None` when export is off or the URL is unusable (warned).
fn endpoint(env: &mut Env<'_>) -> Option<Uri> {
    if env.boolean("OTEL_SDK_DISABLED") {
        return None;
    }
    match env
        .get("OTEL_TRACES_EXPORTER")
        .map(|v| v.to_ascii_lowercase())
    {
        Some(v) if v == "none" => return None,
        Some(v) if v != "otlp" => env.warn(
            "OTEL_TRACES_EXPORTER",
            format!("{} is not supported (otlp or none); using otlp", quote(&v)),
        ),
        _ => {}
    }
    if let Some(url) = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
        return http_url(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &url, false);
    }
    let url = env.get("OTEL_EXPORTER_OTLP_ENDPOINT")?;
    http_url(env, "OTEL_EXPORTER_OTLP_ENDPOINT", &url, true)
}

/// `url` as an http(s) URL with a host; with `base`, `v1/traces` appended to its path (after a
/// slash) and any query left out.
fn http_url(env: &mut Env<'_>, variable: &'static str, url: &str, base: bool) -> Option<Uri> {
    let parsed = Uri::try_from(url).ok().filter(|u| {
        matches!(u.scheme_str(), Some("http" | "https"))
            && u.authority().is_some_and(|a| !a.host().is_empty())
    });
    let Some(uri) = parsed else {
        env.warn(
            variable,
            format!(
                "{} is not an http:// or https:// URL with a host; trace export is off",
                quote(url)
            ),
        );
        return None;
    };
    if !base {
        return Some(uri);
    }
    let path = uri.path();
    let slash = if path.ends_with('/') { "" } else { "/" };
    let scheme = uri.scheme_str().unwrap_or("http");
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or_default();
    Uri::try_from(format!("{scheme}://{authority}{path}{slash}v1/traces")).ok()
}

/// `OTEL_TRACES_SAMPLER` and its argument; unknown names and bad ratios warn and fall back.
fn sampler(env: &mut Env<'_>) -> Sampler {
    let Some(name) = env.get("OTEL_TRACES_SAMPLER") else {
        return Sampler::default();
    };
    let ratio = |env: &mut Env<'_>| {
        let Some(arg) = env.get("OTEL_TRACES_SAMPLER_ARG") else {
            return RootSampler::TraceIdRatio(Ratio::ONE);
        };
        match arg.parse::<f64>().ok().and_then(Ratio::new) {
            Some(r) => RootSampler::TraceIdRatio(r),
            None => {
                env.warn(
                    "OTEL_TRACES_SAMPLER_ARG",
                    format!("{} is not a number from 0 to 1; using 1.0", quote(&arg)),
                );
                RootSampler::TraceIdRatio(Ratio::ONE)
            }
        }
    };
    match name.to_ascii_lowercase().as_str() {
        "always_on" => Sampler::Root(RootSampler::AlwaysOn),
        "always_off" => Sampler::Root(RootSampler::AlwaysOff),
        "traceidratio" => Sampler::Root(ratio(env)),
        "parentbased_always_on" => Sampler::ParentBased(RootSampler::AlwaysOn),
        "parentbased_always_off" => Sampler::ParentBased(RootSampler::AlwaysOff),
        "parentbased_traceidratio" => Sampler::ParentBased(ratio(env)),
        _ => {
            env.warn(
                "OTEL_TRACES_SAMPLER",
                format!(
                    "{} is not supported (always_on, always_off, traceidratio, \
                     parentbased_always_on, parentbased_always_off, parentbased_traceidratio); \
                     using parentbased_always_on",
                    quote(&name)
                ),
            );
            Sampler::default()
        }
    }
}

/// `OTEL_EXPORTER_OTLP_TRACES_HEADERS`, else `OTEL_EXPORTER_OTLP_HEADERS`, as sensitive header
/// values; entries that are no valid header are skipped (warned by name only).
fn headers(env: &mut Env<'_>) -> HeaderMap {
    let variable = if env.get("OTEL_EXPORTER_OTLP_TRACES_HEADERS").is_some() {
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS"
    } else {
        "OTEL_EXPORTER_OTLP_HEADERS"
    };
    let mut map = HeaderMap::new();
    for (key, value) in env.key_values(variable) {
        let name = HeaderName::try_from(key.as_str());
        let value = HeaderValue::try_from(value.as_str());
        match (name, value) {
            (Ok(name), Ok(mut value)) => {
                value.set_sensitive(true);
                map.append(name, value);
            }
            _ => env.warn(
                variable,
                format!(
                    "{} is not a valid header name and value; skipped",
                    quote(&key)
                ),
            ),
        }
    }
    map
}

/// Only OTLP/HTTP with protobuf, uncompressed, is spoken; another choice warns.
fn unsupported_protocol_or_compression(env: &mut Env<'_>) {
    for (variable, supported) in [
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", &["http/protobuf"][..]),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", &["http/protobuf"][..]),
        ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", &["none"][..]),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", &["none"][..]),
    ] {
        if let Some(value) = env.get(variable)
            && !supported.iter().any(|s| value.eq_ignore_ascii_case(s))
        {
            env.warn(
                variable,
                format!("{} is not supported; using {}", quote(&value), supported[0]),
            );
        }
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
