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
use crate::metrics::{DIM_REGION, Datum};
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
    /// No AWS region was found for the CloudWatch client.
    #[error(
        "the cloudwatch sink needs an AWS region and found none (looked at AWS_REGION, \
         AWS_DEFAULT_REGION, the AWS config profile and EC2 instance metadata): set AWS_REGION, \
         e.g. AWS_REGION=us-east-1 (ECS sets it for tasks), or use --sink stdout or emf without AWS"
    )]
    NoRegion,
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

/// Sends data to every sink, with the EMF fallback for CloudWatch. Every datum goes out twice:
/// with its own dimensions (the series of all regions together, which the SLO, the dashboards'
/// totals and the alarms that need no region read) and with the `Region` dimension of where the
/// canary runs added (one series per region: the M-of-N and dead-man alarms).
pub struct Publisher {
    sinks: Vec<Box<dyn Sink>>,
    fallback: emf::EmfSink,
    /// The `Region` dimension's value, added here so that every sink and every datum carry it.
    region: String,
    /// Set once CloudWatch failed in the current round: later batches go straight to the
    /// fallback instead of waiting for the same failure again.
    cloudwatch_failed: bool,
}

impl Publisher {
    /// A publisher over `sinks`, falling back to `fallback`, for a canary running in `region`.
    pub fn new(sinks: Vec<Box<dyn Sink>>, fallback: emf::EmfSink, region: &str) -> Self {
        Publisher {
            sinks,
            fallback,
            region: region.to_owned(),
            cloudwatch_failed: false,
        }
    }

    /// Forgets the previous round's CloudWatch failure.
    pub fn start_round(&mut self) {
        self.cloudwatch_failed = false;
    }

    /// Delivers `data` to every sink; `true` when every sink took it (no fallback needed).
    pub async fn deliver(&mut self, data: &[Datum]) -> bool {
        let data = with_region(data, &self.region);
        let data = data.as_slice();
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

/// Each datum as it is, then with `Region` = `region` (once only when it has a `Region`).
pub fn with_region(data: &[Datum], region: &str) -> Vec<Datum> {
    let mut out = Vec::with_capacity(data.len() * 2);
    for d in data {
        if !d.dimensions.iter().any(|(n, _)| n == DIM_REGION) {
            out.push(d.clone());
        }
        out.push(d.clone().with_dimension(DIM_REGION, region));
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Datum, Unit};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::SystemTime;

    /// A CloudWatch stand-in that accepts the first datum (both its forms: all regions, and
    /// this region) and refuses the rest, as a second request failing after a first one went
    /// through would.
    struct HalfFailing {
        calls: Arc<AtomicUsize>,
    }

    impl Sink for HalfFailing {
        fn kind(&self) -> SinkKind {
            SinkKind::CloudWatch
        }
        fn publish<'a>(&'a self, data: &'a [Datum]) -> BoxFuture<'a, Result<(), PublishError>> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                Err(PublishError::CloudWatch {
                    batch: 2,
                    batches: 2,
                    message: "throttled".into(),
                    undelivered: data[2..].to_vec(),
                })
            })
        }
    }

    fn buffer() -> (Output, Arc<Mutex<Vec<u8>>>) {
        let buf = Arc::new(Mutex::new(Vec::new()));
        (buf.clone() as Output, buf)
    }

    fn data(n: usize) -> Vec<Datum> {
        (0..n)
            .map(|i| {
                Datum::probe(
                    &format!("M{i}"),
                    "t",
                    "p",
                    i as f64,
                    Unit::Count,
                    SystemTime::now(),
                )
            })
            .collect()
    }

    #[test]
    fn every_datum_goes_out_for_all_regions_and_for_its_own() {
        let data = data(2);
        let out = with_region(&data, "eu-west-1");
        assert_eq!(out.len(), 4);
        assert_eq!(out[0], data[0], "as it is: all regions together");
        assert_eq!(
            out[1].dimensions,
            [
                ("Environment".to_owned(), "t".to_owned()),
                ("Probe".to_owned(), "p".to_owned()),
                ("Region".to_owned(), "eu-west-1".to_owned())
            ]
        );
        assert_eq!((out[1].name.as_str(), out[1].value), ("M0", 0.0));
        // A datum that has its region already is not doubled.
        let tagged = with_region(&out[1..2], "elsewhere");
        assert_eq!(tagged, out[1..2]);
    }

    #[tokio::test]
    async fn fallback_gets_only_the_undelivered_data_and_later_batches_skip_cloudwatch() {
        let calls = Arc::new(AtomicUsize::new(0));
        let (out, buf) = buffer();
        let mut publisher = Publisher::new(
            vec![Box::new(HalfFailing {
                calls: calls.clone(),
            })],
            emf::EmfSink::new("SumApi/Canary", 60, out),
            "test-region",
        );
        assert!(!publisher.deliver(&data(3)).await);
        let text = String::from_utf8(buf.lock().expect("buffer").clone()).expect("utf-8");
        assert!(
            !text.contains(r#""Name":"M0""#),
            "the delivered datum is not written again"
        );
        assert!(
            text.contains(r#""Name":"M1""#) && text.contains(r#""Name":"M2""#),
            "{text}"
        );
        assert!(
            text.contains(r#""Region":"test-region""#),
            "the fallback carries the region: {text}"
        );

        // Later in the same round CloudWatch is not asked again; everything goes to EMF.
        assert!(!publisher.deliver(&data(1)).await);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let text = String::from_utf8(buf.lock().expect("buffer").clone()).expect("utf-8");
        // M0 once in each form: all regions, and this region.
        assert_eq!(text.matches(r#""Name":"M0""#).count(), 2, "{text}");

        // A new round tries CloudWatch again.
        publisher.start_round();
        assert!(!publisher.deliver(&data(2)).await);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
