//! `--trace-sample`: which requests carry a fresh, sampled W3C `traceparent`, and the header
//! itself. Each traced request starts a trace of its own (a random trace id and span id from the
//! `trace` crate, flags `01`), so the gateway and the service record it whatever their own
//! sampling ratio for requests without a parent.
//!
//! The choice is made on the trace id, as OpenTelemetry's trace-id-ratio sampler does
//! ([`trace::Ratio`]): a run at ratio 0.1 traces the requests whose new id falls in the top
//! tenth. A run without the flag builds no sampler, so its requests pay one branch and nothing
//! else.

use trace::{Ratio, SpanId, TraceFlags, TraceId, TraceParent};

/// The `traceparent` header's name.
pub const HEADER: &str = "traceparent";

/// Decides per request whether it carries a `traceparent`.
#[derive(Clone, Copy, Debug)]
pub struct TraceSampler {
    ratio: Ratio,
}

/// The `traceparent` of one traced request, and its trace id for the reports.
#[derive(Clone, Copy, Debug)]
pub struct Traced {
    /// The trace the request starts.
    pub trace_id: TraceId,
    /// The header's value, `00-<trace id>-<span id>-01`.
    pub header: [u8; trace::traceparent::VERSION_00_LEN],
}

impl TraceSampler {
    /// A sampler tracing this fraction of requests; `None` for 0 (nothing is ever traced) or a
    /// value outside `[0, 1]` (the flag's validation refuses it first).
    pub fn new(ratio: f64) -> Option<TraceSampler> {
        Ratio::new(ratio)
            .filter(|_| ratio > 0.0)
            .map(|ratio| TraceSampler { ratio })
    }

    /// A fresh sampled trace context for the next request, or `None` when this one goes
    /// untraced.
    pub fn pick(&self) -> Option<Traced> {
        let trace_id = TraceId::random();
        if !self.ratio.samples(trace_id) {
            return None;
        }
        let header = TraceParent {
            trace_id,
            parent_id: SpanId::random(),
            flags: TraceFlags::sampled(true),
        };
        Some(Traced {
            trace_id,
            header: header.to_bytes(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_zero_builds_nothing_and_one_traces_everything() {
        assert!(TraceSampler::new(0.0).is_none());
        assert!(TraceSampler::new(-0.1).is_none());
        assert!(TraceSampler::new(1.5).is_none());
        assert!(TraceSampler::new(f64::NAN).is_none());
        let all = TraceSampler::new(1.0).expect("valid");
        for _ in 0..1000 {
            let t = all.pick().expect("ratio 1 traces every request");
            let parsed = trace::TraceParent::parse(&t.header).expect("a valid traceparent");
            assert_eq!(parsed.trace_id, t.trace_id);
            assert!(parsed.flags.is_sampled());
            assert!(t.header.starts_with(b"00-") && t.header.ends_with(b"-01"));
        }
    }

    #[test]
    fn a_fraction_is_traced_with_fresh_ids() {
        let half = TraceSampler::new(0.5).expect("valid");
        let mut seen = std::collections::HashSet::new();
        let n = 20_000;
        let traced = (0..n)
            .filter_map(|_| half.pick())
            .inspect(|t| assert!(seen.insert(t.trace_id), "a trace id twice"))
            .count();
        // Binomial(20000, 0.5): sd about 71; 6 sd either side.
        assert!((9_575..=10_425).contains(&traced), "{traced} of {n}");
    }
}
