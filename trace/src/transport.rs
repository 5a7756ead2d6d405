//! One OTLP/HTTP export request: POST the protobuf body to the endpoint with
//! `Content-Type: application/x-protobuf` and the configured headers, within the timeout, and
//! read the collector's answer. hyper over rustls with the ring provider, as elsewhere in the
//! workspace (one TLS stack), so `https://` endpoints work when the machine has CA certificates.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Uri, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use hyper_util::rt::TokioExecutor;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use thiserror::Error;

/// The largest answer read; OTLP answers are a few bytes (the spec's limit is 4 MiB, but
/// nothing this exporter reads from it can be that long).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Why an export request failed; its spans count as failed.
#[derive(Debug, Error)]
pub(crate) enum SendError {
    /// The collector answered with a status other than 2xx.
    #[error("the collector answered {0}")]
    Status(http::StatusCode),
    /// No complete answer within the timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The request could not be sent or its answer not read.
    #[error("{0}")]
    Transport(String),
}

/// An `https://` endpoint, but no CA certificates to verify it with (the reason given).
#[derive(Debug)]
pub(crate) struct NoTrustRoots(pub(crate) String);

/// The HTTP client and where it posts.
pub(crate) struct Transport {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    uri: Uri,
    headers: HeaderMap,
    timeout: Duration,
}

impl Transport {
    /// A client for `uri`; CA certificates are required only for an `https://` endpoint.
    pub(crate) fn new(
        uri: Uri,
        mut headers: HeaderMap,
        timeout: Duration,
    ) -> Result<Transport, NoTrustRoots> {
        let provider = rustls::crypto::ring::default_provider();
        let connector = match hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(provider.clone())
        {
            Ok(builder) => builder.https_or_http().enable_http1().build(),
            Err(e) if uri.scheme_str() == Some("https") => {
                return Err(NoTrustRoots(e.to_string()));
            }
            Err(_) => hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(
                    rustls::ClientConfig::builder_with_provider(provider.into())
                        .with_safe_default_protocol_versions()
                        .map_err(|e| NoTrustRoots(e.to_string()))?
                        .with_root_certificates(rustls::RootCertStore::empty())
                        .with_no_client_auth(),
                )
                .https_or_http()
                .enable_http1()
                .build(),
        };
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(1)
            .build(connector);
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-protobuf"),
        );
        Ok(Transport {
            client,
            uri,
            headers,
            timeout,
        })
    }

    /// The endpoint without credentials or query, for logs.
    pub(crate) fn endpoint_for_logs(&self) -> String {
        let host = self.uri.host().unwrap_or("");
        let port = self.uri.port().map(|p| format!(":{p}")).unwrap_or_default();
        let scheme = self.uri.scheme_str().unwrap_or("http");
        format!("{scheme}://{host}{port}{}", self.uri.path())
    }

    /// Posts one request body; on a 2xx answer, how many spans the collector said it rejected.
    pub(crate) async fn send(&self, body: Vec<u8>) -> Result<u64, SendError> {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(self.uri.clone())
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| SendError::Transport(e.to_string()))?;
        request.headers_mut().extend(self.headers.clone());
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| SendError::Transport(error_chain(&e)))?;
            let status = response.status();
            // Read the body even on an error status, so the connection can be reused.
            let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| SendError::Transport(e.to_string()))?
                .to_bytes();
            if !status.is_success() {
                return Err(SendError::Status(status));
            }
            let rejected = ExportTraceServiceResponse::decode(body)
                .ok()
                .and_then(|r| r.partial_success)
                .map(|p| u64::try_from(p.rejected_spans).unwrap_or(0))
                .unwrap_or(0);
            Ok(rejected)
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| SendError::Timeout(self.timeout))?
    }
}

/// An error and its causes on one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
