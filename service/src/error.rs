//! Every error the API can answer with: one enum, one status and one stable `code` per variant,
//! and the JSON body `{"error","code","details"?,"timestamp","request_id","path"}`.
//!
//! The code is also stored in the response's extensions as [`ErrorCode`] so that the metrics
//! middleware counts rejections by code without parsing bodies. [`explain`] is the safety
//! net: any server error that did not come from an [`ApiError`] (a framework error, a bug)
//! becomes the generic JSON 500, its cause logged and never sent.

use actix_web::body::EitherBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;
use thiserror::Error;

use crate::request_id;

/// An error answer of the API.
#[derive(Debug, Error)]
pub enum ApiError {
    /// The body is not the expected JSON: malformed, wrong types, out-of-range numbers.
    #[error("invalid request body")]
    InvalidBody {
        /// What exactly was wrong (safe to show: derived from the client's own input).
        details: String,
    },
    /// The body is well-formed but breaks a rule (how many numbers).
    #[error("{0}")]
    Validation(String),
    /// The exact sum is not a finite 64-bit float.
    #[error("the sum is out of range")]
    SumOutOfRange,
    /// The body is larger than the configured limit.
    #[error("request body exceeds the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// The request passed its byte budget on the connection before its body ended: chunked
    /// framing (chunk-size lines, extensions, trailers) counts too.
    #[error("request body exceeds the limit of {limit} bytes")]
    FramingTooLarge {
        /// The configured body limit in bytes.
        limit: usize,
    },
    /// The body did not arrive completely within the body timeout.
    #[error("request body was not received in time")]
    BodyTimeout,
    /// The `Content-Type` is not JSON.
    #[error("content type must be application/json")]
    UnsupportedMediaType {
        /// The content type the client sent.
        got: String,
    },
    /// No route matches the path.
    #[error("no route for this path")]
    NotFound,
    /// The route exists but not for this method.
    #[error("method not allowed")]
    MethodNotAllowed {
        /// Methods the route does allow, for the `Allow` header.
        allow: &'static str,
    },
    /// The request did not come through the gateway (missing or wrong origin secret).
    #[error("forbidden")]
    ForbiddenOrigin,
    /// Anything unexpected: the cause is logged, the client gets a generic message.
    #[error("internal server error")]
    Internal(String),
}

/// The stable error code of a response, stored in its extensions for the metrics middleware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode(pub &'static str);

impl ApiError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidBody { .. } | Self::Validation(_) => StatusCode::BAD_REQUEST,
            Self::SumOutOfRange => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PayloadTooLarge { .. } | Self::FramingTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            Self::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::ForbiddenOrigin => StatusCode::FORBIDDEN,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable, documented code clients and dashboards rely on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidBody { .. } => "INVALID_REQUEST_BODY",
            Self::Validation(_) => "VALIDATION_ERROR",
            Self::SumOutOfRange => "SUM_OUT_OF_RANGE",
            Self::PayloadTooLarge { .. } | Self::FramingTooLarge { .. } => "PAYLOAD_TOO_LARGE",
            Self::BodyTimeout => "REQUEST_TIMEOUT",
            Self::UnsupportedMediaType { .. } => "UNSUPPORTED_MEDIA_TYPE",
            Self::NotFound => "NOT_FOUND",
            Self::MethodNotAllowed { .. } => "METHOD_NOT_ALLOWED",
            Self::ForbiddenOrigin => "FORBIDDEN_ORIGIN",
            Self::Internal(_) => "INTERNAL_SERVER_ERROR",
        }
    }

    fn details(&self) -> Option<String> {
        match self {
            Self::InvalidBody { details } => Some(details.clone()),
            Self::SumOutOfRange => {
                Some("the exact sum is not a finite 64-bit float (about ±1.8e308)".into())
            }
            Self::UnsupportedMediaType { got } => Some(format!("got {got:?}")),
            Self::MethodNotAllowed { allow } => Some(format!("allowed: {allow}")),
            Self::FramingTooLarge { .. } => Some(
                "with its chunked framing (chunk-size lines, extensions, trailers) the request \
                 took more than twice the limit plus 512 KiB"
                    .into(),
            ),
            _ => None,
        }
    }

    /// The complete JSON answer for `req`, with request id, path and timestamp.
    pub fn respond(&self, req: &HttpRequest) -> HttpResponse {
        if let Self::Internal(cause) = self {
            // The cause may hold anything; it goes to the log, never to the client.
            tracing::error!(cause = %cause, path = %req.path(), "internal error");
        }
        let request_id = request_id::current_text();
        let mut body = json!({
            "error": self.to_string(),
            "code": self.code(),
            "timestamp": crate::http::clock::now_rfc3339(),
            "request_id": request_id,
            "path": req.path(),
        });
        if let Some(details) = self.details() {
            body["details"] = details.into();
        }
        let mut res = HttpResponse::build(self.status()).json(body);
        if let Self::MethodNotAllowed { allow } = self {
            res.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        res.extensions_mut().insert(ErrorCode(self.code()));
        res
    }
}

/// Replaces an unexplained server error response by the generic JSON 500; everything else
/// passes through unchanged.
pub fn explain<B>(res: ServiceResponse<B>) -> ServiceResponse<EitherBody<B>> {
    // An error value attached to a 5xx means a handler or extractor failed; a plain 5xx
    // response (readiness answering 503) is deliberate and passes through.
    let explained = res.response().extensions().get::<ErrorCode>().is_some();
    let cause = match res.response().error() {
        Some(e) if res.status().is_server_error() && !explained => format!("{e}"),
        _ => return res.map_into_left_body(),
    };
    let answer = ApiError::Internal(cause).respond(res.request());
    res.into_response(answer).map_into_right_body()
}

#[cfg(test)]
mod tests {
    use actix_web::body::MessageBody;
    use actix_web::dev::ServiceRequest;
    use actix_web::middleware::Next;
    use actix_web::{App, test, web};

    use super::*;

    /// [`explain`] as a middleware of its own, as the service's one layer applies it.
    async fn middleware(
        req: ServiceRequest,
        next: Next<impl MessageBody>,
    ) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
        Ok(explain(next.call(req).await?))
    }

    #[actix_web::test]
    async fn unexplained_server_errors_become_the_generic_json_500() {
        let app = test::init_service(
            App::new()
                .route(
                    "/bug",
                    web::get().to(|| async {
                        Err::<HttpResponse, _>(actix_web::error::ErrorInternalServerError(
                            "db password is hunter2",
                        ))
                    }),
                )
                .route(
                    "/draining",
                    web::get()
                        .to(|| async { HttpResponse::ServiceUnavailable().body("not_ready") }),
                )
                .route(
                    "/fine",
                    web::get().to(|| async { HttpResponse::Ok().body("ok") }),
                )
                .wrap(actix_web::middleware::from_fn(middleware)),
        )
        .await;
        for path in ["/bug"] {
            let res =
                test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await;
            assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR, "{path}");
            let body: serde_json::Value = test::read_body_json(res).await;
            assert_eq!(body["code"], "INTERNAL_SERVER_ERROR", "{path}");
            assert_eq!(body["error"], "internal server error");
            assert_eq!(body["path"], path);
            assert!(
                !body.to_string().contains("hunter2"),
                "the cause leaked: {body}"
            );
        }
        // A deliberate 503 (readiness while draining) is left alone.
        let res =
            test::call_service(&app, test::TestRequest::get().uri("/draining").to_request()).await;
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(test::read_body(res).await, "not_ready");
        let res =
            test::call_service(&app, test::TestRequest::get().uri("/fine").to_request()).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(test::read_body(res).await, "ok");
    }
}
