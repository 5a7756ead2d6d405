//! Ending a connection after an answer, with nothing pipelined behind it answered.
//!
//! actix-http (3.20) decodes every request it finds in its read buffer and answers them in
//! turn, and its codec takes the connection's keep-alive from the request decoded last, not
//! from the one being answered. So a request pipelined behind one that carried
//! `Connection: close` was answered, and the connection kept; and when an answer given with the
//! body unread went out marked `Connection: close`, and the body then arrived whole with another
//! request behind it, that request was answered too, after the client had been told the
//! connection ends (RFC 9112 §9.6: the server closes after the answer to a request with
//! `close`; a client may resend whatever it sent behind it).
//!
//! The one path in actix that stops answering what is queued and closes after the answer in
//! progress is its graceful shutdown: a future per connection that, once ready, marks the answer
//! `Connection: close`, drops queued requests and closes the connection when the answer is
//! written (lingering first if a body is unread). [`signal`] makes that future ready also when
//! a request asks for it through its [`Closer`] (in actix's connection data), and the request's
//! answer waits for it ([`Closer::poll_end`]): actix polls the future at the start of each
//! turn, so the answer is held back for one turn.
//!
//! actix makes the future in the same call that hands the connection to [`attach`] (its
//! `on_connect_ext`), so the two are paired through the thread: [`attach`] leaves the
//! connection's state for [`signal`], which takes it. A connection whose future was made
//! without it is ended the way actix ends it without this module.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_http::Extensions;
use actix_web::HttpRequest;

/// What a connection's requests and its shutdown future share.
#[derive(Default)]
struct State {
    /// A request asked to end the connection after its answer.
    requested: Cell<bool>,
    /// The shutdown future is ready: actix ends the connection after the answer in progress.
    ending: Cell<bool>,
    /// A shutdown future watches this connection (else nothing would make it ready).
    watched: Cell<bool>,
}

thread_local! {
    /// The connection being set up on this thread, between [`attach`] and [`signal`].
    static SETTING_UP: RefCell<Option<Rc<State>>> = const { RefCell::new(None) };
}

/// A request's handle on its connection, to end it after the answer.
#[derive(Clone)]
pub struct Closer(Rc<State>);

/// Gives a new connection its [`Closer`], in actix's connection data (`on_connect_ext`).
pub fn attach(ext: &mut Extensions) {
    let state = Rc::new(State::default());
    SETTING_UP.with(|s| *s.borrow_mut() = Some(state.clone()));
    ext.insert(Closer(state));
}

/// The connection's graceful-shutdown future for actix (`graceful_shutdown_signal`): ready when
/// `server` is (the server shuts down) or when a request of the connection set up just before
/// asks to end it.
pub fn signal<F: Future<Output = ()>>(server: F) -> impl Future<Output = ()> {
    let conn = SETTING_UP.with(|s| s.borrow_mut().take());
    if let Some(conn) = &conn {
        conn.watched.set(true);
    }
    async move {
        let mut server = std::pin::pin!(server);
        std::future::poll_fn(|cx| {
            let asked = conn.as_ref().is_some_and(|c| c.requested.get());
            if asked || server.as_mut().poll(cx).is_ready() {
                if let Some(conn) = &conn {
                    conn.ending.set(true);
                }
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
    }
}

impl Closer {
    /// The handle of `req`'s connection (none for a request that came through no connection,
    /// as in actix's test harness).
    pub fn of(req: &HttpRequest) -> Option<Self> {
        req.conn_data::<Self>().cloned()
    }

    /// Asks to end the connection after the answer about to go out: ready once actix will,
    /// until then the answer waits (one turn of the connection). Ready at once when nothing
    /// watches the connection.
    pub fn poll_end(&self, cx: &mut Context<'_>) -> Poll<()> {
        let state = &*self.0;
        if state.ending.get() || !state.watched.get() {
            return Poll::Ready(());
        }
        state.requested.set(true);
        // actix polls the shutdown future at the start of its next turn, in this same task.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
        f.poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn a_request_asking_to_end_makes_its_connections_signal_ready_and_then_may_answer() {
        let mut ext = Extensions::new();
        attach(&mut ext);
        let closer = ext.get::<Closer>().expect("attached").clone();
        let mut signal = std::pin::pin!(signal(std::future::pending::<()>()));
        assert!(poll_once(signal.as_mut()).is_pending());
        let mut cx = Context::from_waker(Waker::noop());
        // The answer waits until the signal has been seen ready.
        assert!(closer.poll_end(&mut cx).is_pending());
        assert!(closer.poll_end(&mut cx).is_pending());
        assert!(poll_once(signal.as_mut()).is_ready());
        assert!(closer.poll_end(&mut cx).is_ready());
    }

    #[test]
    fn the_server_shutting_down_also_lets_answers_go() {
        let mut ext = Extensions::new();
        attach(&mut ext);
        let closer = ext.get::<Closer>().expect("attached").clone();
        let mut signal = std::pin::pin!(signal(std::future::ready(())));
        assert!(poll_once(signal.as_mut()).is_ready());
        let mut cx = Context::from_waker(Waker::noop());
        assert!(closer.poll_end(&mut cx).is_ready());
    }

    #[test]
    fn each_signal_takes_only_the_connection_set_up_before_it() {
        let mut first = Extensions::new();
        attach(&mut first);
        let _first_signal = signal(std::future::pending::<()>());
        // A signal made without a connection set up watches none, and a connection nothing
        // watches answers at once.
        let mut unwatched = std::pin::pin!(signal(std::future::pending::<()>()));
        assert!(poll_once(unwatched.as_mut()).is_pending());
        let mut ext = Extensions::new();
        ext.insert(Closer(Rc::new(State::default())));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(
            ext.get::<Closer>()
                .expect("inserted")
                .poll_end(&mut cx)
                .is_ready()
        );
        let closer = first.get::<Closer>().expect("attached");
        assert!(closer.0.watched.get());
    }
}
