//! What became of the spans handed to the exporter, counted for the process's metrics. Every
//! sampled span recorded ends in exactly one counter once the exporter has shut down:
//! `exported + dropped + failed` equals the number recorded.

use std::sync::atomic::{AtomicU64, Ordering};

/// The live counters, shared by the callers (who count drops) and the export thread.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    exported: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
}

impl Counters {
    pub(crate) fn exported(&self, n: usize) {
        self.exported.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn dropped(&self, n: usize) {
        self.dropped.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn failed(&self, n: usize) {
        self.failed.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> ExportCounts {
        ExportCounts {
            exported: self.exported.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }
}

/// The counts at one moment; each only grows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExportCounts {
    /// Spans the collector accepted (a 2xx answer, less any it reported rejecting).
    pub exported: u64,
    /// Spans never sent: the queue was full when recorded (the exporter was slow, stalled or
    /// down), recorded after shutdown, or still queued when the shutdown's time ran out.
    pub dropped: u64,
    /// Spans sent in a batch that failed: an error answer, no answer within the timeout, no
    /// connection, or rejected by the collector. They are not retried. A request that timed
    /// out may still have reached the collector, so a few of these may show up there after all.
    pub failed: u64,
}

impl ExportCounts {
    /// Every span accounted for.
    pub fn total(&self) -> u64 {
        self.exported + self.dropped + self.failed
    }
}
