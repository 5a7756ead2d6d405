//! The gateway-bypass guard: when origin secrets are configured, every request except those
//! to the open routes (the health endpoints, [`Route::open`](crate::routes::Route::open))
//! must carry `X-Origin-Secret` equal to one of them (compared in constant time), otherwise
//! 403 `FORBIDDEN_ORIGIN`. The header's value is never logged.

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderName;
use subtle::{Choice, ConstantTimeEq};

use crate::error::ApiError;
use crate::routes;
use crate::state::AppState;

/// The header the gateway adds.
pub const HEADER: HeaderName = HeaderName::from_static("x-origin-secret");

/// Whether `candidate` equals one of `secrets`. Every secret is compared in full and the
/// time taken depends only on the secrets' lengths, never on where `candidate` differs.
pub fn matches_any(secrets: &[Vec<u8>], candidate: &[u8]) -> bool {
    let mut any = Choice::from(0);
    for secret in secrets {
        let mut equal = (secret.len() as u64).ct_eq(&(candidate.len() as u64));
        for (i, s) in secret.iter().enumerate() {
            equal &= s.ct_eq(candidate.get(i).unwrap_or(&0));
        }
        any |= equal;
    }
    any.into()
}

/// Whether `req` may pass: no secrets configured, a health path, or a matching header.
pub fn allows(req: &ServiceRequest, state: &AppState) -> bool {
    state.origin_secrets.is_empty()
        || routes::is_open(req.path())
        || req
            .headers()
            .get(&HEADER)
            .is_some_and(|v| matches_any(&state.origin_secrets, v.as_bytes()))
}

/// The 403 answer for a request that [`allows`] refused; no handler runs.
pub fn forbid(req: ServiceRequest) -> ServiceResponse<BoxBody> {
    let (http_req, _payload) = req.into_parts();
    let res = ApiError::ForbiddenOrigin.respond(&http_req);
    ServiceResponse::new(http_req, res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching() {
        let secrets = vec![b"old-secret-value".to_vec(), b"new-secret-value".to_vec()];
        assert!(matches_any(&secrets, b"old-secret-value"));
        assert!(matches_any(&secrets, b"new-secret-value"));
        assert!(!matches_any(&secrets, b"old-secret-valu"));
        assert!(!matches_any(&secrets, b"old-secret-value!"));
        assert!(!matches_any(&secrets, b""));
        assert!(!matches_any(&[], b"anything"));
        // A candidate that is the secret padded with NULs must not pass.
        assert!(!matches_any(&secrets, b"old-secret-value\0"));
    }
}
