//! Tests of the schedule: constant-rate slots, and ramps (`--stage`) checked against the
//! integral of their rate.

use super::*;

#[test]
fn slots_are_absolute_and_exact() {
    let t0 = Instant::now();
    let s = OpenSchedule::new(
        t0,
        1000.0,
        Duration::from_secs(1),
        Some(Duration::from_secs(2)),
        None,
    );
    assert_eq!(s.measured_slots(), 2000);
    assert_eq!(s.epoch() - t0, Duration::from_secs(1));
    assert_eq!(s.intended(1_500) - t0, Duration::from_millis(1_500));
    assert_eq!(s.window_end() - t0, Duration::from_secs(3));
    assert!(!s.is_measured(999) && s.is_measured(1000));
    let mut n = 0;
    while s.take().is_some() {
        n += 1;
    }
    assert_eq!(n, 3000);
    assert_eq!(s.take(), None);
}

#[test]
fn fractional_rate_has_no_drift() {
    let t0 = Instant::now();
    let s = OpenSchedule::new(t0, 3.0, Duration::ZERO, Some(Duration::from_secs(10)), None);
    assert_eq!(s.measured_slots(), 30);
    let d = s.intended(30) - t0;
    assert!(d.as_nanos().abs_diff(10_000_000_000) <= 1, "{d:?}");
}

#[test]
fn request_count_bounds_the_schedule() {
    let s = OpenSchedule::new(
        Instant::now(),
        100.0,
        Duration::from_millis(500),
        None,
        Some(7),
    );
    assert_eq!(s.measured_slots(), 7);
    let b = RequestBudget::new(Some(3));
    assert!(b.take() && b.take() && b.take() && !b.take());
    assert!(b.spent());
    assert!(!RequestBudget::new(None).spent());
}

fn stage(secs: f64, target: f64) -> Stage {
    Stage {
        duration: Duration::from_secs_f64(secs),
        target,
    }
}

/// Every slot's due time, up to the end of the ramp.
fn all_due(r: &Ramp) -> Vec<Duration> {
    let end = r.slots_before(r.end_ns);
    (0..end).map(|i| r.due(i)).collect()
}

#[test]
fn stages_send_the_integral_of_the_rate() {
    // The example: 5 s at 100/s, then 100 -> 300 over 5 s: 500 + 1000.
    let r = Ramp::new(
        100.0,
        Duration::ZERO,
        &[stage(5.0, 100.0), stage(5.0, 300.0)],
    );
    assert_eq!(r.measured_slots(), 1500);
    assert_eq!(r.duration(), Duration::from_secs(10));
    assert_eq!(r.mean_rate(), 150.0);
    assert_eq!(r.peak_rate(), 300.0);
    assert_eq!(r.rate_at(Duration::from_millis(7500)), 200.0);
    assert_eq!(r.rate_at(Duration::from_secs(11)), 0.0);
    assert_eq!(
        r.arrivals_by(Duration::from_millis(7500)),
        500.0 + 2.5 * 150.0
    );
    // Ramps up and down from and to 0: R * D / 2 each.
    let up = Ramp::new(0.0, Duration::ZERO, &[stage(3.0, 400.0)]);
    let down = Ramp::new(400.0, Duration::ZERO, &[stage(3.0, 0.0)]);
    assert_eq!((up.measured_slots(), down.measured_slots()), (600, 600));
    assert_eq!(up.mean_rate(), 200.0);
}

#[test]
fn due_times_are_the_exact_inverse_of_the_integral() {
    let t0 = Instant::now();
    let r = Ramp::new(
        100.0,
        Duration::ZERO,
        &[stage(5.0, 100.0), stage(5.0, 300.0)],
    );
    let s = OpenSchedule::ramped(t0, &r);
    // A constant stage is the plain i / rate; stage boundaries are exact.
    assert_eq!(s.intended(0) - t0, Duration::ZERO);
    assert_eq!(s.intended(250) - t0, Duration::from_millis(2500));
    assert_eq!(s.intended(500) - t0, Duration::from_secs(5));
    // In the ramp, 100 t + 20 t^2 = i - 500: i = 620 at t = 1 s, 1500 at t = 5 s.
    assert_eq!(s.intended(620) - t0, Duration::from_secs(6));
    assert!(s.intended(1499) - t0 < Duration::from_secs(10));
    assert_eq!(
        (s.epoch(), s.window_end() - t0),
        (t0, Duration::from_secs(10))
    );
    // Down: 400 t - 100 t^2 = i: i = 300 at t = 1 s, the last slot just before 2 s.
    let down = Ramp::new(400.0, Duration::ZERO, &[stage(2.0, 0.0)]);
    assert_eq!(down.measured_slots(), 400);
    assert_eq!(down.due(300), Duration::from_secs(1));
    assert_eq!(down.due(100), Duration::from_secs_f64(2.0 - 3f64.sqrt()));
    for r in [&r, &down] {
        for (i, d) in all_due(r).iter().enumerate() {
            let back = r.arrivals_by(*d);
            assert!(
                (back - i as f64).abs() < 1e-6,
                "slot {i}: due {d:?}, integral {back}"
            );
        }
    }
}

#[test]
fn due_times_are_monotonic_and_inside_the_ramp() {
    let ramps = [
        Ramp::new(0.0, Duration::ZERO, &[stage(3.0, 400.0)]),
        Ramp::new(400.0, Duration::ZERO, &[stage(3.0, 0.0)]),
        Ramp::new(
            3.3,
            Duration::from_millis(700),
            &[stage(1.7, 91.1), stage(0.3, 91.1), stage(2.9, 0.4)],
        ),
        // Up, down to a pause at 0, up again.
        Ramp::new(
            0.0,
            Duration::ZERO,
            &[
                stage(1.0, 50.0),
                stage(1.0, 0.0),
                stage(2.0, 0.0),
                stage(1.0, 50.0),
            ],
        ),
    ];
    for r in &ramps {
        let due = all_due(r);
        assert_eq!(due.len() as u64, r.slots_before(r.end_ns));
        assert!(due.windows(2).all(|w| w[0] <= w[1]), "{r}: not monotonic");
        assert!(
            due.iter().all(|d| d.as_nanos() < u128::from(r.end_ns)),
            "{r}: past its end"
        );
        // Counting due times per boundary gives the same count as the integral.
        for b in r.segments.iter().map(Segment::end_ns) {
            let before = due.iter().filter(|d| nanos(**d) < b).count() as u64;
            assert_eq!(before, r.slots_before(b), "{r}: boundary {b} ns");
        }
    }
    // No request is due in the pause: 25 up, 25 down, then the rest after 4 s.
    let paused = &ramps[3];
    let due = all_due(paused);
    assert_eq!(due.len(), 75);
    let in_pause = due
        .iter()
        .filter(|d| **d > Duration::from_secs(2) && **d < Duration::from_secs(4));
    assert_eq!(in_pause.count(), 0);
    assert_eq!(paused.due(50), Duration::from_secs(4));
}

#[test]
fn a_ramp_from_zero_divides_by_nothing() {
    // The first slot of a ramp from 0 is due at its start; a stage at 0 has no slot.
    let r = Ramp::new(0.0, Duration::ZERO, &[stage(2.0, 0.0), stage(2.0, 100.0)]);
    assert_eq!(r.measured_slots(), 100);
    assert_eq!(r.due(0), Duration::from_secs(2));
    assert_eq!(
        r.due(50),
        Duration::from_secs(2) + Duration::from_secs_f64(2f64.sqrt())
    );
    let nothing = Ramp::new(0.0, Duration::ZERO, &[stage(5.0, 0.0)]);
    assert_eq!((nothing.measured_slots(), nothing.mean_rate()), (0, 0.0));
    assert_eq!(nothing.due(0), Duration::from_secs(5));
    // Values config refuses still give a ramp, never a panic.
    let hostile = Ramp::new(
        f64::NAN,
        Duration::MAX,
        &[
            Stage {
                duration: Duration::MAX,
                target: f64::INFINITY,
            },
            stage(1.0, -5.0),
        ],
    );
    assert_eq!(hostile.measured_slots(), 0);
    let _ = (hostile.due(7), hostile.mean_rate(), hostile.to_string());
    assert_eq!(Ramp::new(10.0, Duration::ZERO, &[]).measured_slots(), 0);
}

#[test]
fn warmup_runs_at_the_starting_rate_before_the_stages() {
    let t0 = Instant::now();
    let r = Ramp::new(100.0, Duration::from_secs(1), &[stage(2.0, 300.0)]);
    let s = OpenSchedule::ramped(t0, &r);
    assert_eq!(s.measured_slots(), 400);
    assert_eq!(r.measured_slots(), 400);
    assert_eq!(s.epoch() - t0, Duration::from_secs(1));
    assert_eq!(s.window_end() - t0, Duration::from_secs(3));
    assert!(!s.is_measured(99) && s.is_measured(100));
    assert_eq!(s.intended(100) - t0, Duration::from_secs(1));
    let mut n = 0;
    while s.take().is_some() {
        n += 1;
    }
    assert_eq!(n, 500);
}

#[test]
fn a_ramp_reads_as_its_flags() {
    let r = Ramp::new(
        100.0,
        Duration::from_secs(90),
        &[stage(0.5, 100.0), stage(120.0, 0.25)],
    );
    assert_eq!(
        r.to_string(),
        "--rate 100 --warmup 1m30s --stage 500ms:100 --stage 2m:0.25"
    );
    let r = Ramp::new(0.0, Duration::ZERO, &[stage(5.0, 10.0)]);
    assert_eq!(r.to_string(), "--stage 5s:10");
}
