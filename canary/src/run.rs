//! One round (`RunStarted`, every probe, their metrics, then `Heartbeat` only once everything was
//! delivered) and the `--every` loop that repeats rounds until SIGTERM or SIGINT, always
//! finishing the round in flight first.

use std::time::{Duration, Instant, SystemTime};

use http::HeaderName;
use rand::Rng;
use thiserror::Error;

use crate::config::{Config, SinkKind};
use crate::heartbeat;
use crate::http_client::{HttpClient, HttpError, SeenCertificate, host_key};
use crate::metrics::{self, Datum, Unit};
use crate::probe::{Attribution, Auth, ProbeContext, ProbeOutcome, run_probe};
use crate::publish::cloudwatch::{CloudWatchSettings, CloudWatchSink};
use crate::publish::emf::EmfSink;
use crate::publish::stdout::StdoutSink;
use crate::publish::{Output, PublishError, Publisher, Sink};
use crate::secret::Secret;

/// Why the canary cannot start a round.
#[derive(Debug, Error)]
pub enum SetupError {
    /// The API key variable is unset or empty while a probe needs it.
    #[error(
        "the API key is missing: environment variable {0} (named by --api-key-env) is unset or empty"
    )]
    MissingKey(String),
    /// The HTTP client could not be built.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// A sink could not be set up.
    #[error(transparent)]
    Sink(#[from] PublishError),
}

/// How a round ended, in exit-code order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// Every probe passed and the metrics were delivered (exit 0).
    Passed,
    /// A probe failed; the metrics were delivered (exit 1).
    ProbeFailed,
    /// The metrics could not be delivered; the EMF fallback was used (exit 2).
    NotDelivered,
}

impl Verdict {
    /// The process exit code.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Passed => 0,
            Verdict::ProbeFailed => 1,
            Verdict::NotDelivered => 2,
        }
    }
}

/// A round's results.
#[derive(Debug)]
pub struct RoundResult {
    /// Each probe's outcome, in suite order.
    pub outcomes: Vec<ProbeOutcome>,
    /// Whether every datum reached every sink without the fallback.
    pub delivered: bool,
}

impl RoundResult {
    /// The round's verdict.
    pub fn verdict(&self) -> Verdict {
        if !self.delivered {
            Verdict::NotDelivered
        } else if self.outcomes.iter().any(|o| !o.passed) {
            Verdict::ProbeFailed
        } else {
            Verdict::Passed
        }
    }
}

/// A configured canary, ready to run rounds.
pub struct Canary {
    config: Config,
    client: HttpClient,
    api_key: Option<Secret>,
    bad_key: String,
    publisher: Publisher,
}

impl Canary {
    /// Reads the API key from the environment, builds the HTTP client and the sinks.
    pub async fn new(config: Config, out: Output) -> Result<Self, SetupError> {
        let api_key = std::env::var(&config.api_key_env)
            .ok()
            .filter(|v| !v.is_empty())
            .map(Secret::new);
        Self::with_key(config, out, api_key).await
    }

    /// Like [`Canary::new`], with the API key given by the caller (tests, the local example).
    pub async fn with_key(
        config: Config,
        out: Output,
        api_key: Option<Secret>,
    ) -> Result<Self, SetupError> {
        let needs_key = config.probes.iter().any(|p| p.auth == Auth::Key);
        if needs_key && api_key.is_none() {
            return Err(SetupError::MissingKey(config.api_key_env.clone()));
        }
        let need_roots = config.target.starts_with("https://")
            || config
                .heartbeat
                .as_ref()
                .is_some_and(|h| h.url.scheme_str() == Some("https"));
        let client = HttpClient::new(need_roots)?;
        let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
        for kind in &config.sinks {
            sinks.push(match kind {
                SinkKind::CloudWatch => Box::new(
                    CloudWatchSink::new(CloudWatchSettings {
                        namespace: config.namespace.clone(),
                        region: config.home_region.clone(),
                        storage_resolution: config.storage_resolution,
                        attempt_timeout: config.publish_timeout,
                        retries: config.publish_retries,
                    })
                    .await?,
                ),
                SinkKind::Emf => Box::new(EmfSink::new(
                    &config.namespace,
                    config.storage_resolution,
                    out.clone(),
                )),
                SinkKind::Stdout => Box::new(StdoutSink::new(&config.namespace, out.clone())),
            });
        }
        let fallback = EmfSink::new(&config.namespace, config.storage_resolution, out);
        let bad_key = format!("canary-invalid-{:032x}", rand::rng().random::<u128>());
        let publisher = Publisher::new(sinks, fallback, &config.region);
        Ok(Canary {
            config,
            client,
            api_key,
            bad_key,
            publisher,
        })
    }

    /// Runs one round.
    pub async fn round(&mut self) -> RoundResult {
        let env = self.config.environment.clone();
        self.publisher.start_round();
        let mut delivered = self
            .publisher
            .deliver(&[Datum::run(
                metrics::RUN_STARTED,
                &env,
                1.0,
                SystemTime::now(),
            )])
            .await;

        let key_header: &HeaderName = &self.config.key_header;
        let ctx = ProbeContext {
            client: &self.client,
            base: &self.config.target,
            key_header,
            api_key: self.api_key.as_ref(),
            bad_key: &self.bad_key,
        };
        let mut outcomes = Vec::with_capacity(self.config.probes.len());
        let probes_started = Instant::now();
        let tls_host = tls_host(&self.config.target);
        for spec in &self.config.probes {
            let mut outcome = run_probe(spec, &ctx).await;
            if let Some(host) = &tls_host {
                let seen = self.client.certificate(host);
                check_certificate(&mut outcome, host, seen, spec.cert_min_days);
            }
            log_outcome(&outcome);
            outcomes.push(outcome);
        }

        delivered &= self.publisher.report(&outcomes);
        let now = SystemTime::now();
        let mut data = outcome_data(&env, &outcomes, now);
        // Once per host per round, from a certificate this round saw: at a handshake (one that
        // failed included) or over a connection that answered a probe.
        if let Some(host) = &tls_host
            && let Some(seen) = self.client.certificate(host)
            && (seen.at >= probes_started || outcomes.iter().any(|o| o.status.is_some()))
        {
            data.push(Datum::host(
                metrics::CERTIFICATE_DAYS_REMAINING,
                &env,
                host,
                seen.validity.days_remaining(now),
                Unit::None,
                now,
            ));
        }
        delivered &= self.publisher.deliver(&data).await;
        if delivered {
            delivered &= self
                .publisher
                .deliver(&[Datum::run(metrics::HEARTBEAT, &env, 1.0, SystemTime::now())])
                .await;
        } else {
            tracing::warn!("Heartbeat withheld: this run's metrics were not all delivered");
        }
        if let Some(hb) = &self.config.heartbeat {
            match heartbeat::ping(&self.client, hb, self.config.publish_timeout).await {
                Ok(()) => tracing::debug!("external heartbeat sent"),
                Err(e) => tracing::error!(error = %e, "external heartbeat failed"),
            }
        }
        let result = RoundResult {
            outcomes,
            delivered,
        };
        let verdict = result.verdict();
        tracing::info!(
            verdict = ?verdict,
            failed = result.outcomes.iter().filter(|o| !o.passed).count(),
            probes = result.outcomes.len(),
            delivered,
            "round finished"
        );
        result
    }
}

/// The host of an https:// target (its `Host` dimension); `None` for plain HTTP.
fn tls_host(target: &str) -> Option<String> {
    let uri: http::Uri = target.parse().ok()?;
    if uri.scheme_str() != Some("https") {
        return None;
    }
    uri.host().map(host_key)
}

/// Fails a probe answered over TLS by a host whose certificate has fewer than the probe's
/// `cert_min_days` left (or expired while a pooled connection kept using it), blamed on the
/// gateway, which holds the certificate unless the probe failed for a reason of its own. A
/// certificate rustls refused has failed the probe already, with a connection error saying why.
fn check_certificate(
    outcome: &mut ProbeOutcome,
    host: &str,
    seen: Option<SeenCertificate>,
    min_days: f64,
) {
    let (Some(_), Some(seen)) = (outcome.status, seen) else {
        return;
    };
    if let Some(problem) = seen.validity.problem(host, SystemTime::now(), min_days) {
        if outcome.passed {
            outcome.attribution = Some(Attribution::Gateway);
        }
        outcome.passed = false;
        outcome.failures.push(problem);
    }
}

fn log_outcome(o: &ProbeOutcome) {
    let latency_ms = o.latency.map(metrics::millis);
    if o.passed {
        tracing::info!(probe = %o.name, status = o.status, latency_ms, retries = o.retries, "probe passed");
    } else {
        tracing::warn!(
            probe = %o.name,
            status = o.status,
            latency_ms,
            retries = o.retries,
            blame = o.attribution.map(|a| a.as_str()),
            trace_id = o.trace_id.map(|t| t.to_string()),
            failures = %o.failures.join("; "),
            "probe failed"
        );
    }
}

/// The data a round's outcomes publish.
pub fn outcome_data(env: &str, outcomes: &[ProbeOutcome], at: SystemTime) -> Vec<Datum> {
    let mut data = Vec::new();
    for o in outcomes {
        let trace_id = o.trace_id.map(|t| t.to_string());
        let d = |name: &str, value: f64, unit: Unit| {
            let datum = Datum::probe(name, env, &o.name, value, unit, at);
            match &trace_id {
                Some(id) => datum.with_property(metrics::PROP_TRACE_ID, id),
                None => datum,
            }
        };
        data.push(d(
            metrics::PROBE_SUCCESS,
            if o.passed { 1.0 } else { 0.0 },
            Unit::Count,
        ));
        if let Some(l) = o.latency {
            data.push(d(
                metrics::PROBE_LATENCY,
                metrics::millis(l),
                Unit::Milliseconds,
            ));
        }
        data.push(d(metrics::PROBE_RETRIES, f64::from(o.retries), Unit::Count));
        if let Some(g) = o.gateway_latency_ms {
            data.push(d(metrics::GATEWAY_LATENCY, g, Unit::Milliseconds));
        }
        if let Some(u) = o.upstream_latency_ms {
            data.push(d(metrics::UPSTREAM_LATENCY, u, Unit::Milliseconds));
        }
        if let Some(r) = o.rate_limit_remaining {
            data.push(d(metrics::RATE_LIMIT_REMAINING, r as f64, Unit::Count));
        }
    }
    data
}

/// Runs a round every `every` until `stop` resolves; the round in flight always completes.
/// Returns the last round's verdict.
pub async fn run_every(
    canary: &mut Canary,
    every: Duration,
    stop: impl std::future::Future<Output = ()>,
) -> Verdict {
    let (tx, mut rx) = tokio::sync::watch::channel(false);
    let stop_task = async move {
        stop.await;
        let _ = tx.send(true);
    };
    let rounds = async {
        loop {
            let started = Instant::now();
            let verdict = canary.round().await.verdict();
            if *rx.borrow() {
                tracing::info!("stop requested: exiting after the round in flight");
                return verdict;
            }
            tokio::select! {
                () = tokio::time::sleep_until((started + every).into()) => {}
                _ = rx.changed() => {
                    tracing::info!("stop requested between rounds: exiting");
                    return verdict;
                }
            }
        }
    };
    tokio::pin!(stop_task);
    tokio::pin!(rounds);
    let mut stop_seen = false;
    loop {
        tokio::select! {
            verdict = &mut rounds => return verdict,
            () = &mut stop_task, if !stop_seen => stop_seen = true,
        }
    }
}
