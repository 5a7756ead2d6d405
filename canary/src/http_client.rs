//! The probes' HTTP client: hyper over rustls with the ring provider (the same stack the AWS SDK
//! uses here, so the binary carries one TLS implementation), with a per-request timeout and a cap
//! on how much of a response body is read. Its certificate verifier is rustls' own (the
//! platform's roots, or those of `SSL_CERT_FILE`), wrapped to record the leaf certificate each
//! host presents before verifying it, so that an expired one is known and reported in words.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use hyper_util::rt::TokioExecutor;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use thiserror::Error;

use crate::certificate::Validity;

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

/// A leaf certificate a host presented, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeenCertificate {
    /// Its validity period.
    pub validity: Validity,
    /// When the handshake that showed it began verifying it.
    pub at: Instant,
}

/// The last leaf certificate each host presented, by host name (lower case) or IP address.
#[derive(Debug, Clone, Default)]
struct CertificateLog(Arc<Mutex<HashMap<String, SeenCertificate>>>);

impl CertificateLog {
    fn record(&self, host: String, seen: SeenCertificate) {
        // A poisoned lock only means another thread panicked mid-insert; the map is still whole.
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(host, seen);
    }

    fn get(&self, host: &str) -> Option<SeenCertificate> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&host.to_ascii_lowercase()).copied()
    }
}

/// rustls' WebPKI verifier, recording the leaf certificate of every handshake first: one it
/// then rejects (expired, not yet valid) is recorded too. A resumed session shows no
/// certificate; the one recorded at its full handshake stands.
#[derive(Debug)]
struct RecordingVerifier {
    inner: Arc<WebPkiServerVerifier>,
    log: CertificateLog,
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let host = match server_name {
            ServerName::DnsName(name) => Some(name.as_ref().to_ascii_lowercase()),
            ServerName::IpAddress(ip) => Some(std::net::IpAddr::from(*ip).to_string()),
            _ => None,
        };
        if let (Some(host), Some(validity)) = (host, Validity::from_der(end_entity)) {
            let at = Instant::now();
            self.log.record(host, SeenCertificate { validity, at });
        }
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }

    fn root_hint_subjects(&self) -> Option<&[rustls::DistinguishedName]> {
        self.inner.root_hint_subjects()
    }
}

/// The platform's CA certificates, or those of `SSL_CERT_FILE` / `SSL_CERT_DIR` when set, as
/// hyper-rustls' `with_native_roots` loads them.
fn native_roots() -> Result<rustls::RootCertStore, String> {
    let found = rustls_native_certs::load_native_certs();
    if !found.errors.is_empty() {
        tracing::warn!(errors = ?found.errors, "some CA certificates could not be loaded");
    }
    let mut roots = rustls::RootCertStore::empty();
    let (valid, invalid) = roots.add_parsable_certificates(found.certs);
    tracing::debug!(valid, invalid, "CA certificates loaded");
    if roots.is_empty() {
        return Err(format!(
            "no valid native root CA certificates found ({invalid} invalid, errors: {:?})",
            found.errors
        ));
    }
    Ok(roots)
}

/// A pooled HTTP/1.1 client for http:// and https:// targets.
#[derive(Clone)]
pub struct HttpClient {
    inner: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    certificates: CertificateLog,
}

impl HttpClient {
    /// Builds the client. `need_tls_roots` makes missing CA certificates an error (for https
    /// targets); otherwise plain-HTTP use works on machines without them.
    pub fn new(need_tls_roots: bool) -> Result<Self, HttpError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certificates = CertificateLog::default();
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| HttpError::NoTrustRoots(e.to_string()))?;
        let config = match native_roots() {
            Ok(roots) => {
                let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                    .build()
                    .map_err(|e| HttpError::NoTrustRoots(e.to_string()))?;
                let verifier = RecordingVerifier {
                    inner,
                    log: certificates.clone(),
                };
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(verifier))
                    .with_no_client_auth()
            }
            Err(e) if need_tls_roots => return Err(HttpError::NoTrustRoots(e)),
            Err(_) => builder
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth(),
        };
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_or_http()
            .enable_http1()
            .build();
        let inner = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(HttpClient {
            inner,
            certificates,
        })
    }

    /// The leaf certificate `host` presented at this client's latest full TLS handshake with it
    /// (whether or not it was then accepted); `None` before any.
    pub fn certificate(&self, host: &str) -> Option<SeenCertificate> {
        self.certificates.get(host)
    }

    /// Sends `request` and reads the whole response within `timeout`.
    pub async fn send(
        &self,
        request: Request<Full<Bytes>>,
        timeout: Duration,
    ) -> Result<Exchange, HttpError> {
        let started = Instant::now();
        let host = request.uri().host().map(host_key);
        let exchange = async {
            let response = self.inner.request(request).await.map_err(|e| {
                if !e.is_connect() {
                    return HttpError::Transport(error_chain(&e));
                }
                // rustls' own words for an expired certificate are Unix times; say it in days.
                let said = match (validity_error(&e), &host) {
                    (true, Some(host)) => self.certificates.get(host).and_then(|seen| {
                        seen.validity
                            .problem(host, SystemTime::now(), f64::NEG_INFINITY)
                    }),
                    _ => None,
                };
                HttpError::Connect(said.unwrap_or_else(|| error_chain(&e)))
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

/// The key a host is recorded under: lower case, an IPv6 address without its brackets.
pub fn host_key(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase()
}

/// Whether rustls refused the handshake because the certificate is expired or not yet valid.
fn validity_error(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(err) = next {
        // tokio-rustls hands rustls' error over inside an io::Error, which hyper-rustls wraps in
        // another; an io::Error's `source` skips what it wraps, so unwrap them by hand.
        let mut wrapped = err;
        loop {
            if let Some(rustls::Error::InvalidCertificate(cert)) =
                wrapped.downcast_ref::<rustls::Error>()
            {
                return matches!(
                    cert,
                    CertificateError::Expired
                        | CertificateError::ExpiredContext { .. }
                        | CertificateError::NotValidYet
                        | CertificateError::NotValidYetContext { .. }
                );
            }
            match wrapped
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
            {
                Some(inner) => wrapped = inner,
                None => break,
            }
        }
        next = err.source();
    }
    false
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
