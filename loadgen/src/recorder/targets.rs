//! Per-entry rows of a `--targets` mix: status counts, error kinds and latency for each entry,
//! so a report shows which entry got the 400s. Kept only for a mix of two or more entries.
//!
//! Each worker keeps its own rows (no locks per request) and they are added together when the
//! workers are merged, like the status counts. Memory grows with workers × rows, so the rows'
//! histograms resize to the latencies seen and keep [`TARGET_SIGFIG`] significant digits
//! (percentiles within 1 %), and a mix of more than [`MAX_TARGET_ROWS`] entries shares the last
//! row among the rest.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::answer::ErrorKind;
use super::interval::add_hist;

/// Most rows a run keeps; the entries from the last row's index on share it.
pub const MAX_TARGET_ROWS: usize = 32;
/// Significant decimal digits of the per-entry histograms.
pub const TARGET_SIGFIG: u8 = 2;

/// An empty per-entry histogram: auto-resizing from 1 µs, [`TARGET_SIGFIG`] digits.
pub fn new_target_histogram() -> Histogram<u64> {
    Histogram::new(TARGET_SIGFIG).expect("2 significant digits is a valid precision")
}

/// One row of the per-entry table.
#[derive(Clone, Debug)]
pub struct TargetStats {
    /// The index of the (first) entry of the mix in this row, from 0 as in the targets file.
    pub index: usize,
    /// How many entries share this row: 1, or more for the last row of a large mix.
    pub entries: usize,
    /// Method and path of the entry (`POST /api/v1/sum`), or what the shared row holds.
    pub label: String,
    /// Complete exchanges per status code ("200": n).
    pub status_counts: BTreeMap<String, u64>,
    /// Failures per [`ErrorKind`], indexed by [`ErrorKind::index`].
    pub error_kinds: [u64; 6],
    /// Latency from the intended send time, µs.
    pub corrected: Histogram<u64>,
    /// Latency from the actual send time, µs.
    pub uncorrected: Histogram<u64>,
}

impl TargetStats {
    /// An empty row.
    pub fn new(index: usize, entries: usize, label: String) -> TargetStats {
        TargetStats {
            index,
            entries,
            label,
            status_counts: BTreeMap::new(),
            error_kinds: [0; 6],
            corrected: new_target_histogram(),
            uncorrected: new_target_histogram(),
        }
    }

    /// Requests of this row.
    pub fn total(&self) -> u64 {
        self.corrected.len()
    }

    /// Adds `other` (the same row of another worker or log) into this one.
    pub fn add(&mut self, other: &TargetStats) {
        for (code, n) in &other.status_counts {
            *self.status_counts.entry(code.clone()).or_insert(0) += n;
        }
        for (a, b) in self.error_kinds.iter_mut().zip(other.error_kinds) {
            *a += b;
        }
        add_hist(&mut self.corrected, &other.corrected);
        add_hist(&mut self.uncorrected, &other.uncorrected);
    }
}

/// The rows of a mix of `labels` (one per entry): one per entry up to [`MAX_TARGET_ROWS`], the
/// rest sharing the last; none for fewer than two entries.
pub fn layout(labels: &[String]) -> Vec<(usize, usize, String)> {
    if labels.len() < 2 {
        return Vec::new();
    }
    if labels.len() <= MAX_TARGET_ROWS {
        return labels
            .iter()
            .enumerate()
            .map(|(i, l)| (i, 1, l.clone()))
            .collect();
    }
    let last = MAX_TARGET_ROWS - 1;
    let mut rows: Vec<(usize, usize, String)> = labels[..last]
        .iter()
        .enumerate()
        .map(|(i, l)| (i, 1, l.clone()))
        .collect();
    let rest = labels.len() - last;
    rows.push((
        last,
        rest,
        format!("entries {last} to {} together", labels.len() - 1),
    ));
    rows
}

/// One worker's counts for one row, kept small: statuses in a short list.
#[derive(Clone, Debug)]
pub(super) struct RowAcc {
    statuses: Vec<(u16, u64)>,
    kinds: [u64; 6],
    corrected: Histogram<u64>,
    uncorrected: Histogram<u64>,
}

impl RowAcc {
    fn new() -> RowAcc {
        RowAcc {
            statuses: Vec::new(),
            kinds: [0; 6],
            corrected: new_target_histogram(),
            uncorrected: new_target_histogram(),
        }
    }

    fn add(&mut self, other: &RowAcc) {
        for &(code, n) in &other.statuses {
            self.count_status(code, n);
        }
        for (a, b) in self.kinds.iter_mut().zip(other.kinds) {
            *a += b;
        }
        add_hist(&mut self.corrected, &other.corrected);
        add_hist(&mut self.uncorrected, &other.uncorrected);
    }

    fn count_status(&mut self, code: u16, n: u64) {
        match self.statuses.iter_mut().find(|(c, _)| *c == code) {
            Some((_, m)) => *m += n,
            None => self.statuses.push((code, n)),
        }
    }
}

/// One worker's rows, created on first use.
#[derive(Clone, Debug, Default)]
pub(super) struct Rows(Vec<Option<Box<RowAcc>>>);

impl Rows {
    /// Rows for a mix laid out in `n` rows (0: none kept).
    pub(super) fn new(n: usize) -> Rows {
        Rows(vec![None; n])
    }

    /// Counts one request of entry `target`; µs latencies are already clamped.
    pub(super) fn record(
        &mut self,
        target: usize,
        status: Option<u16>,
        kind: Option<ErrorKind>,
        corrected_us: u64,
        uncorrected_us: u64,
    ) {
        let Some(last) = self.0.len().checked_sub(1) else {
            return;
        };
        let row = self.0[target.min(last)].get_or_insert_with(|| Box::new(RowAcc::new()));
        if let Some(code) = status {
            row.count_status(code, 1);
        }
        if let Some(k) = kind {
            row.kinds[k.index()] += 1;
        }
        // `record` grows the histogram; values are already within loadgen's range.
        for (h, v) in [
            (&mut row.corrected, corrected_us),
            (&mut row.uncorrected, uncorrected_us),
        ] {
            if h.record(v).is_err() {
                h.saturating_record(v);
            }
        }
    }

    /// Adds another worker's rows.
    pub(super) fn add(&mut self, other: &Rows) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), None);
        }
        for (mine, theirs) in self.0.iter_mut().zip(&other.0) {
            if let Some(t) = theirs {
                mine.get_or_insert_with(|| Box::new(RowAcc::new())).add(t);
            }
        }
    }

    /// The table for `labels` (see [`layout`]); rows without requests are shown too.
    pub(super) fn stats(&self, labels: &[String]) -> Vec<TargetStats> {
        layout(labels)
            .into_iter()
            .enumerate()
            .map(|(i, (index, entries, label))| {
                let mut s = TargetStats::new(index, entries, label);
                if let Some(Some(acc)) = self.0.get(i) {
                    let mut statuses = acc.statuses.clone();
                    statuses.sort_unstable();
                    s.status_counts = statuses
                        .into_iter()
                        .map(|(c, n)| (c.to_string(), n))
                        .collect();
                    s.error_kinds = acc.kinds;
                    s.corrected = acc.corrected.clone();
                    s.uncorrected = acc.uncorrected.clone();
                }
                s
            })
            .collect()
    }
}
