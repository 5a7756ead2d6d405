//! The API handlers: `POST /api/v1/sum` (body checks, parsing, then [`crate::sum`]),
//! `GET /api/v1/sum` (how to call it) and `GET /` (what this service is).

use std::future::Future;
use std::task::Poll;

use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use serde::de::{SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::json;

use crate::app::AppState;
use crate::error::ApiError;
use crate::request_id::RequestId;
use crate::sum::{self, MAX_NUMBERS, MIN_NUMBERS, SumError};
use crate::{clock, health::VERSION};

/// The name the index reports.
pub const SERVICE_NAME: &str = "sum-api";

/// The content type of JSON answers, as `HttpResponse::json` sets it.
const JSON_CONTENT_TYPE: header::HeaderValue = header::HeaderValue::from_static("application/json");

/// The request body; unknown fields are ignored, as by the old service.
#[derive(Debug, Deserialize)]
struct SumRequest {
    /// Missing means "no numbers" (a validation error); `null` is a type error.
    #[serde(default, deserialize_with = "present")]
    numbers: Option<Vec<f64>>,
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<f64>>, D::Error> {
    d.deserialize_seq(Numbers).map(Some)
}

/// Reads a JSON array of numbers into a vector sized for a typical request up front (serde's
/// own `Vec` visitor gets no length hint from JSON and grows three times for ten numbers).
struct Numbers;

impl<'de> Visitor<'de> for Numbers {
    type Value = Vec<f64>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<f64>, A::Error> {
        let mut numbers = Vec::with_capacity(seq.size_hint().unwrap_or(16).min(MAX_NUMBERS + 1));
        while let Some(x) = seq.next_element::<f64>()? {
            numbers.push(x);
        }
        Ok(numbers)
    }
}

/// A number written as the old service wrote it: whole values within ±2^53 as JSON integers
/// (`7`), everything else as a float (`0.30000000000000004`).
#[derive(Debug, Clone, Copy)]
pub struct JsonNumber(pub f64);

/// 2^53: up to here every whole `f64` is an exact integer.
const EXACT_INTEGER_LIMIT: f64 = 9_007_199_254_740_992.0;

impl Serialize for JsonNumber {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let x = self.0;
        if x.fract() == 0.0 && x.abs() <= EXACT_INTEGER_LIMIT {
            // Whole and within ±2^53, so the conversion is exact.
            s.serialize_i64(x as i64)
        } else {
            s.serialize_f64(x)
        }
    }
}

/// The inputs, serialized as [`JsonNumber`]s without copying them.
struct JsonNumbers<'a>(&'a [f64]);

impl Serialize for JsonNumbers<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|&x| JsonNumber(x)))
    }
}

#[derive(Serialize)]
struct SumResponse<'a> {
    sum: JsonNumber,
    count: usize,
    numbers: JsonNumbers<'a>,
    timestamp: String,
    request_id: Option<&'a str>,
}

/// Whether the declared content type is JSON (`application/json`, `application/*+json`,
/// parameters allowed). A missing content type is accepted, as the old service did.
fn is_json(content_type: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(content_type) else {
        return false;
    };
    let essence = text
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Reads the whole body within the size limit and the body timeout.
async fn read_body(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<web::Bytes, ApiError> {
    if let Some(ct) = req.headers().get(header::CONTENT_TYPE)
        && !is_json(ct.as_bytes())
    {
        return Err(ApiError::UnsupportedMediaType {
            got: String::from_utf8_lossy(ct.as_bytes())
                .chars()
                .take(100)
                .collect(),
        });
    }
    let too_large = ApiError::PayloadTooLarge {
        limit: state.max_body,
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > state.max_body as u64) {
        return Err(too_large);
    }
    let deadline = tokio::time::Instant::now() + state.body_timeout;
    let mut read = std::pin::pin!(payload.to_bytes_limited(state.max_body));
    // A small body has usually arrived with the headers: then no timer is needed at all.
    let now = std::future::poll_fn(|cx| Poll::Ready(read.as_mut().poll(cx))).await;
    let outcome = match now {
        Poll::Ready(done) => Ok(done),
        Poll::Pending => tokio::time::timeout_at(deadline, read).await,
    };
    match outcome {
        Err(_elapsed) => Err(ApiError::BodyTimeout),
        Ok(Err(_limit)) => Err(too_large),
        Ok(Ok(Err(e))) => Err(ApiError::InvalidBody {
            details: format!("the body could not be read: {e}"),
        }),
        Ok(Ok(Ok(bytes))) => Ok(bytes),
    }
}

/// Parses `{"numbers":[...]}`; anything else is `INVALID_REQUEST_BODY`.
fn parse(body: &[u8]) -> Result<Vec<f64>, ApiError> {
    // serde would also read a struct from a JSON array; the contract is an object.
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(ApiError::InvalidBody {
            details: r#"the body must be a JSON object like {"numbers":[1,2]}"#.into(),
        });
    }
    // JSON is UTF-8 (RFC 8259); serde_json would skip invalid bytes inside ignored fields.
    let text = std::str::from_utf8(body).map_err(|e| ApiError::InvalidBody {
        details: format!("the body is not valid UTF-8: {e}"),
    })?;
    let request: SumRequest = serde_json::from_str(text).map_err(|e| ApiError::InvalidBody {
        details: e.to_string(),
    })?;
    Ok(request.numbers.unwrap_or_default())
}

/// `POST /api/v1/sum`.
pub async fn sum(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let result = async {
        let body = read_body(&req, payload, &state).await?;
        let numbers = parse(&body)?;
        let total = sum::checked_sum(&numbers).map_err(|e| match e {
            SumError::OutOfRange => ApiError::SumOutOfRange,
            SumError::NotFinite(_) => ApiError::InvalidBody {
                details: e.to_string(),
            },
            SumError::TooFew(_) | SumError::TooMany(_) => ApiError::Validation(e.to_string()),
        })?;
        Ok::<_, ApiError>((numbers, total))
    }
    .await;
    match result {
        Ok((numbers, total)) => {
            state.metrics.sum_numbers(numbers.len());
            let ext = req.extensions();
            let body = SumResponse {
                sum: JsonNumber(total),
                count: numbers.len(),
                numbers: JsonNumbers(&numbers),
                timestamp: clock::now_rfc3339(),
                request_id: ext.get::<RequestId>().map(|id| id.0.as_str()),
            };
            // Sized for the usual answer, so that serializing does not reallocate.
            let mut json = Vec::with_capacity(128 + 24 * numbers.len());
            match serde_json::to_writer(&mut json, &body) {
                Ok(()) => HttpResponse::Ok()
                    .insert_header((header::CONTENT_TYPE, JSON_CONTENT_TYPE))
                    .body(json),
                Err(e) => {
                    ApiError::Internal(format!("cannot serialize the sum: {e}")).respond(&req)
                }
            }
        }
        Err(e) => e.respond(&req),
    }
}

/// `GET /api/v1/sum`: how to call the endpoint.
pub async fn sum_help(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "endpoint": "/api/v1/sum",
        "method": "POST",
        "content_type": "application/json",
        "description": "Returns the correctly rounded exact sum of the numbers (like Python's math.fsum).",
        "request": { "numbers": format!("array of {MIN_NUMBERS} to {MAX_NUMBERS} JSON numbers") },
        "max_body_bytes": state.max_body,
        "example": {
            "request": { "numbers": [1, 2, 3.5] },
            "response": { "sum": 6.5, "count": 3, "numbers": [1, 2, 3.5], "timestamp": "…", "request_id": "…" }
        },
        "errors": {
            "400": ["INVALID_REQUEST_BODY", "VALIDATION_ERROR"],
            "403": ["FORBIDDEN_ORIGIN"],
            "408": ["REQUEST_TIMEOUT"],
            "413": ["PAYLOAD_TOO_LARGE"],
            "415": ["UNSUPPORTED_MEDIA_TYPE"],
            "422": ["SUM_OUT_OF_RANGE"]
        }
    }))
}

/// `GET /`: service name, version and endpoints.
pub async fn index() -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "service": SERVICE_NAME,
        "version": VERSION,
        "endpoints": {
            "sum": "POST /api/v1/sum",
            "sum_usage": "GET /api/v1/sum",
            "health": "GET /healthz",
            "liveness": "GET /healthz/live",
            "readiness": "GET /healthz/ready"
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_of(x: f64) -> String {
        serde_json::to_string(&JsonNumber(x)).expect("numbers serialize")
    }

    #[test]
    fn json_numbers_keep_the_old_shape() {
        assert_eq!(json_of(7.0), "7");
        assert_eq!(json_of(-7.0), "-7");
        assert_eq!(json_of(9007199254740992.0), "9007199254740992");
        assert_eq!(json_of(0.5), "0.5");
        assert_eq!(json_of(1e300), "1e+300");
        assert_eq!(json_of(0.1 + 0.2), "0.30000000000000004");
    }

    #[test]
    fn content_types() {
        assert!(is_json(b"application/json"));
        assert!(is_json(b"Application/JSON; charset=utf-8"));
        assert!(is_json(b"application/vnd.api+json"));
        assert!(!is_json(b"text/plain"));
        assert!(!is_json(b"application/x-www-form-urlencoded"));
        assert!(!is_json(b"application/jsonp"));
        assert!(!is_json(&[0xff, 0xfe]));
    }
}
