//! The closing comment lines of an interval log that carry what its tagged intervals cannot:
//! the run's failures by error kind and the per-entry rows of a `--targets` mix. They come just
//! before `#[StatusCounts: …]` (which stays last: its presence marks a complete log), and
//! HdrHistogram's readers skip them as comments:
//!
//! ```text
//! #[ErrorKinds: refused=0 reset=2 timeout=1 tls=0 malformed=5 other=0]
//! #[Target 0 label: POST /api/v1/sum]
//! #[Target 0 counts: entries=1 200=480 400=20 timeout=1]
//! #[Target 0 latency: BASE64 BASE64]
//! ```
//!
//! `counts` holds status codes and error kinds by name; `latency` the entry's corrected and
//! uncorrected histograms (µs, V2 deflate, base64) for the run as a whole, not per second. Logs
//! written before these lines existed still read: their errors count as `other` and timeouts as
//! `timeout`, and they have no per-entry rows.

use std::collections::BTreeMap;
use std::io::{self, Write};

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};

use crate::recorder::{
    ErrorKind, HIGHEST_US, MAX_TARGET_ROWS, Summary, TargetStats, new_target_histogram,
};

const KINDS_PREFIX: &str = "#[ErrorKinds:";
const TARGET_PREFIX: &str = "#[Target ";
/// Most entries one shared row may stand for (the largest targets file).
const MAX_ENTRIES: usize = 1_000_000;

/// What the closing lines of one log say.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    /// Failures per kind, when the log has the line.
    pub error_kinds: Option<[u64; 6]>,
    /// Per-entry rows, by row index.
    pub targets: BTreeMap<usize, TargetStats>,
}

/// Writes the closing lines of `summary` (before the status counts).
pub fn write(
    out: &mut impl Write,
    serializer: &mut V2DeflateSerializer,
    summary: &Summary,
) -> io::Result<()> {
    write!(out, "{KINDS_PREFIX}")?;
    for k in ErrorKind::ALL {
        write!(out, " {}={}", k.tag(), summary.errors_of(k))?;
    }
    writeln!(out, "]")?;
    for (row, t) in summary.targets.iter().enumerate() {
        writeln!(
            out,
            "{TARGET_PREFIX}{row} label: {}]",
            super::one_line(&t.label)
        )?;
        write!(
            out,
            "{TARGET_PREFIX}{row} counts: index={} entries={}",
            t.index, t.entries
        )?;
        for (code, n) in &t.status_counts {
            write!(out, " {code}={n}")?;
        }
        for k in ErrorKind::ALL {
            let n = t.error_kinds[k.index()];
            if n > 0 {
                write!(out, " {}={n}", k.tag())?;
            }
        }
        writeln!(out, "]")?;
        writeln!(
            out,
            "{TARGET_PREFIX}{row} latency: {} {}]",
            encode(serializer, &t.corrected)?,
            encode(serializer, &t.uncorrected)?
        )?;
    }
    Ok(())
}

fn encode(serializer: &mut V2DeflateSerializer, h: &Histogram<u64>) -> io::Result<String> {
    let mut bytes = Vec::new();
    serializer
        .serialize(h, &mut bytes)
        .map_err(|e| io::Error::other(format!("{e:?}")))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn decode(text: &str) -> Result<Histogram<u64>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| format!("per-entry histogram is not base64 ({e}): the log is corrupt"))?;
    let h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| {
            format!("per-entry histogram cannot be decoded ({e:?}): the log is corrupt")
        })?;
    if h.max() > HIGHEST_US {
        return Err(format!(
            "a per-entry value of {} is beyond loadgen's range (1 h in µs)",
            h.max()
        ));
    }
    // Into a histogram of our own precision, so that rows of several logs add up.
    let mut ours = new_target_histogram();
    ours.add(&h)
        .map_err(|e| format!("per-entry histogram cannot be added ({e:?})"))?;
    Ok(ours)
}

impl Totals {
    /// Takes `line` when it is one of the closing lines: `Ok(true)` taken, `Ok(false)` not
    /// one of ours, `Err` what is wrong with it.
    pub fn take(&mut self, line: &str) -> Result<bool, String> {
        if let Some(v) = line.strip_prefix(KINDS_PREFIX) {
            let v = v
                .strip_suffix(']')
                .ok_or("the error kinds line is not closed")?;
            let mut kinds = [0u64; 6];
            for kv in v.split_whitespace() {
                let (k, n) = kv
                    .split_once('=')
                    .and_then(|(k, n)| Some((ErrorKind::from_tag(k)?, n.parse::<u64>().ok()?)))
                    .ok_or_else(|| format!("bad error kind count `{kv}`"))?;
                kinds[k.index()] += n;
            }
            self.error_kinds = Some(kinds);
            return Ok(true);
        }
        let Some(rest) = line.strip_prefix(TARGET_PREFIX) else {
            return Ok(false);
        };
        let rest = rest
            .strip_suffix(']')
            .ok_or("a per-entry line is not closed")?;
        let (row, rest) = rest
            .split_once(' ')
            .ok_or("a per-entry line has no row number")?;
        let row: usize = row
            .parse()
            .ok()
            .filter(|r| *r < MAX_TARGET_ROWS)
            .ok_or_else(|| format!("per-entry row `{row}` is not 0..{MAX_TARGET_ROWS}"))?;
        let t = self
            .targets
            .entry(row)
            .or_insert_with(|| TargetStats::new(row, 1, String::new()));
        if let Some(label) = rest.strip_prefix("label: ") {
            t.label = label.trim().to_string();
        } else if let Some(counts) = rest.strip_prefix("counts: ") {
            for kv in counts.split_whitespace() {
                let (k, n) = kv
                    .split_once('=')
                    .and_then(|(k, n)| Some((k, n.parse::<u64>().ok()?)))
                    .ok_or_else(|| format!("bad per-entry count `{kv}`"))?;
                let as_usize = || {
                    usize::try_from(n)
                        .ok()
                        .filter(|n| *n <= MAX_ENTRIES)
                        .ok_or_else(|| format!("per-entry `{kv}` is out of range"))
                };
                if k == "index" {
                    t.index = as_usize()?;
                } else if k == "entries" {
                    t.entries = as_usize()?.max(1);
                } else if let Some(kind) = ErrorKind::from_tag(k) {
                    t.error_kinds[kind.index()] += n;
                } else if k.len() == 3 && k.bytes().all(|b| b.is_ascii_digit()) {
                    *t.status_counts.entry(k.to_string()).or_insert(0) += n;
                } else {
                    return Err(format!("unknown per-entry count `{kv}`"));
                }
            }
        } else if let Some(hists) = rest.strip_prefix("latency: ") {
            let mut parts = hists.split_whitespace();
            let (Some(c), Some(u), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err("a per-entry latency line holds two histograms".into());
            };
            t.corrected = decode(c)?;
            t.uncorrected = decode(u)?;
        } else {
            return Err("unknown per-entry line (expected label, counts or latency)".into());
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::path::{Path, PathBuf};
    use std::time::{Duration, Instant, SystemTime};

    use crate::recorder::{Answer, ErrorKind, Recorder, Summary};
    use crate::report::hlog::{HlogError, HlogFile, HlogMeta, HlogWriter, summarize};

    fn tmp(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("loadgen-hlog-totals-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    /// A run of a two-entry mix: entry 0 answers 200 (every tenth body broken), entry 1
    /// answers 400 (every seventh request refused), written to `path`.
    fn mix_run(path: &Path, id: &str) -> Summary {
        let epoch = Instant::now();
        let root = Recorder::new(epoch, SystemTime::now());
        root.set_targets(vec!["GET /ok".into(), "POST /bad?x=]".into()]);
        let meta = HlogMeta {
            generator: Some(id.into()),
            ..HlogMeta::default()
        };
        root.set_sink(Box::new(HlogWriter::create(path, meta).unwrap()));
        let mut root = root;
        let mut w = root.fork();
        for i in 0..2000u64 {
            let t = epoch + Duration::from_millis(i);
            let target = (i % 2) as usize;
            let answer = match (target, i % 10, i % 7) {
                (0, 0, _) => Answer::Failed(ErrorKind::Malformed),
                (0, _, _) => Answer::Status(200),
                (_, _, 0) => Answer::Failed(ErrorKind::Refused),
                _ => Answer::Status(400),
            };
            let lat = Duration::from_micros(200 + 300 * target as u64 + i % 50);
            w.record_answer(answer, target, t, t, t + lat);
        }
        root.merge(&w);
        root.finish().map_err(|(_, e)| e).unwrap()
    }

    #[test]
    fn error_kinds_and_rows_read_back_and_merge() {
        let (a, b) = (tmp("a.hlog"), tmp("b.hlog"));
        let sa = mix_run(&a, "gen-a");
        let text = std::fs::read_to_string(&a).unwrap();
        assert!(
            text.lines().last().unwrap().starts_with("#[StatusCounts:"),
            "the status counts stay last"
        );
        assert!(
            text.contains("\n#[Target 1 label: POST /bad?x=]]\n"),
            "{text}"
        );

        let back = summarize(&[HlogFile::read(&a).unwrap()]).unwrap();
        assert_eq!(back.error_kinds, sa.error_kinds);
        assert_eq!(back.errors_of(ErrorKind::Malformed), 200);
        assert_eq!(back.status_counts, sa.status_counts);
        assert_eq!(back.targets.len(), 2);
        for (x, y) in back.targets.iter().zip(&sa.targets) {
            assert_eq!(
                (x.index, x.entries, &x.label),
                (y.index, y.entries, &y.label)
            );
            assert_eq!(x.status_counts, y.status_counts);
            assert_eq!(x.error_kinds, y.error_kinds);
            assert_eq!(x.corrected, y.corrected);
            assert_eq!(x.uncorrected, y.uncorrected);
        }
        assert_eq!(back.targets[1].label, "POST /bad?x=]");

        // Two generators of the same mix add up row by row.
        mix_run(&b, "gen-b");
        let m = summarize(&[HlogFile::read(&a).unwrap(), HlogFile::read(&b).unwrap()]).unwrap();
        assert_eq!(m.targets.len(), 2);
        assert_eq!(m.targets[0].total(), 2 * sa.targets[0].total());
        assert_eq!(
            m.errors_of(ErrorKind::Refused),
            2 * sa.errors_of(ErrorKind::Refused)
        );
    }

    #[test]
    fn a_log_from_before_error_kinds_counts_errors_as_other() {
        let path = tmp("old.hlog");
        let s = mix_run(&path, "gen-old");
        let old: String = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("#[ErrorKinds:") && !l.starts_with("#[Target "))
            .map(|l| format!("{l}\n"))
            .collect();
        let f = HlogFile::parse(Path::new("old.hlog"), old.as_bytes()).unwrap();
        let back = summarize(&[f]).unwrap();
        assert!(back.targets.is_empty());
        assert_eq!(back.errors_of(ErrorKind::Timeout), 0);
        assert_eq!(
            back.errors_of(ErrorKind::Other),
            s.errors_of(ErrorKind::Malformed) + s.errors_of(ErrorKind::Refused)
        );
    }

    #[test]
    fn bad_closing_lines_name_their_line() {
        let path = tmp("bad.hlog");
        mix_run(&path, "gen-bad");
        let good = std::fs::read_to_string(&path).unwrap();
        for (from, to, says) in [
            (
                "#[ErrorKinds: refused=",
                "#[ErrorKinds: bogus=",
                "bad error kind count",
            ),
            (
                "#[Target 1 label:",
                "#[Target 99 label:",
                "per-entry row `99`",
            ),
            (
                "#[Target 0 counts: index=0",
                "#[Target 0 counts: index=x",
                "bad per-entry count",
            ),
            (
                "#[Target 0 counts: index=0",
                "#[Target 0 counts: index=0 weird=1",
                "unknown per-entry count",
            ),
            (
                "#[Target 0 latency: ",
                "#[Target 0 latency: !!!! ",
                "two histograms",
            ),
            (
                "#[Target 0 latency: ",
                "#[Target 0 latency: !!!!",
                "not base64",
            ),
            (
                "#[Target 0 label:",
                "#[Target 0 nonsense:",
                "unknown per-entry line",
            ),
        ] {
            assert!(good.contains(from), "{from}");
            let bad = good.replacen(from, to, 1);
            let line = bad.lines().position(|l| l.starts_with(to)).unwrap() + 1;
            let e = HlogFile::parse(Path::new("bad.hlog"), bad.as_bytes())
                .and_then(|f| summarize(&[f]))
                .unwrap_err();
            assert!(
                matches!(&e, HlogError::Bad { line: l, what, .. } if *l == line && what.contains(says)),
                "{to}: {e}"
            );
        }
    }
}
