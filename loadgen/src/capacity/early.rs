//! When a step's breach is already certain: a step at rate `r` for `d` measures at most
//! `planned = ceil(r * d) + 1` requests (a stop only makes it fewer), and some gates are
//! breached by what has been recorded so far whatever the remaining requests do:
//!
//! - `pNN<T` / `pNN<=T` (corrected or `_uncorrected`): the report's percentile is the value of
//!   rank `ceil(q * n)` among the `n` requests measured; once more than `n - ceil(q * n)` of them
//!   are over the bound, that rank is over it. `n - ceil(q * n)` never grows when `n` shrinks,
//!   so counting against `planned` is safe for any final `n <= planned`.
//! - `max<T`: one request over the bound.
//! - `error_rate<B`, `server_error_rate<B` (and `<=`): more bad requests than `B * planned`.
//! - `timeouts`, `errors`, `status_Nxx` with `<`, `<=` or `==`: a count already above the bound.
//!
//! Other gates (means, `rps`, `>` and `>=` bounds, exact status codes) are never decided early:
//! only the whole step can tell. [`Watch`] counts the finished seconds (the recorder's interval
//! sink, [`WatchSink`]) and says, once, why the step is decided.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::recorder::{IntervalSink, Outcome, Slot, Summary};
use crate::slo::{Metric, Op, Slo};

/// What one gate counts.
#[derive(Debug, Clone)]
enum Count {
    /// Requests whose latency fails the bound; breached above `allowed`.
    Latency {
        uncorrected: bool,
        op: Op,
        threshold_ms: f64,
        allowed: u64,
    },
    /// Requests of the given classes; breached when `holds(count, limit)` is false.
    Classes {
        which: fn(Outcome) -> bool,
        op: Op,
        limit: f64,
    },
}

/// One gate that can be decided early, and its running count.
#[derive(Debug, Clone)]
struct Tracked {
    expr: String,
    count: Count,
    seen: u64,
}

/// The running counts of one step's decidable gates.
#[derive(Debug, Clone)]
pub struct Watch {
    tracked: Vec<Tracked>,
    planned: u64,
    decided: Option<String>,
}

fn not_ok(o: Outcome) -> bool {
    !matches!(o, Outcome::Success | Outcome::Redirect)
}

fn server_side(o: Outcome) -> bool {
    !matches!(
        o,
        Outcome::Success | Outcome::Redirect | Outcome::ClientError | Outcome::RateLimited
    )
}

fn timeouts(o: Outcome) -> bool {
    o == Outcome::Timeout
}

fn errors(o: Outcome) -> bool {
    o == Outcome::Error
}

fn class_5xx(o: Outcome) -> bool {
    o == Outcome::ServerError
}

fn class_4xx(o: Outcome) -> bool {
    matches!(o, Outcome::ClientError | Outcome::RateLimited)
}

/// How a gate on `metric op threshold` is counted early, if it can be.
fn count_of(slo: &Slo, planned: u64) -> Option<Count> {
    let upper = matches!(slo.op, Op::Lt | Op::Le);
    let latency = |uncorrected: bool, quantile: f64| {
        let rank = ((quantile * planned as f64).ceil() as u64).max(1);
        Count::Latency {
            uncorrected,
            op: slo.op,
            threshold_ms: slo.threshold,
            allowed: planned.saturating_sub(rank),
        }
    };
    let classes = |which: fn(Outcome) -> bool, limit: f64| Count::Classes {
        which,
        op: slo.op,
        limit,
    };
    let counted = upper || slo.op == Op::Eq;
    match slo.metric {
        Metric::Percentile(p) if upper => Some(latency(false, p / 100.0)),
        Metric::UncorrectedPercentile(p) if upper => Some(latency(true, p / 100.0)),
        Metric::Max if upper => Some(Count::Latency {
            uncorrected: false,
            op: slo.op,
            threshold_ms: slo.threshold,
            allowed: 0,
        }),
        Metric::ErrorRate if upper => Some(classes(not_ok, slo.threshold * planned as f64)),
        Metric::ServerErrorRate if upper => {
            Some(classes(server_side, slo.threshold * planned as f64))
        }
        Metric::Timeouts if counted => Some(classes(timeouts, slo.threshold)),
        Metric::Errors if counted => Some(classes(errors, slo.threshold)),
        Metric::StatusClass(5) if counted => Some(classes(class_5xx, slo.threshold)),
        Metric::StatusClass(4) if counted => Some(classes(class_4xx, slo.threshold)),
        _ => None,
    }
}

/// Requests of `h` whose reported value (the highest value of its bucket, as percentiles
/// report it) fails `op threshold_ms`.
fn failing(h: &Histogram<u64>, op: Op, threshold_ms: f64) -> u64 {
    h.iter_recorded()
        .filter(|v| {
            let ms = h.highest_equivalent(v.value_iterated_to()) as f64 / 1000.0;
            !op.holds(ms, threshold_ms)
        })
        .map(|v| v.count_at_value())
        .sum()
}

impl Watch {
    /// A watch over the gates of a step that measures at most `planned` requests.
    pub fn new(gates: &[Slo], planned: u64) -> Watch {
        let tracked = gates
            .iter()
            .filter_map(|s| {
                count_of(s, planned).map(|count| Tracked {
                    expr: s.expr.clone(),
                    count,
                    seen: 0,
                })
            })
            .collect();
        Watch {
            tracked,
            planned,
            decided: None,
        }
    }

    /// The most requests a step at `rate` for `duration` measures.
    pub fn planned(rate: f64, duration: Duration) -> u64 {
        (rate * duration.as_secs_f64()).ceil() as u64 + 1
    }

    /// Whether any gate can be decided early.
    pub fn watches_anything(&self) -> bool {
        !self.tracked.is_empty()
    }

    /// Counts one finished interval; returns the reason the first time a gate is certainly
    /// breached.
    pub fn add(&mut self, slot: &Slot) -> Option<String> {
        if self.decided.is_some() {
            return None;
        }
        for t in &mut self.tracked {
            let (breached, what) = match &t.count {
                Count::Latency {
                    uncorrected,
                    op,
                    threshold_ms,
                    allowed,
                } => {
                    for o in Outcome::ALL {
                        if let Some(p) = slot.get(o) {
                            let h = if *uncorrected {
                                &p.uncorrected
                            } else {
                                &p.corrected
                            };
                            t.seen += failing(h, *op, *threshold_ms);
                        }
                    }
                    (
                        t.seen > *allowed,
                        format!(
                            "{} requests over the bound, more than the {allowed} of at most {} the gate allows",
                            t.seen, self.planned
                        ),
                    )
                }
                Count::Classes { which, op, limit } => {
                    t.seen += Outcome::ALL
                        .iter()
                        .filter(|o| which(**o))
                        .map(|o| slot.count(*o))
                        .sum::<u64>();
                    (
                        !op.holds(t.seen as f64, *limit),
                        format!("{} counted of at most {} requests", t.seen, self.planned),
                    )
                }
            };
            if breached {
                let why = format!("{} certainly breached: {what}", t.expr);
                self.decided = Some(why.clone());
                return Some(why);
            }
        }
        None
    }

    /// Why the step is decided, once it is.
    pub fn decided(&self) -> Option<&str> {
        self.decided.as_deref()
    }
}

/// The recorder's interval sink that feeds a [`Watch`] and calls `on_decided` once, when a
/// gate is certainly breached.
pub struct WatchSink {
    watch: Arc<Mutex<Watch>>,
    on_decided: Option<Box<dyn FnOnce(String) + Send>>,
}

impl WatchSink {
    /// A sink feeding `watch`.
    pub fn new(watch: Arc<Mutex<Watch>>, on_decided: Box<dyn FnOnce(String) + Send>) -> Self {
        WatchSink {
            watch,
            on_decided: Some(on_decided),
        }
    }
}

impl IntervalSink for WatchSink {
    fn interval(&mut self, _start: Duration, _length: Duration, slot: &Slot) -> io::Result<()> {
        let decided = {
            let mut w = self.watch.lock().unwrap_or_else(|p| p.into_inner());
            w.add(slot)
        };
        if let (Some(why), Some(f)) = (decided, self.on_decided.take()) {
            f(why);
        }
        Ok(())
    }

    fn finish(&mut self, _summary: &Summary) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recorder::Recorder;
    use crate::report::quantile_ms;
    use std::time::{Instant, SystemTime};

    fn slo(s: &str) -> Slo {
        s.parse().expect("a valid SLO")
    }

    /// A slot holding requests of `(outcome, corrected ms)`.
    fn slot(reqs: &[(Outcome, u64)]) -> Slot {
        let mut s = Slot::default();
        for (o, ms) in reqs {
            let p = s.get_mut(*o);
            p.corrected.record(ms * 1000).expect("in range");
            p.uncorrected.record(1000).expect("in range");
        }
        s
    }

    /// The summary the recorder makes of the same requests, to check the watch against the
    /// report's own percentile.
    fn summary(reqs: &[(Outcome, u64)]) -> Summary {
        let epoch = Instant::now();
        let mut root = Recorder::new(epoch, SystemTime::now());
        let mut w = root.fork();
        for (i, (o, ms)) in reqs.iter().enumerate() {
            let done = epoch + Duration::from_millis(i as u64 + 1000);
            let start = done - Duration::from_millis(*ms);
            w.record(*o, Some(200), start, start, done);
        }
        root.merge(&w);
        root.summary()
    }

    #[test]
    fn a_percentile_is_decided_exactly_when_no_remaining_request_can_save_it() {
        // 200 planned requests, p99<50ms: 2 may be slow (rank 198 is the p99), the third not.
        let mut w = Watch::new(&[slo("p99<50ms")], 200);
        assert!(
            w.add(&slot(&[(Outcome::Success, 80), (Outcome::Success, 60)]))
                .is_none()
        );
        assert!(w.add(&slot(&[(Outcome::Success, 10); 50])).is_none());
        let why = w.add(&slot(&[(Outcome::Success, 51)])).expect("decided");
        assert!(
            why.starts_with("p99<50ms certainly breached: 3 requests"),
            "{why}"
        );
        assert!(
            w.add(&slot(&[(Outcome::Success, 99)])).is_none(),
            "said once"
        );
        assert_eq!(w.decided(), Some(why.as_str()));

        // And the report agrees: 3 slow of 200 fails p99<50ms; 2 slow of 200 passes.
        let mut reqs = vec![(Outcome::Success, 10); 197];
        reqs.extend([
            (Outcome::Success, 80),
            (Outcome::Success, 60),
            (Outcome::Success, 51),
        ]);
        assert!(quantile_ms(&summary(&reqs).corrected, 99.0) >= 50.0);
        reqs[199] = (Outcome::Success, 10);
        assert!(quantile_ms(&summary(&reqs).corrected, 99.0) < 50.0);
    }

    #[test]
    fn error_rates_and_counts_are_decided_by_their_bound_times_the_planned_requests() {
        let mut w = Watch::new(&[slo("error_rate<1%"), slo("p50<1s")], 1000);
        assert!(w.add(&slot(&[(Outcome::ServerError, 1); 9])).is_none());
        let why = w
            .add(&slot(&[(Outcome::Timeout, 1)]))
            .expect("10 of 1000 is not below 1%");
        assert!(why.starts_with("error_rate<1% certainly breached"), "{why}");

        let mut w = Watch::new(&[slo("server_error_rate<=1%")], 1000);
        assert!(
            w.add(&slot(&[(Outcome::ClientError, 1); 50])).is_none(),
            "4xx do not count"
        );
        assert!(
            w.add(&slot(&[(Outcome::ServerError, 1); 10])).is_none(),
            "10 <= 1%"
        );
        assert!(w.add(&slot(&[(Outcome::Error, 1)])).is_some());

        let mut w = Watch::new(&[slo("status_5xx==0")], 1000);
        assert!(w.add(&slot(&[(Outcome::Success, 1)])).is_none());
        assert!(w.add(&slot(&[(Outcome::ServerError, 1)])).is_some());
    }

    #[test]
    fn gates_only_the_whole_step_can_tell_are_never_decided_early() {
        let w = Watch::new(
            &[
                slo("mean<10ms"),
                slo("rps>=100"),
                slo("p99>1ms"),
                slo("status_503<1"),
            ],
            100,
        );
        assert!(!w.watches_anything());
        assert_eq!(Watch::planned(100.0, Duration::from_secs(2)), 201);
        assert_eq!(Watch::planned(0.5, Duration::from_secs(3)), 3);
    }
}
