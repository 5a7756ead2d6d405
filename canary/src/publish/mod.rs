//! Delivering data: one [`Sink`] trait with three implementations (`cloudwatch`, `emf`,
//! `stdout`), and the [`Publisher`] that sends each batch to every configured sink and, when
//! CloudWatch fails after its retries, writes the same data as EMF on stdout instead (logging why)
//! so that nothing is lost; the run then reports "not delivered" (exit 2).

pub mod cloudwatch;
pub mod emf;
pub mod limits;
pub mod stdout;

use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use thiserror::Error;

use crate::config::SinkKind;
use crate::metrics::Datum;
use crate::probe::ProbeOutcome;

/// A boxed future, so that sinks can live behind `dyn Sink`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where EMF and human-readable lines go (stdout in the binary, a buffer in tests).
pub type Output = Arc<Mutex<dyn Write + Send>>;

/// The process's stdout as an [`Output`].
pub fn stdout_output() -> Output {
    Arc::new(Mutex::new(std::io::stdout()))
}

/// Why a sink could not take data.
#[derive(Debug, Error)]
pub enum PublishError {
    /// A datum breaks a CloudWatch limit.
    #[error(transparent)]
    Limits(#[from] limits::LimitError),
    /// The CloudWatch client could not be set up.
    #[error("CloudWatch client setup failed: {0}")]
    Setup(String),
    /// PutMetricData failed after its retries.
    #[error("PutMetricData failed (request {batch} of {batches}): {message}")]
    CloudWatch {
        /// 1-based index of the failed request.
        batch: usize,
        /// Requests this delivery needed.
        batches: usize,
        /// The SDK's error, with its causes.
        message: String,
        /// The data of the failed request and of every request after it.
        undelivered: Vec<Datum>,
    },
    /// Writing to stdout failed.
    #[error("could not write to stdout: {0}")]
    Write(#[from] std::io::Error),
}

/// Something that takes metric data.
pub trait Sink: Send + Sync {
    /// Which kind of sink this is.
    fn kind(&self) -> SinkKind;
    /// Delivers `data` completely, or fails.
    fn publish<'a>(&'a self, data: &'a [Datum]) -> BoxFuture<'a, Result<(), PublishError>>;
    /// Shows a round's verdict, for sinks read by people (default: nothing).
    fn report(&self, _outcomes: &[ProbeOutcome]) -> Result<(), PublishError> {
        Ok(())
    }
}

/// Sends data to every sink, with the EMF fallback for CloudWatch.
pub struct Publisher {
    sinks: Vec<Box<dyn Sink>>,
    fallback: emf::EmfSink,
    /// Set once CloudWatch failed in the current round: later batches go straight to the
    /// fallback instead of waiting for the same failure again.
    cloudwatch_failed: bool,
}

impl Publisher {
    /// A publisher over `sinks`, falling back to `fallback`.
    pub fn new(sinks: Vec<Box<dyn Sink>>, fallback: emf::EmfSink) -> Self {
        Publisher {
            sinks,
            fallback,
            cloudwatch_failed: false,
        }
    }

    /// Forgets the previous round's CloudWatch failure.
    pub fn start_round(&mut self) {
        self.cloudwatch_failed = false;
    }

    /// Delivers `data` to every sink; `true` when every sink took it (no fallback needed).
    pub async fn deliver(&mut self, data: &[Datum]) -> bool {
        let mut delivered = true;
        for sink in &self.sinks {
            let kind = sink.kind();
            if kind == SinkKind::CloudWatch && self.cloudwatch_failed {
                delivered = false;
                write_fallback(
                    &self.fallback,
                    data,
                    "CloudWatch failed earlier in this run",
                )
                .await;
                continue;
            }
            if let Err(e) = sink.publish(data).await {
                delivered = false;
                tracing::error!(sink = kind.as_str(), error = %e, "metrics not delivered");
                if kind == SinkKind::CloudWatch {
                    self.cloudwatch_failed = true;
                    // Requests that went through are not written again (no double counting).
                    let rest = match &e {
                        PublishError::CloudWatch { undelivered, .. } => undelivered.as_slice(),
                        _ => data,
                    };
                    write_fallback(&self.fallback, rest, &e.to_string()).await;
                }
            }
        }
        delivered
    }

    /// Shows the round's verdict on the sinks that show one.
    pub fn report(&self, outcomes: &[ProbeOutcome]) -> bool {
        let mut ok = true;
        for sink in &self.sinks {
            if let Err(e) = sink.report(outcomes) {
                tracing::error!(sink = sink.kind().as_str(), error = %e, "report not written");
                ok = false;
            }
        }
        ok
    }
}

async fn write_fallback(fallback: &emf::EmfSink, data: &[Datum], why: &str) {
    tracing::warn!(
        reason = why,
        data = data.len(),
        "writing the metrics as EMF on stdout instead of PutMetricData"
    );
    if let Err(e) = fallback.publish(data).await {
        tracing::error!(error = %e, "the EMF fallback failed too: these metrics are lost");
    }
}
