//! The probes' HTTP client: hyper over rustls with the ring provider (the same stack the AWS SDK
//! uses here, so the binary carries one TLS implementation), with a per-request timeout and a cap
//! on how much of a response body is read.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use hyper_util::rt::TokioExecutor;
use thiserror::Error;

/// Largest response body a probe reads; a larger one is a failed probe, not a memory spike.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// What went wrong with one HTTP exchange.
#[derive(Debug, Error)]
pub enum HttpError {
    /// No TLS trust roots were found, so HTTPS targets cannot be verified.
    #[error("no CA certificates found for HTTPS ({0}); install ca-certificates")]
    NoTrustRoots(String),
    /// The connection could not be made (refused, DNS, TLS handshake).
    #[error("could not connect: {0}")]
    Connect(String),
    /// The exchange failed after connecting (reset, malformed response).
    #[error("request failed: {0}")]
    Transport(String),
    /// No complete response within the probe's timeout.
    #[error("no complete response within {}", humantime::format_duration(*.0))]
    Timeout(Duration),
    /// The response body exceeded [`MAX_BODY_BYTES`].
    #[error("response body larger than {MAX_BODY_BYTES} bytes")]
    BodyTooLarge,
}

impl HttpError {
    /// Whether a retry may help: connection and transport errors, not timeouts or huge bodies.
    pub fn is_retryable(&self) -> bool {
        matches!(self, HttpError::Connect(_) | HttpError::Transport(_))
    }
}

/// A complete response and how long it took.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// Response status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// Response body (at most [`MAX_BODY_BYTES`]).
    pub body: Bytes,
    /// From sending the request to the end of the body.
    pub elapsed: Duration,
}

impl Exchange {
    /// The first value of a header as text, if present and valid text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A pooled HTTP/1.1 client for http:// and https:// targets.
#[derive(Clone)]
pub struct HttpClient {
    inner: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl HttpClient {
    /// Builds the client. `need_tls_roots` makes missing CA certificates an error (for https
    /// targets); otherwise plain-HTTP use works on machines without them.
    pub fn new(need_tls_roots: bool) -> Result<Self, HttpError> {
        let provider = rustls::crypto::ring::default_provider();
        let connector = match hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(provider.clone())
        {
            Ok(builder) => builder.https_or_http().enable_http1().build(),
            Err(e) if need_tls_roots => return Err(HttpError::NoTrustRoots(e.to_string())),
            Err(_) => {
                let config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
                    .with_safe_default_protocol_versions()
                    .map_err(|e| HttpError::NoTrustRoots(e.to_string()))?
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth();
                hyper_rustls::HttpsConnectorBuilder::new()
                    .with_tls_config(config)
                    .https_or_http()
                    .enable_http1()
                    .build()
            }
        };
        let inner = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(HttpClient { inner })
    }

    /// Sends `request` and reads the whole response within `timeout`.
    pub async fn send(
        &self,
        request: Request<Full<Bytes>>,
        timeout: Duration,
    ) -> Result<Exchange, HttpError> {
        let started = Instant::now();
        let exchange = async {
            let response = self.inner.request(request).await.map_err(|e| {
                let text = error_chain(&e);
                if e.is_connect() {
                    HttpError::Connect(text)
                } else {
                    HttpError::Transport(text)
                }
            })?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_BODY_BYTES)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        HttpError::BodyTooLarge
                    } else {
                        HttpError::Transport(e.to_string())
                    }
                })?
                .to_bytes();
            Ok(Exchange {
                status: parts.status,
                headers: parts.headers,
                body,
                elapsed: started.elapsed(),
            })
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| HttpError::Timeout(timeout))?
    }
}

/// An error and its sources on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
