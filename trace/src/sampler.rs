//! The sampling decision for a new span: OpenTelemetry's built-in samplers (`AlwaysOn`,
//! `AlwaysOff`, `TraceIdRatioBased`, and `ParentBased` around one of them), as
//! `OTEL_TRACES_SAMPLER` names them.
//!
//! Trace-id-ratio sampling is deterministic on the trace id, so every service that samples a
//! trace at the same ratio makes the same decision, and a higher ratio samples every trace a
//! lower one does (the two requirements of the OTel spec). The algorithm is the one the spec's
//! `ProbabilitySampler` defines over W3C Level 2 randomness: the 56 rightmost bits of the trace
//! id are the randomness `R`, a ratio `p` is the rejection threshold `T = (1 - p) * 2^56`, and a
//! trace is sampled when `R >= T`; ratio 0 never samples, ratio 1 always does.

use std::fmt;

use crate::context::SpanContext;
use crate::ids::TraceId;

/// 2^56: the number of randomness values a trace id carries.
const RANDOMNESS_VALUES: u64 = 1 << 56;

/// A sampling ratio in `[0, 1]` and the threshold it stands for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ratio {
    ratio: f64,
    /// Traces whose randomness is at least this are sampled.
    threshold: u64,
}

impl Ratio {
    /// Ratio 1: every trace (the default argument of the ratio samplers).
    pub const ONE: Ratio = Ratio {
        ratio: 1.0,
        threshold: 0,
    };

    /// The ratio, or `None` when it is not a number in `[0, 1]`.
    pub fn new(ratio: f64) -> Option<Ratio> {
        if !(0.0..=1.0).contains(&ratio) {
            return None;
        }
        // The conversion saturates, and ratio * 2^56 is at most 2^56.
        let kept = (ratio * RANDOMNESS_VALUES as f64).round() as u64;
        Some(Ratio {
            ratio,
            threshold: RANDOMNESS_VALUES - kept.min(RANDOMNESS_VALUES),
        })
    }

    /// The ratio as given.
    pub fn get(self) -> f64 {
        self.ratio
    }

    /// Whether a trace with this id is sampled at this ratio.
    pub fn samples(self, trace_id: TraceId) -> bool {
        trace_id.randomness() >= self.threshold
    }
}

/// How a span without a parent (or, for the non-parent-based samplers, any span) is decided.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RootSampler {
    /// Every span is sampled.
    AlwaysOn,
    /// No span is sampled.
    AlwaysOff,
    /// A fraction of traces, decided on the trace id.
    TraceIdRatio(Ratio),
}

impl RootSampler {
    fn samples(self, trace_id: TraceId) -> bool {
        match self {
            RootSampler::AlwaysOn => true,
            RootSampler::AlwaysOff => false,
            RootSampler::TraceIdRatio(ratio) => ratio.samples(trace_id),
        }
    }
}

impl fmt::Display for RootSampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RootSampler::AlwaysOn => f.write_str("AlwaysOnSampler"),
            RootSampler::AlwaysOff => f.write_str("AlwaysOffSampler"),
            RootSampler::TraceIdRatio(r) => write!(f, "TraceIdRatioBased{{{}}}", r.get()),
        }
    }
}

/// A sampler: the root sampler alone, or parent-based around it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sampler {
    /// The root sampler decides every span, ignoring the parent's `sampled` flag.
    Root(RootSampler),
    /// A span with a parent follows the parent's `sampled` flag; one without is decided by the
    /// root sampler. The OTel default, with `AlwaysOn` as the root.
    ParentBased(RootSampler),
}

impl Default for Sampler {
    /// `parentbased_always_on`, the OTel default.
    fn default() -> Sampler {
        Sampler::ParentBased(RootSampler::AlwaysOn)
    }
}

impl Sampler {
    /// Whether a new span of trace `trace_id` under `parent` (`None` for a new trace) is
    /// sampled.
    pub fn should_sample(&self, parent: Option<&SpanContext>, trace_id: TraceId) -> bool {
        match (self, parent) {
            (Sampler::ParentBased(_), Some(parent)) => parent.is_sampled(),
            (Sampler::ParentBased(root) | Sampler::Root(root), _) => root.samples(trace_id),
        }
    }
}

impl fmt::Display for Sampler {
    /// The description the OTel spec gives each sampler, e.g.
    /// `ParentBased{root=TraceIdRatioBased{0.25}}`, for the logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sampler::Root(root) => write!(f, "{root}"),
            Sampler::ParentBased(root) => write!(f, "ParentBased{{root={root}}}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ratio(r: f64) -> RootSampler {
        RootSampler::TraceIdRatio(Ratio::new(r).expect("valid ratio"))
    }

    fn sampled_count(sampler: Sampler, n: usize) -> usize {
        (0..n)
            .filter(|_| sampler.should_sample(None, TraceId::random()))
            .count()
    }

    #[test]
    fn ratio_0_never_1_always_and_a_quarter_about_a_quarter() {
        assert_eq!(sampled_count(Sampler::Root(ratio(0.0)), 100_000), 0);
        assert_eq!(sampled_count(Sampler::Root(ratio(1.0)), 100_000), 100_000);
        // Binomial(200000, 0.25): the standard deviation is about 194, so 6 of them is 1,162.
        let n = 200_000;
        let got = sampled_count(Sampler::Root(ratio(0.25)), n);
        let want = n / 4;
        assert!(got.abs_diff(want) < 1_200, "{got} of {n} sampled at 0.25");
        // The extremes of the randomness value.
        let lowest = TraceId::from_hex(b"ffffffffffffffffff00000000000001").expect("valid");
        let highest = TraceId::from_hex(b"0000000000000001ffffffffffffffff").expect("valid");
        assert!(!ratio(0.0).samples(highest));
        assert!(ratio(1.0).samples(lowest));
        assert!(ratio(1e-9).samples(highest) && !ratio(1e-9).samples(lowest));
    }

    #[test]
    fn ratio_decisions_are_deterministic_and_nested() {
        for _ in 0..10_000 {
            let id = TraceId::random();
            let at = |r| ratio(r).samples(id);
            assert_eq!(at(0.3), at(0.3), "deterministic");
            // Whatever a lower ratio samples, a higher one samples too.
            assert!(!at(0.1) || at(0.3));
            assert!(!at(0.3) || at(0.9));
        }
        // The decision depends only on the 56 rightmost bits.
        let a = TraceId::from_hex(b"000000000000000000c0000000000000").expect("valid");
        let b = TraceId::from_hex(b"ffffffffffffffffffc0000000000000").expect("valid");
        assert_eq!(ratio(0.25).samples(a), ratio(0.25).samples(b));
        assert!(
            ratio(0.25).samples(a),
            "R = 0.75 * 2^56 is the threshold itself"
        );
        let below = TraceId::from_hex(b"000000000000000000bfffffffffffff").expect("valid");
        assert!(!ratio(0.25).samples(below));
    }

    #[test]
    fn invalid_ratios_are_refused() {
        for r in [-0.1, 1.000_001, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(Ratio::new(r).is_none(), "{r}");
        }
        assert_eq!(Ratio::new(0.5).map(Ratio::get), Some(0.5));
    }

    #[test]
    fn parent_based_follows_the_parent_and_root_ignores_it() {
        let sampled = SpanContext::root(true);
        let unsampled = SpanContext::root(false);
        for root in [RootSampler::AlwaysOn, RootSampler::AlwaysOff, ratio(0.5)] {
            let pb = Sampler::ParentBased(root);
            for _ in 0..100 {
                assert!(pb.should_sample(Some(&sampled), TraceId::random()));
                assert!(!pb.should_sample(Some(&unsampled), TraceId::random()));
            }
        }
        assert!(
            !Sampler::ParentBased(RootSampler::AlwaysOff).should_sample(None, TraceId::random())
        );
        assert!(Sampler::default().should_sample(None, TraceId::random()));
        assert!(
            Sampler::Root(RootSampler::AlwaysOn).should_sample(Some(&unsampled), TraceId::random())
        );
        assert!(
            !Sampler::Root(RootSampler::AlwaysOff).should_sample(Some(&sampled), TraceId::random())
        );
        // The ratio sampler as root decides on the trace id alone, parent or not.
        let root_ratio = Sampler::Root(ratio(0.0));
        assert!(!root_ratio.should_sample(Some(&sampled), sampled.trace_id));
    }

    #[test]
    fn descriptions_are_the_specs() {
        assert_eq!(
            Sampler::default().to_string(),
            "ParentBased{root=AlwaysOnSampler}"
        );
        assert_eq!(
            Sampler::Root(RootSampler::AlwaysOff).to_string(),
            "AlwaysOffSampler"
        );
        assert_eq!(
            Sampler::ParentBased(ratio(0.25)).to_string(),
            "ParentBased{root=TraceIdRatioBased{0.25}}"
        );
    }
}
