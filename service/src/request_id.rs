//! `X-Request-ID`: keep a well-formed incoming id, otherwise generate one ([`assign`]); the
//! middleware keeps it with the request's future, makes it the *current* id while it polls
//! that future ([`Scope`]), so that handlers and error bodies read it with [`with_current`],
//! and echoes it on the response ([`echo`]).
//!
//! A current id for the duration of each poll rather than an entry in the request's
//! extensions: the handlers run inside those polls on the worker's one thread, and the
//! extensions map cost two allocations per request (its table and the boxed value).

use std::cell::RefCell;

use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use rand::Rng;

use crate::http::json_text::HEX_PAIRS;

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

/// The request's id, assigned before anything else runs: the incoming one when well formed,
/// else a generated one.
pub fn assign(req: &ServiceRequest) -> RequestId {
    match req.headers().get(&HEADER) {
        Some(incoming) if is_well_formed(incoming.as_bytes()) => RequestId(incoming.clone()),
        _ => generate(),
    }
}

thread_local! {
    /// The id of the request being polled on this thread, inside a [`Scope`].
    static CURRENT: RefCell<Option<RequestId>> = const { RefCell::new(None) };
}

/// Makes an id the current one until dropped (then the one before it is current again, and
/// the id goes back to its owner). The id is moved, not copied.
pub struct Scope<'a> {
    owner: &'a mut Option<RequestId>,
}

impl<'a> Scope<'a> {
    /// Makes `*id` current; `*id` is empty until the scope ends.
    pub fn enter(id: &'a mut Option<RequestId>) -> Self {
        CURRENT.with(|current| std::mem::swap(&mut *current.borrow_mut(), id));
        Scope { owner: id }
    }
}

impl Drop for Scope<'_> {
    fn drop(&mut self) {
        CURRENT.with(|current| std::mem::swap(&mut *current.borrow_mut(), self.owner));
    }
}

/// Calls `f` with the current request id's bytes (printable ASCII), or `None` outside a
/// [`Scope`] (a handler called without the middleware).
pub fn with_current<R>(f: impl FnOnce(Option<&[u8]>) -> R) -> R {
    CURRENT.with(|current| match current.try_borrow() {
        Ok(id) => f(id.as_ref().map(RequestId::as_bytes)),
        Err(_) => f(None),
    })
}

/// The current request id as text (see [`with_current`]).
pub fn current_text() -> Option<String> {
    with_current(|id| id.map(|id| String::from_utf8_lossy(id).into_owned()))
}

/// Puts `id` on the response's `X-Request-ID` header; the last step of a request.
pub fn echo<B>(res: &mut ServiceResponse<B>, id: RequestId) {
    res.headers_mut().insert(HEADER, id.0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_id_is_the_innermost_scope_s_and_returns_to_its_owner() {
        assert_eq!(current_text(), None);
        let mut outer = Some(RequestId(HeaderValue::from_static("outer")));
        {
            let _outer = Scope::enter(&mut outer);
            assert_eq!(current_text().as_deref(), Some("outer"));
            let mut inner = Some(RequestId(HeaderValue::from_static("inner")));
            {
                let _inner = Scope::enter(&mut inner);
                assert_eq!(current_text().as_deref(), Some("inner"));
            }
            assert_eq!(inner, Some(RequestId(HeaderValue::from_static("inner"))));
            assert_eq!(current_text().as_deref(), Some("outer"));
        }
        assert_eq!(current_text(), None);
        assert_eq!(outer, Some(RequestId(HeaderValue::from_static("outer"))));
        // A panic inside a scope still ends it.
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _scope = Scope::enter(&mut outer);
            panic!("handler bug");
        }));
        assert!(caught.is_err());
        assert_eq!(current_text(), None);
        assert!(outer.is_some());
    }

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
