//! The requests of the mix: URLs, `--header`/`--header-env` headers, bodies and targets files,
//! checked into [`Target`]s that share one [`Endpoint`], and the weighted order they are sent in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use http::header::{HOST, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Uri};
use serde::Deserialize;

use super::error::{ConfigError, invalid};

/// Largest request body accepted from a flag or file (64 MiB): a load test body is kept in
/// memory and shared by every request.
pub const MAX_BODY_BYTES: u64 = 64 << 20;
/// Largest number of entries in a targets file.
pub const MAX_TARGETS: usize = 10_000;

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

pub(super) fn parse_header(h: &str) -> Result<(HeaderName, HeaderValue), ConfigError> {
    let (name, value) = h
        .split_once(':')
        .ok_or_else(|| ConfigError::Header(h.to_string()))?;
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| ConfigError::Header(h.to_string()))?;
    let value =
        HeaderValue::from_str(value.trim()).map_err(|_| ConfigError::Header(h.to_string()))?;
    Ok((name, value))
}

pub(super) fn header_from_env(
    name: &str,
    var: &str,
) -> Result<(HeaderName, HeaderValue), ConfigError> {
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

pub(super) fn check_body_len(b: Bytes) -> Result<Bytes, ConfigError> {
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

pub(super) fn read_body(path: &Path) -> Result<Bytes, ConfigError> {
    read_input("body file", path, false).map(Bytes::from)
}

pub(super) fn make_target(
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
    if !url.contains("://") {
        let u = url.trim();
        return Err(bad(&format!(
            "no scheme: write `http://{u}` (or `https://{u}` for TLS)"
        )));
    }
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

pub(super) fn read_targets(path: &Path, common: &HeaderMap) -> Result<Vec<Target>, ConfigError> {
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

pub(super) fn endpoint_of(targets: &[Target]) -> Result<Endpoint, ConfigError> {
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
