//! HTTP/1.1 responses read off a raw socket, for tests that send bytes no HTTP client would
//! (hostile requests, malformed framing) and so cannot use one to read the answer either.

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
