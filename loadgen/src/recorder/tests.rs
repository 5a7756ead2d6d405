#![allow(clippy::unwrap_used)]

use super::*;

/// Sink that keeps every interval it receives, to check what an hlog would get.
#[derive(Clone, Default)]
struct Capture(
    Arc<Mutex<Vec<(Duration, Duration, Slot)>>>,
    Arc<Mutex<bool>>,
);

impl IntervalSink for Capture {
    fn interval(&mut self, start: Duration, length: Duration, slot: &Slot) -> io::Result<()> {
        self.0.lock().unwrap().push((start, length, slot.clone()));
        Ok(())
    }
    fn finish(&mut self, _: &Summary) -> io::Result<()> {
        *self.1.lock().unwrap() = true;
        Ok(())
    }
}

struct Failing;
impl IntervalSink for Failing {
    fn interval(&mut self, _: Duration, _: Duration, _: &Slot) -> io::Result<()> {
        Err(io::Error::other("disk full"))
    }
    fn finish(&mut self, _: &Summary) -> io::Result<()> {
        Ok(())
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A deterministic request stream: (completion offset ms, outcome, status, corrected ms, uncorrected ms).
fn requests() -> Vec<(u64, Outcome, Option<u16>, u64, u64)> {
    let mut v = Vec::new();
    for i in 0..6000u64 {
        let done = i; // one per ms over 6 s
        let (outcome, status) = match i % 50 {
            0 => (Outcome::ServerError, Some(503)),
            1 => (Outcome::RateLimited, Some(429)),
            2 => (Outcome::Timeout, None),
            3 => (Outcome::ClientError, Some(404)),
            _ => (Outcome::Success, Some(200)),
        };
        let corrected = 1 + (i * 7919) % 400;
        v.push((done, outcome, status, corrected, corrected.min(1 + i % 30)));
    }
    v
}

fn feed(r: &mut Recorder, epoch: Instant, reqs: &[(u64, Outcome, Option<u16>, u64, u64)]) {
    for &(done, outcome, status, corr, unc) in reqs {
        let done = epoch + ms(done) + ms(1000); // keep intended/sent after the epoch
        r.record(outcome, status, done - ms(corr), done - ms(unc), done);
    }
}

fn assert_same(a: &Summary, b: &Summary) {
    assert_eq!(a.total, b.total);
    assert_eq!(a.corrected, b.corrected);
    assert_eq!(a.uncorrected, b.uncorrected);
    assert_eq!(
        a.by_outcome.keys().collect::<Vec<_>>(),
        b.by_outcome.keys().collect::<Vec<_>>()
    );
    for (o, s) in &a.by_outcome {
        assert_eq!(s.count, b.by_outcome[o].count, "{o:?}");
        assert_eq!(s.corrected, b.by_outcome[o].corrected, "{o:?}");
        assert_eq!(s.uncorrected, b.by_outcome[o].uncorrected, "{o:?}");
    }
    assert_eq!(a.status_counts, b.status_counts);
    assert_eq!(a.intervals, b.intervals);
}

#[test]
fn outcome_classes_and_tags_round_trip() {
    assert_eq!(Outcome::from_status(200), Outcome::Success);
    assert_eq!(Outcome::from_status(204), Outcome::Success);
    assert_eq!(Outcome::from_status(301), Outcome::Redirect);
    assert_eq!(Outcome::from_status(404), Outcome::ClientError);
    assert_eq!(Outcome::from_status(429), Outcome::RateLimited);
    assert_eq!(Outcome::from_status(503), Outcome::ServerError);
    assert_eq!(Outcome::from_status(101), Outcome::Error);
    assert_eq!(Outcome::from_status(999), Outcome::Error);
    let tags: Vec<_> = Outcome::ALL.iter().map(|o| o.tag()).collect();
    assert_eq!(
        tags,
        ["2xx", "3xx", "4xx", "429", "5xx", "error", "timeout"]
    );
    for o in Outcome::ALL {
        assert_eq!(Outcome::from_tag(o.tag()), Some(o));
        assert_eq!(Outcome::ALL[o.index()], o);
    }
    assert_eq!(Outcome::from_tag("2XX"), None);
}

#[test]
fn merging_two_halves_equals_one_histogram_of_the_whole() {
    let epoch = Instant::now();
    let wall = SystemTime::now();
    let reqs = requests();

    let mut whole = Recorder::new(epoch, wall);
    feed(&mut whole, epoch, &reqs);
    let whole = whole.summary();

    // Two workers of one run, taking turns; b is idle for 5 s in the middle (as a connection
    // at a low rate would be) and still its seconds stay exact.
    let mut root = Recorder::new(epoch, wall);
    let mut a = root.fork();
    let mut b = root.fork();
    for (i, r) in reqs.iter().enumerate() {
        let idle = (500..5500).contains(&i);
        feed(
            if i % 2 == 0 || idle { &mut a } else { &mut b },
            epoch,
            &[*r],
        );
    }
    root.merge(&a);
    root.merge(&b);
    let merged = root.summary();

    assert_eq!(whole.total, 6000);
    assert_same(&whole, &merged);
    assert_eq!(whole.count(Outcome::Success), 6000 - 4 * 120);
    assert_eq!(whole.status_counts["503"], 120);
    assert_eq!(whole.status_counts["200"], 6000 - 4 * 120);
    assert!(
        !whole.status_counts.contains_key("timeout"),
        "no status for timeouts"
    );
}

#[test]
fn independent_roots_merge_totals_exactly() {
    let epoch = Instant::now();
    let wall = SystemTime::now();
    let reqs = requests();
    let mut whole = Recorder::new(epoch, wall);
    feed(&mut whole, epoch, &reqs);
    let whole = whole.summary();

    let (first, second) = reqs.split_at(3000);
    let mut a = Recorder::new(epoch, wall);
    let mut b = Recorder::new(epoch, wall);
    feed(&mut a, epoch, first);
    feed(&mut b, epoch, second);
    a.merge(&b);
    let merged = a.summary();
    assert_eq!(whole.total, merged.total);
    assert_eq!(whole.corrected, merged.corrected);
    assert_eq!(whole.uncorrected, merged.uncorrected);
    assert_eq!(whole.status_counts, merged.status_counts);
    let per_second = |s: &Summary| s.intervals.iter().map(|i| i.requests).collect::<Vec<_>>();
    assert_eq!(per_second(&whole), per_second(&merged));
}

#[test]
fn corrected_latency_shows_a_stall_that_uncorrected_hides() {
    // Open model at 1000/s; the server stalls 1 s once, so requests queue behind it: the
    // generator sends them late (sent = when the connection freed up) but intended stays on
    // schedule.
    let epoch = Instant::now();
    let mut r = Recorder::new(epoch, SystemTime::now());
    let stall_end = ms(2000);
    for i in 0..5000u64 {
        let intended = ms(i);
        let (sent, done) = if (1000..2000).contains(&i) {
            (stall_end, stall_end + ms(1))
        } else {
            (intended, intended + ms(1))
        };
        r.record(
            Outcome::Success,
            Some(200),
            epoch + intended,
            epoch + sent,
            epoch + done,
        );
    }
    let s = r.summary();
    let p = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q);
    assert!(
        p(&s.uncorrected, 0.99) <= 1_001,
        "uncorrected p99 stays at 1 ms"
    );
    assert!(p(&s.uncorrected, 0.5) <= 1_001);
    assert!(
        p(&s.corrected, 0.99) >= 900_000,
        "corrected p99 shows the stall: {}",
        p(&s.corrected, 0.99)
    );
    assert!(s.corrected.max() >= 999_000);
    assert!(
        p(&s.corrected, 0.5) <= 1_001,
        "median unaffected: 80% of requests were on time"
    );
    assert!(
        (s.duration.as_secs_f64() - 5.0).abs() < 0.01,
        "{:?}",
        s.duration
    );
    // The stall is visible per second: nothing completes during it, then a burst.
    let counts: Vec<u64> = s.intervals.iter().map(|i| i.total()).collect();
    // (Each request completes 1 ms after its intended time, so the seconds' edges shift by one.)
    assert_eq!(counts, [999, 1, 1999, 1000, 1000, 1]);
    assert!(s.intervals[2].max_us >= 999_000 && s.intervals[3].max_us <= 1_001);
}

#[test]
fn values_are_clamped_and_never_panic() {
    let epoch = Instant::now();
    let mut r = Recorder::new(epoch, SystemTime::now());
    let t = epoch + ms(10);
    // done before intended and sent: clamped to 1 µs
    r.record(Outcome::Error, None, t + ms(5), t + ms(5), t);
    // two hours: clamped to one hour
    r.record(Outcome::Timeout, None, t, t, t + Duration::from_secs(7200));
    // completion before the epoch goes to second 0; out-of-range status is ignored
    r.record(Outcome::Success, Some(1000), epoch, epoch, epoch);
    r.record(Outcome::Success, Some(u16::MAX), epoch, epoch, epoch);
    let s = r.summary();
    assert_eq!(s.total, 4);
    assert_eq!(s.by_outcome[&Outcome::Error].corrected.max(), 1);
    let timeout_max = s.by_outcome[&Outcome::Timeout].corrected.max();
    assert!(s.corrected.equivalent(timeout_max, HIGHEST_US));
    assert!(s.status_counts.is_empty());
    assert_eq!(s.intervals.len(), 7201, "one per second, no gaps");
}

#[test]
fn intervals_are_streamed_exactly_once_and_summaries_stay_small() {
    let epoch = Instant::now();
    let root = Recorder::new(epoch, SystemTime::now());
    let sink = Capture::default();
    root.set_sink(Box::new(sink.clone()));
    let mut root = root;
    let mut w = root.fork();
    feed(&mut w, epoch, &requests());
    // While running, old seconds are finalized and streamed, the recent ones wait for late workers.
    // (Second 0 is empty and not written; 1..=3 are; 4..=6 are within the grace period.)
    let streamed = sink.0.lock().unwrap().len();
    assert_eq!(streamed, 3, "streamed {streamed} of 6 seconds so far");
    assert!(root.last_interval().is_some());
    root.merge(&w);
    let s = root.summary();
    assert!(*sink.1.lock().unwrap(), "sink finished");
    let got = sink.0.lock().unwrap();
    assert_eq!(got.len(), 6);
    let mut total = Slot::default();
    for (i, (start, length, slot)) in got.iter().enumerate() {
        assert_eq!(
            *start,
            Duration::from_secs(i as u64 + 1),
            "the first second is empty"
        );
        assert!(*length <= Duration::from_secs(1));
        total.add(slot);
    }
    assert_eq!(total.total(), s.total);
    let summed = Summary::from_parts(s.start, s.duration, &total, BTreeMap::new(), Vec::new());
    assert_eq!(summed.corrected, s.corrected);
    assert_eq!(summed.uncorrected, s.uncorrected);
    assert_eq!(s.intervals.len(), 7);
    assert_eq!(s.intervals[0].total(), 0);
}

#[test]
fn a_failing_sink_is_reported_and_the_summary_is_still_complete() {
    let epoch = Instant::now();
    let mut r = Recorder::new(epoch, SystemTime::now());
    r.set_sink(Box::new(Failing));
    feed(&mut r, epoch, &requests());
    let (s, e) = r.finish().expect_err("sink failed");
    assert_eq!(s.total, 6000);
    assert!(e.to_string().contains("disk full"), "{e}");
}

#[test]
fn a_worker_idle_for_too_long_is_not_waited_for_and_nothing_is_lost() {
    let epoch = Instant::now();
    let mut root = Recorder::new(epoch, SystemTime::now());
    let mut busy = root.fork();
    let mut idle = root.fork();
    let at = |s: u64| epoch + Duration::from_secs(s) + ms(10);
    idle.record(Outcome::Success, Some(200), at(1), at(1), at(1) + ms(5));
    for s in 1..30 {
        busy.record(Outcome::Success, Some(200), at(s), at(s), at(s) + ms(1));
        // The busy worker's seconds are finalized at most MAX_OPEN_SECONDS behind it.
        assert!(
            root.last_interval().is_none_or(|i| i.second + 13 >= s),
            "{s}"
        );
    }
    assert!(
        root.last_interval().is_some_and(|i| i.second >= 15),
        "not stuck on the idle worker"
    );
    root.merge(&busy);
    root.merge(&idle);
    let s = root.summary();
    assert_eq!(s.total, 30);
    assert_eq!(s.intervals.iter().map(|i| i.total()).sum::<u64>(), 30);
    assert_eq!(s.corrected.max(), s.corrected.highest_equivalent(5000));
}

#[test]
fn a_dropped_worker_does_not_hold_seconds_open() {
    let epoch = Instant::now();
    let root = Recorder::new(epoch, SystemTime::now());
    let mut busy = root.fork();
    let mut quitter = root.fork();
    let at = |s: u64| epoch + Duration::from_secs(s);
    quitter.record(Outcome::Error, None, at(1), at(1), at(1));
    drop(quitter);
    for s in 1..8 {
        busy.record(Outcome::Success, Some(200), at(s), at(s), at(s));
    }
    assert_eq!(
        root.last_interval().map(|i| i.second),
        Some(4),
        "finalized up to latest - grace"
    );
}

#[test]
fn memory_stays_flat_over_a_long_run() {
    // Ten simulated minutes, four workers at 10 req/s each (one idle for 15 s now and then):
    // the hub keeps only a few open seconds and recycles their histograms.
    let epoch = Instant::now();
    let mut root = Recorder::new(epoch, SystemTime::now());
    let mut workers: Vec<Recorder> = (0..4).map(|_| root.fork()).collect();
    let (mut max_open, mut max_spare) = (0, 0);
    for ms in (0..600 * 1000u64).step_by(25) {
        let w = (ms / 25 % 4) as usize;
        if w == 3 && (ms / 1000) % 120 < 15 {
            continue;
        }
        let t = epoch + Duration::from_millis(ms);
        workers[w].record(
            Outcome::Success,
            Some(200),
            t,
            t,
            t + Duration::from_micros(300),
        );
        let hub = root.lock();
        max_open = max_open.max(hub.open.len());
        max_spare = max_spare.max(hub.spare.len());
    }
    for w in &workers {
        root.merge(w);
    }
    assert!(max_open <= 12, "open seconds: {max_open}");
    assert!(max_spare <= 12, "spare slots: {max_spare}");
    let s = root.summary();
    assert_eq!(s.intervals.len(), 600);
    assert_eq!(s.intervals.iter().map(|i| i.total()).sum::<u64>(), s.total);
}

#[test]
fn a_broken_exchange_counts_as_its_error_kind_never_as_its_status() {
    let epoch = Instant::now();
    let root = Recorder::new(epoch, SystemTime::now());
    root.set_targets(vec!["GET /a".into(), "POST /b".into()]);
    let mut root = root;
    let mut w = root.fork();
    let t = epoch + ms(1);
    w.record_answer(Answer::Status(200), 0, t, t, t + ms(2));
    w.record_answer(Answer::Status(400), 1, t, t, t + ms(3));
    w.record_answer(Answer::Failed(ErrorKind::Malformed), 0, t, t, t + ms(4));
    w.record_answer(Answer::Failed(ErrorKind::Timeout), 1, t, t, t + ms(5));
    w.record_answer(Answer::Status(600), 1, t, t, t + ms(6));
    let mut other = root.fork();
    other.record_answer(Answer::Failed(ErrorKind::Refused), 0, t, t, t + ms(1));
    root.merge(&w);
    root.merge(&other);
    let s = root.summary();
    assert_eq!(s.total, 6);
    assert_eq!(
        s.status_counts,
        BTreeMap::from([("200".into(), 1), ("400".into(), 1), ("600".into(), 1)]),
        "the malformed 200 is not a 200"
    );
    assert_eq!(s.count(Outcome::Error), 3, "malformed, refused, status 600");
    assert_eq!(s.count(Outcome::Timeout), 1);
    let kinds: Vec<(ErrorKind, u64)> = ErrorKind::ALL
        .iter()
        .map(|k| (*k, s.errors_of(*k)))
        .collect();
    assert_eq!(
        kinds,
        [
            (ErrorKind::Refused, 1),
            (ErrorKind::Reset, 0),
            (ErrorKind::Timeout, 1),
            (ErrorKind::Tls, 0),
            (ErrorKind::Malformed, 1),
            (ErrorKind::Other, 1),
        ]
    );
    assert_eq!(s.targets.len(), 2);
    let (a, b) = (&s.targets[0], &s.targets[1]);
    assert_eq!((a.index, a.entries, a.label.as_str()), (0, 1, "GET /a"));
    assert_eq!(a.total(), 3);
    assert_eq!(a.status_counts, BTreeMap::from([("200".into(), 1)]));
    assert_eq!(a.error_kinds[ErrorKind::Malformed.index()], 1);
    assert_eq!(a.error_kinds[ErrorKind::Refused.index()], 1);
    assert_eq!(b.total(), 3);
    assert_eq!(
        b.status_counts,
        BTreeMap::from([("400".into(), 1), ("600".into(), 1)])
    );
    assert_eq!(b.error_kinds[ErrorKind::Timeout.index()], 1);
    assert_eq!(b.error_kinds[ErrorKind::Other.index()], 1);
    assert!(
        (a.corrected.max() as f64 - 4000.0).abs() <= 40.0,
        "{}",
        a.corrected.max()
    );
}

#[test]
fn a_single_target_keeps_no_rows_and_a_large_mix_shares_the_last() {
    let epoch = Instant::now();
    let root = Recorder::new(epoch, SystemTime::now());
    root.set_targets(vec!["GET /".into()]);
    let mut root = root;
    let mut w = root.fork();
    w.record_answer(Answer::Status(200), 0, epoch, epoch, epoch + ms(1));
    root.merge(&w);
    assert!(root.summary().targets.is_empty());

    let labels: Vec<String> = (0..MAX_TARGET_ROWS + 10)
        .map(|i| format!("GET /{i}"))
        .collect();
    let root = Recorder::new(epoch, SystemTime::now());
    root.set_targets(labels.clone());
    let mut root = root;
    let mut w = root.fork();
    for i in 0..labels.len() {
        w.record_answer(Answer::Status(200), i, epoch, epoch, epoch + ms(1));
    }
    root.merge(&w);
    let s = root.summary();
    assert_eq!(s.targets.len(), MAX_TARGET_ROWS);
    let last = &s.targets[MAX_TARGET_ROWS - 1];
    assert_eq!((last.index, last.entries), (MAX_TARGET_ROWS - 1, 11));
    assert_eq!(last.total(), 11);
    assert_eq!(s.targets[3].label, "GET /3");
    assert_eq!(
        s.targets.iter().map(TargetStats::total).sum::<u64>(),
        s.total
    );
}
