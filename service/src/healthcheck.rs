//! `service healthcheck`: a tiny HTTP/1.1 GET for container health checks, since the runtime
//! image has no curl. Plain http only; succeeds on status 200.

use std::time::Duration;

use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Why the health check did not pass.
#[derive(Debug, Error)]
pub enum HealthcheckError {
    /// The URL is not `http://host[:port][/path]`.
    #[error("invalid --url {0:?}: expected http://host[:port][/path] (plain http)")]
    InvalidUrl(String),
    /// Connecting, sending or reading failed.
    #[error("cannot reach {url}: {source}")]
    Io {
        /// The URL that was checked.
        url: String,
        /// The underlying failure.
        source: std::io::Error,
    },
    /// No complete answer within the timeout.
    #[error("no answer from {0} within {1:?}")]
    Timeout(String, Duration),
    /// An answer that is not HTTP.
    #[error("{0} did not answer with HTTP")]
    NotHttp(String),
    /// An answer other than 200.
    #[error("{url} answered {status}, expected 200")]
    Status {
        /// The URL that was checked.
        url: String,
        /// The status it answered.
        status: u16,
    },
}

/// Splits `http://host[:port][/path]` into `host:port` and the path.
pub fn parse_url(url: &str) -> Result<(String, String), HealthcheckError> {
    let invalid = || HealthcheckError::InvalidUrl(url.to_owned());
    let rest = url.strip_prefix("http://").ok_or_else(invalid)?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty()
        || authority.contains('@')
        || !path.bytes().all(|b| b.is_ascii_graphic())
        || !authority.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(invalid());
    }
    let has_port = authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| !p.contains(']'));
    let authority = if has_port {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    Ok((authority, path.to_owned()))
}

/// GETs `url` and succeeds when it answers 200 within `timeout`.
pub async fn check(url: &str, timeout: Duration) -> Result<(), HealthcheckError> {
    let (authority, path) = parse_url(url)?;
    let io = |source| HealthcheckError::Io {
        url: url.to_owned(),
        source,
    };
    let exchange = async {
        let mut stream = TcpStream::connect(&authority).await.map_err(io)?;
        let host = authority.trim_end_matches(":80");
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: service-healthcheck\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.map_err(io)?;
        // The status line is all we need; read a bounded prefix.
        let mut head = vec![0u8; 1024];
        let mut len = 0;
        while len < head.len() && !head[..len].contains(&b'\n') {
            let n = stream.read(&mut head[len..]).await.map_err(io)?;
            if n == 0 {
                break;
            }
            len += n;
        }
        Ok(head[..len].to_vec())
    };
    let head = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| HealthcheckError::Timeout(url.to_owned(), timeout))??;
    let line = String::from_utf8_lossy(&head);
    let status = line
        .strip_prefix("HTTP/1.")
        .and_then(|r| r.get(2..5))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| HealthcheckError::NotHttp(url.to_owned()))?;
    if status == 200 {
        Ok(())
    } else {
        Err(HealthcheckError::Status {
            url: url.to_owned(),
            status,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let ok = |u: &str| parse_url(u).expect("valid url");
        assert_eq!(
            ok("http://127.0.0.1:8080/healthz/live"),
            ("127.0.0.1:8080".into(), "/healthz/live".into())
        );
        assert_eq!(ok("http://localhost"), ("localhost:80".into(), "/".into()));
        assert_eq!(ok("http://[::1]:9/x"), ("[::1]:9".into(), "/x".into()));
        assert_eq!(ok("http://[::1]/x"), ("[::1]:80".into(), "/x".into()));
        for bad in [
            "https://x/",
            "ftp://x",
            "http://",
            "http:// x/",
            "x:80",
            "http://a@b/",
            "http://h/a b",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }
}
