//! The export loop, on a thread and runtime of its own so that nothing it does (encoding,
//! connecting, waiting on a slow collector) runs on a caller's thread or runtime.
//!
//! It takes spans from the bounded queue the callers `try_send` into, gathers them into a batch,
//! and posts the batch when it is full or its first span has waited the schedule delay. One
//! request is in flight at a time: while it waits, the queue fills, and once full the callers'
//! new spans are dropped and counted there, so a slow or stalled collector costs callers
//! nothing. A failed request's spans are counted as failed and not retried.
//!
//! On shutdown the queue is closed and what it holds is posted until the shutdown's deadline;
//! a request still waiting then counts as failed, and spans never sent as dropped.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::counters::Counters;
use crate::encode::ResourceEncoder;
use crate::span::SpanRecord;
use crate::transport::Transport;

/// The export loop's state.
pub(crate) struct Exporter {
    pub(crate) queue: mpsc::Receiver<SpanRecord>,
    pub(crate) transport: Transport,
    pub(crate) encoder: ResourceEncoder,
    pub(crate) counters: Arc<Counters>,
    pub(crate) max_batch: usize,
    pub(crate) schedule_delay: std::time::Duration,
    /// `Some(deadline)` once shutdown is asked for.
    pub(crate) stop: watch::Receiver<Option<std::time::Instant>>,
    /// Whether the last request failed (a failure is logged once until an export succeeds).
    pub(crate) failing: bool,
}

impl Exporter {
    /// Runs until shutdown is asked for (or every sender is gone), then flushes until the
    /// deadline.
    pub(crate) async fn run(mut self) {
        let mut batch = Vec::with_capacity(self.max_batch);
        let mut due: Option<Instant> = None;
        loop {
            tokio::select! {
                biased;
                _ = wait_stop(self.stop.clone()) => break,
                span = self.queue.recv() => {
                    let Some(span) = span else { break };
                    if batch.is_empty() {
                        due = Some(Instant::now() + self.schedule_delay);
                    }
                    batch.push(span);
                    while batch.len() < self.max_batch {
                        match self.queue.try_recv() {
                            Ok(span) => batch.push(span),
                            Err(_) => break,
                        }
                    }
                    if batch.len() >= self.max_batch {
                        self.export(&mut batch).await;
                        due = None;
                    }
                }
                _ = sleep_until(due), if due.is_some() => {
                    self.export(&mut batch).await;
                    due = None;
                }
            }
        }
        self.flush(batch).await;
    }

    /// After shutdown: no new spans; what is queued is posted until the deadline.
    async fn flush(mut self, mut batch: Vec<SpanRecord>) {
        self.queue.close();
        let deadline = deadline(&self.stop);
        loop {
            while batch.len() < self.max_batch {
                // Closed: this ends at once, with a span or with `None` when the queue is empty.
                match tokio::time::timeout_at(deadline, self.queue.recv()).await {
                    Ok(Some(span)) => batch.push(span),
                    Ok(None) | Err(_) => break,
                }
            }
            if batch.is_empty() {
                return;
            }
            if Instant::now() >= deadline {
                self.counters.dropped(batch.len());
                batch.clear();
                while self.queue.try_recv().is_ok() {
                    self.counters.dropped(1);
                }
                return;
            }
            self.export(&mut batch).await;
        }
    }

    /// Posts the batch (emptying it) and counts the outcome. Cut short by the shutdown's
    /// deadline, the request's spans count as failed.
    async fn export(&mut self, batch: &mut Vec<SpanRecord>) {
        let n = batch.len();
        if n == 0 {
            return;
        }
        let body = self.encoder.encode(batch);
        batch.clear();
        let outcome = tokio::select! {
            outcome = self.transport.send(body) => Some(outcome),
            _ = wait_deadline(self.stop.clone()) => None,
        };
        match outcome {
            Some(Ok(rejected)) => {
                let rejected = usize::try_from(rejected).unwrap_or(n).min(n);
                self.counters.exported(n - rejected);
                self.counters.failed(rejected);
                if self.failing {
                    self.failing = false;
                    tracing::info!(
                        endpoint = %self.transport.endpoint_for_logs(),
                        "trace export works again"
                    );
                }
            }
            Some(Err(error)) => {
                self.counters.failed(n);
                if !self.failing {
                    self.failing = true;
                    tracing::warn!(
                        endpoint = %self.transport.endpoint_for_logs(),
                        %error,
                        spans = n,
                        "trace export failed; its spans are dropped (not retried) and counted \
                         as failed, and further failures are not logged until an export succeeds"
                    );
                }
            }
            None => self.counters.failed(n),
        }
    }
}

/// Resolves once shutdown is asked for (or the tracer is gone).
async fn wait_stop(mut stop: watch::Receiver<Option<std::time::Instant>>) {
    // An error means the sender is gone without asking: that is a shutdown too.
    let _ = stop.wait_for(Option::is_some).await;
}

/// Resolves at the shutdown's deadline; never before shutdown is asked for.
async fn wait_deadline(stop: watch::Receiver<Option<std::time::Instant>>) {
    wait_stop(stop.clone()).await;
    tokio::time::sleep_until(deadline(&stop)).await;
}

/// The shutdown's deadline; now if none was given.
fn deadline(stop: &watch::Receiver<Option<std::time::Instant>>) -> Instant {
    match *stop.borrow() {
        Some(at) => Instant::from_std(at),
        None => Instant::now(),
    }
}

/// Sleeps until `due`; only polled while it is `Some`.
async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
