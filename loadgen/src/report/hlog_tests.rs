#![allow(clippy::unwrap_used)]

use super::*;

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("loadgen-hlog-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A run of `secs` seconds at 200/s with a few errors, recorded into `path` when given.
/// `skew` shifts the generator's epoch (as separate machines' clocks would).
fn run(path: Option<&Path>, id: &str, wall: SystemTime, secs: u64, phase: u64) -> Summary {
    let epoch = Instant::now();
    let rec = Recorder::new(epoch, wall);
    if let Some(p) = path {
        let meta = HlogMeta {
            generator: Some(id.into()),
            url: Some("http://127.0.0.1:1/x".into()),
            target_rate: Some(200.0),
            stages: None,
            window: Some(Duration::from_secs(secs)),
        };
        rec.set_sink(Box::new(HlogWriter::create(p, meta).unwrap()));
    }
    let mut root = rec;
    let mut w = root.fork();
    for i in 0..secs * 200 {
        let t = epoch + Duration::from_millis(i * 5);
        let lat = Duration::from_micros(100 + (i * 7 + phase) % 5000);
        let (o, st) = match (i + phase) % 97 {
            0 => (Outcome::ServerError, Some(500)),
            1 => (Outcome::Timeout, None),
            _ => (Outcome::Success, Some(200)),
        };
        w.record(o, st, t, t + lat / 2, t + lat);
    }
    root.merge(&w);
    root.summary()
}

#[test]
fn log_has_the_standard_header_and_reads_back_with_hdrhistograms_iterator() {
    let path = tmp("header.hlog");
    let wall = UNIX_EPOCH + Duration::from_millis(1_700_000_000_250);
    let s = run(Some(&path), "gen-a", wall, 4, 0);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "#[Generator: gen-a]");
    assert!(text.contains("\n#[Histogram log format version 1.3]\n"));
    assert!(text.contains("\n#[StartTime: 1700000000.250 (seconds since epoch)]\n"));
    assert!(text.contains("\n#[BaseTime: 1700000000.250 (seconds since epoch)]\n"));
    assert!(text.contains(&format!("\n{LEGEND}\n")));
    assert!(lines.last().unwrap().starts_with("#[StatusCounts: 200="));

    // HdrHistogram's own iterator, over the whole file.
    let mut tags = BTreeMap::<String, u64>::new();
    let mut deser = Deserializer::new();
    for e in IntervalLogIterator::new(text.as_bytes()) {
        if let LogEntry::Interval(i) = e.unwrap() {
            assert!(i.start_timestamp().as_secs() < 5 && i.duration() <= Duration::from_secs(1));
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(i.encoded_histogram())
                .unwrap();
            let h: Histogram<u64> = deser.deserialize(&mut bytes.as_slice()).unwrap();
            *tags
                .entry(
                    i.tag()
                        .map_or("(untagged)".into(), |t| t.as_str().to_string()),
                )
                .or_default() += h.len();
        }
    }
    assert_eq!(tags["(untagged)"], s.total);
    assert_eq!(tags["2xx"], s.count(Outcome::Success));
    assert_eq!(tags["2xx.uncorrected"], s.count(Outcome::Success));
    assert_eq!(tags["5xx"], s.count(Outcome::ServerError));
    assert_eq!(tags["timeout.uncorrected"], s.count(Outcome::Timeout));
    assert_eq!(tags.len(), 7);
}

#[test]
fn a_log_read_back_equals_the_run() {
    let path = tmp("roundtrip.hlog");
    let s = run(Some(&path), "gen-a", SystemTime::now(), 5, 0);
    let f = HlogFile::read(&path).unwrap();
    assert_eq!(f.meta.generator.as_deref(), Some("gen-a"));
    assert_eq!(f.meta.target_rate, Some(200.0));
    assert_eq!(f.meta.window, Some(Duration::from_secs(5)));
    let back = summarize(&[f]).unwrap();
    assert_eq!(back.total, 1000);
    assert_eq!(back.corrected, s.corrected);
    assert_eq!(back.uncorrected, s.uncorrected);
    assert_eq!(back.status_counts, s.status_counts);
    assert_eq!(back.intervals, s.intervals[..back.intervals.len()]);
    assert_eq!(back.generators, ["gen-a"]);
    assert!((back.duration.as_secs_f64() - s.duration.as_secs_f64()).abs() < 0.002);
}

#[test]
fn merging_two_generators_by_absolute_time_is_exact() {
    let (a, b) = (tmp("a.hlog"), tmp("b.hlog"));
    let wall = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let sa = run(Some(&a), "gen-a", wall, 4, 0);
    // The second generator started one second later, so its intervals are shifted by one.
    let sb = run(Some(&b), "gen-b", wall + Duration::from_secs(1), 4, 3);
    let m = summarize(&[HlogFile::read(&a).unwrap(), HlogFile::read(&b).unwrap()]).unwrap();
    let mut whole = sa.corrected.clone();
    whole.add(&sb.corrected).unwrap();
    assert_eq!(m.corrected, whole);
    assert_eq!(m.total, sa.total + sb.total);
    assert_eq!(m.start, wall);
    assert_eq!(m.generators, ["gen-a", "gen-b"]);
    assert_eq!(
        m.status_counts["500"],
        sa.status_counts["500"] + sb.status_counts["500"]
    );
    let per_sec: Vec<u64> = m.intervals.iter().map(|i| i.total()).collect();
    assert_eq!(
        per_sec,
        [200, 400, 400, 400, 200],
        "aligned by absolute time"
    );
    assert!(
        (m.duration.as_secs_f64() - 5.0).abs() < 0.01,
        "{:?}",
        m.duration
    );
}

#[test]
fn bad_inputs_give_clear_errors() {
    let path = tmp("good.hlog");
    run(Some(&path), "gen-a", SystemTime::now(), 2, 0);
    let good = std::fs::read_to_string(&path).unwrap();
    let err = |bytes: &[u8]| match HlogFile::parse(Path::new("x.hlog"), bytes)
        .and_then(|f| summarize(&[f]))
    {
        Ok(s) => format!("accepted, {} requests", s.total),
        Err(e) => e.to_string(),
    };

    for (input, want) in [
        (&b""[..], "empty"),
        (b"hello world\n", "line 1: not an interval log line"),
        (&[0xff, 0xfe, b'\n'], "not UTF-8"),
        (b"#just a comment\n", "no loadgen intervals"),
    ] {
        assert!(err(input).contains(want), "{want}: {}", err(input));
    }
    let cut = &good[..good.len() - 200];
    assert!(
        err(cut.as_bytes()).contains("truncated"),
        "{}",
        err(cut.as_bytes())
    );
    let no_trailer: String = good
        .lines()
        .filter(|l| !l.starts_with(STATUS_PREFIX))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(err(no_trailer.as_bytes()).contains("closing `#[StatusCounts"));
    let foreign = good.replace("Tag=2xx,", "Tag=latency,");
    assert!(err(foreign.as_bytes()).contains("unknown tag `latency`"));
    let line = good.lines().find(|l| l.starts_with("Tag=2xx,")).unwrap();
    let corrupt = good.replacen(line, &format!("{}!!", &line[..line.len() - 2]), 1);
    assert!(
        err(corrupt.as_bytes()).contains("not base64"),
        "{}",
        err(corrupt.as_bytes())
    );
    let uncorrected_line = good
        .lines()
        .position(|l| l.starts_with("Tag=2xx.uncorrected"))
        .unwrap();
    let missing: String = good
        .lines()
        .enumerate()
        .filter(|(i, _)| *i != uncorrected_line)
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    assert!(
        err(missing.as_bytes()).contains("corrected but"),
        "{}",
        err(missing.as_bytes())
    );

    let later = tmp("later.hlog");
    run(
        Some(&later),
        "gen-b",
        SystemTime::now() + Duration::from_secs(3600),
        2,
        0,
    );
    let apart = summarize(&[
        HlogFile::read(&path).unwrap(),
        HlogFile::read(&later).unwrap(),
    ])
    .unwrap_err()
    .to_string();
    assert!(
        apart.contains("later.hlog` begins 35") && apart.contains("not from one run"),
        "{apart}"
    );

    let f = HlogFile::read(&path).unwrap();
    let twice = summarize(&[f.clone(), f]).unwrap_err().to_string();
    assert!(
        twice.contains("both come from generator `gen-a`"),
        "{twice}"
    );
    let missing = HlogFile::read(Path::new("/nonexistent/x.hlog")).unwrap_err();
    assert!(matches!(missing, HlogError::Read { .. }));
}

#[test]
fn each_interval_is_on_disk_as_soon_as_it_is_written() {
    // What a run killed mid-way (kill -9) leaves: the header and every interval written so
    // far, whole, with no closing line.
    let path = tmp("streamed.hlog");
    let mut w = HlogWriter::create(&path, HlogMeta::default()).unwrap();
    w.start(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        .unwrap();
    let header = std::fs::read_to_string(&path).unwrap();
    assert!(header.ends_with(&format!("{LEGEND}\n")), "{header}");
    let mut slot = Slot::default();
    for us in [100, 200, 300] {
        let p = slot.get_mut(Outcome::Success);
        p.corrected.record(us).unwrap();
        p.uncorrected.record(us / 2).unwrap();
    }
    slot.get_mut(Outcome::Timeout)
        .corrected
        .record(5_000)
        .unwrap();
    slot.get_mut(Outcome::Timeout)
        .uncorrected
        .record(5_000)
        .unwrap();
    for second in 0..2 {
        w.interval(Duration::from_secs(second), Duration::from_secs(1), &slot)
            .unwrap();
        // Read while the writer is still open, as a reader of a dead run's file would.
        let text = std::fs::read(&path).unwrap();
        assert!(text.ends_with(b"\n"), "whole lines only");
        let mut counts = BTreeMap::<String, u64>::new();
        for e in IntervalLogIterator::new(&text) {
            if let LogEntry::Interval(i) = e.unwrap() {
                let h: Histogram<u64> = Deserializer::new()
                    .deserialize(
                        &mut base64::engine::general_purpose::STANDARD
                            .decode(i.encoded_histogram())
                            .unwrap()
                            .as_slice(),
                    )
                    .unwrap();
                *counts
                    .entry(i.tag().map_or("", |t| t.as_str()).to_string())
                    .or_default() += h.len();
            }
        }
        let n = second + 1;
        assert_eq!(counts[""], 4 * n, "{counts:?}");
        assert_eq!(counts["2xx"], 3 * n);
        assert_eq!(counts["2xx.uncorrected"], 3 * n);
        assert_eq!(counts["timeout"], n);
        assert!(!String::from_utf8_lossy(&text).contains(STATUS_PREFIX));
    }
    drop(w);
}
