//! The handle callers hold: it decides sampling for new spans and takes finished ones for export.
//!
//! [`Tracer::start`] builds it only when export is configured; a process without an endpoint has
//! `None`, and its callers pay one branch. [`Tracer::record`] is the hot path: a `try_send` into
//! the bounded queue of the export thread (module `export`), counting the span as dropped
//! when the queue is full; it never waits. [`Tracer::shutdown`] flushes within a bound.

use std::sync::{Arc, Mutex, mpsc as std_mpsc};
use std::time::{Duration, Instant};

use thiserror::Error;
use tokio::sync::{mpsc, watch};

use crate::config::Config;
use crate::context::SpanContext;
use crate::counters::{Counters, ExportCounts};
use crate::encode::ResourceEncoder;
use crate::export::Exporter;
use crate::ids::{SpanId, TraceId};
use crate::sampler::Sampler;
use crate::span::SpanRecord;
use crate::traceparent::TraceFlags;
use crate::tracestate::TraceState;
use crate::transport::Transport;

/// How long the export thread keeps flushing after the last handle is dropped without a
/// shutdown (a process that exits first ends it sooner).
const DROP_FLUSH_LIMIT: Duration = Duration::from_secs(5);

/// How much longer than its limit [`Tracer::shutdown`] waits for the export thread to report.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// Why the tracer could not be started.
#[derive(Debug, Error)]
pub enum StartError {
    /// An `https://` endpoint, but no CA certificates to verify it with.
    #[error(
        "no CA certificates found for the https:// trace endpoint ({0}); install ca-certificates or export over http://"
    )]
    NoTrustRoots(String),
    /// The export thread or its runtime could not be started.
    #[error("cannot start the trace export thread: {0}")]
    Thread(#[from] std::io::Error),
}

/// Sampling and export for one process; cheap to clone (all clones share one queue).
#[derive(Clone)]
pub struct Tracer {
    inner: Arc<Inner>,
}

struct Inner {
    queue: mpsc::Sender<SpanRecord>,
    sampler: Sampler,
    counters: Arc<Counters>,
    stop: watch::Sender<Option<Instant>>,
    /// Reports once when the export thread has finished.
    finished: Mutex<std_mpsc::Receiver<()>>,
}

impl Tracer {
    /// Starts the export thread for `config`; `Ok(None)` when `config` has no endpoint.
    pub fn start(config: Config) -> Result<Option<Tracer>, StartError> {
        let Some(endpoint) = config.endpoint else {
            return Ok(None);
        };
        let transport = Transport::new(endpoint, config.headers, config.timeout)
            .map_err(|e| StartError::NoTrustRoots(e.0))?;
        let (queue, receiver) = mpsc::channel(config.max_queue_size.max(1));
        let (stop, stop_rx) = watch::channel(None);
        let counters = Arc::new(Counters::default());
        let exporter = Exporter {
            queue: receiver,
            transport,
            encoder: ResourceEncoder::new(&config.service_name, &config.resource_attributes),
            counters: Arc::clone(&counters),
            max_batch: config.max_export_batch_size.max(1),
            schedule_delay: config.schedule_delay,
            stop: stop_rx,
            failing: false,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (finished_tx, finished) = std_mpsc::channel();
        std::thread::Builder::new()
            .name("otlp-export".into())
            .spawn(move || {
                runtime.block_on(exporter.run());
                // Nobody may be waiting any more; that is fine.
                let _ = finished_tx.send(());
            })?;
        Ok(Some(Tracer {
            inner: Arc::new(Inner {
                queue,
                sampler: config.sampler,
                counters,
                stop,
                finished: Mutex::new(finished),
            }),
        }))
    }

    /// The sampler in use.
    pub fn sampler(&self) -> &Sampler {
        &self.inner.sampler
    }

    /// The context of a new span under `parent` (the caller's, from the request; `None` starts a
    /// new trace): the parent's trace id or a new one, a new span id, the sampler's decision,
    /// the parent's trace state.
    pub fn new_context(&self, parent: Option<&SpanContext>) -> SpanContext {
        match parent {
            Some(parent) => {
                let sampled = self
                    .inner
                    .sampler
                    .should_sample(Some(parent), parent.trace_id);
                parent.child(sampled)
            }
            None => {
                let trace_id = TraceId::random();
                SpanContext {
                    trace_id,
                    span_id: SpanId::random(),
                    flags: TraceFlags::sampled(self.inner.sampler.should_sample(None, trace_id)),
                    trace_state: TraceState::default(),
                }
            }
        }
    }

    /// Hands a finished span to the export thread without waiting: an unsampled span is
    /// ignored; when the queue is full (or the tracer is shut down) the span is dropped and
    /// counted.
    pub fn record(&self, span: SpanRecord) {
        if !span.context.is_sampled() {
            return;
        }
        if self.inner.queue.try_send(span).is_err() {
            self.inner.counters.dropped(1);
        }
    }

    /// What became of the spans recorded so far.
    pub fn counts(&self) -> ExportCounts {
        self.inner.counters.snapshot()
    }

    /// Stops taking spans and exports what is queued, for at most `limit` (then the rest is
    /// counted, see [`ExportCounts`]); returns the final counts. Idempotent: the first call's
    /// limit holds, and a later call returns the counts once that flush has ended.
    pub fn shutdown(&self, limit: Duration) -> ExportCounts {
        let deadline = Instant::now() + limit;
        self.inner.stop.send_if_modified(|current| {
            if current.is_none() {
                *current = Some(deadline);
                true
            } else {
                false
            }
        });
        if let Ok(finished) = self.inner.finished.lock() {
            // Timeout or a thread already reported: either way, report what is counted.
            let _ = finished.recv_timeout(limit + SHUTDOWN_GRACE);
        }
        self.counts()
    }
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer")
            .field("sampler", &self.inner.sampler.to_string())
            .field("counts", &self.counts())
            .finish()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop.send_if_modified(|current| {
            if current.is_none() {
                *current = Some(Instant::now() + DROP_FLUSH_LIMIT);
                true
            } else {
                false
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampler::RootSampler;
    use crate::span::SpanKind;
    use http::Uri;

    /// A tracer towards a port nobody listens on (held as long as the tracer is used).
    fn tracer(sampler: Sampler) -> (Tracer, testkit::ports::RefusedPort) {
        let port = testkit::ports::RefusedPort::reserve().expect("reserve");
        let mut config = Config::new(
            Uri::try_from(format!("{}/v1/traces", port.base_url())).expect("uri"),
            "unit",
        );
        config.sampler = sampler;
        config.timeout = Duration::from_millis(200);
        let tracer = Tracer::start(config).expect("starts").expect("configured");
        (tracer, port)
    }

    #[test]
    fn no_endpoint_no_tracer() {
        let mut config = Config::new(Uri::from_static("http://127.0.0.1:1/"), "unit");
        config.endpoint = None;
        assert!(Tracer::start(config).expect("no error").is_none());
    }

    #[test]
    fn new_contexts_follow_the_sampler_and_the_parent() {
        let (on, _port) = tracer(Sampler::default());
        let root = on.new_context(None);
        assert!(root.is_sampled());
        let parent = SpanContext::root(false);
        let child = on.new_context(Some(&parent));
        assert_eq!(child.trace_id, parent.trace_id);
        assert_ne!(child.span_id, parent.span_id);
        assert!(
            !child.is_sampled(),
            "parent-based follows the unsampled parent"
        );

        let (off, _port2) = tracer(Sampler::Root(RootSampler::AlwaysOff));
        assert!(!off.new_context(None).is_sampled());
        assert!(!off.new_context(Some(&SpanContext::root(true))).is_sampled());
        // Unsampled spans are not even counted.
        off.record(SpanRecord::start(
            off.new_context(None),
            None,
            "x",
            SpanKind::Server,
        ));
        assert_eq!(off.shutdown(Duration::from_secs(1)).total(), 0);
        assert!(format!("{off:?}").contains("AlwaysOffSampler"));
    }

    #[test]
    fn after_shutdown_spans_are_dropped_and_counted() {
        let (t, _port) = tracer(Sampler::default());
        let first = t.shutdown(Duration::from_millis(100));
        assert_eq!(first.total(), 0);
        for _ in 0..3 {
            t.record(SpanRecord::start(
                t.new_context(None),
                None,
                "late",
                SpanKind::Client,
            ));
        }
        let counts = t.shutdown(Duration::from_millis(100));
        assert_eq!(counts.dropped, 3);
        assert_eq!(counts.total(), 3);
    }
}
