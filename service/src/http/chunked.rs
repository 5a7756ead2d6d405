//! A chunked request body left unread closes the connection after the answer.
//!
//! actix-http (3.20) treats a chunked body whose reader was dropped before its end as
//! something to drain: it keeps reading and discarding chunks, with no timer, for as long as
//! the client sends them. Any answer given without reading the body to the end (403 from the
//! origin guard, 404, 405, 415, the 408 of the body timeout, the health answers) let a client
//! trickling chunks hold the connection forever. For a body whose reader is still alive when
//! the answer goes out, actix instead marks the answer `Connection: close` and closes the
//! connection once it is written, as it does for any unread body with a `Content-Length`.
//!
//! So the middleware [`hold`]s every chunked body: the handler reads it through a shared
//! handle, and the middleware moves its own handle into the answer ([`Held::keep_until_sent`]),
//! which actix drops only after deciding what to do with the connection. A body read to its
//! end changes nothing: the connection stays open for the next request. Requests with a
//! `Content-Length` (all of them in practice, behind the gateway) are not touched.

use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_web::HttpMessage;
use actix_web::body::{BodySize, BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::web::Bytes;
use futures_core::Stream;

/// The middleware's handle on a chunked body.
pub struct Held(Rc<RefCell<Payload>>);

/// The handler's handle: reads the body the middleware holds.
struct Shared(Rc<RefCell<Payload>>);

impl Stream for Shared {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.0.try_borrow_mut() {
            Ok(mut payload) => Pin::new(&mut *payload).poll_next(cx),
            // Only this handle ever borrows it, one poll at a time.
            Err(_) => Poll::Ready(None),
        }
    }
}

/// Takes hold of `req`'s body when it is chunked, leaving the handler a handle that reads it.
pub fn hold(req: &mut ServiceRequest) -> Option<Held> {
    if !req.chunked().unwrap_or(false) {
        return None;
    }
    let payload = Rc::new(RefCell::new(req.take_payload()));
    req.set_payload(Payload::Stream {
        payload: Box::pin(Shared(payload.clone())),
    });
    Some(Held(payload))
}

/// Keeps the request body's reader alive in the answer's head: actix decides about the
/// connection when it writes the head of an answer without a body.
struct Unread {
    _body: Rc<RefCell<Payload>>,
}

/// The answer's body, keeping the request body's reader alive until the answer's last byte:
/// actix decides about the connection when an answer's body ends.
struct Holding {
    answer: BoxBody,
    _body: Rc<RefCell<Payload>>,
}

impl MessageBody for Holding {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.answer.size()
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.answer).poll_next(cx)
    }
}

impl Held {
    /// Moves the body into `res`, so that actix finds it still being read when it has sent
    /// the answer: unfinished, the connection is closed after the answer; finished, nothing
    /// changes.
    pub fn keep_until_sent<B>(
        self,
        mut res: ServiceResponse<EitherBody<B>>,
    ) -> ServiceResponse<EitherBody<B>>
    where
        B: MessageBody + 'static,
    {
        res.response_mut().extensions_mut().insert(Unread {
            _body: self.0.clone(),
        });
        res.map_body(|_, answer| {
            EitherBody::right(BoxBody::new(Holding {
                answer: BoxBody::new(answer),
                _body: self.0,
            }))
        })
    }
}
