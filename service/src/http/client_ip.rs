//! The client address of the access log, written without allocating: the first
//! `X-Forwarded-For` hop (set by the ALB), else the peer. It replaces formatting the peer's
//! address with `format!` on every request.

use std::io::Write;
use std::net::IpAddr;

use actix_web::http::header::HeaderName;

/// `X-Forwarded-For`, as the ALB sets it.
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// Longest client address written to the log, in characters.
pub const MAX_CLIENT_IP: usize = 64;

/// The client address for the log, without allocating: the first `X-Forwarded-For` hop (set
/// by the ALB), else the peer. Informational only; it is client-controlled behind no proxy.
pub enum ClientIp<'a> {
    /// The first forwarded hop, trimmed, at most [`MAX_CLIENT_IP`] characters.
    Forwarded(&'a str),
    /// The peer's address as text (at most 45 bytes, the longest IPv6 form).
    Peer([u8; 45], usize),
    /// Neither is known.
    Unknown,
}

impl<'a> ClientIp<'a> {
    /// The client address of `req`.
    pub fn of(req: &'a actix_web::HttpRequest) -> Self {
        let forwarded = req
            .headers()
            .get(&X_FORWARDED_FOR)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim);
        if let Some(hop) = forwarded {
            // `to_str` admits visible ASCII only, so every byte is a character boundary.
            return Self::Forwarded(hop.get(..MAX_CLIENT_IP).unwrap_or(hop));
        }
        let Some(peer) = req.peer_addr() else {
            return Self::Unknown;
        };
        let mut text = [0u8; 45];
        match peer.ip() {
            // The usual peer, written without the formatting machinery.
            IpAddr::V4(v4) => {
                let mut len = 0;
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        text[len] = b'.';
                        len += 1;
                    }
                    let mut digits = itoa::Buffer::new();
                    let digits = digits.format(octet).as_bytes();
                    // At most 15 bytes in all ("255.255.255.255"): always inside `text`.
                    text[len..len + digits.len()].copy_from_slice(digits);
                    len += digits.len();
                }
                Self::Peer(text, len)
            }
            ip @ IpAddr::V6(_) => {
                let mut cursor = std::io::Cursor::new(&mut text[..]);
                let written = write!(cursor, "{ip}").map(|()| cursor.position());
                match written.ok().and_then(|n| usize::try_from(n).ok()) {
                    Some(len) => Self::Peer(text, len),
                    None => Self::Unknown,
                }
            }
        }
    }

    /// The address as text (ASCII).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Forwarded(hop) => hop.as_bytes(),
            Self::Peer(text, len) => text.get(..*len).unwrap_or(b"-"),
            Self::Unknown => b"-",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn client_ip(req: TestRequest) -> String {
        let req = req.to_http_request();
        String::from_utf8_lossy(ClientIp::of(&req).as_bytes()).into_owned()
    }

    #[test]
    fn the_client_address_is_the_first_forwarded_hop_else_the_peer() {
        for ip in [
            "127.0.0.1",
            "10.20.100.255",
            "::1",
            "fe80::1",
            "::ffff:1.2.3.4",
        ] {
            let peer = std::net::SocketAddr::new(ip.parse().expect("an address"), 4242);
            let shown = client_ip(TestRequest::default().peer_addr(peer));
            assert_eq!(shown, peer.ip().to_string());
        }
        let longest: std::net::IpAddr = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"
            .parse()
            .expect("an address");
        let shown = client_ip(TestRequest::default().peer_addr((longest, 1).into()));
        assert_eq!(shown, longest.to_string());
        assert_eq!(client_ip(TestRequest::default()), "-");
        let forwarded = |value: &str| {
            client_ip(
                TestRequest::default()
                    .peer_addr(([10, 0, 0, 1], 1).into())
                    .insert_header(("x-forwarded-for", value)),
            )
        };
        assert_eq!(forwarded(" 203.0.113.7 , 10.0.0.2"), "203.0.113.7");
        assert_eq!(forwarded(&"9".repeat(300)), "9".repeat(MAX_CLIENT_IP));
        assert_eq!(forwarded(""), "");
    }
}
