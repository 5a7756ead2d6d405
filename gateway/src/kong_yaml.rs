//! The subset of Kong's declarative format (decK `_format_version: "3.0"`) that the policy
//! uses, as serde types. Entities accept Kong's other fields (tags, ...) and ignore them; the
//! service's timeouts and retries are kept as raw values so that validation can name the field
//! of a bad one; plugin configs are strict (`deny_unknown_fields`) so that a typo in a limit is
//! an error rather than a silently missing limit. Defaults are Kong's.

use serde::Deserialize;

/// A whole declarative file.
#[derive(Debug, Deserialize)]
pub(crate) struct File {
    #[serde(rename = "_format_version")]
    pub format_version: Option<String>,
    #[serde(default)]
    pub services: Vec<Service>,
    #[serde(default)]
    pub routes: Vec<Route>,
    #[serde(default)]
    pub consumers: Vec<Consumer>,
    #[serde(default)]
    pub plugins: Vec<Plugin>,
    #[serde(default)]
    pub upstreams: Vec<serde_norway::Value>,
}

/// A service entity.
#[derive(Debug, Deserialize)]
pub(crate) struct Service {
    pub name: Option<String>,
    pub url: Option<String>,
    pub protocol: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub path: Option<String>,
    pub connect_timeout: Option<serde_norway::Value>,
    pub write_timeout: Option<serde_norway::Value>,
    pub read_timeout: Option<serde_norway::Value>,
    pub retries: Option<serde_norway::Value>,
    #[serde(default)]
    pub routes: Vec<Route>,
    #[serde(default)]
    pub plugins: Vec<Plugin>,
    pub enabled: Option<bool>,
}

/// A route entity, nested in a service or top-level with `service`.
#[derive(Debug, Deserialize)]
pub(crate) struct Route {
    pub name: Option<String>,
    pub service: Option<String>,
    #[serde(default)]
    pub paths: Vec<String>,
    pub methods: Option<Vec<String>>,
    pub hosts: Option<Vec<String>>,
    pub headers: Option<serde_norway::Value>,
    pub snis: Option<Vec<String>>,
    pub expression: Option<String>,
    pub strip_path: Option<bool>,
    #[serde(default)]
    pub plugins: Vec<Plugin>,
}

/// A consumer entity.
#[derive(Debug, Deserialize)]
pub(crate) struct Consumer {
    pub username: Option<String>,
    #[serde(default)]
    pub keyauth_credentials: Vec<KeyauthCredential>,
    #[serde(default)]
    pub plugins: Vec<Plugin>,
}

/// One key-auth credential of a consumer.
#[derive(Debug, Deserialize)]
pub(crate) struct KeyauthCredential {
    pub key: Option<String>,
}

/// A plugin entity, nested or top-level with optional scope fields.
#[derive(Debug, Deserialize)]
pub(crate) struct Plugin {
    pub name: String,
    pub enabled: Option<bool>,
    #[serde(default)]
    pub config: serde_norway::Value,
    pub service: Option<String>,
    pub route: Option<String>,
    pub consumer: Option<String>,
    pub consumer_group: Option<String>,
}

/// `key-auth` config.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeyAuthConfig {
    #[serde(default = "default_key_names")]
    pub key_names: Vec<String>,
    #[serde(default)]
    pub hide_credentials: bool,
    #[serde(default = "yes")]
    pub key_in_header: bool,
    #[serde(default = "yes")]
    pub key_in_query: bool,
    #[serde(default)]
    pub key_in_body: bool,
    pub anonymous: Option<String>,
    #[serde(default = "yes")]
    pub run_on_preflight: bool,
    pub realm: Option<String>,
}

/// `rate-limiting` config.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RateLimitingConfig {
    pub second: Option<f64>,
    pub minute: Option<f64>,
    pub hour: Option<f64>,
    pub day: Option<f64>,
    pub month: Option<f64>,
    pub year: Option<f64>,
    #[serde(default = "default_limit_by")]
    pub limit_by: String,
    #[serde(default = "default_rl_policy")]
    pub policy: String,
    // Accepted so that Kong's full config validates; without effect on one local node.
    #[serde(default = "yes")]
    #[allow(dead_code)]
    pub fault_tolerant: bool,
    #[serde(default)]
    pub hide_client_headers: bool,
    #[serde(default = "default_error_code")]
    pub error_code: f64,
    #[serde(default = "default_error_message")]
    pub error_message: String,
    #[allow(dead_code)]
    pub header_name: Option<String>,
    #[allow(dead_code)]
    pub path: Option<String>,
    #[allow(dead_code)]
    pub sync_rate: Option<f64>,
    #[allow(dead_code)]
    pub redis: Option<serde_norway::Value>,
}

/// `request-size-limiting` config.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SizeLimitingConfig {
    #[serde(default = "default_payload_size")]
    pub allowed_payload_size: u64,
    #[serde(default = "default_size_unit")]
    pub size_unit: String,
    #[serde(default)]
    pub require_content_length: bool,
}

/// `request-transformer` config.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TransformerConfig {
    pub http_method: Option<String>,
    #[serde(default)]
    pub remove: TransformerOps,
    #[serde(default)]
    pub rename: TransformerOps,
    #[serde(default)]
    pub replace: TransformerOps,
    #[serde(default)]
    pub add: TransformerOps,
    #[serde(default)]
    pub append: TransformerOps,
}

/// One operation group of `request-transformer`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TransformerOps {
    #[serde(default)]
    pub headers: Vec<String>,
    #[serde(default)]
    pub querystring: Vec<String>,
    #[serde(default)]
    pub body: Vec<String>,
    #[serde(default)]
    pub json_types: Vec<String>,
    pub uri: Option<String>,
}

/// `opentelemetry` config (Kong 3.x), every field Kong has, so that Kong's full config
/// validates; the convert module refuses what the local gateway cannot reproduce.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OpenTelemetryConfig {
    pub traces_endpoint: Option<String>,
    pub logs_endpoint: Option<String>,
    /// The deprecated shorthand of `traces_endpoint`.
    pub endpoint: Option<String>,
    pub headers: Option<std::collections::BTreeMap<String, String>>,
    pub resource_attributes: Option<std::collections::BTreeMap<String, String>>,
    // Accepted so that Kong's full config validates; Kong's own exporter settings, without
    // meaning for the local gateway, which exports nothing.
    #[allow(dead_code)]
    pub queue: Option<serde_norway::Value>,
    #[allow(dead_code)]
    pub batch_span_count: Option<serde_norway::Value>,
    #[allow(dead_code)]
    pub batch_flush_delay: Option<serde_norway::Value>,
    pub connect_timeout: Option<serde_norway::Value>,
    pub send_timeout: Option<serde_norway::Value>,
    pub read_timeout: Option<serde_norway::Value>,
    pub http_response_header_for_traceid: Option<String>,
    pub header_type: Option<String>,
    pub sampling_rate: Option<f64>,
    pub propagation: Option<Propagation>,
}

/// Kong's `propagation` record of the tracing plugins.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Propagation {
    pub extract: Option<Vec<String>>,
    pub inject: Option<Vec<String>>,
    pub clear: Option<Vec<String>>,
    pub default_format: Option<String>,
}

fn yes() -> bool {
    true
}
fn default_key_names() -> Vec<String> {
    vec!["apikey".to_owned()]
}
fn default_limit_by() -> String {
    "consumer".to_owned()
}
fn default_rl_policy() -> String {
    "local".to_owned()
}
fn default_error_code() -> f64 {
    429.0
}
fn default_error_message() -> String {
    "API rate limit exceeded".to_owned()
}
fn default_payload_size() -> u64 {
    128
}
fn default_size_unit() -> String {
    "megabytes".to_owned()
}
