//! `--hlog`: an HdrHistogram interval log (the format of Java's `HistogramLogWriter`, read by
//! `HistogramLogProcessor`, Python's `hdrhistogram` and this module), one interval per second,
//! V2 deflate-compressed histograms of **microseconds**.
//!
//! Tags: each outcome class has two lines per interval, `Tag=2xx` (corrected latency, from the
//! intended send time) and `Tag=2xx.uncorrected` (from the actual send); classes are `2xx 3xx
//! 4xx 429 5xx error timeout`. One *untagged* line per interval holds all classes' corrected
//! latency, so tools that read only untagged histograms plot the headline distribution;
//! loadgen ignores it when reading (it is derived). Header: `#[Generator: ID]`, the run's
//! parameters (`#[Url: …]`, `#[TargetRate: …]`, and for a ramp `#[Stages: …]`, the flags that
//! made it, whose mean scheduled rate TargetRate then is), `#[Histogram log format version 1.3]`,
//! `#[StartTime: …]`, `#[BaseTime: …]` (interval timestamps are offsets from BaseTime, the start
//! of measurement) and the legend; the log ends with `#[StatusCounts: 200=n …]`, whose absence
//! marks a truncated log. Just before it, comment lines carry the failures by error kind and
//! the per-entry rows of a `--targets` mix (see `hlog_totals.rs`).
//!
//! The writer flushes the header and each interval to the file as it writes them, each
//! interval in one write, so that a run that dies (a crash, `kill -9`) leaves a log whose
//! intervals up to the last finalized second are readable by HdrHistogram's readers (the
//! recorder finalizes a second a moment after it ends, see [`crate::recorder`]); only the closing
//! `#[StatusCounts: …]` line is then missing. A run stopped by SIGINT or SIGTERM ends its log
//! as usual.
//!
//! Reading ([`HlogFile::read`], [`summarize`]) places every interval at its *absolute* time
//! (BaseTime + offset), so logs of generators that started together line up second by second,
//! and adds histograms (never percentiles) into one exact [`Summary`].

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::interval_log::{
    IntervalLogIterator, IntervalLogWriterBuilder, LogEntry, LogIteratorError, Tag,
};
use hdrhistogram::serialization::{Deserializer, V2DeflateSerializer};

use crate::recorder::{
    ErrorKind, HIGHEST_US, IntervalSink, MAX_SECONDS, Outcome, Recorder, Slot, Summary,
    TargetStats, new_histogram,
};

#[path = "hlog_totals.rs"]
mod totals;

const LEGEND: &str =
    "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"";
const UNCORRECTED: &str = ".uncorrected";
/// The writer's buffer: larger than the lines of one interval (two per class and one for all,
/// each a compressed histogram of a few hundred bytes to a few KiB), so each interval reaches
/// the file in one write when flushed.
const INTERVAL_BUFFER: usize = 1 << 16;
const STATUS_PREFIX: &str = "#[StatusCounts:";
/// Largest interval log read back (1 GiB): a day at one interval per second is a few hundred
/// MiB; anything larger is not one of ours.
const MAX_HLOG_BYTES: u64 = 1 << 30;
/// Largest gap between generators' logs that still counts as one run.
const MAX_GAP: Duration = Duration::from_secs(60);

/// What the header of a log says about its run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HlogMeta {
    /// `--generator-id`.
    pub generator: Option<String>,
    /// Target URL (or targets file).
    pub url: Option<String>,
    /// This generator's target rate, requests/s (open model; with `stages`, their mean
    /// scheduled rate).
    pub target_rate: Option<f64>,
    /// With `--stage`: the ramp, as the flags that make it (`--rate 100 --stage 5s:100 …`), so
    /// that a reader knows the target rate is a ramp's mean.
    pub stages: Option<String>,
    /// The measurement window of a duration-bound run (requests sent in it; completions may
    /// come up to --timeout later), for the achieved rate of merged logs.
    pub window: Option<Duration>,
}

/// Streams intervals into an interval log file; attach with [`Recorder::set_sink`].
pub struct HlogWriter {
    out: BufWriter<File>,
    meta: HlogMeta,
    serializer: V2DeflateSerializer,
    all: Histogram<u64>,
}

impl HlogWriter {
    /// Creates (truncates) `path` now, so that a bad path fails before the run starts.
    pub fn create(path: &Path, meta: HlogMeta) -> io::Result<HlogWriter> {
        let file = File::create(path).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot create the interval log `{}`: {e}", path.display()),
            )
        })?;
        Ok(HlogWriter {
            out: BufWriter::with_capacity(INTERVAL_BUFFER, file),
            meta,
            serializer: V2DeflateSerializer::new(),
            all: new_histogram(),
        })
    }

    fn write(
        &mut self,
        h: &Histogram<u64>,
        start: Duration,
        length: Duration,
        tag: Option<&str>,
    ) -> io::Result<()> {
        let tag = tag.and_then(Tag::new);
        // A fresh writer per line: the builder writes no header when given none, and this way
        // the file and serializer stay owned here rather than borrowed for the whole run.
        let mut w =
            IntervalLogWriterBuilder::new().begin_log_with(&mut self.out, &mut self.serializer)?;
        w.write_histogram(h, start, length, tag)
            .map_err(|e| io::Error::other(e.to_string()))
    }
}

/// One line of text for a header comment: no line breaks can sneak in.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

impl IntervalSink for HlogWriter {
    fn start(&mut self, epoch_wall: SystemTime) -> io::Result<()> {
        let mut b = IntervalLogWriterBuilder::new();
        if let Some(g) = &self.meta.generator {
            b.add_comment(&format!("[Generator: {}]", one_line(g)));
        }
        b.add_comment(&format!(
            "[Loadgen: loadgen {}; values in microseconds; one interval per second]",
            env!("CARGO_PKG_VERSION")
        ));
        b.add_comment("[Tags: untagged = all classes corrected; CLASS = corrected; CLASS.uncorrected = uncorrected; CLASS in 2xx 3xx 4xx 429 5xx error timeout]");
        if let Some(u) = &self.meta.url {
            b.add_comment(&format!("[Url: {}]", one_line(u)));
        }
        if let Some(r) = self.meta.target_rate {
            b.add_comment(&format!("[TargetRate: {r}]"));
        }
        if let Some(s) = &self.meta.stages {
            b.add_comment(&format!("[Stages: {}]", one_line(s)));
        }
        if let Some(w) = self.meta.window {
            b.add_comment(&format!("[Window: {:.3}]", w.as_secs_f64()));
        }
        b.add_comment("[Histogram log format version 1.3]");
        b.with_start_time(epoch_wall).with_base_time(epoch_wall);
        b.begin_log_with(&mut self.out, &mut self.serializer)?;
        writeln!(self.out, "{LEGEND}")?;
        self.out.flush()
    }

    fn interval(&mut self, start: Duration, length: Duration, slot: &Slot) -> io::Result<()> {
        let mut all = std::mem::replace(&mut self.all, new_histogram());
        all.reset();
        for o in Outcome::ALL {
            if let Some(p) = slot.get(o) {
                let _ = all.add(&p.corrected);
            }
        }
        let r = self.write(&all, start, length, None);
        self.all = all;
        r?;
        for o in Outcome::ALL {
            if let Some(p) = slot.get(o).filter(|p| !p.corrected.is_empty()) {
                self.write(&p.corrected, start, length, Some(o.tag()))?;
                self.write(
                    &p.uncorrected,
                    start,
                    length,
                    Some(&format!("{}{UNCORRECTED}", o.tag())),
                )?;
            }
        }
        // On disk now: a run that dies later keeps this second.
        self.out.flush()
    }

    fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        totals::write(&mut self.out, &mut self.serializer, summary)?;
        write!(self.out, "{STATUS_PREFIX}")?;
        for (code, n) in &summary.status_counts {
            write!(self.out, " {code}={n}")?;
        }
        writeln!(self.out, "]")?;
        self.out.flush()
    }
}

/// Why an interval log cannot be used; every variant is a problem with an input file.
#[derive(Debug, thiserror::Error)]
pub enum HlogError {
    /// The file cannot be read.
    #[error("cannot read `{path}`: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Something in the file is not what an interval log holds.
    #[error("`{path}` line {line}: {what}")]
    Bad {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong, and what to do.
        what: String,
    },
    /// The file as a whole is unusable (empty, truncated, foreign).
    #[error("`{path}`: {what}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong, and what to do.
        what: String,
    },
    /// The files do not belong together.
    #[error("{0}")]
    Mismatch(String),
}

/// One tagged interval of a log, not yet decoded.
#[derive(Debug, Clone)]
struct Entry {
    /// Absolute start, since the Unix epoch.
    start: Duration,
    length: Duration,
    outcome: Outcome,
    corrected: bool,
    line: usize,
    encoded: String,
}

/// An interval log read into memory (histograms are decoded only when summarized).
#[derive(Debug, Clone)]
pub struct HlogFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its header.
    pub meta: HlogMeta,
    /// Start of measurement (StartTime), since the Unix epoch.
    pub start: Duration,
    /// From the closing `#[StatusCounts: …]` line.
    pub status_counts: BTreeMap<String, u64>,
    /// From the closing lines before it: error kinds and per-entry rows.
    totals: totals::Totals,
    entries: Vec<Entry>,
}

impl HlogFile {
    /// Reads and checks `path` (its histograms are checked when summarized).
    pub fn read(path: &Path) -> Result<HlogFile, HlogError> {
        let bytes = crate::input::read_capped(path, MAX_HLOG_BYTES, true).map_err(|source| {
            HlogError::Read {
                path: path.to_owned(),
                source,
            }
        })?;
        Self::parse(path, &bytes)
    }

    /// Parses the bytes of a log; `path` only names it in errors.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<HlogFile, HlogError> {
        let file_err = |what: &str| HlogError::File {
            path: path.to_owned(),
            what: what.to_string(),
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(file_err("the file is empty: not an interval log"));
        }
        let line_of = |offset: usize| {
            bytes[..offset.min(bytes.len())]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1
        };
        let bad = |offset: usize, what: String| HlogError::Bad {
            path: path.to_owned(),
            line: line_of(offset),
            what,
        };
        let text = std::str::from_utf8(bytes).map_err(|e| {
            bad(
                e.valid_up_to(),
                "not UTF-8 text: not an interval log".into(),
            )
        })?;

        let mut meta = HlogMeta::default();
        let mut status_counts = None;
        let mut totals = totals::Totals::default();
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            let l = line.trim_end();
            if let Some(v) = header_value(l, "#[Generator:") {
                meta.generator = Some(v.to_string());
            } else if let Some(v) = header_value(l, "#[Url:") {
                meta.url = Some(v.to_string());
            } else if let Some(v) = header_value(l, "#[TargetRate:") {
                meta.target_rate = v.parse().ok().filter(|r: &f64| r.is_finite() && *r > 0.0);
            } else if let Some(v) = header_value(l, "#[Stages:") {
                meta.stages = Some(v.to_string()).filter(|s| !s.is_empty());
            } else if let Some(v) = header_value(l, "#[Window:") {
                meta.window = v
                    .parse()
                    .ok()
                    .and_then(|w: f64| Duration::try_from_secs_f64(w).ok())
                    .filter(|w| !w.is_zero());
            } else if totals.take(l).map_err(|what| bad(offset, what))? {
                // An error kinds or per-entry line.
            } else if let Some(v) = header_value(l, STATUS_PREFIX) {
                let mut counts = BTreeMap::new();
                for kv in v.split_whitespace() {
                    let parsed = kv
                        .split_once('=')
                        .and_then(|(k, n)| Some((k.to_string(), n.parse::<u64>().ok()?)));
                    let (k, n) =
                        parsed.ok_or_else(|| bad(offset, format!("bad status count `{kv}`")))?;
                    *counts.entry(k).or_insert(0) += n;
                }
                status_counts = Some(counts);
            }
            offset += line.len();
        }

        let (mut start_time, mut base_time, mut entries) = (None, None, Vec::new());
        let mut offset = 0;
        for raw in bytes.split_inclusive(|b| *b == b'\n') {
            let line_offset = offset;
            offset += raw.len();
            // Each line through HdrHistogram's own parser, so that errors name their line.
            for item in IntervalLogIterator::new(raw) {
                match item {
                    Err(LogIteratorError::ParseError { .. }) => {
                        let what = if raw.ends_with(b"\n") {
                            "not an interval log line (expected a comment, a header or `[Tag=T,]start,length,max,histogram`)"
                        } else {
                            "the last line is incomplete: the log is truncated"
                        };
                        return Err(bad(line_offset, what.into()));
                    }
                    Ok(LogEntry::StartTime(t)) => start_time = Some(t),
                    Ok(LogEntry::BaseTime(t)) => base_time = Some(t),
                    Ok(LogEntry::Interval(h)) => {
                        let Some(tag) = h.tag() else { continue }; // the derived all-classes line
                        let (class, corrected) = match tag.as_str().strip_suffix(UNCORRECTED) {
                            Some(c) => (c, false),
                            None => (tag.as_str(), true),
                        };
                        let outcome = Outcome::from_tag(class).ok_or_else(|| {
                            bad(
                                line_offset,
                                format!(
                                    "unknown tag `{}`: not a loadgen interval log",
                                    tag.as_str()
                                ),
                            )
                        })?;
                        // Java's heuristic: with only a StartTime, small timestamps are offsets.
                        let base = match (base_time, start_time) {
                            (Some(b), _) => b,
                            (None, Some(s))
                                if h.start_timestamp().as_secs() + 365 * 86400 < s.as_secs() =>
                            {
                                s
                            }
                            _ => Duration::ZERO,
                        };
                        entries.push(Entry {
                            start: base + h.start_timestamp(),
                            length: h.duration(),
                            outcome,
                            corrected,
                            line: line_of(line_offset),
                            encoded: h.encoded_histogram().to_string(),
                        });
                    }
                }
            }
        }
        if entries.is_empty() {
            return Err(file_err(
                "no loadgen intervals (tags 2xx, 2xx.uncorrected, …): not a loadgen interval log, or a run without requests",
            ));
        }
        let status_counts = status_counts.ok_or_else(|| {
            file_err("the closing `#[StatusCounts: …]` line is missing: the log is truncated (did the generator stop early?)")
        })?;
        let first = entries.iter().map(|e| e.start).min().unwrap_or_default();
        Ok(HlogFile {
            path: path.to_owned(),
            meta,
            start: start_time.or(base_time).unwrap_or(first),
            status_counts,
            totals,
            entries,
        })
    }

    /// The generator's name, or the file's when the log has none.
    pub fn generator(&self) -> String {
        self.meta
            .generator
            .clone()
            .unwrap_or_else(|| format!("{} (unnamed)", self.path.display()))
    }
}

fn header_value<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    Some(line.strip_prefix(prefix)?.strip_suffix(']')?.trim())
}

impl Entry {
    fn decode(&self, path: &Path) -> Result<Histogram<u64>, HlogError> {
        let bad = |what: String| HlogError::Bad {
            path: path.to_owned(),
            line: self.line,
            what,
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(self.encoded.trim())
            .map_err(|e| {
                bad(format!(
                    "histogram is not base64 ({e}): the log is corrupt or truncated"
                ))
            })?;
        let h: Histogram<u64> = Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| {
                bad(format!(
                    "histogram cannot be decoded ({e:?}): the log is corrupt or truncated"
                ))
            })?;
        if h.max() > HIGHEST_US {
            return Err(bad(format!(
                "a value of {} is beyond loadgen's range (1 h in µs): not a loadgen interval log",
                h.max()
            )));
        }
        Ok(h)
    }
}

/// Merges the logs of one or more generators into one exact summary: every interval is placed
/// at its absolute time (whole seconds from the earliest start), histograms are added, never
/// percentiles averaged. Status counts are summed from each log's closing line.
pub fn summarize(files: &[HlogFile]) -> Result<Summary, HlogError> {
    let mut seen: BTreeMap<String, &Path> = BTreeMap::new();
    for f in files {
        if let Some(g) = &f.meta.generator
            && let Some(other) = seen.insert(g.clone(), &f.path)
        {
            return Err(HlogError::Mismatch(format!(
                "`{}` and `{}` both come from generator `{g}`: the same log twice? Give each generator its own --generator-id",
                other.display(),
                f.path.display()
            )));
        }
    }
    let Some(start) = files.iter().map(|f| f.start.min(first_start(f))).min() else {
        return Err(HlogError::Mismatch("no interval logs given".into()));
    };
    let end = files
        .iter()
        .flat_map(|f| &f.entries)
        .map(|e| e.start + e.length)
        .max()
        .unwrap_or(start);
    if end.saturating_sub(start).as_secs() > MAX_SECONDS {
        return Err(HlogError::Mismatch(format!(
            "the logs span {} days: they do not come from one run (start them together with --start-at)",
            end.saturating_sub(start).as_secs() / 86400
        )));
    }
    // Generators of one run overlap in time; a log that begins well after all the others
    // ended comes from another run, and merging it would report a long, mostly idle run.
    let mut spans: Vec<(Duration, Duration, &Path)> = files
        .iter()
        .map(|f| {
            let last = f.entries.iter().map(|e| e.start + e.length).max();
            let first = f.start.min(first_start(f));
            (first, last.unwrap_or(first), f.path.as_path())
        })
        .collect();
    spans.sort();
    let mut covered: Option<(Duration, &Path)> = None;
    for (from, to, path) in spans {
        if let Some((until, before)) = covered
            && from > until + MAX_GAP
        {
            return Err(HlogError::Mismatch(format!(
                "`{}` begins {} s after `{}` ended: the logs are not from one run (start generators together with --start-at)",
                path.display(),
                (from - until).as_secs(),
                before.display()
            )));
        }
        if covered.is_none_or(|(until, _)| to > until) {
            covered = Some((to, path));
        }
    }

    let mut order: Vec<(Duration, usize, usize)> = files
        .iter()
        .enumerate()
        .flat_map(|(fi, f)| {
            f.entries
                .iter()
                .enumerate()
                .map(move |(ei, e)| (e.start, fi, ei))
        })
        .collect();
    order.sort();
    let epoch_wall = UNIX_EPOCH + start;
    let mut rec = Recorder::new(Instant::now(), epoch_wall);
    let mut slot = Slot::default();
    let (mut second, mut slot_end) = (0u64, Duration::ZERO);
    // Per file and class: corrected and uncorrected counts, which must agree.
    let mut counts = vec![[[0u64; 2]; 7]; files.len()];
    for (abs, fi, ei) in order {
        let (f, e) = (&files[fi], &files[fi].entries[ei]);
        let s = abs.saturating_sub(start).as_secs();
        if s != second && slot.total() > 0 {
            rec.record_slot(second, &slot, slot_end);
            slot = Slot::default();
        }
        second = s;
        slot_end = slot_end.max((abs + e.length).saturating_sub(start));
        let h = e.decode(&f.path)?;
        counts[fi][e.outcome.index()][usize::from(!e.corrected)] += h.len();
        let pair = slot.get_mut(e.outcome);
        let into = if e.corrected {
            &mut pair.corrected
        } else {
            &mut pair.uncorrected
        };
        into.add(&h).map_err(|err| HlogError::Bad {
            path: f.path.clone(),
            line: e.line,
            what: format!("histogram cannot be added ({err:?})"),
        })?;
    }
    if slot.total() > 0 {
        rec.record_slot(second, &slot, slot_end);
    }
    for (f, c) in files.iter().zip(&counts) {
        if let Some(o) = Outcome::ALL
            .into_iter()
            .find(|o| c[o.index()][0] != c[o.index()][1])
        {
            return Err(HlogError::File {
                path: f.path.clone(),
                what: format!(
                    "class {} has {} corrected but {} uncorrected values: the log is incomplete or was edited",
                    o.tag(),
                    c[o.index()][0],
                    c[o.index()][1]
                ),
            });
        }
    }
    let mut summary = rec.summary();
    let mut status: BTreeMap<String, u64> = BTreeMap::new();
    for f in files {
        for (k, n) in &f.status_counts {
            *status.entry(k.clone()).or_insert(0) += n;
        }
    }
    let answered: u64 = [Outcome::Error, Outcome::Timeout]
        .iter()
        .map(|o| summary.count(*o))
        .sum();
    if status.values().sum::<u64>() != summary.total - answered {
        // Codes are unknown or incomplete: fall back to the classes the histograms know.
        status = summary
            .by_outcome
            .iter()
            .map(|(o, s)| (o.tag().to_string(), s.count))
            .collect();
    }
    summary.status_counts = status;
    summary.generators = files.iter().map(HlogFile::generator).collect();
    add_totals(&mut summary, files, &counts);
    Ok(summary)
}

/// The error kinds and per-entry rows of the logs, added up. A log without a kinds line (or
/// whose kinds do not add up to its error and timeout classes) counts its timeouts as
/// `timeout` and its other errors as `other`. Rows of the same entry (index and label) add up.
fn add_totals(summary: &mut Summary, files: &[HlogFile], counts: &[[[u64; 2]; 7]]) {
    let mut kinds = [0u64; 6];
    for (f, c) in files.iter().zip(counts) {
        let (timeouts, errors) = (c[Outcome::Timeout.index()][0], c[Outcome::Error.index()][0]);
        let theirs = f
            .totals
            .error_kinds
            .filter(|k| {
                k[ErrorKind::Timeout.index()] == timeouts
                    && k.iter().sum::<u64>() == timeouts + errors
            })
            .unwrap_or_else(|| {
                let mut k = [0; 6];
                k[ErrorKind::Timeout.index()] = timeouts;
                k[ErrorKind::Other.index()] = errors;
                k
            });
        for (a, b) in kinds.iter_mut().zip(theirs) {
            *a += b;
        }
    }
    summary.error_kinds = kinds;
    let mut rows: BTreeMap<(usize, String), TargetStats> = BTreeMap::new();
    for f in files {
        for t in f.totals.targets.values() {
            match rows.get_mut(&(t.index, t.label.clone())) {
                Some(row) => row.add(t),
                None => {
                    rows.insert((t.index, t.label.clone()), t.clone());
                }
            }
        }
    }
    summary.targets = rows.into_values().collect();
}

fn first_start(f: &HlogFile) -> Duration {
    f.entries.iter().map(|e| e.start).min().unwrap_or(f.start)
}

#[cfg(test)]
#[path = "hlog_tests.rs"]
mod tests;
