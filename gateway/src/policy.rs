//! The gateway policy: `kong.yaml` as the rest of the crate sees it, one service, its routes,
//! the consumers with their key references, and every plugin with its scope; plus the bounded
//! read of a policy file and the edits tests make (limits, disabled auth).
//!
//! The convert module builds these types from the raw file (`Policy::load`, `Policy::parse`):
//! it refuses what Kong would refuse (limits out of order, duplicate plugins on one scope,
//! literal secrets) and what the local gateway could not reproduce faithfully, so that the
//! local gateway never silently differs from Kong.

use std::collections::BTreeSet;
use std::io::Read as _;
use std::path::Path;

use crate::error::PolicyError;
use crate::vault::EnvReference;

/// The repository's `gateway/kong.yaml`, embedded at build time so that tests and binaries
/// always run the policy that is committed.
pub const KONG_YAML: &str = include_str!("../kong.yaml");

/// Largest policy file read (1 MiB). The committed file is a few KiB; the bounded read keeps a
/// wrong path such as /dev/zero or a huge file from exhausting memory.
pub const MAX_POLICY_BYTES: u64 = 1 << 20;

/// Reads a policy file as text, at most [`MAX_POLICY_BYTES`] of it.
pub fn read_text(path: &Path) -> Result<String, PolicyError> {
    let read = |source| PolicyError::Read {
        path: path.to_owned(),
        source,
    };
    let mut text = String::new();
    std::fs::File::open(path)
        .map_err(read)?
        .take(MAX_POLICY_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(read)?;
    if text.len() as u64 > MAX_POLICY_BYTES {
        return Err(PolicyError::TooLarge {
            path: path.to_owned(),
            max: MAX_POLICY_BYTES,
        });
    }
    Ok(text)
}

/// A validated gateway policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// The one upstream service.
    pub service: Service,
    /// Its routes.
    pub routes: Vec<Route>,
    /// Consumers and their key references.
    pub consumers: Vec<Consumer>,
    /// Every enabled plugin with its scope.
    pub plugins: Vec<PluginInstance>,
}

/// The upstream service as declared (the local gateway replaces the address).
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    /// Service name.
    pub name: String,
    /// `http` or `https`.
    pub protocol: String,
    /// Upstream host.
    pub host: String,
    /// Upstream port.
    pub port: u16,
    /// Upstream base path (only `/` is supported).
    pub path: String,
    /// Time to establish a connection to the service, per try (Kong: `connect_timeout`).
    pub connect_timeout_ms: u32,
    /// Time between two writes of the request to the service, per try (`write_timeout`).
    pub write_timeout_ms: u32,
    /// Time between two reads of the response from the service, per try (`read_timeout`).
    pub read_timeout_ms: u32,
    /// Further tries after a connection error or a timeout, never after an HTTP answer
    /// (`retries`).
    pub retries: u16,
}

/// Kong's default for each service timeout (60 s).
pub const DEFAULT_TIMEOUT_MS: u32 = 60_000;
/// Kong's largest service timeout (2^31 - 2 ms, about 24.8 days); the smallest is 1 ms.
pub const MAX_TIMEOUT_MS: u32 = 2_147_483_646;
/// Kong's default service retries.
pub const DEFAULT_RETRIES: u16 = 5;
/// Kong's largest service retries; the smallest is 0.
pub const MAX_RETRIES: u16 = 32_767;

/// A route: prefix paths, optional methods.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// Route name (unique).
    pub name: String,
    /// Path prefixes.
    pub paths: Vec<String>,
    /// Allowed methods in upper case; empty means any.
    pub methods: Vec<String>,
    /// Whether the matched prefix is removed before proxying (Kong's default: true).
    pub strip_path: bool,
}

/// A consumer and its key-auth credential references.
#[derive(Debug, Clone, PartialEq)]
pub struct Consumer {
    /// Username (unique).
    pub username: String,
    /// Env vault references of its keys.
    pub keys: Vec<EnvReference>,
}

/// Where a plugin applies. `None` fields match anything.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Scope {
    /// Only for this service.
    pub service: Option<String>,
    /// Only for this route.
    pub route: Option<String>,
    /// Only for this consumer.
    pub consumer: Option<String>,
}

impl Scope {
    /// Kong's precedence rank (lower wins): consumer+route+service, consumer+route,
    /// consumer+service, route+service, consumer, route, service, global.
    pub fn rank(&self) -> u8 {
        match (
            self.consumer.is_some(),
            self.route.is_some(),
            self.service.is_some(),
        ) {
            (true, true, true) => 0,
            (true, true, false) => 1,
            (true, false, true) => 2,
            (false, true, true) => 3,
            (true, false, false) => 4,
            (false, true, false) => 5,
            (false, false, true) => 6,
            (false, false, false) => 7,
        }
    }
}

/// A plugin with its scope.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginInstance {
    /// Where it applies.
    pub scope: Scope,
    /// What it does.
    pub plugin: Plugin,
}

/// The plugins the local gateway reproduces.
#[derive(Debug, Clone, PartialEq)]
pub enum Plugin {
    /// `key-auth`.
    KeyAuth(KeyAuth),
    /// `rate-limiting`.
    RateLimiting(RateLimiting),
    /// `request-size-limiting`.
    RequestSizeLimiting(SizeLimit),
    /// `request-transformer` (headers only).
    RequestTransformer(Transformer),
    /// `opentelemetry` (W3C propagation; the local gateway exports no spans).
    OpenTelemetry(OpenTelemetry),
}

impl Plugin {
    /// Kong's plugin name.
    pub fn name(&self) -> &'static str {
        match self {
            Plugin::KeyAuth(_) => "key-auth",
            Plugin::RateLimiting(_) => "rate-limiting",
            Plugin::RequestSizeLimiting(_) => "request-size-limiting",
            Plugin::RequestTransformer(_) => "request-transformer",
            Plugin::OpenTelemetry(_) => "opentelemetry",
        }
    }
}

/// `key-auth` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyAuth {
    /// Header / query parameter names holding the key.
    pub key_names: Vec<String>,
    /// Look in headers.
    pub key_in_header: bool,
    /// Look in the query string.
    pub key_in_query: bool,
    /// Remove the key before proxying.
    pub hide_credentials: bool,
    /// Realm for `WWW-Authenticate` (Kong sends plain `Key` without one).
    pub realm: Option<String>,
}

/// `opentelemetry` settings: where Kong sends its spans, and how it samples.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenTelemetry {
    /// The OTLP/HTTP traces endpoint as written (a URL, or a vault reference to one).
    pub traces_endpoint: String,
    /// The fraction of traces sampled, 0 to 1 (Kong's default: kong.conf's
    /// `tracing_sampling_rate`, 0.01).
    pub sampling_rate: f64,
}

/// kong.conf's default `tracing_sampling_rate`, which applies when the plugin sets none.
pub const DEFAULT_SAMPLING_RATE: f64 = 0.01;

/// A fixed, calendar-aligned rate-limit window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Window {
    /// One second.
    Second,
    /// One minute.
    Minute,
    /// One hour.
    Hour,
    /// One UTC day.
    Day,
}

impl Window {
    /// Every window, shortest first.
    pub const ALL: [Window; 4] = [Window::Second, Window::Minute, Window::Hour, Window::Day];

    /// Window length in seconds.
    pub fn seconds(self) -> u64 {
        match self {
            Window::Second => 1,
            Window::Minute => 60,
            Window::Hour => 3600,
            Window::Day => 86_400,
        }
    }

    /// Kong's name (`minute`), also the config key.
    pub fn name(self) -> &'static str {
        match self {
            Window::Second => "second",
            Window::Minute => "minute",
            Window::Hour => "hour",
            Window::Day => "day",
        }
    }

    /// Header suffix (`Minute` in `X-RateLimit-Limit-Minute`).
    pub fn header_suffix(self) -> &'static str {
        match self {
            Window::Second => "Second",
            Window::Minute => "Minute",
            Window::Hour => "Hour",
            Window::Day => "Day",
        }
    }

    /// Parses `second|minute|hour|day` (as in `10/minute`).
    pub fn parse(s: &str) -> Option<Window> {
        Window::ALL.into_iter().find(|w| w.name() == s)
    }
}

/// Limits per window; at least one is set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimits {
    /// Requests per second.
    pub second: Option<u64>,
    /// Requests per minute.
    pub minute: Option<u64>,
    /// Requests per hour.
    pub hour: Option<u64>,
    /// Requests per UTC day.
    pub day: Option<u64>,
}

impl RateLimits {
    /// Only a per-second limit (fast tests).
    pub fn per_second(n: u64) -> Self {
        Self {
            second: Some(n),
            ..Self::default()
        }
    }

    /// Only a per-minute limit.
    pub fn per_minute(n: u64) -> Self {
        Self {
            minute: Some(n),
            ..Self::default()
        }
    }

    /// The limit of one window.
    pub fn get(&self, w: Window) -> Option<u64> {
        match w {
            Window::Second => self.second,
            Window::Minute => self.minute,
            Window::Hour => self.hour,
            Window::Day => self.day,
        }
    }

    /// The configured windows with their limits, shortest first.
    pub fn windows(&self) -> Vec<(Window, u64)> {
        Window::ALL
            .into_iter()
            .filter_map(|w| self.get(w).map(|n| (w, n)))
            .collect()
    }

    /// Kong's rules: at least one limit, each positive, and a longer window never allows
    /// fewer requests than a shorter one.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let windows = self.windows();
        if windows.is_empty() {
            return Err(PolicyError::Invalid(
                "rate-limiting needs at least one of second, minute, hour, day".into(),
            ));
        }
        for (w, n) in &windows {
            if *n == 0 {
                return Err(PolicyError::Invalid(format!(
                    "rate-limiting {} limit must be positive",
                    w.name()
                )));
            }
        }
        for pair in windows.windows(2) {
            let ((short, a), (long, b)) = (pair[0], pair[1]);
            if b < a {
                return Err(PolicyError::Invalid(format!(
                    "rate-limiting: the limit for {} ({b}) cannot be lower than the limit for {} ({a})",
                    long.name(),
                    short.name()
                )));
            }
        }
        Ok(())
    }
}

/// What a rate-limiting plugin counts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitBy {
    /// The authenticated consumer (falls back to the client IP without one).
    Consumer,
    /// The client IP.
    Ip,
}

/// `rate-limiting` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimiting {
    /// The limits.
    pub limits: RateLimits,
    /// What is counted.
    pub limit_by: LimitBy,
    /// Status on excess (429).
    pub error_code: u16,
    /// Message on excess.
    pub error_message: String,
    /// Suppress the rate-limit headers.
    pub hide_client_headers: bool,
}

/// `request-size-limiting` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SizeLimit {
    /// Largest allowed body in bytes.
    pub allowed_bytes: u64,
    /// Refuse requests without a Content-Length (411).
    pub require_content_length: bool,
}

/// A header value: literal, or resolved from the env vault.
#[derive(Debug, Clone, PartialEq)]
pub enum HeaderValue {
    /// Written in the policy.
    Literal(String),
    /// A reference; resolved at start.
    Reference(EnvReference),
}

/// `request-transformer` header operations, in Kong's order: remove, replace, add, append.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Transformer {
    /// Headers removed.
    pub remove: Vec<String>,
    /// Headers replaced when present.
    pub replace: Vec<(String, HeaderValue)>,
    /// Headers added when absent.
    pub add: Vec<(String, HeaderValue)>,
    /// Headers appended.
    pub append: Vec<(String, HeaderValue)>,
}

// `Policy::load`, `Policy::committed` and `Policy::parse` live in the convert module, which
// builds these types from the raw file: this module holds the types and never reaches back.
impl Policy {
    /// The route with this name.
    pub fn route(&self, name: &str) -> Option<&Route> {
        self.routes.iter().find(|r| r.name == name)
    }

    /// The consumer with this username.
    pub fn consumer(&self, username: &str) -> Option<&Consumer> {
        self.consumers.iter().find(|c| c.username == username)
    }

    /// Removes every key-auth plugin: a misconfigured gateway, for tests of `loadgen ratelimit`.
    pub fn disable_auth(&mut self) {
        self.plugins
            .retain(|p| !matches!(p.plugin, Plugin::KeyAuth(_)));
    }

    /// Replaces the limits of every rate-limiting plugin not scoped to a consumer (the quota
    /// of consumers without their own).
    pub fn set_default_limits(&mut self, limits: RateLimits) -> Result<(), PolicyError> {
        limits.validate()?;
        for p in &mut self.plugins {
            if let (None, Plugin::RateLimiting(rl)) = (&p.scope.consumer, &mut p.plugin) {
                rl.limits = limits;
            }
        }
        Ok(())
    }

    /// Gives one consumer its own limits (replacing its consumer-scoped rate-limiting plugin,
    /// or adding one).
    pub fn set_consumer_limits(
        &mut self,
        username: &str,
        limits: RateLimits,
    ) -> Result<(), PolicyError> {
        limits.validate()?;
        if self.consumer(username).is_none() {
            return Err(PolicyError::Invalid(format!(
                "no consumer named `{username}`"
            )));
        }
        let mut found = false;
        for p in &mut self.plugins {
            if p.scope.consumer.as_deref() == Some(username)
                && let Plugin::RateLimiting(rl) = &mut p.plugin
            {
                rl.limits = limits;
                found = true;
            }
        }
        if !found {
            self.plugins.push(PluginInstance {
                scope: Scope {
                    consumer: Some(username.to_owned()),
                    ..Scope::default()
                },
                plugin: Plugin::RateLimiting(RateLimiting {
                    limits,
                    limit_by: LimitBy::Consumer,
                    error_code: 429,
                    error_message: "API rate limit exceeded".to_owned(),
                    hide_client_headers: false,
                }),
            });
        }
        Ok(())
    }

    /// The `opentelemetry` plugin in force, if any: it may only be global or on the service
    /// (validation refuses other scopes), and the service's wins.
    pub fn tracing(&self) -> Option<&OpenTelemetry> {
        self.plugins
            .iter()
            .filter_map(|p| match &p.plugin {
                Plugin::OpenTelemetry(o) => Some((p.scope.rank(), o)),
                _ => None,
            })
            .min_by_key(|(rank, _)| *rank)
            .map(|(_, o)| o)
    }

    /// Sets the sampling rate of every opentelemetry plugin (tests).
    pub fn set_trace_sampling_rate(&mut self, rate: f64) -> Result<(), PolicyError> {
        if !(0.0..=1.0).contains(&rate) {
            return Err(PolicyError::Invalid(format!(
                "opentelemetry sampling_rate must be from 0 to 1, found {rate}"
            )));
        }
        let mut found = false;
        for p in &mut self.plugins {
            if let Plugin::OpenTelemetry(o) = &mut p.plugin {
                o.sampling_rate = rate;
                found = true;
            }
        }
        if !found {
            return Err(PolicyError::Invalid(
                "the policy has no opentelemetry plugin whose sampling rate could be set".into(),
            ));
        }
        Ok(())
    }

    /// Sets the body limit of every request-size-limiting plugin.
    pub fn set_max_payload_bytes(&mut self, bytes: u64) {
        for p in &mut self.plugins {
            if let Plugin::RequestSizeLimiting(s) = &mut p.plugin {
                s.allowed_bytes = bytes;
            }
        }
    }

    /// Every env vault reference in the policy (keys and header values).
    pub fn references(&self) -> BTreeSet<EnvReference> {
        let mut out: BTreeSet<EnvReference> = self
            .consumers
            .iter()
            .flat_map(|c| c.keys.iter().cloned())
            .collect();
        for p in &self.plugins {
            if let Plugin::RequestTransformer(t) = &p.plugin {
                for (_, v) in t.replace.iter().chain(&t.add).chain(&t.append) {
                    if let HeaderValue::Reference(r) = v {
                        out.insert(r.clone());
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed policy with the service-level `field` line set to `value` (or removed).
    fn with_service_field(field: &str, value: Option<&str>) -> String {
        let prefix = format!("    {field}:");
        let mut found = false;
        let text: Vec<String> = KONG_YAML
            .lines()
            .filter_map(|line| {
                if !line.starts_with(&prefix) {
                    return Some(line.to_owned());
                }
                found = true;
                value.map(|v| format!("{prefix} {v}"))
            })
            .collect();
        assert!(found, "kong.yaml's service sets {field}");
        text.join("\n")
    }

    fn service(text: &str) -> Service {
        Policy::parse(text)
            .unwrap_or_else(|e| panic!("{e}"))
            .service
    }

    #[test]
    fn service_timeouts_and_retries_follow_kong() {
        let s = service(KONG_YAML);
        assert_eq!(
            (
                s.connect_timeout_ms,
                s.write_timeout_ms,
                s.read_timeout_ms,
                s.retries
            ),
            (5000, 10_000, 10_000, 2),
            "as committed"
        );

        let mut text = KONG_YAML.to_owned();
        for field in [
            "connect_timeout",
            "write_timeout",
            "read_timeout",
            "retries",
        ] {
            text = text
                .lines()
                .filter(|l| !l.starts_with(&format!("    {field}:")))
                .collect::<Vec<_>>()
                .join("\n");
        }
        let s = service(&text);
        assert_eq!(
            (
                s.connect_timeout_ms,
                s.write_timeout_ms,
                s.read_timeout_ms,
                s.retries
            ),
            (60_000, 60_000, 60_000, 5),
            "absent fields take Kong's defaults"
        );
        assert_eq!(
            service(&with_service_field("read_timeout", Some("~"))).read_timeout_ms,
            60_000,
            "null is absent"
        );

        for (field, value, read, retries) in [
            ("read_timeout", "1", 1, 2),
            ("read_timeout", "2147483646", MAX_TIMEOUT_MS, 2),
            ("read_timeout", "300.0", 300, 2),
            ("retries", "0", 10_000, 0),
            ("retries", "32767", 10_000, MAX_RETRIES),
        ] {
            let s = service(&with_service_field(field, Some(value)));
            assert_eq!(
                (s.read_timeout_ms, s.retries),
                (read, retries),
                "{field}: {value}"
            );
        }

        for (field, value) in [
            ("read_timeout", "-1"),
            ("read_timeout", "0"),
            ("connect_timeout", "1e12"),
            ("write_timeout", "2147483647"),
            ("read_timeout", "300.5"),
            ("read_timeout", "\"10s\""),
            ("connect_timeout", "[5000]"),
            ("write_timeout", ".nan"),
            ("retries", "-1"),
            ("retries", "32768"),
            ("retries", "1.5"),
            ("retries", "\"2\""),
            ("retries", "true"),
        ] {
            let err = Policy::parse(&with_service_field(field, Some(value)))
                .expect_err(&format!("{field}: {value}"));
            assert!(
                matches!(err, PolicyError::Invalid(_)),
                "{field}: {value}: {err:?}"
            );
            let msg = err.to_string();
            assert!(
                msg.contains(&format!(
                    "service `sum-api`: {field} must be a whole number"
                )),
                "{field}: {value}: {msg}"
            );
            assert!(msg.contains("(Kong's limits)"), "{msg}");
        }
    }
}
