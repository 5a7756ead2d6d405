//! The service's one middleware layer, in this order: assign the request id
//! ([`request_id::assign`]) → hold a chunked body ([`chunked::hold`]) → start observing
//! ([`observe::Observation`]) → the gateway-bypass guard ([`origin_guard::allows`], 403
//! without calling a handler) → the handler → the JSON 500 safety net ([`error::explain`]) →
//! metrics and the log line → echo `X-Request-ID` and move a held body into the answer → end the
//! connection after the answer when the client asked (`Connection: close`), the body is left
//! unread (`ends_regardless`) or every connection ends so (`--keep-alive 0s`);
//! [`close`](crate::http::close) makes actix stop there, with nothing pipelined behind it
//! answered.
//!
//! One layer rather than one per concern, written as a plain `Transform` whose future is a
//! small state machine over the inner service's: actix's `from_fn` boxes two futures and adds
//! a dynamic call per request, which showed in the benchmark.

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_web::Error;
use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::{ConnectionType, Method};

use crate::http::chunked;
use crate::http::close::Closer;
use crate::routes::{self, Endpoint};
use crate::state::AppState;
use crate::{error, observe, origin_guard, request_id};

/// The middleware, for `App::wrap`: wraps every route and the default service. It holds the
/// app's state itself (one reference count per worker, not a lookup in the app data and an
/// atomic count per request).
#[derive(Clone)]
pub struct Middleware {
    state: AppState,
}

impl Middleware {
    /// The middleware for an app with `state`.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

impl<S, B> Transform<S, ServiceRequest> for Middleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: Unpin,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = MiddlewareService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(MiddlewareService {
            service,
            state: Rc::new(self.state.clone()),
        }))
    }
}

/// [`Middleware`] around the app's routes.
pub struct MiddlewareService<S> {
    service: S,
    state: Rc<AppState>,
}

impl<S, B> Service<ServiceRequest> for MiddlewareService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: Unpin,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = Observed<S::Future, B>;

    forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        let mut id = Some(request_id::assign(&req));
        let chunked = chunked::hold(&mut req);
        let state = Rc::clone(&self.state);
        let observation = observe::Observation::start(&req, &state);
        let allowed = origin_guard::allows(&req, &state);
        let ends = state.one_answer_per_connection || ends_regardless(&req, allowed);
        let step = {
            let _current = request_id::Scope::enter(&mut id);
            if allowed {
                Step::Handling(self.service.call(req))
            } else {
                Step::Forbidden(Some(origin_guard::forbid(req)))
            }
        };
        Observed {
            step,
            observation: Some(observation),
            state,
            chunked,
            id,
            ends,
        }
    }
}

/// Whether the connection ends after the answer to `req`, whatever the answer: the client
/// asked (`Connection: close`, or HTTP/1.0 without keep-alive), or `req` has a body that
/// nothing reads (only the sum endpoint reads one, for a POST the origin guard lets through;
/// when it leaves one unread, its answer says `Connection: close` itself).
fn ends_regardless(req: &ServiceRequest, allowed: bool) -> bool {
    if req.head().connection_type() == ConnectionType::Close {
        return true;
    }
    let has_body = !matches!(req.parts().1, Payload::None);
    has_body
        && !(allowed
            && req.method() == Method::POST
            && req.path() == routes::of(Endpoint::Sum).pattern)
}

/// One request going through [`MiddlewareService`]. Dropped unanswered (the client went
/// away), its observation still takes the request out of the in-flight gauge.
pub struct Observed<F, B> {
    step: Step<F, B>,
    /// Taken when the request is answered.
    observation: Option<observe::Observation>,
    state: Rc<AppState>,
    /// A chunked body, moved into the answer ([`chunked`]).
    chunked: Option<chunked::Held>,
    /// The request's id: current while the handlers are polled, then echoed.
    id: Option<request_id::RequestId>,
    /// The connection ends after the answer, whatever it is ([`ends_regardless`], or
    /// [`AppState::one_answer_per_connection`]).
    ends: bool,
}

/// Where a request is.
enum Step<F, B> {
    /// In the handlers: the inner service's future.
    Handling(F),
    /// Refused by the origin guard: the 403, until taken.
    Forbidden(Option<ServiceResponse<BoxBody>>),
    /// Answered, and the connection ends after the answer: held until actix has agreed to
    /// end it ([`Closer::poll_end`]); boxed, as its body need not be `Unpin`.
    Ending(Option<Box<ServiceResponse<EitherBody<B>>>>, Closer),
}

impl<F, B> Future for Observed<F, B>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>> + Unpin,
    B: MessageBody + 'static,
{
    type Output = Result<ServiceResponse<EitherBody<B>>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Step::Ending(..) = this.step {
            return this.step.poll_end(cx);
        }
        let mut result = {
            // Handlers and the JSON 500 read the id while they run.
            let _current = request_id::Scope::enter(&mut this.id);
            match &mut this.step {
                // `Err`s from inner services carry no request to answer with (ours never
                // return one) and keep actix's own handling, as before.
                Step::Handling(inner) => match Pin::new(inner).poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(result) => result.map(error::explain),
                },
                Step::Forbidden(forbidden) => match forbidden.take() {
                    Some(res) => Ok(res.map_into_right_body()),
                    // Polled again after it was answered: a caller bug, never done by actix.
                    None => return Poll::Pending,
                },
                Step::Ending(..) => return Poll::Pending,
            }
        };
        if let Some(observation) = this.observation.take() {
            observation.finish(&this.state, &result, this.id.as_ref());
        }
        if let (Ok(res), Some(id)) = (&mut result, this.id.take()) {
            request_id::echo(res, id);
        }
        if result.is_ok()
            && let Some(body) = this.chunked.take()
        {
            result = result.map(|res| body.keep_until_sent(res));
        }
        // An `Err` (which the app's own services never return) keeps the body held by this
        // future only until actix has written the error's head.
        let closer = match &mut result {
            Ok(res) => {
                let head = res.response_mut().head_mut();
                let ends = this.ends || head.connection_type() == ConnectionType::Close;
                if ends {
                    head.set_connection_type(ConnectionType::Close);
                }
                ends.then(|| Closer::of(res.request())).flatten()
            }
            Err(_) => None,
        };
        match (closer, result) {
            (Some(closer), Ok(res)) => {
                this.step = Step::Ending(Some(Box::new(res)), closer);
                this.step.poll_end(cx)
            }
            (_, result) => Poll::Ready(result),
        }
    }
}

impl<F, B> Step<F, B> {
    /// [`Step::Ending`]: its answer, once actix has agreed to end the connection after it.
    fn poll_end(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<ServiceResponse<EitherBody<B>>, Error>> {
        let Self::Ending(answer, closer) = self else {
            return Poll::Pending;
        };
        match closer.poll_end(cx) {
            Poll::Pending => Poll::Pending,
            // Taken once; polled again after it was answered (a caller bug, never done by
            // actix), it stays pending.
            Poll::Ready(()) => answer
                .take()
                .map_or(Poll::Pending, |res| Poll::Ready(Ok(*res))),
        }
    }
}
