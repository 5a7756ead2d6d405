//! `loadgen run` over TLS, black-box through the built binary, against an in-process server
//! (tokio-rustls; HTTP/2 with the `h2` crate, HTTP/1.1 with the shared test server) that holds
//! a `localhost` certificate signed by a CA made at test time. The binary trusts that CA through
//! `SSL_CERT_FILE`, as it would trust a private CA in production: ALPN picks h2 only with
//! `--http2`, HTTP/1.1 otherwise, and an untrusted certificate fails the run with a message
//! that says so.

use crate::common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use common::{Seen, TestServer, loadgen, serve, stderr, stdout};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use testkit::tempdir;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

/// A CA made for one test and a certificate for `localhost` that it signed.
struct Pki {
    /// The CA certificate as PEM, for `SSL_CERT_FILE`.
    ca_pem: String,
    /// The server's certificate chain (the leaf).
    chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key.
    key: PrivateKeyDer<'static>,
}

fn pki(name: &str) -> Pki {
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, format!("loadgen test CA {name}"));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("CA key"))
        .expect("self-signed CA certificate");
    let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).expect("leaf params");
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate().expect("leaf key");
    let cert = leaf
        .signed_by(&leaf_key, &*ca)
        .expect("leaf certificate signed by the CA");
    Pki {
        ca_pem: ca.pem(),
        chain: vec![cert.der().clone()],
        key: PrivatePkcs8KeyDer::from(leaf_key.serialize_der()).into(),
    }
}

/// Writes `pki`'s CA certificate into `dir` and returns its path, for `SSL_CERT_FILE`.
fn write_ca(dir: &Path, name: &str, pki: &Pki) -> String {
    let path = dir.join(format!("{name}-ca.pem"));
    std::fs::write(&path, &pki.ca_pem).expect("write the CA PEM");
    path.to_str().expect("utf-8 temp path").to_string()
}

/// A TLS server on a loopback port with `pki`'s certificate, offering `alpn` in that order. It
/// records each handshake's protocol in [`Seen::alpn`] and its failures in
/// [`Seen::tls_failures`]; every request (HTTP/2 stream or HTTP/1.1 request) counts in
/// [`Seen::requests`] and is answered 200 "ok".
fn tls_server(pki: &Pki, alpn: &[&[u8]]) -> TestServer {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_no_client_auth()
        .with_single_cert(pki.chain.clone(), pki.key.clone_key())
        .expect("the key matches the certificate");
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    TestServer::start_with(move |sock, seen| serve_tls(acceptor.clone(), sock, seen))
}

async fn serve_tls(acceptor: TlsAcceptor, sock: TcpStream, seen: Arc<Seen>) {
    let tls = match acceptor.accept(sock).await {
        Ok(tls) => tls,
        Err(_) => {
            seen.tls_failures.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    let alpn = tls
        .get_ref()
        .1
        .alpn_protocol()
        .map_or_else(|| "none".to_string(), |p| String::from_utf8_lossy(p).into());
    seen.alpn.lock().expect("lock").push(alpn.clone());
    if alpn == "h2" {
        serve_h2(tls, seen).await;
    } else {
        serve(tls, seen, None).await;
    }
}

/// Answers every stream of an HTTP/2 connection with 200 "ok" until the client closes it.
async fn serve_h2<S>(io: S, seen: Arc<Seen>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Ok(mut conn) = h2::server::handshake(io).await else {
        return;
    };
    while let Some(Ok((req, mut respond))) = conn.accept().await {
        let seen = Arc::clone(&seen);
        tokio::spawn(async move {
            let mut body = req.into_body();
            while let Some(Ok(chunk)) = body.data().await {
                let _ = body.flow_control().release_capacity(chunk.len());
            }
            seen.requests.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut send) = respond.send_response(http::Response::new(()), false) {
                let _ = send.send_data(Bytes::from_static(b"ok"), true);
            }
        });
    }
}

fn alpn_seen(s: &TestServer) -> Vec<String> {
    s.seen.alpn.lock().expect("lock").clone()
}

/// `loadgen run URL --rate 20 --duration 2s --json -` plus `extra`, trusting `ca`.
fn run_20rps_2s(url: &str, extra: &[&str], ca: &str) -> std::process::Output {
    let mut args = vec![
        "run",
        url,
        "-r",
        "20",
        "-z",
        "2s",
        "-c",
        "4",
        "--threads",
        "1",
        "--timeout",
        "2s",
        // Tests share two cores with many others; lag is judged only where it is the subject.
        "--max-lag",
        "250ms",
        "--json",
        "-",
    ];
    args.extend_from_slice(extra);
    loadgen(&args, &[("SSL_CERT_FILE", ca)])
}

/// The JSON report of a passing 2 s run at 20 req/s: 40 requests, all 200.
fn assert_passing_40(o: &std::process::Output) -> u64 {
    assert_eq!(o.status.code(), Some(0), "{}", stderr(o));
    let report: serde_json::Value =
        serde_json::from_slice(&o.stdout).expect("stdout is one JSON document");
    assert_eq!(report["verdict"], "pass", "{report:#}");
    let total = report["requests"]["total"].as_u64().expect("total");
    assert!(total.abs_diff(40) <= 2, "{total} requests, 40 expected");
    assert_eq!(report["requests"]["ok"], total, "{report:#}");
    assert_eq!(report["status_counts"]["200"], total, "{report:#}");
    total
}

#[test]
fn http2_over_tls_is_negotiated_by_alpn_and_every_request_succeeds() {
    let pki = pki("h2");
    let ca = write_ca(&tempdir::unique("loadgen-tls-h2"), "h2", &pki);
    let s = tls_server(&pki, &[b"h2", b"http/1.1"]);
    let url = format!("https://localhost:{}/fast", s.addr.port());
    let o = run_20rps_2s(&url, &["--http2"], &ca);
    let total = assert_passing_40(&o);
    // One worker thread, four streams: one TLS connection, and it speaks h2.
    assert_eq!(alpn_seen(&s), ["h2"]);
    assert_eq!(s.seen.tls_failures.load(Ordering::Relaxed), 0);
    assert_eq!(s.requests(), total, "every request was one h2 stream");
}

#[test]
fn without_http2_tls_speaks_http1_even_when_the_server_offers_h2() {
    let pki = pki("h1");
    let ca = write_ca(&tempdir::unique("loadgen-tls-h1"), "h1", &pki);
    let s = tls_server(&pki, &[b"h2", b"http/1.1"]);
    let url = format!("https://localhost:{}/fast", s.addr.port());
    let o = run_20rps_2s(&url, &[], &ca);
    let total = assert_passing_40(&o);
    // Four HTTP/1.1 keep-alive connections, none of them h2.
    assert_eq!(alpn_seen(&s), ["http/1.1"; 4]);
    assert_eq!(s.requests(), total);
}

#[test]
fn http2_falls_back_to_http1_when_the_server_offers_only_http1() {
    let pki = pki("fallback");
    let ca = write_ca(&tempdir::unique("loadgen-tls-fallback"), "fallback", &pki);
    let s = tls_server(&pki, &[b"http/1.1"]);
    let url = format!("https://localhost:{}/fast", s.addr.port());
    let o = run_20rps_2s(&url, &["--http2"], &ca);
    let total = assert_passing_40(&o);
    let alpn = alpn_seen(&s);
    assert!(
        !alpn.is_empty() && alpn.iter().all(|p| p == "http/1.1"),
        "{alpn:?}"
    );
    assert_eq!(s.requests(), total);
}

#[test]
fn an_untrusted_certificate_fails_the_run_and_names_the_certificate_problem() {
    let dir = tempdir::unique("loadgen-tls-untrusted");
    let pki_server = pki("server");
    // The client trusts a CA of its own, which did not sign the server's certificate.
    let other = write_ca(&dir, "other", &pki("other"));
    let s = tls_server(&pki_server, &[b"h2", b"http/1.1"]);
    let url = format!("https://localhost:{}/fast", s.addr.port());
    for extra in [&["--http2"][..], &[]] {
        let mut args = vec![
            "run",
            &url,
            "-n",
            "3",
            "-c",
            "1",
            "--threads",
            "1",
            "--timeout",
            "2s",
        ];
        args.extend_from_slice(extra);
        let o = loadgen(&args, &[("SSL_CERT_FILE", other.as_str())]);
        let (out, err) = (stdout(&o), stderr(&o));
        assert_eq!(o.status.code(), Some(2), "{extra:?}\n{out}\n{err}");
        assert!(out.contains("verdict: FAIL"), "{out}");
        // The warning names the endpoint and rustls' reason, not just "requests will record
        // errors".
        let why = format!(
            "connecting to https://localhost:{}/ failed: invalid peer certificate: UnknownIssuer",
            s.addr.port()
        );
        assert!(
            err.contains("no connection could be opened") && err.contains(&why),
            "{extra:?}: stderr should name the certificate problem:\n{err}"
        );
        assert!(
            !err.contains('\u{1b}'),
            "stderr is not a terminal, yet has colour codes:\n{err:?}"
        );
        assert_eq!(
            s.requests(),
            0,
            "no request went over an untrusted connection"
        );
    }
    // The client, not the server, broke off each handshake.
    assert!(s.seen.tls_failures.load(Ordering::Relaxed) >= 2);
    assert!(alpn_seen(&s).is_empty(), "{:?}", alpn_seen(&s));
}
