//! `loadgen capacity`: the highest open-model rate at which every gate holds, found by a
//! search over steps that each are a whole `run` ([`step`]: [`crate::run::run_blocking`] with a
//! [`crate::config::RunConfig`] of the step's rate, judged by [`crate::report::Report::build`]).
//!
//! The search ([`Search`]) starts at `--min-rate` and doubles the rate while steps pass (up to
//! `--max-rate`); after the first breach it bisects between the last passing and the first
//! failing rate until they are within `--precision` of each other. Every rate it reports as the
//! capacity was measured and passed: the answer is never above the knee, and is below it by at
//! most the precision (or the last doubling, when `--max-rate` or the step budget ended it). A
//! step the generator could not carry (self-check invalid) ends the search: beyond it, nothing
//! measured is about the target. [`early`] ends a step before its duration once its outcome is
//! already certain; [`report`] holds the JSON report, the baseline comparison and the
//! autoscaling target, which [`text`] and [`html`] render.

pub mod curve;
pub mod early;
pub mod html;
pub mod report;
pub mod step;
pub mod text;

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Largest target rate of a step, requests/s: the bound `run --rate` has.
pub const MAX_RATE: f64 = 10_000_000.0;
/// Longest step.
pub const MAX_STEP_DURATION: Duration = Duration::from_secs(3600);
/// Most steps of one search: enough to double from the lowest to the highest rate allowed and
/// then bisect, never an endless search.
pub const MAX_STEPS: usize = 60;
/// Factor between consecutive rates while no step has failed.
pub const GROWTH: f64 = 2.0;

/// What one step found, as the search sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepVerdict {
    /// Every gate held, and the generator kept up.
    Pass,
    /// A gate was breached (or the rate was not reached, or nothing succeeded).
    Fail,
    /// The generator was the bottleneck: the step says nothing about the target.
    Invalid,
    /// Stopped by SIGINT or SIGTERM: a partial step proves nothing.
    Aborted,
}

impl StepVerdict {
    /// Upper-case name for the text and HTML reports.
    pub fn label(self) -> &'static str {
        match self {
            StepVerdict::Pass => "PASS",
            StepVerdict::Fail => "FAIL",
            StepVerdict::Invalid => "INVALID",
            StepVerdict::Aborted => "ABORTED",
        }
    }
}

/// How a search ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// A passing and a failing rate within the precision: the capacity is the passing one.
    Knee,
    /// Every step passed up to `--max-rate`: the capacity is at least that.
    MaxRate,
    /// Even `--min-rate` breached a gate: no capacity.
    BreachedAtMinRate,
    /// The generator could not carry a rate before any step failed: the capacity is at least
    /// the last passing rate, if any, but the target's limit was not found.
    GeneratorLimit,
    /// The generator could not carry a rate while bisecting (after a breach): the capacity is
    /// the last passing rate, known to lie below a failing one, only less precisely.
    GeneratorLimitAfterBreach,
    /// The step budget ran out before the precision was reached.
    StepBudget,
    /// Stopped by SIGINT or SIGTERM.
    Aborted,
}

impl Ending {
    /// One sentence for the reports.
    pub fn describe(self) -> &'static str {
        match self {
            Ending::Knee => {
                "the knee was bracketed: the capacity passed, the next rate tried above it breached"
            }
            Ending::MaxRate => {
                "every step passed up to --max-rate: the capacity is at least that (raise --max-rate to find the knee)"
            }
            Ending::BreachedAtMinRate => {
                "even --min-rate breached a gate: no rate meets every gate (lower --min-rate, or fix the target)"
            }
            Ending::GeneratorLimit => {
                "the generator was the bottleneck before any step breached: the target's limit was not found (use more --threads or a bigger machine)"
            }
            Ending::GeneratorLimitAfterBreach => {
                "the generator was the bottleneck while bisecting: the capacity is the last passing rate, below a breached one, but less precise"
            }
            Ending::StepBudget => "the step budget ran out before the precision was reached",
            Ending::Aborted => "stopped by a signal: the capacity covers only the steps that ran",
        }
    }
}

/// The search's bounds, validated by the command.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    /// First rate tried, requests/s.
    pub min_rate: f64,
    /// Highest rate tried, requests/s.
    pub max_rate: f64,
    /// Bisection stops when `(failing - passing) <= precision * passing`.
    pub precision: f64,
    /// Most steps.
    pub max_steps: usize,
}

/// The search state: which rate to try next, given what the steps so far found.
#[derive(Debug, Clone)]
pub struct Search {
    bounds: Bounds,
    passed: Option<f64>,
    failed: Option<f64>,
    stopped: Option<Ending>,
    steps: usize,
}

impl Search {
    /// A search within `bounds`.
    pub fn new(bounds: Bounds) -> Search {
        Search {
            bounds,
            passed: None,
            failed: None,
            stopped: None,
            steps: 0,
        }
    }

    /// The next rate to try, or `None` when the search is over.
    pub fn next_rate(&self) -> Option<f64> {
        if self.stopped.is_some() || self.steps >= self.bounds.max_steps {
            return None;
        }
        let b = &self.bounds;
        match (self.passed, self.failed) {
            (None, None) => Some(b.min_rate),
            (Some(p), None) if p >= b.max_rate => None,
            (Some(p), None) => Some((p * GROWTH).min(b.max_rate)),
            (None, Some(_)) => None,
            (Some(p), Some(f)) if f - p <= b.precision * p => None,
            (Some(p), Some(f)) => Some((p + f) / 2.0),
        }
    }

    /// Records what the step at `rate` found.
    pub fn record(&mut self, rate: f64, verdict: StepVerdict) {
        self.steps += 1;
        match verdict {
            StepVerdict::Pass => self.passed = Some(self.passed.map_or(rate, |p| p.max(rate))),
            StepVerdict::Fail => self.failed = Some(self.failed.map_or(rate, |f| f.min(rate))),
            StepVerdict::Invalid => {
                self.stopped = Some(if self.failed.is_some() {
                    Ending::GeneratorLimitAfterBreach
                } else {
                    Ending::GeneratorLimit
                });
            }
            StepVerdict::Aborted => self.stopped = Some(Ending::Aborted),
        }
    }

    /// Ends the search without another step (a stop requested between steps).
    pub fn stop(&mut self, why: Ending) {
        self.stopped = Some(why);
    }

    /// The highest rate that passed: the capacity.
    pub fn capacity(&self) -> Option<f64> {
        self.passed
    }

    /// The lowest rate that failed.
    pub fn first_failing(&self) -> Option<f64> {
        self.failed
    }

    /// How the search ended (meaningful once [`Search::next_rate`] is `None`).
    pub fn ending(&self) -> Ending {
        if let Some(e) = self.stopped {
            return e;
        }
        match (self.passed, self.failed) {
            (None, Some(_)) => Ending::BreachedAtMinRate,
            (Some(p), None) if p >= self.bounds.max_rate => Ending::MaxRate,
            (Some(p), Some(f)) if f - p <= self.bounds.precision * p => Ending::Knee,
            _ => Ending::StepBudget,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds(min_rate: f64, max_rate: f64) -> Bounds {
        Bounds {
            min_rate,
            max_rate,
            precision: 0.05,
            max_steps: MAX_STEPS,
        }
    }

    /// Runs a search against a target whose steps pass up to `knee` (inclusive); returns the
    /// rates tried and the search.
    fn against(b: Bounds, knee: f64, invalid_above: f64) -> (Vec<f64>, Search) {
        let mut s = Search::new(b);
        let mut tried = Vec::new();
        while let Some(r) = s.next_rate() {
            tried.push(r);
            let v = if r > invalid_above {
                StepVerdict::Invalid
            } else if r <= knee {
                StepVerdict::Pass
            } else {
                StepVerdict::Fail
            };
            s.record(r, v);
        }
        (tried, s)
    }

    #[test]
    fn doubles_then_bisects_to_within_the_precision_never_above_the_knee() {
        let (tried, s) = against(bounds(10.0, 1000.0), 97.0, f64::INFINITY);
        assert_eq!(&tried[..5], &[10.0, 20.0, 40.0, 80.0, 160.0]);
        let cap = s.capacity().expect("a capacity");
        assert!((97.0 * 0.95..=97.0).contains(&cap), "{cap} from {tried:?}");
        assert_eq!(s.ending(), Ending::Knee);
        let f = s.first_failing().expect("a failing rate");
        assert!(f - cap <= 0.05 * cap);
        assert!(tried.len() <= 5 + 5, "{tried:?}");
    }

    #[test]
    fn the_ends_of_a_search() {
        let (tried, s) = against(bounds(10.0, 50.0), 1e9, f64::INFINITY);
        assert_eq!(tried, [10.0, 20.0, 40.0, 50.0]);
        assert_eq!((s.capacity(), s.ending()), (Some(50.0), Ending::MaxRate));

        let (tried, s) = against(bounds(10.0, 50.0), 5.0, f64::INFINITY);
        assert_eq!(tried, [10.0]);
        assert_eq!(
            (s.capacity(), s.ending()),
            (None, Ending::BreachedAtMinRate)
        );

        let (_, s) = against(bounds(10.0, 1000.0), 1e9, 30.0);
        assert_eq!(
            (s.capacity(), s.ending()),
            (Some(20.0), Ending::GeneratorLimit)
        );

        let (_, s) = against(bounds(10.0, 1000.0), 1e9, 5.0);
        assert_eq!((s.capacity(), s.ending()), (None, Ending::GeneratorLimit));

        // A breach at 80, then the generator fails at the midpoint 60.
        let mut s = Search::new(bounds(10.0, 1000.0));
        for (r, v) in [
            (10.0, StepVerdict::Pass),
            (20.0, StepVerdict::Pass),
            (40.0, StepVerdict::Pass),
            (80.0, StepVerdict::Fail),
        ] {
            assert_eq!(s.next_rate(), Some(r));
            s.record(r, v);
        }
        assert_eq!(s.next_rate(), Some(60.0));
        s.record(60.0, StepVerdict::Invalid);
        assert_eq!(s.next_rate(), None);
        assert_eq!(
            (s.capacity(), s.ending()),
            (Some(40.0), Ending::GeneratorLimitAfterBreach)
        );

        let mut b = bounds(10.0, 1000.0);
        b.max_steps = 3;
        let (tried, s) = against(b, 1e9, f64::INFINITY);
        assert_eq!(tried.len(), 3);
        assert_eq!((s.capacity(), s.ending()), (Some(40.0), Ending::StepBudget));

        let mut s = Search::new(bounds(10.0, 1000.0));
        s.record(10.0, StepVerdict::Pass);
        s.record(20.0, StepVerdict::Aborted);
        assert_eq!(s.next_rate(), None);
        assert_eq!((s.capacity(), s.ending()), (Some(10.0), Ending::Aborted));
    }

    #[test]
    fn min_equal_to_max_is_one_step() {
        let (tried, s) = against(bounds(42.0, 42.0), 1e9, f64::INFINITY);
        assert_eq!(tried, [42.0]);
        assert_eq!(s.ending(), Ending::MaxRate);
    }
}
