//! A span's context: the ids and flags that travel in `traceparent`, and the `tracestate` that
//! goes with them. Read from a request's headers ([`SpanContext::extract`]) it is the caller's
//! span, the parent; made new ([`SpanContext::root`], [`SpanContext::child`]) it is a span of
//! ours, whose `traceparent` goes on the requests we send.

use crate::ids::{SpanId, TraceId};
use crate::traceparent::{TraceFlags, TraceParent};
use crate::tracestate::TraceState;

/// The identity of one span and what is propagated with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpanContext {
    /// The trace the span belongs to.
    pub trace_id: TraceId,
    /// The span itself.
    pub span_id: SpanId,
    /// Its flags; `sampled` says whether it is recorded and exported.
    pub flags: TraceFlags,
    /// The vendors' entries received with the trace, passed on unchanged.
    pub trace_state: TraceState,
}

impl SpanContext {
    /// The caller's span from a request's `traceparent` and `tracestate` fields (every field of
    /// each name, in order). `None` when there is no valid parent: no `traceparent`, more than
    /// one, or one that breaks the spec's rules. Then the request starts a new trace, as the spec
    /// says; a bad header never fails a request. `tracestate` is read only with a valid parent,
    /// and an invalid one is dropped without affecting the parent.
    pub fn extract<'a, P, S>(traceparent: P, tracestate: S) -> Option<SpanContext>
    where
        P: IntoIterator<Item = &'a [u8]>,
        S: IntoIterator<Item = &'a [u8]>,
    {
        let mut fields = traceparent.into_iter();
        let value = fields.next()?;
        if fields.next().is_some() {
            return None;
        }
        let parent = TraceParent::parse(value).ok()?;
        Some(SpanContext {
            trace_id: parent.trace_id,
            span_id: parent.parent_id,
            flags: parent.flags,
            trace_state: TraceState::parse_all(tracestate),
        })
    }

    /// A span that starts a new trace: fresh random ids, no trace state.
    pub fn root(sampled: bool) -> SpanContext {
        SpanContext {
            trace_id: TraceId::random(),
            span_id: SpanId::random(),
            flags: TraceFlags::sampled(sampled),
            trace_state: TraceState::default(),
        }
    }

    /// A span of the same trace under this one: a fresh span id, the given sampling decision
    /// (flags other than `sampled` are not passed on, as the spec asks), the same trace state.
    pub fn child(&self, sampled: bool) -> SpanContext {
        SpanContext {
            trace_id: self.trace_id,
            span_id: SpanId::random(),
            flags: TraceFlags::sampled(sampled),
            trace_state: self.trace_state.clone(),
        }
    }

    /// Whether the span is sampled (recorded and exported).
    pub fn is_sampled(&self) -> bool {
        self.flags.is_sampled()
    }

    /// The `traceparent` that names this span as the parent of a request we send.
    pub fn traceparent(&self) -> TraceParent {
        TraceParent {
            trace_id: self.trace_id,
            parent_id: self.span_id,
            flags: self.flags,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARENT: &[u8] = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_parent_is_read_with_its_trace_state() {
        let ctx = SpanContext::extract([PARENT], [b"congo=t61rcWkgMzE".as_slice()])
            .expect("a valid parent");
        assert_eq!(ctx.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(ctx.span_id.to_string(), "00f067aa0ba902b7");
        assert!(ctx.is_sampled());
        assert_eq!(ctx.trace_state.as_str(), "congo=t61rcWkgMzE");
        assert_eq!(ctx.traceparent().to_bytes(), PARENT);

        let child = ctx.child(false);
        assert_eq!(child.trace_id, ctx.trace_id);
        assert_ne!(child.span_id, ctx.span_id);
        assert!(!child.is_sampled());
        assert_eq!(child.trace_state, ctx.trace_state);
        let header = child.traceparent().to_string();
        assert!(
            header.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
            "{header}"
        );
        assert!(header.ends_with("-00"), "{header}");
    }

    #[test]
    fn unknown_flags_are_not_passed_on() {
        let odd = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff";
        let ctx = SpanContext::extract([odd.as_slice()], []).expect("valid");
        assert_eq!(ctx.flags.to_byte(), 0xff, "kept as received");
        assert_eq!(
            ctx.child(true).flags.to_byte(),
            0x01,
            "only sampled is sent"
        );
    }

    #[test]
    fn no_parent_when_traceparent_is_missing_repeated_or_invalid() {
        let none: [&[u8]; 0] = [];
        assert!(SpanContext::extract(none, [b"a=1".as_slice()]).is_none());
        assert!(
            SpanContext::extract([PARENT, PARENT], none).is_none(),
            "two fields"
        );
        assert!(SpanContext::extract([b"garbage".as_slice()], none).is_none());
        // An invalid tracestate does not invalidate the parent.
        let ctx = SpanContext::extract([PARENT], [b"A=1".as_slice()]).expect("parent kept");
        assert!(ctx.trace_state.is_empty());
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_mutated_headers_are_read_or_ignored() {
        use rand::Rng;
        let mut rng = rand::rng();
        let state = b"congo=t61rcWkgMzE,rojo=00f067aa0ba902b7";
        for _ in 0..50_000 {
            let len = rng.random_range(0..600);
            let noise: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            let _ = SpanContext::extract([noise.as_slice()], [noise.as_slice()]);
            // One byte of a valid pair changed: either still valid or ignored, never more.
            let mut parent = PARENT.to_vec();
            let i = rng.random_range(0..parent.len());
            parent[i] = rng.random();
            let mut ts = state.to_vec();
            let j = rng.random_range(0..ts.len());
            ts[j] = rng.random();
            if let Some(ctx) = SpanContext::extract([parent.as_slice()], [ts.as_slice()]) {
                // The same fields; a later version is written back as 00.
                assert_eq!(ctx.traceparent().to_bytes()[2..], parent[2..]);
                assert!(ctx.trace_state.is_empty() || ctx.trace_state.as_str().len() <= 512);
            }
        }
    }

    #[test]
    fn roots_start_new_traces() {
        let a = SpanContext::root(true);
        let b = SpanContext::root(false);
        assert_ne!(a.trace_id, b.trace_id);
        assert!(a.is_sampled() && !b.is_sampled());
        assert!(a.trace_state.is_empty());
        let round = SpanContext::extract([a.traceparent().to_bytes().as_slice()], [])
            .expect("our own header is valid");
        assert_eq!(round, a);
    }
}
