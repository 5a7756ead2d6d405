//! `X-Request-ID`: keep a well-formed incoming id, otherwise generate one; store it in the
//! request's extensions (for handlers, error bodies and logs) and echo it on the response.

use actix_web::HttpMessage;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use rand::Rng;

/// The request id header, as the old service and the gateway spell it.
pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest incoming id that is kept.
pub const MAX_LEN: usize = 128;

/// The id of the current request, held as the header value it is echoed as (an incoming id
/// shares the request's buffer; a generated one is its only copy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// The id as text. Always printable ASCII: incoming ids are checked by
    /// [`is_well_formed`], generated ones are hex digits.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.0.as_bytes()).unwrap_or("")
    }

    /// The id's bytes (printable ASCII, see [`RequestId::as_str`]).
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// Whether an incoming id may be kept: 1 to 128 printable ASCII characters.
pub fn is_well_formed(id: &[u8]) -> bool {
    !id.is_empty() && id.len() <= MAX_LEN && id.iter().all(|b| (0x20..=0x7e).contains(b))
}

/// Each byte as its two lowercase hex digits.
const HEX_PAIRS: [[u8; 2]; 256] = {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut pairs = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        pairs[i] = [HEX[i >> 4], HEX[i & 0xf]];
        i += 1;
    }
    pairs
};

/// A fresh random id, 128 bits from the thread's CSPRNG as 32 lowercase hex digits.
fn generate_hex() -> [u8; 32] {
    let bits = rand::rng().random::<u128>().to_be_bytes();
    let mut hex = [0u8; 32];
    for (pair, byte) in hex.chunks_exact_mut(2).zip(bits) {
        pair.copy_from_slice(&HEX_PAIRS[usize::from(byte)]);
    }
    hex
}

/// A fresh random id: 32 lowercase hex digits (128 bits).
pub fn generate() -> RequestId {
    // Hex digits are always a valid header value.
    RequestId(HeaderValue::from_bytes(&generate_hex()).unwrap_or(HeaderValue::from_static("-")))
}

/// Assigns the request's id before anything else runs: the incoming one when well formed,
/// else a generated one; kept in the request's extensions until [`echo`].
pub fn assign(req: &ServiceRequest) {
    let id = match req.headers().get(&HEADER) {
        Some(incoming) if is_well_formed(incoming.as_bytes()) => RequestId(incoming.clone()),
        _ => generate(),
    };
    req.extensions_mut().insert(id);
}

/// The id of the request being answered as text, as [`assign`] stored it (`None` only for a
/// request that never went through it).
pub fn text_of(req: &actix_web::HttpRequest) -> Option<String> {
    req.extensions()
        .get::<RequestId>()
        .map(|id| id.as_str().to_owned())
}

/// Moves the id from the request's extensions to the response's `X-Request-ID` header; the
/// last step of a request (nothing reads the id after it).
pub fn echo<B>(res: &mut ServiceResponse<B>) {
    let id = res.request().extensions_mut().remove::<RequestId>();
    if let Some(RequestId(value)) = id {
        res.headers_mut().insert(HEADER, value);
    }
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
    }

    #[test]
    fn generated_ids_are_32_lowercase_hex_digits_and_differ() {
        let ids: Vec<String> = (0..1000).map(|_| generate().as_str().to_owned()).collect();
        for id in &ids {
            assert_eq!(id.len(), 32, "{id}");
            assert!(
                id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
                "{id}"
            );
        }
        let distinct: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        // Every digit shows up somewhere: the table maps all 16 nibbles.
        for digit in b"0123456789abcdef" {
            assert!(
                ids.iter().any(|id| id.as_bytes().contains(digit)),
                "{}",
                *digit as char
            );
        }
    }

    #[test]
    fn the_hex_table_writes_each_byte_as_format_does() {
        for byte in 0..=255u8 {
            assert_eq!(
                HEX_PAIRS[usize::from(byte)],
                *format!("{byte:02x}").as_bytes()
            );
        }
    }
}
