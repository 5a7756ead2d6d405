//! `X-Request-ID`: keep a well-formed incoming id, otherwise generate one; store it in the
//! request's extensions (for handlers, error bodies and logs) and echo it on every response.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
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
    format!("{:032x}", rand::rng().random::<u128>())
}

/// Middleware: assigns the id before anything else runs and echoes it on the response.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = req
        .headers()
        .get(&HEADER)
        .map(HeaderValue::as_bytes)
        .filter(|v| is_well_formed(v))
        .and_then(|v| std::str::from_utf8(v).ok())
        .map_or_else(generate, str::to_owned);
    let header_value = HeaderValue::from_str(&id);
    req.extensions_mut().insert(RequestId(id));
    let mut res = next.call(req).await?;
    if let Ok(value) = header_value {
        res.headers_mut().insert(HEADER, value);
    }
    Ok(res)
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
        assert_ne!(generate(), generate());
    }
}
