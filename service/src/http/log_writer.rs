//! The log writer: request handlers append finished lines to a shared buffer (a short lock
//! and a copy, no system call); a dedicated thread writes the buffer to stderr in batches.
//! The request path never waits for stderr: when the buffer is full (stderr blocked, e.g. a
//! stalled log driver) new lines are dropped and counted, and the count is logged once
//! stderr drains. [`LogGuard`] flushes everything on drop, so no line is lost at exit.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How long the writer gathers lines after the first one arrives before writing them.
pub const BATCH_DELAY: Duration = Duration::from_millis(5);
/// Buffered bytes at which the writer is woken at once instead of after [`BATCH_DELAY`].
const HIGH_WATER: usize = 64 * 1024;
/// Buffered bytes beyond which new lines are dropped rather than waiting for stderr.
pub const MAX_BUFFERED: usize = 8 * 1024 * 1024;

#[derive(Default)]
struct State {
    buf: Vec<u8>,
    dropped: u64,
    closing: bool,
    /// Set while the writer thread waits for the first line of a batch.
    idle: bool,
    /// Set once the writer thread is gone: lines then go straight to stderr.
    stopped: bool,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    /// Where lines end up: stderr, or a test's sink.
    sink: Mutex<Box<dyn Write + Send>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the buffer inconsistent (appends only).
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The sink; taken before the buffer's lock whenever both are held.
    fn sink(&self) -> MutexGuard<'_, Box<dyn Write + Send>> {
        self.sink.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes `bytes` to the sink; nothing sensible remains to be done when that fails.
    fn write_out(&self, bytes: &[u8]) {
        let mut sink = self.sink();
        let _ = sink.write_all(bytes).and_then(|()| sink.flush());
    }
}

/// A [`MakeWriter`] for the tracing subscriber: every handle appends to the shared buffer.
#[derive(Clone)]
pub struct BufferedStderr {
    shared: Arc<Shared>,
}

/// Flushes and stops the writer thread when dropped (or on [`LogGuard::flush`] for a flush
/// without stopping). Keep it alive in `main` for as long as the process logs.
pub struct LogGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Starts the writer thread; returns the writer to install and the guard that flushes it.
pub fn buffered_stderr() -> (BufferedStderr, LogGuard) {
    buffered(Box::new(std::io::stderr()))
}

/// [`buffered_stderr`] with any sink.
pub fn buffered(sink: Box<dyn Write + Send>) -> (BufferedStderr, LogGuard) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State::default()),
        wake: Condvar::new(),
        sink: Mutex::new(sink),
    });
    let worker = shared.clone();
    let thread = std::thread::Builder::new()
        .name("log-writer".into())
        .spawn(move || run(&worker))
        .ok();
    if thread.is_none() {
        // No writer thread: write synchronously rather than buffer forever.
        shared.lock().stopped = true;
    }
    let guard = LogGuard {
        shared: shared.clone(),
        thread,
    };
    (BufferedStderr { shared }, guard)
}

/// The writer thread: waits for a batch, writes it, repeats until closed and drained.
fn run(shared: &Shared) {
    let mut batch = Vec::new();
    loop {
        {
            let mut state = shared.lock();
            while state.buf.is_empty() && !state.closing {
                state.idle = true;
                state = shared
                    .wake
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            state.idle = false;
            if !state.closing && state.buf.len() < HIGH_WATER {
                // Let more lines join this batch (woken early by the high-water mark).
                let _ = shared.wake.wait_timeout(state, BATCH_DELAY);
            }
        }
        // The sink lock is taken before the buffer's (as in `LogGuard::flush`), so batches
        // reach the sink in the order they were taken.
        let mut sink = shared.sink();
        let dropped = {
            let mut state = shared.lock();
            if state.buf.is_empty() && state.closing {
                return;
            }
            std::mem::swap(&mut batch, &mut state.buf);
            std::mem::take(&mut state.dropped)
        };
        // Nothing sensible remains to be done when stderr itself fails.
        let _ = sink.write_all(&batch).and_then(|()| sink.flush());
        drop(sink);
        batch.clear();
        if batch.capacity() > 4 * HIGH_WATER {
            batch.shrink_to(HIGH_WATER);
        }
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "log lines dropped: stderr did not keep up and the log buffer was full"
            );
        }
    }
}

/// One handle per log line, appending to the shared buffer.
pub struct LineWriter<'a> {
    shared: &'a Shared,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let mut state = self.shared.lock();
        if state.stopped {
            drop(state);
            self.shared.write_out(line);
            return Ok(line.len());
        }
        if state.buf.len() + line.len() > MAX_BUFFERED {
            state.dropped += 1;
            return Ok(line.len());
        }
        let before = state.buf.len();
        state.buf.extend_from_slice(line);
        // Once when the first line of a batch arrives, once when the batch reaches the
        // high-water mark: a notification is a system call even with nobody waiting.
        let wake =
            (state.idle && before == 0) || (before < HIGH_WATER && state.buf.len() >= HIGH_WATER);
        drop(state);
        if wake {
            self.shared.wake.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BufferedStderr {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            shared: &self.shared,
        }
    }
}

impl LogGuard {
    /// Writes every buffered line now (before printing to stderr directly, so that the order
    /// of lines is kept).
    pub fn flush(&self) {
        let mut sink = self.shared.sink();
        let batch = std::mem::take(&mut self.shared.lock().buf);
        let _ = sink.write_all(&batch).and_then(|()| sink.flush());
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        // The thread is gone (or never started): write whatever is left ourselves, and let
        // any later line go straight to stderr.
        let dropped = {
            let mut state = self.shared.lock();
            state.stopped = true;
            std::mem::take(&mut state.dropped)
        };
        self.flush();
        if dropped > 0 {
            tracing::warn!(dropped, "log lines dropped: the log buffer was full");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Instant;

    use super::*;

    /// A sink that keeps what it gets and, while `blocked`, stalls like a full pipe.
    #[derive(Clone, Default)]
    struct Sink {
        out: Arc<Mutex<Vec<u8>>>,
        blocked: Arc<AtomicBool>,
    }

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let start = Instant::now();
            while self.blocked.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(1));
            }
            self.out.lock().expect("sink lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_arrives_in_order_and_the_guard_flushes_the_rest() {
        let sink = Sink::default();
        let (writer, guard) = buffered(Box::new(sink.clone()));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let writer = writer.clone();
                std::thread::spawn(move || {
                    for i in 0..2000 {
                        let line = format!("thread {t} line {i}\n");
                        writer
                            .make_writer()
                            .write_all(line.as_bytes())
                            .expect("buffered");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("writer thread");
        }
        drop(guard);
        let out = String::from_utf8(sink.out.lock().expect("lock").clone()).expect("UTF-8");
        for t in 0..4 {
            let mine: Vec<&str> = out
                .lines()
                .filter(|l| l.starts_with(&format!("thread {t} ")))
                .collect();
            let expected: Vec<String> = (0..2000).map(|i| format!("thread {t} line {i}")).collect();
            assert_eq!(mine, expected, "thread {t}: lost, torn or reordered lines");
        }
        // After the guard is gone, lines are written at once.
        writer.make_writer().write_all(b"late\n").expect("direct");
        assert!(sink.out.lock().expect("lock").ends_with(b"late\n"));
    }

    #[test]
    fn a_stalled_sink_never_blocks_the_caller_and_the_excess_is_dropped() {
        let sink = Sink::default();
        sink.blocked.store(true, Ordering::SeqCst);
        let (writer, guard) = buffered(Box::new(sink.clone()));
        let line = [b'x'; 1023]
            .iter()
            .copied()
            .chain([b'\n'])
            .collect::<Vec<u8>>();
        let start = Instant::now();
        // 24 MiB of lines while the sink is stuck: at most one batch (≤ the 8 MiB buffer) is
        // in the stuck write and another full buffer waits; the rest must be dropped.
        for _ in 0..24 * 1024 {
            writer.make_writer().write_all(&line).expect("never fails");
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "writing blocked for {:?}",
            start.elapsed()
        );
        sink.blocked.store(false, Ordering::SeqCst);
        drop(guard);
        let written = sink.out.lock().expect("lock").len();
        assert!(written >= MAX_BUFFERED / 2, "only {written} bytes arrived");
        assert!(
            written <= 2 * MAX_BUFFERED,
            "{written} bytes arrived: nothing was dropped"
        );
        assert_eq!(written % line.len(), 0, "a line was torn");
    }
}
