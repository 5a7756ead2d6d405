//! Raw HTTP/1.1 exchanges over a socket, for tests that send bytes no HTTP client would (hostile
//! requests, malformed framing, a body in pieces with pauses between them) and so cannot use one
//! to read the answer either; and the parser of the responses they read.
//!
//! Every exchange is bounded: one that has not ended within 10 s fails the test.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long an exchange may take before the test fails.
const BOUND: Duration = Duration::from_secs(10);

/// The most [`send`] reads of one response.
const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// Sends `head` (request line and header fields, without the blank line; `Connection: close` is
/// added) then `body` on a new connection, and parses everything the server sent until it closed.
pub async fn request(addr: SocketAddr, head: &str, body: &[u8]) -> Response {
    let mut request = format!("{head}\r\nConnection: close\r\n\r\n").into_bytes();
    request.extend_from_slice(body);
    parse(&exchange(addr, &[&request], Duration::ZERO).await)
}

/// Sends `parts` on a new connection with `pause` between them, and returns everything the
/// server sent until it closed. The server may answer and close early: a write that fails after
/// that ends the sending, and a read error ends the reading (what came before it is kept).
pub async fn exchange(addr: SocketAddr, parts: &[&[u8]], pause: Duration) -> Vec<u8> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                tokio::time::sleep(pause).await;
            }
            if stream.write_all(part).await.is_err() {
                break;
            }
        }
        let mut out = Vec::new();
        let _ = stream.read_to_end(&mut out).await;
        out
    };
    tokio::time::timeout(BOUND, exchange)
        .await
        .unwrap_or_else(|_| panic!("{addr} answered and closed within {BOUND:?}"))
}

/// Sends `request` as it is on a new connection and parses one response: read until its
/// `Content-Length` is complete or the server closes (or resets, having answered with the request
/// unread), for at most 10 s or 1 MiB. For servers that may keep the connection open after the
/// answer. Panics when sending fails or reading fails otherwise.
pub async fn send(addr: SocketAddr, request: &[u8]) -> Response {
    let deadline = tokio::time::Instant::now() + BOUND;
    let mut sock = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    tokio::time::timeout_at(deadline, sock.write_all(request))
        .await
        .unwrap_or_else(|_| panic!("{addr} took the request within {BOUND:?}"))
        .unwrap_or_else(|e| panic!("sending the request to {addr}: {e}"));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    while buf.len() < MAX_RESPONSE_BYTES && !has_whole_body(&buf) {
        match tokio::time::timeout_at(deadline, sock.read(&mut chunk)).await {
            Err(_) | Ok(Ok(0)) => break,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            // A reset after the answer (the server closed with the request unread) ends it.
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Ok(Err(e)) => panic!(
                "reading the response: {e}; so far: {:?}",
                String::from_utf8_lossy(&buf)
            ),
        }
    }
    parse(&buf)
}

/// A parsed HTTP/1.1 response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The header fields in order, names as sent, values trimmed.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked when it was sent chunked.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics, showing the body, when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }
}

/// The length of the head (through the blank line), once it is complete.
pub fn head_len(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
}

/// Whether `bytes` hold a whole response framed by `Content-Length` (a response framed
/// otherwise is complete when the server closes).
pub fn has_whole_body(bytes: &[u8]) -> bool {
    let Some(end) = head_len(bytes) else {
        return false;
    };
    let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
    head.lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .is_some_and(|len| bytes.len() >= end + len)
}

/// Parses one response: a `Content-Length` or close-delimited body as it is, a chunked one
/// decoded. Panics, showing the bytes, on anything that is not an HTTP response.
pub fn parse(bytes: &[u8]) -> Response {
    let end = head_len(bytes)
        .unwrap_or_else(|| panic!("no HTTP head in {:?}", String::from_utf8_lossy(bytes)));
    let head = String::from_utf8_lossy(&bytes[..end - 4]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut response = Response {
        status,
        headers,
        body: bytes[end..].to_vec(),
    };
    if response
        .header("transfer-encoding")
        .is_some_and(|v| v.contains("chunked"))
    {
        response.body = dechunk(&response.body);
    }
    response
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut decoded = Vec::new();
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&rest[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .unwrap_or_else(|_| panic!("bad chunk size {size_text:?}"));
        if size == 0 {
            break;
        }
        let data = rest
            .get(eol + 2..eol + 2 + size)
            .unwrap_or_else(|| panic!("chunk of {size} bytes cut short"));
        decoded.extend_from_slice(data);
        rest = rest.get(eol + 2 + size + 2..).unwrap_or_default();
    }
    decoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_length_and_chunked_bodies_and_knows_when_a_body_is_whole() {
        let plain = b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n{\"a\":\"b\"}";
        assert!(has_whole_body(plain));
        assert!(!has_whole_body(&plain[..plain.len() - 1]));
        assert!(!has_whole_body(b"HTTP/1.1 200 OK\r\n"));
        let r = parse(plain);
        assert_eq!(r.status, 404);
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.json()["a"], "b");
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let r = parse(chunked);
        assert_eq!(r.text(), "abcde");
        assert_eq!(r.header("TRANSFER-ENCODING"), Some("chunked"));
        assert_eq!(r.header("missing"), None);
    }

    #[test]
    #[should_panic(expected = "no HTTP head")]
    fn a_cut_head_is_not_a_response() {
        parse(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n");
    }
}
