//! Turns `loadgen run` flags into a validated [`RunConfig`]: every URL, header, body file,
//! targets file, SLO, rate and duration is checked here, before any connection is opened, so a
//! typo is a usage error (exit 64) and never a half-run test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{HOST, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Uri};
use serde::Deserialize;

use crate::cli::RunArgs;
use crate::report::Baseline;
use crate::slo::{Slo, SloError, parse_fraction};

/// Largest request body accepted from a flag or file (64 MiB): a load test body is kept in
/// memory and shared by every request.
pub const MAX_BODY_BYTES: u64 = 64 << 20;
/// Largest number of entries in a targets file.
pub const MAX_TARGETS: usize = 10_000;
/// Largest connection count.
pub const MAX_CONNECTIONS: usize = 100_000;
/// Largest number of generator threads.
pub const MAX_THREADS: usize = 1024;

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);
/// Longest measured duration (a week: soak tests included).
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);
/// Longest warmup.
pub const MAX_WARMUP: Duration = DAY;
/// Longest per-request timeout.
pub const MAX_TIMEOUT: Duration = HOUR;
/// Largest tolerated schedule lag of the self-check.
pub const MAX_MAX_LAG: Duration = Duration::from_secs(60);
/// Farthest ahead `--start-at` may be: generators wait for it, so a wrong date would keep them
/// waiting for years.
pub const MAX_START_AHEAD: Duration = DAY;

/// A usage error: the run cannot start as asked. Maps to exit code 64.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Bad or missing URL.
    #[error("bad URL `{url}`: {why}")]
    Url {
        /// What was given.
        url: String,
        /// What is wrong.
        why: String,
    },
    /// Bad header syntax.
    #[error("bad header `{0}`: write `Name: value`")]
    Header(String),
    /// `--header-env` naming a variable that is not set (its value is never printed).
    #[error("--header-env `{header}`: environment variable `{var}` is not set or not valid UTF-8")]
    HeaderEnv {
        /// Header name.
        header: String,
        /// Variable name.
        var: String,
    },
    /// A file could not be read.
    #[error("cannot read {what} `{path}`: {source}")]
    Read {
        /// Which input.
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The targets file is malformed.
    #[error("targets file `{path}`: {why}")]
    Targets {
        /// Its path.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// An SLO expression is invalid.
    #[error(transparent)]
    Slo(#[from] SloError),
    /// Any other invalid value.
    #[error("{0}")]
    Invalid(String),
}

/// One kind of request of the mix.
#[derive(Debug, Clone)]
pub struct Target {
    /// Method.
    pub method: Method,
    /// Absolute URI (HTTP/2 sends it as :scheme/:authority/:path).
    pub uri: Uri,
    /// Origin-form URI (path and query) for HTTP/1.1.
    pub path: Uri,
    /// Headers, including Host.
    pub headers: HeaderMap,
    /// Body shared by every request of this kind.
    pub body: Bytes,
    /// Relative weight in the mix.
    pub weight: u32,
}

/// Where the generator connects: all targets share one scheme and authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `scheme://authority` as a URI, for the connector.
    pub base: Uri,
    /// Whether TLS is used.
    pub https: bool,
}

/// The load model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Model {
    /// Constant arrival rate in requests/s; latency from intended send times.
    Open {
        /// Requests per second.
        rate: f64,
    },
    /// Each connection sends as soon as its previous response arrived.
    Closed,
}

/// When measuring stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// After this long (after warmup).
    Duration(Duration),
    /// After this many measured requests.
    Requests(u64),
}

/// A validated `loadgen run`.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The URL as given (or the targets file), for reports.
    pub label: String,
    /// Where to connect.
    pub endpoint: Endpoint,
    /// The request mix (at least one).
    pub targets: Vec<Target>,
    /// Open or closed.
    pub model: Model,
    /// Connection pool size (HTTP/2: concurrent streams).
    pub connections: usize,
    /// When to stop.
    pub stop: Stop,
    /// Unmeasured lead-in.
    pub warmup: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
    /// HTTP/2.
    pub http2: bool,
    /// SLO gates.
    pub slos: Vec<Slo>,
    /// An earlier report to compare with.
    pub baseline: Option<Baseline>,
    /// Regression bound as a fraction.
    pub max_regression: f64,
    /// JSON report destination (`-` = stdout).
    pub json: Option<String>,
    /// Absolute schedule start.
    pub start_at: Option<SystemTime>,
    /// Generator name.
    pub generator_id: Option<String>,
    /// Self-check lag bound.
    pub max_lag: Duration,
    /// Worker threads.
    pub threads: usize,
    /// Live progress allowed.
    pub quiet: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetEntry {
    url: String,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    header_env: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    body_file: Option<PathBuf>,
    #[serde(default = "one")]
    weight: u32,
}

fn one() -> u32 {
    1
}

fn invalid(msg: impl Into<String>) -> ConfigError {
    ConfigError::Invalid(msg.into())
}

/// `url` as it may be printed: credentials before an `@` in the authority become `***`.
fn without_credentials(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    match url[start..end].rfind('@') {
        Some(at) => format!("{}***{}", &url[..start], &url[start + at..]),
        None => url.to_string(),
    }
}

/// Refuses a duration flag above `max`, or zero unless `zero_ok` (a zero timeout or lag bound
/// is never meant). The bounds also keep every `Instant + duration` of the run from
/// overflowing.
pub(crate) fn check_duration(
    flag: &str,
    d: Duration,
    zero_ok: bool,
    max: Duration,
) -> Result<(), ConfigError> {
    if (zero_ok || !d.is_zero()) && d <= max {
        return Ok(());
    }
    let fmt = humantime::format_duration;
    let low = if zero_ok { "" } else { "longer than 0s and " };
    Err(invalid(format!(
        "{flag} {}: must be {low}at most {}",
        fmt(d),
        fmt(max)
    )))
}

impl RunConfig {
    /// Validates `args`, reading body, targets and baseline files and `--header-env` variables.
    pub fn from_args(args: &RunArgs) -> Result<RunConfig, ConfigError> {
        let slos = args
            .slo
            .iter()
            .filter(|s| !s.trim().is_empty())
            .map(|s| s.parse())
            .collect::<Result<Vec<Slo>, _>>()?;

        let mut common = HeaderMap::new();
        for h in &args.headers {
            let (name, value) = parse_header(h)?;
            common.append(name, value);
        }
        for spec in &args.header_env {
            let (name, var) = spec
                .split_once('=')
                .filter(|(n, v)| !n.trim().is_empty() && !v.trim().is_empty())
                .ok_or_else(|| invalid(format!("--header-env `{spec}`: write `Name=ENV_VAR`")))?;
            let (name, value) = header_from_env(name.trim(), var.trim())?;
            common.append(name, value);
        }

        let (label, targets) = match (&args.targets, &args.url) {
            (Some(path), _) => (path.display().to_string(), read_targets(path, &common)?),
            (None, Some(url)) => {
                let body = match (&args.body, &args.body_file) {
                    (Some(b), _) => check_body_len(Bytes::from(b.clone().into_bytes()))?,
                    (None, Some(p)) => read_body(p)?,
                    (None, None) => Bytes::new(),
                };
                let t = make_target(url, &args.method, common.clone(), body, 1)?;
                (url.clone(), vec![t])
            }
            (None, None) => return Err(invalid("give a URL or --targets FILE")),
        };
        let endpoint = endpoint_of(&targets)?;

        let model = match args.rate {
            None => Model::Closed,
            Some(r) if r.is_finite() && r > 0.0 && r <= 10_000_000.0 => Model::Open { rate: r },
            Some(r) => {
                return Err(invalid(format!(
                    "--rate {r}: must be a number of requests/s above 0 (at most 1e7)"
                )));
            }
        };
        if args.connections == 0 || args.connections > MAX_CONNECTIONS {
            return Err(invalid(format!(
                "--connections {}: must be 1..={MAX_CONNECTIONS}",
                args.connections
            )));
        }
        let stop = match (args.duration, args.requests) {
            (_, Some(0)) => return Err(invalid("--requests must be at least 1")),
            (_, Some(n)) => Stop::Requests(n),
            (Some(d), None) => {
                check_duration("--duration", d, false, MAX_DURATION)?;
                Stop::Duration(d)
            }
            (None, None) => Stop::Duration(Duration::from_secs(10)),
        };
        check_duration("--timeout", args.timeout, false, MAX_TIMEOUT)?;
        check_duration("--max-lag", args.max_lag, false, MAX_MAX_LAG)?;
        check_duration("--warmup", args.warmup, true, MAX_WARMUP)?;
        let max_regression = parse_fraction(&args.max_regression)
            .map_err(|e| invalid(format!("--max-regression {e}")))?;
        let baseline = match &args.baseline {
            None => None,
            Some(p) => {
                let report = crate::report::json::read(p)
                    .map_err(|e| invalid(format!("--baseline: {e}")))?;
                Some(Baseline {
                    source: p.display().to_string(),
                    report,
                    max_regression,
                })
            }
        };
        let start_at = match &args.start_at {
            None => None,
            Some(s) => {
                let t = humantime::parse_rfc3339_weak(s.trim()).map_err(|e| {
                    invalid(format!(
                        "--start-at `{s}`: {e}; write RFC 3339 like 2026-01-01T12:00:00Z"
                    ))
                })?;
                let late = SystemTime::now()
                    .duration_since(t)
                    .unwrap_or(Duration::ZERO);
                if late > Duration::from_secs(1) {
                    return Err(invalid(format!(
                        "--start-at `{s}` is {} in the past; choose a time a little ahead so all generators can wait for it",
                        humantime::format_duration(Duration::from_secs(late.as_secs()))
                    )));
                }
                let ahead = t
                    .duration_since(SystemTime::now())
                    .unwrap_or(Duration::ZERO);
                if ahead > MAX_START_AHEAD {
                    return Err(invalid(format!(
                        "--start-at `{s}` is {} ahead; at most {} (the generators wait for it)",
                        humantime::format_duration(Duration::from_secs(ahead.as_secs())),
                        humantime::format_duration(MAX_START_AHEAD)
                    )));
                }
                Some(t)
            }
        };
        if let Some(id) = &args.generator_id
            && (id.is_empty()
                || id.len() > 128
                || id.chars().any(|c| c.is_control() || c.is_whitespace()))
        {
            return Err(invalid(
                "--generator-id: 1..128 printable characters without spaces",
            ));
        }
        if let Some(p) = &args.json
            && p.is_empty()
        {
            return Err(invalid("--json needs a file path or `-`"));
        }
        let threads = match args.threads {
            Some(n) if n == 0 || n > MAX_THREADS => {
                return Err(invalid(format!("--threads {n}: must be 1..={MAX_THREADS}")));
            }
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        Ok(RunConfig {
            label,
            endpoint,
            targets,
            model,
            connections: args.connections,
            stop,
            warmup: args.warmup,
            timeout: args.timeout,
            http2: args.http2,
            slos,
            baseline,
            max_regression,
            json: args.json.clone(),
            start_at,
            generator_id: args.generator_id.clone(),
            max_lag: args.max_lag,
            threads,
            quiet: args.quiet,
        })
    }

    /// Target rate, in the open model.
    pub fn rate(&self) -> Option<f64> {
        match self.model {
            Model::Open { rate } => Some(rate),
            Model::Closed => None,
        }
    }
}

fn parse_header(h: &str) -> Result<(HeaderName, HeaderValue), ConfigError> {
    let (name, value) = h
        .split_once(':')
        .ok_or_else(|| ConfigError::Header(h.to_string()))?;
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| ConfigError::Header(h.to_string()))?;
    let value =
        HeaderValue::from_str(value.trim()).map_err(|_| ConfigError::Header(h.to_string()))?;
    Ok((name, value))
}

fn header_from_env(name: &str, var: &str) -> Result<(HeaderName, HeaderValue), ConfigError> {
    let name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| invalid(format!("--header-env: `{name}` is not a valid header name")))?;
    let err = || ConfigError::HeaderEnv {
        header: name.to_string(),
        var: var.to_string(),
    };
    let value = std::env::var(var).map_err(|_| err())?;
    if value.trim().is_empty() {
        return Err(invalid(format!(
            "--header-env: the value of `{var}` is empty"
        )));
    }
    let mut value = HeaderValue::from_str(value.trim()).map_err(|_| {
        invalid(format!(
            "--header-env: the value of `{var}` is not a valid header value"
        ))
    })?;
    value.set_sensitive(true);
    Ok((name, value))
}

fn check_body_len(b: Bytes) -> Result<Bytes, ConfigError> {
    if b.len() as u64 > MAX_BODY_BYTES {
        return Err(invalid(format!(
            "request body is {} bytes; at most {MAX_BODY_BYTES}",
            b.len()
        )));
    }
    Ok(b)
}

/// Reads an input file of at most [`MAX_BODY_BYTES`] (see [`crate::input::read_capped`]).
fn read_input(what: &'static str, path: &Path, text: bool) -> Result<Vec<u8>, ConfigError> {
    crate::input::read_capped(path, MAX_BODY_BYTES, text).map_err(|source| ConfigError::Read {
        what,
        path: path.to_path_buf(),
        source,
    })
}

fn read_body(path: &Path) -> Result<Bytes, ConfigError> {
    read_input("body file", path, false).map(Bytes::from)
}

fn make_target(
    url: &str,
    method: &str,
    mut headers: HeaderMap,
    body: Bytes,
    weight: u32,
) -> Result<Target, ConfigError> {
    let bad = |why: &str| ConfigError::Url {
        url: without_credentials(url),
        why: why.to_string(),
    };
    let uri: Uri = url
        .trim()
        .parse()
        .map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        _ => return Err(bad("the scheme must be http:// or https://")),
    }
    let authority = uri.authority().ok_or_else(|| bad("no host"))?.clone();
    if authority.host().is_empty() {
        return Err(bad("no host"));
    }
    if authority.as_str().contains('@') {
        return Err(bad(
            "credentials in the URL are not supported; use --header-env",
        ));
    }
    let path: Uri = uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse()
        .map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
    let method = Method::from_bytes(method.trim().as_bytes())
        .map_err(|_| invalid(format!("bad method `{method}`")))?;
    if !headers.contains_key(HOST) {
        let host = HeaderValue::from_str(authority.as_str())
            .map_err(|_| bad("host is not a valid header value"))?;
        headers.insert(HOST, host);
    }
    if weight == 0 || weight > 1_000_000 {
        return Err(invalid(format!(
            "weight {weight} of `{url}`: must be 1..=1000000"
        )));
    }
    Ok(Target {
        method,
        uri,
        path,
        headers,
        body: check_body_len(body)?,
        weight,
    })
}

fn read_targets(path: &Path, common: &HeaderMap) -> Result<Vec<Target>, ConfigError> {
    let bad = |why: String| ConfigError::Targets {
        path: path.to_path_buf(),
        why,
    };
    let text = read_input("targets file", path, true)?;
    let entries: Vec<TargetEntry> = serde_json::from_slice(&text).map_err(|e| {
        bad(format!("{e}; expected a JSON array of {{\"url\", \"method\", \"headers\", \"header_env\", \"body\" or \"body_file\", \"weight\"}}"))
    })?;
    if entries.is_empty() {
        return Err(bad("no entries".into()));
    }
    if entries.len() > MAX_TARGETS {
        return Err(bad(format!(
            "{} entries; at most {MAX_TARGETS}",
            entries.len()
        )));
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let mut targets = Vec::with_capacity(entries.len());
    for (i, e) in entries.into_iter().enumerate() {
        let mut headers = common.clone();
        for (name, value) in &e.headers {
            let (n, v) = parse_header(&format!("{name}: {value}"))
                .map_err(|err| bad(format!("entry {i}: {err}")))?;
            headers.insert(n, v);
        }
        for (name, var) in &e.header_env {
            let (n, v) =
                header_from_env(name, var).map_err(|err| bad(format!("entry {i}: {err}")))?;
            headers.insert(n, v);
        }
        let body = match (e.body, e.body_file) {
            (Some(_), Some(_)) => {
                return Err(bad(format!(
                    "entry {i}: give `body` or `body_file`, not both"
                )));
            }
            (Some(b), None) => Bytes::from(b.into_bytes()),
            (None, Some(f)) => read_body(&base.join(f))?,
            (None, None) => Bytes::new(),
        };
        let method = e.method.as_deref().unwrap_or("GET");
        targets.push(
            make_target(&e.url, method, headers, body, e.weight)
                .map_err(|err| bad(format!("entry {i}: {err}")))?,
        );
    }
    Ok(targets)
}

fn endpoint_of(targets: &[Target]) -> Result<Endpoint, ConfigError> {
    let first = &targets[0].uri;
    let key = |u: &Uri| {
        (
            u.scheme_str().map(str::to_owned),
            u.authority().map(|a| a.as_str().to_ascii_lowercase()),
        )
    };
    if let Some(other) = targets.iter().find(|t| key(&t.uri) != key(first)) {
        return Err(invalid(format!(
            "all targets must share one scheme://host:port (one connection pool); `{}` differs from `{first}`",
            other.uri
        )));
    }
    let scheme = first.scheme_str().unwrap_or("http");
    let authority = first.authority().map_or("", |a| a.as_str());
    let base: Uri = format!("{scheme}://{authority}/")
        .parse()
        .map_err(|_| invalid(format!("bad URL `{first}`")))?;
    Ok(Endpoint {
        base,
        https: scheme == "https",
    })
}

/// A deterministic, smoothly interleaved order of target indexes honouring the weights
/// (nginx's smooth weighted round robin), so that any window of requests has the mix's shape.
pub fn mix_order(targets: &[Target]) -> Vec<u32> {
    let total: u64 = targets.iter().map(|t| u64::from(t.weight)).sum();
    // Scale weights down when their sum is huge: the order only needs the proportions.
    let scale = total.div_ceil(100_000).max(1);
    let weights: Vec<i64> = targets
        .iter()
        .map(|t| (i64::from(t.weight) / scale as i64).max(1))
        .collect();
    let sum: i64 = weights.iter().sum();
    let mut current = vec![0i64; weights.len()];
    let mut order = Vec::with_capacity(sum as usize);
    for _ in 0..sum {
        let mut best = 0;
        for (i, w) in weights.iter().enumerate() {
            current[i] += w;
            if current[i] > current[best] {
                best = i;
            }
        }
        current[best] -= sum;
        order.push(best as u32);
    }
    order
}
