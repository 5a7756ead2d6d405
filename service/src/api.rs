//! The API handlers: `POST /api/v1/sum` (body checks, [`crate::numbers`], then [`crate::sum`]),
//! `GET /api/v1/sum` (how to call it) and `GET /` (what this service is).

use actix_web::dev::Payload;
use actix_web::http::{ConnectionType, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::error::ApiError;
use crate::health::VERSION;
use crate::http::body::{self, BodyError};
use crate::http::budget;
use crate::http::{clock, json_text};
use crate::routes::{self, Endpoint, ROUTES};
use crate::state::AppState;
use crate::sum::{self, MAX_NUMBERS, MIN_NUMBERS, SumError};
use crate::{numbers, request_id};

/// The name the index reports.
pub const SERVICE_NAME: &str = "sum-api";

/// The content type of JSON answers, as `HttpResponse::json` sets it.
const JSON_CONTENT_TYPE: header::HeaderValue = header::HeaderValue::from_static("application/json");

/// The 200 answer of `POST /api/v1/sum`:
/// `{"sum","count","numbers","timestamp","request_id"}`, numbers written as the old service
/// wrote them ([`json_text::push_number`]).
fn sum_answer(total: f64, numbers: &numbers::Numbers<'_>, request_id: Option<&[u8]>) -> Vec<u8> {
    let values = &numbers.values;
    // Sized for the usual answer, so that writing it does not reallocate.
    let mut out = Vec::with_capacity(128 + 24 * values.len());
    out.extend_from_slice(b"{\"sum\":");
    json_text::push_number(&mut out, total);
    out.extend_from_slice(b",\"count\":");
    json_text::push_u64(&mut out, values.len() as u64);
    out.extend_from_slice(b",\"numbers\":[");
    if let Some(text) = numbers.echo {
        // The request's own text is already what the loop below would write.
        out.extend_from_slice(text);
    } else {
        json_text::push_numbers(&mut out, values);
    }
    out.extend_from_slice(b"],\"timestamp\":\"");
    clock::write_now_rfc3339_millis(&mut out);
    out.extend_from_slice(b"\",\"request_id\":");
    match request_id {
        Some(id) => json_text::push_text(&mut out, id),
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
    out
}

/// Whether the declared content type is JSON (`application/json`, `application/*+json`,
/// parameters allowed). A missing content type is accepted, as the old service did.
fn is_json(content_type: &[u8]) -> bool {
    if content_type == b"application/json" {
        return true;
    }
    let Ok(text) = std::str::from_utf8(content_type) else {
        return false;
    };
    let essence = text.split(';').next().unwrap_or("").trim().as_bytes();
    let (prefix, suffix) = (b"application/", b"+json");
    essence.eq_ignore_ascii_case(b"application/json")
        || (essence.len() >= prefix.len() + suffix.len()
            && essence[..prefix.len()].eq_ignore_ascii_case(prefix)
            && essence[essence.len() - suffix.len()..].eq_ignore_ascii_case(suffix))
}

/// Reads the whole body within the size limit and the body timeout.
async fn read_body(
    req: &HttpRequest,
    payload: Payload,
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
    body::read(payload, state.max_body, state.body_timeout)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge => too_large,
            BodyError::TimedOut => ApiError::BodyTimeout,
            // Ended by the service, not the client: the request passed its byte budget.
            BodyError::Broken(_) if budget::spent(req) => ApiError::FramingTooLarge {
                limit: state.max_body,
            },
            BodyError::Broken(why) => ApiError::InvalidBody {
                details: format!("the body could not be read: {why}"),
            },
        })
}

/// `POST /api/v1/sum`: called by the route table with the request's parts (no extractors,
/// see `app::routes`).
pub async fn sum(req: &HttpRequest, payload: Payload, state: &AppState) -> HttpResponse {
    let body = match read_body(req, payload, state).await {
        Ok(body) => body,
        Err(e) => {
            // The body is not read to its end: the connection ends after this answer.
            let mut res = e.respond(req);
            res.head_mut().set_connection_type(ConnectionType::Close);
            return res;
        }
    };
    match add_up(&body) {
        Ok((numbers, total)) => {
            state.metrics.sum_numbers(numbers.values.len());
            let body = request_id::with_current(|id| sum_answer(total, &numbers, id));
            // Built directly rather than through the builder: the same response, without its
            // header conversions.
            let mut res = HttpResponse::with_body(StatusCode::OK, body);
            res.headers_mut()
                .insert(header::CONTENT_TYPE, JSON_CONTENT_TYPE);
            res.map_into_boxed_body()
        }
        Err(e) => e.respond(req),
    }
}

/// The numbers of `body` and their correctly rounded sum.
fn add_up(body: &[u8]) -> Result<(numbers::Numbers<'_>, f64), ApiError> {
    let numbers = numbers::parse(body)?;
    let total = sum::checked_sum(&numbers.values).map_err(|e| match e {
        SumError::OutOfRange => ApiError::SumOutOfRange,
        SumError::NotFinite(_) => ApiError::InvalidBody {
            details: e.to_string(),
        },
        SumError::TooFew(_) | SumError::TooMany(_) => ApiError::Validation(e.to_string()),
    })?;
    Ok((numbers, total))
}

/// `GET /api/v1/sum`: how to call the endpoint.
pub fn sum_help(state: &AppState) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "endpoint": routes::of(Endpoint::Sum).pattern,
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

/// `GET /`: service name, version and endpoints (from [`ROUTES`]).
pub async fn index() -> HttpResponse {
    let endpoints: serde_json::Map<String, serde_json::Value> = ROUTES
        .iter()
        .flat_map(|r| {
            r.index
                .iter()
                .map(move |(name, method)| (*name, *method, r.pattern))
        })
        .map(|(name, method, pattern)| (name.to_owned(), format!("{method} {pattern}").into()))
        .collect();
    HttpResponse::Ok().json(json!({
        "service": SERVICE_NAME,
        "version": VERSION,
        "endpoints": endpoints,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    use rand::Rng;

    #[test]
    fn the_sum_answer_is_the_json_serde_writes_for_it() {
        /// The answer as a serde struct: the shape the hand-written one must match.
        #[derive(serde::Serialize)]
        struct Expected<'a> {
            sum: serde_json::Value,
            count: usize,
            numbers: Vec<serde_json::Value>,
            timestamp: &'a str,
            request_id: Option<&'a str>,
        }
        let number = |x: f64| -> serde_json::Value {
            if x.fract() == 0.0 && x.abs() <= 9007199254740992.0 {
                (x as i64).into()
            } else {
                x.into()
            }
        };
        let mut rng = rand::rng();
        let mut cases: Vec<Vec<f64>> = vec![
            vec![1.5, 2.25, 3.0, 4.125, 5.0, 6.5, 7.0, 8.75, 9.0, 10.0],
            vec![1.0, 2.0],
            vec![0.1; 10],
            vec![1e16, 1.0, -1e16],
            vec![-0.0, 0.5, 9007199254740993.0, 1e300, -5e-324],
        ];
        for _ in 0..500 {
            let n = rng.random_range(2..=100);
            // One kind per case, or a mix: one long number in an array stops the echo.
            let kind = rng.random_range(0..5);
            cases.push(
                (0..n)
                    .map(|_| {
                        match if kind == 4 {
                            rng.random_range(0..4)
                        } else {
                            kind
                        } {
                            0 => f64::from(rng.random_range(-1000..1000)),
                            1 => rng.random_range(-1e9..1e9),
                            // Amounts as clients send them: 12.345, -0.5.
                            2 => f64::from(rng.random_range(-100_000..100_000)) / 1000.0,
                            _ => f64::from_bits(rng.random::<u64>() >> 2),
                        }
                    })
                    .collect(),
            );
        }
        let mut echoed = 0;
        for (i, numbers) in cases.iter().enumerate() {
            let total = sum::checked_sum(numbers).unwrap_or(0.5);
            let id = ["0123abc", "a \"quoted\" \\ id", "x"][i % 3];
            let request_id = (i % 4 != 0).then_some(id);
            // The request as clients write it: compact with the numbers in the answer's own
            // form (the echo path), as Rust's `Debug` writes them (`1.0`), or spaced out.
            let texts: Vec<String> = numbers
                .iter()
                .map(|&x| match i % 3 {
                    0 | 2 => {
                        let mut text = Vec::new();
                        json_text::push_number(&mut text, x);
                        json_text::into_string(text)
                    }
                    _ => format!("{x:?}"),
                })
                .collect();
            let separator = if i % 3 == 2 { ", " } else { "," };
            let body = format!(r#"{{"numbers":[{}]}}"#, texts.join(separator));
            let read = numbers::parse(body.as_bytes()).expect("a valid body");
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            if i % 3 == 1 {
                // `Debug` text reads back bit for bit (the answer's form writes -0 as `0`).
                assert_eq!(bits(&read.values), bits(numbers), "{body}");
            }
            echoed += usize::from(read.echo.is_some());
            let mine =
                json_text::into_string(sum_answer(total, &read, request_id.map(str::as_bytes)));
            let parsed: serde_json::Value = serde_json::from_str(&mine).expect("valid JSON");
            let timestamp = parsed["timestamp"].as_str().expect("a timestamp");
            assert_eq!(timestamp.len(), 24, "{timestamp}");
            let expected = serde_json::to_string(&Expected {
                sum: number(total),
                count: numbers.len(),
                numbers: numbers.iter().map(|&x| number(x)).collect(),
                timestamp,
                request_id,
            })
            .expect("serializes");
            assert_eq!(mine, expected, "{body}");
        }
        // Both ways of writing the numbers were taken.
        assert!(
            echoed > 30 && echoed < cases.len() / 2,
            "{echoed} of {}",
            cases.len()
        );
    }

    #[test]
    fn content_types() {
        assert!(is_json(b"application/json"));
        assert!(is_json(b"Application/JSON; charset=utf-8"));
        assert!(is_json(b"application/vnd.api+json"));
        assert!(is_json(b" APPLICATION/VND.API+JSON ;x=1"));
        assert!(!is_json(b"application/"));
        assert!(!is_json(b"text/plain+json"));
        assert!(!is_json(b"text/plain"));
        assert!(!is_json(b"application/x-www-form-urlencoded"));
        assert!(!is_json(b"application/jsonp"));
        assert!(!is_json(&[0xff, 0xfe]));
    }
}
