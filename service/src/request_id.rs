//! `X-Request-ID`: keep a well-formed incoming id, otherwise generate one; store it in the
//! request's extensions (for handlers, error bodies and logs) and echo it on every response.

use actix_web::HttpMessage;
use actix_web::dev::ServiceRequest;
use actix_web::http::header::{HeaderName, HeaderValue};
use rand::Rng;

/// The request id header, as the old service and the gateway spell it.
pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest incoming id that is kept.
pub const MAX_LEN: usize = 128;

/// The id of the current request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// Whether an incoming id may be kept: 1 to 128 printable ASCII characters.
pub fn is_well_formed(id: &[u8]) -> bool {
    !id.is_empty() && id.len() <= MAX_LEN && id.iter().all(|b| (0x20..=0x7e).contains(b))
}

/// A fresh random id: 32 lowercase hex digits (128 bits).
pub fn generate() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bits = rand::rng().random::<u128>();
    let mut id = [0u8; 32];
    for (i, digit) in id.iter_mut().enumerate() {
        *digit = HEX[((bits >> (124 - 4 * i)) & 0xf) as usize];
    }
    // Hex digits are ASCII, so this never falls back.
    String::from_utf8(id.to_vec()).unwrap_or_default()
}

/// Assigns the request's id before anything else runs (kept or generated, stored in the
/// extensions) and returns the header value to echo on the response.
pub fn assign(req: &ServiceRequest) -> Option<HeaderValue> {
    let incoming = req
        .headers()
        .get(&HEADER)
        .filter(|v| is_well_formed(v.as_bytes()));
    let (id, header_value) = match incoming.and_then(|v| v.to_str().ok().map(|s| (s, v))) {
        Some((id, value)) => (id.to_owned(), Some(value.clone())),
        None => {
            let id = generate();
            // Hex digits only: always a valid header value.
            let value = HeaderValue::from_bytes(id.as_bytes()).ok();
            (id, value)
        }
    };
    req.extensions_mut().insert(RequestId(id));
    header_value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_ids() {
        assert!(is_well_formed(b"abc-123"));
        assert!(is_well_formed(&[b'a'; 128]));
        assert!(!is_well_formed(&[b'a'; 129]));
        assert!(!is_well_formed(b""));
        assert!(!is_well_formed(b"tab\there"));
        assert!(!is_well_formed("é".as_bytes()));
        assert_eq!(generate().len(), 32);
        assert!(
            generate()
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_ne!(generate(), generate());
    }
}
