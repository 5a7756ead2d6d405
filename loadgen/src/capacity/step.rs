//! One step of the search: a whole open-model `run` at one rate ([`run_blocking_until`] with
//! the command's validated [`RunConfig`], its rate and duration set to the step's), judged by
//! the same [`Report::build`] as `loadgen run`, and kept as a [`Step`]: its corrected and
//! uncorrected percentiles, achieved rate, error rates, gates, self-check and verdict. The
//! recorder's finished seconds feed an [`early`](super::early) watch, which ends the step as
//! soon as a gate is certainly breached.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::StepVerdict;
use super::early::{Watch, WatchSink};
use crate::config::{Model, RunConfig, Stop};
use crate::report::{LatencyPair, Report};
use crate::run::{RunError, run_blocking_until};
use crate::selfcheck::{RATE_TOLERANCE, SATURATED_BUSY, SelfCheck};
use crate::slo::{Metric, Op, Slo};
use crate::verdict::{SloResult, Verdict};

/// What one step measured and how it was judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// The step's target rate, requests/s.
    pub rate: f64,
    /// The rate achieved, requests/s.
    pub achieved: f64,
    /// Measured span, seconds.
    pub duration_s: f64,
    /// Measured requests.
    pub requests: u64,
    /// Corrected (from the intended send) and uncorrected (from the actual send) latency, ms.
    pub latency_ms: LatencyPair,
    /// Share of requests not answered 2xx/3xx (errors and timeouts included).
    pub error_rate: f64,
    /// Share of requests answered 5xx or not at all.
    pub server_error_rate: f64,
    /// How the step was judged.
    pub verdict: StepVerdict,
    /// Why it is not a pass (empty on pass).
    pub reasons: Vec<String>,
    /// Each gate, as `run` reports it.
    pub slo: Vec<SloResult>,
    /// The generator self-check.
    pub self_check: Option<SelfCheck>,
    /// Set when the step was decided before its duration ended (see [`super::early`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_early: Option<String>,
}

/// A step's result, and whether the run could not test at all.
pub struct StepRun {
    /// The step.
    pub step: Step,
    /// Why the run was stopped early because the target never accepted a connection.
    pub gave_up: Option<String>,
}

/// The run configuration of the step at `rate` for `duration`, from the command's `base`.
pub fn step_config(base: &RunConfig, rate: f64, duration: Duration) -> RunConfig {
    let mut cfg = base.clone();
    cfg.model = Model::Open { rate };
    cfg.stop = Stop::Duration(duration);
    cfg.warmup = Duration::ZERO;
    cfg.start_at = None;
    cfg.baseline = None;
    cfg.json = None;
    cfg
}

/// A step the self-check calls invalid for late wake-ups alone (the generator was not
/// saturated) is still a breach when a latency gate fails by more than the generator's latest
/// wake-up: corrected latency starts when an idle connection woke, so lateness cannot add to it
/// beyond making arrivals burstier by at most that much. An overloaded target often starves the
/// generator of CPU too; without this, its breach would read as the generator's limit.
fn breach_beyond_lag(report: &Report, rate: f64) -> Option<String> {
    let check = report.self_check.as_ref()?;
    let lag = check.schedule_lag_ms.as_ref()?;
    let saturated = check.generator_busy.is_some_and(|b| b >= SATURATED_BUSY)
        && report.achieved_rate < rate * RATE_TOLERANCE;
    if saturated || report.requests.total == 0 {
        return None;
    }
    let beyond = report.slo.iter().find(|g| {
        !g.pass
            && g.expr.parse::<Slo>().is_ok_and(|slo| {
                matches!(
                    slo.metric,
                    Metric::Percentile(_)
                        | Metric::UncorrectedPercentile(_)
                        | Metric::Mean
                        | Metric::Max
                ) && matches!(slo.op, Op::Lt | Op::Le)
                    && !slo.op.holds(g.actual - lag.max, slo.threshold)
            })
    })?;
    Some(format!(
        "SLO {} breached by more than the generator's latest wake-up ({:.1} ms) explains: a breach, not the generator's limit",
        beyond.label(),
        lag.max
    ))
}

/// Runs the step at `rate` for `duration`, judges it against `base`'s gates.
pub fn run_step(base: &RunConfig, rate: f64, duration: Duration) -> Result<StepRun, RunError> {
    let cfg = step_config(base, rate, duration);
    let watch = Arc::new(Mutex::new(Watch::new(
        &cfg.slos,
        Watch::planned(rate, duration),
    )));
    // The watch sees each finished second; once a gate is certainly breached, it ends the run.
    let (decide, decided) = oneshot::channel::<String>();
    let sink = WatchSink::new(
        Arc::clone(&watch),
        Box::new(move |why| {
            let _ = decide.send(why);
        }),
    );
    let decided = Box::pin(async move {
        match decided.await {
            Ok(why) => why,
            // The run ended without a decision: never resolve.
            Err(_) => std::future::pending().await,
        }
    });
    let measured = run_blocking_until(&cfg, Some(Box::new(sink)), decided)?;
    let report = Report::build(&measured.summary, &measured.meta, &cfg.slos, None);
    let mut verdict = match report.verdict {
        Verdict::Pass => StepVerdict::Pass,
        Verdict::Fail => StepVerdict::Fail,
        Verdict::Invalid => StepVerdict::Invalid,
        Verdict::Aborted => StepVerdict::Aborted,
    };
    let mut reasons = report.reasons.clone();
    if verdict == StepVerdict::Invalid
        && let Some(why) = breach_beyond_lag(&report, rate)
    {
        verdict = StepVerdict::Fail;
        reasons.insert(0, why);
    }
    if let Some(why) = &measured.decided
        && verdict == StepVerdict::Pass
    {
        // Sound by construction (see `early`); kept in case a gate reads differently in part.
        verdict = StepVerdict::Fail;
        reasons.push(why.clone());
    }
    if let Some(stop) = &measured.aborted {
        verdict = StepVerdict::Aborted;
        reasons.insert(0, stop.to_string());
    }
    Ok(StepRun {
        step: Step {
            rate,
            achieved: report.achieved_rate,
            duration_s: report.duration_s,
            requests: report.requests.total,
            latency_ms: report.latency_ms.clone(),
            error_rate: report.error_rate,
            server_error_rate: report.server_error_rate,
            verdict,
            reasons,
            slo: report.slo.clone(),
            self_check: report.self_check.clone(),
            ended_early: measured.decided.clone(),
        },
        gave_up: measured.gave_up,
    })
}
