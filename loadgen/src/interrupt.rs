//! SIGINT and SIGTERM (Ctrl-C, a CI job's timeout): the first asks the running command to stop
//! and report what ran; the second exits at once with the conventional 130 (SIGINT) or 143
//! (SIGTERM).
//!
//! A command that runs load calls [`install`] once before it starts (after its usage checks),
//! then either polls [`requested`] or awaits [`wait`] (runtime-agnostic: any tokio runtime, any
//! thread). [`crate::run::execute`] does both by itself: once a stop is requested it takes no
//! new slot of the schedule, gives requests in flight at most [`grace`] to finish (those still
//! unanswered then are abandoned, neither counted nor recorded), and returns what ran with
//! [`crate::run::Measured::aborted`] set to an [`Interrupted`]. The caller then writes every
//! requested output as usual and exits with [`crate::exit::ABORTED`] (the verdict `aborted`, see
//! [`crate::verdict::abort`]). A command of several runs (`capacity`'s steps) checks
//! [`requested`] between them and starts no further run once it is true: every later run would
//! stop at once anyway.
//!
//! The signals are received by a thread of its own (`loadgen-signals`, with tokio's signal
//! driver), not by the runtimes doing the work, so that a second signal exits even when those
//! are busy or stuck. Nothing here is undone: once installed, the process keeps handling both
//! signals until it exits. [`request`] does what a first signal does, for tests and embedders.

use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

/// Longest wait for requests in flight after a stop was requested (the request timeout, when
/// shorter, bounds it instead): long enough for a healthy server's answers to arrive, short
/// enough that a stalled target does not hold the stop up.
pub const MAX_GRACE: Duration = Duration::from_secs(3);

/// How long requests in flight may still finish after a stop: `timeout`, at most [`MAX_GRACE`].
pub fn grace(timeout: Duration) -> Duration {
    timeout.min(MAX_GRACE)
}

/// A signal that stops a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM (`kill`, a CI or container timeout).
    Terminate,
}

impl Signal {
    /// `SIGINT` or `SIGTERM`.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }

    /// The exit status of a second signal: 128 + its number, as a shell reports a process the
    /// signal killed (130 for SIGINT, 143 for SIGTERM).
    pub fn exit_code(self) -> u8 {
        match self {
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        }
    }

    fn code(self) -> u8 {
        match self {
            Signal::Interrupt => 1,
            Signal::Terminate => 2,
        }
    }

    fn from_code(code: u8) -> Option<Signal> {
        match code {
            1 => Some(Signal::Interrupt),
            2 => Some(Signal::Terminate),
            _ => None,
        }
    }
}

/// The first stop request (0: none), and the waiters of [`wait`].
static REQUESTED: AtomicU8 = AtomicU8::new(0);
static WAKE: Notify = Notify::const_new();

/// Whether a stop was requested, and by which signal (the first one). One atomic load.
pub fn requested() -> Option<Signal> {
    Signal::from_code(REQUESTED.load(Ordering::SeqCst))
}

/// Does what a first signal does: records the stop (the first request wins) and wakes every
/// [`wait`]. Returns false when a stop had already been requested.
pub fn request(signal: Signal) -> bool {
    let first = REQUESTED
        .compare_exchange(0, signal.code(), Ordering::SeqCst, Ordering::SeqCst)
        .is_ok();
    WAKE.notify_waiters();
    first
}

/// Resolves once a stop is requested (at once when it already was), with the first signal.
/// Cancel-safe and runtime-agnostic: await it in a `select!` on any runtime.
pub async fn wait() -> Signal {
    loop {
        let woken = WAKE.notified();
        tokio::pin!(woken);
        // Registered before the check, so a request between the two is not missed.
        woken.as_mut().enable();
        if let Some(s) = requested() {
            return s;
        }
        woken.await;
    }
}

/// Starts handling SIGINT and SIGTERM (see the module doc); later calls return the first
/// call's result. When it returns `Ok`, both signals are caught: none can kill the process
/// unhandled any more. An error (no thread, no signal handler) leaves the default behaviour,
/// an immediate exit without reports; the caller may warn and carry on.
pub fn install() -> Result<(), String> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED.get_or_init(start_listener).clone()
}

fn start_listener() -> Result<(), String> {
    let (ready, is_ready) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("loadgen-signals".into())
        .spawn(move || listen(ready))
        .map_err(|e| format!("cannot start the signal thread: {e}"))?;
    is_ready
        .recv()
        .map_err(|_| "the signal thread ended before it was ready".to_string())?
}

fn listen(ready: std::sync::mpsc::Sender<Result<(), String>>) {
    use tokio::signal::unix::{SignalKind, signal};
    let failed = |e: std::io::Error| format!("cannot handle SIGINT and SIGTERM: {e}");
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(failed(e)));
            return;
        }
    };
    rt.block_on(async move {
        let (mut int, mut term) = match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(i), Ok(t)) => (i, t),
            (Err(e), _) | (_, Err(e)) => {
                let _ = ready.send(Err(failed(e)));
                return;
            }
        };
        let _ = ready.send(Ok(()));
        loop {
            let got = tokio::select! {
                Some(()) = int.recv() => Signal::Interrupt,
                Some(()) = term.recv() => Signal::Terminate,
                else => return,
            };
            if !request(got) {
                eprintln!("loadgen: {} again: exiting at once", got.name());
                std::process::exit(i32::from(got.exit_code()));
            }
            eprintln!(
                "loadgen: {}: stopping; requests in flight get a few seconds, then the reports of what ran are written (send it again to exit at once)",
                got.name()
            );
        }
    });
}

/// What an interrupted run reports about its stop (its `Display` is the reason the report
/// gives for the verdict `aborted`).
#[derive(Debug, Clone, PartialEq)]
pub struct Interrupted {
    /// The signal (or [`request`]) that stopped it.
    pub signal: Signal,
    /// Measured time that ran before the stop (zero when it came during warmup or before).
    pub ran: Duration,
    /// The measured time asked for (`--duration`), if the run was bounded by time.
    pub planned: Option<Duration>,
    /// Requests still unanswered when the grace ran out: abandoned, in no count.
    pub abandoned: u64,
    /// The grace given to requests in flight.
    pub grace: Duration,
}

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "interrupted by {} after {:.1} s",
            self.signal.name(),
            self.ran.as_secs_f64()
        )?;
        if let Some(p) = self.planned {
            write!(f, " of {:.1} s", p.as_secs_f64())?;
        }
        write!(f, ": the results cover only what ran, and are not judged")?;
        if self.abandoned > 0 {
            write!(
                f,
                "; {} request(s) still unanswered {:.1} s after the stop were abandoned (not counted)",
                self.abandoned,
                self.grace.as_secs_f64()
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grace_is_the_timeout_at_most_a_few_seconds() {
        assert_eq!(
            grace(Duration::from_millis(500)),
            Duration::from_millis(500)
        );
        assert_eq!(grace(Duration::from_secs(60)), MAX_GRACE);
    }

    #[test]
    fn the_reason_says_what_ran_and_what_was_abandoned() {
        let mut i = Interrupted {
            signal: Signal::Terminate,
            ran: Duration::from_millis(2_340),
            planned: Some(Duration::from_secs(10)),
            abandoned: 0,
            grace: MAX_GRACE,
        };
        assert_eq!(
            i.to_string(),
            "interrupted by SIGTERM after 2.3 s of 10.0 s: the results cover only what ran, and are not judged"
        );
        i.abandoned = 4;
        i.planned = None;
        assert!(
            i.to_string().ends_with(
                "; 4 request(s) still unanswered 3.0 s after the stop were abandoned (not counted)"
            ),
            "{i}"
        );
        assert_eq!(
            (Signal::Interrupt.exit_code(), Signal::Terminate.exit_code()),
            (130, 143)
        );
    }
}
