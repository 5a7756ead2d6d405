//! One request of the scenario over loadgen's own client (plain HTTP or rustls+ring TLS): a
//! fresh connection each time, so that requests spread over gateway nodes behind a load
//! balancer the way separate clients' would. Keeps only what the checks read: the status,
//! Kong's rate-limit headers and the error message.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use serde::Serialize;

use crate::client::{Conn, Connector};
use crate::config::Endpoint;

/// Largest response body read (the checks need only Kong's short JSON messages).
const MAX_BODY: usize = 64 * 1024;

/// What one request showed.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Observation {
    /// Which credential was sent: `none`, `unknown`, `first`, `second`.
    pub key: &'static str,
    /// HTTP status; absent when the exchange failed.
    pub status: Option<u16>,
    /// Transport error, when there was no response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `RateLimit-Limit`.
    pub limit: Option<i64>,
    /// `RateLimit-Remaining`.
    pub remaining: Option<i64>,
    /// `RateLimit-Reset` (seconds).
    pub reset: Option<i64>,
    /// `Retry-After` (seconds).
    pub retry_after: Option<i64>,
    /// `X-RateLimit-Limit-<Window>` by lower-case window name.
    pub window_limits: BTreeMap<String, i64>,
    /// `X-RateLimit-Remaining-<Window>` by lower-case window name.
    pub window_remaining: BTreeMap<String, i64>,
    /// `message` of a JSON error body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Seconds since the scenario started.
    pub at: f64,
}

/// The fixed parts of every request.
#[derive(Clone)]
pub struct Requester {
    connector: Connector,
    uri: Uri,
    path: Uri,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
    key_header: HeaderName,
    timeout: Duration,
}

/// Why the request description is unusable.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// Bad URL.
    #[error("bad URL {0:?}: use http://host:port/path or https://...")]
    Url(String),
    /// Credentials in the URL; the URL is not repeated, since it holds a password.
    #[error("bad URL: credentials in the URL are not supported; the key comes from --key-env")]
    Credentials,
    /// Bad header.
    #[error("bad header {0:?}: write `Name: value`")]
    Header(String),
    /// Bad method.
    #[error("bad method {0:?}")]
    Method(String),
    /// TLS or connector set-up.
    #[error("{0}")]
    Client(String),
}

impl Requester {
    /// Validates the request description.
    pub fn new(
        url: &str,
        method: &str,
        extra_headers: &[String],
        body: Option<&str>,
        key_header: &str,
        timeout: Duration,
    ) -> Result<Requester, RequestError> {
        let uri: Uri = url.parse().map_err(|_| RequestError::Url(url.to_owned()))?;
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(RequestError::Url(url.to_owned())),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| RequestError::Url(url.to_owned()))?
            .clone();
        // As `loadgen run` refuses them: they would be sent in Host, and logged.
        if authority.as_str().contains('@') {
            return Err(RequestError::Credentials);
        }
        let base: Uri = format!("{}://{authority}", if https { "https" } else { "http" })
            .parse()
            .map_err(|_| RequestError::Url(url.to_owned()))?;
        let path: Uri = uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
            .parse()
            .map_err(|_| RequestError::Url(url.to_owned()))?;
        let method: Method = method
            .to_ascii_uppercase()
            .parse()
            .map_err(|_| RequestError::Method(method.to_owned()))?;
        let mut headers = HeaderMap::new();
        let host = HeaderValue::from_str(authority.as_str())
            .map_err(|_| RequestError::Url(url.to_owned()))?;
        headers.insert(http::header::HOST, host);
        headers.insert(
            http::header::USER_AGENT,
            HeaderValue::from_static("loadgen-ratelimit"),
        );
        for h in extra_headers {
            let (name, value) = h
                .split_once(':')
                .ok_or_else(|| RequestError::Header(h.clone()))?;
            let name = HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|_| RequestError::Header(h.clone()))?;
            let value =
                HeaderValue::from_str(value.trim()).map_err(|_| RequestError::Header(h.clone()))?;
            headers.append(name, value);
        }
        let key_header = HeaderName::from_bytes(key_header.as_bytes())
            .map_err(|_| RequestError::Header(key_header.to_owned()))?;
        let endpoint = Endpoint { base, https };
        let connector =
            Connector::new(&endpoint, false).map_err(|e| RequestError::Client(e.to_string()))?;
        Ok(Requester {
            connector,
            uri,
            path,
            method,
            headers,
            body: Bytes::from(body.unwrap_or_default().to_owned()),
            key_header,
            timeout,
        })
    }

    /// The target URL.
    pub fn url(&self) -> String {
        self.uri.to_string()
    }

    /// Sends one request with `key` (or none) and observes the answer.
    pub async fn send(&self, label: &'static str, key: Option<&str>, at: f64) -> Observation {
        let mut obs = Observation {
            key: label,
            at,
            ..Observation::default()
        };
        let mut req = Request::new(Full::new(self.body.clone()));
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.path.clone();
        *req.headers_mut() = self.headers.clone();
        if let Some(k) = key {
            match HeaderValue::from_str(k) {
                Ok(mut v) => {
                    v.set_sensitive(true);
                    req.headers_mut().insert(self.key_header.clone(), v);
                }
                Err(_) => {
                    obs.error = Some("the key is not a valid header value".into());
                    return obs;
                }
            }
        }
        match tokio::time::timeout(self.timeout, self.exchange(req)).await {
            Ok(Ok((status, headers, body))) => {
                obs.status = Some(status);
                read_headers(&mut obs, &headers);
                obs.message = serde_json::from_slice::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned));
            }
            Ok(Err(e)) => obs.error = Some(e),
            Err(_) => obs.error = Some(format!("timed out after {:?}", self.timeout)),
        }
        obs
    }

    async fn exchange(&self, req: Request<Full<Bytes>>) -> Result<(u16, HeaderMap, Bytes), String> {
        let conn = self.connector.connect().await.map_err(|e| e.to_string())?;
        let resp = match conn {
            Conn::H1(mut s) => s.send_request(req).await,
            Conn::H2(mut s) => s.send_request(req).await,
        }
        .map_err(|e| format!("request failed: {e}"))?;
        let (parts, body) = resp.into_parts();
        let body = Limited::new(body, MAX_BODY)
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        Ok((parts.status.as_u16(), parts.headers, body))
    }
}

fn number(headers: &HeaderMap, name: &str) -> Option<i64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

fn read_headers(obs: &mut Observation, headers: &HeaderMap) {
    obs.limit = number(headers, "ratelimit-limit");
    obs.remaining = number(headers, "ratelimit-remaining");
    obs.reset = number(headers, "ratelimit-reset");
    obs.retry_after = number(headers, "retry-after");
    for (name, value) in headers {
        let n = name.as_str();
        let Some(v) = value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<i64>().ok())
        else {
            continue;
        };
        if let Some(w) = n.strip_prefix("x-ratelimit-limit-") {
            obs.window_limits.insert(w.to_owned(), v);
        } else if let Some(w) = n.strip_prefix("x-ratelimit-remaining-") {
            obs.window_remaining.insert(w.to_owned(), v);
        }
    }
}
