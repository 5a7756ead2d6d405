//! Judges a [`Transcript`] against the declared limit: one PASS/FAIL/SKIP per check, each with
//! the evidence a reviewer needs. Pure: no I/O, so every verdict is unit-tested.

use serde::Serialize;

use super::expected::Expected;
use super::http::Observation;
use super::scenario::{Transcript, spent_before};

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// Behaves as declared.
    Pass,
    /// Does not.
    Fail,
    /// Not run (missing input, e.g. no second key).
    Skip,
}

/// One check's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// Stable name (used in the table, the JSON and scripts).
    pub name: &'static str,
    /// Verdict.
    pub status: Status,
    /// What was seen.
    pub evidence: String,
}

fn check(name: &'static str, ok: bool, evidence: String) -> Check {
    Check {
        name,
        status: if ok { Status::Pass } else { Status::Fail },
        evidence,
    }
}

fn skip(name: &'static str, why: &str) -> Check {
    Check {
        name,
        status: Status::Skip,
        evidence: why.to_owned(),
    }
}

fn describe(o: &Observation) -> String {
    match (o.status, &o.error, &o.message) {
        (Some(s), _, Some(m)) => format!("{s} {m:?}"),
        (Some(s), _, None) => s.to_string(),
        (None, Some(e), _) => format!("no response: {e}"),
        (None, None, _) => "no response".to_owned(),
    }
}

fn show(v: Option<i64>) -> String {
    v.map_or_else(|| "missing".to_owned(), |v| v.to_string())
}

fn is_2xx(o: &Observation) -> bool {
    o.status.is_some_and(|s| (200..300).contains(&s))
}

/// Every check, in report order.
pub fn evaluate(t: &Transcript, e: &Expected) -> Vec<Check> {
    let w = e.window;
    let mut out = vec![
        check(
            "no_key_401",
            t.no_key.status == Some(401),
            format!("without a key: {}", describe(&t.no_key)),
        ),
        check(
            "unknown_key_401",
            t.unknown_key.status == Some(401),
            format!("unknown key: {}", describe(&t.unknown_key)),
        ),
    ];

    let first_429 = t.burst.iter().position(|o| o.status == Some(429));
    let successes = t.burst.iter().take_while(|o| is_2xx(o)).count() as u64;
    let probe = t.burst.first();
    let spent_before = probe.and_then(|p| spent_before(p, w));
    let expected_ok = e.limit.saturating_sub(spent_before.unwrap_or(0));
    let spent_note = match spent_before {
        Some(n) => format!("{n} already spent in this window (from the headers)"),
        None => "no rate-limit headers, assuming a fresh window".to_owned(),
    };
    let onset = match first_429 {
        Some(i) if i as u64 == successes && successes == expected_ok => check(
            "limit_enforced",
            true,
            format!(
                "{spent_note}; {successes} requests succeeded, request {} got 429",
                i + 1
            ),
        ),
        Some(i) => check(
            "limit_enforced",
            false,
            format!(
                "{spent_note}; expected {expected_ok} successes then 429, got {successes} successes and 429 at request {}{}",
                i + 1,
                stray(&t.burst[..i])
            ),
        ),
        None => check(
            "limit_enforced",
            false,
            format!(
                "{spent_note}; no 429 after {} requests (expected at request {}){}",
                t.burst.len(),
                expected_ok + 1,
                stray(&t.burst)
            ),
        ),
    };
    out.push(onset);

    out.push(match first_429.map(|i| &t.burst[i]) {
        None => skip("retry_after", "no 429 to inspect"),
        Some(o) => match o.retry_after {
            Some(r) if r >= 1 && r <= w.seconds() => {
                check("retry_after", true, format!("429 carries Retry-After: {r}"))
            }
            Some(r) => check(
                "retry_after",
                false,
                format!("Retry-After: {r} is outside 1..={}", w.seconds()),
            ),
            None => check("retry_after", false, "429 without Retry-After".to_owned()),
        },
    });

    out.push(match first_429.map(|i| &t.burst[i]) {
        None => skip("retry_after_matches_reset", "no 429 to inspect"),
        Some(o) => match (o.retry_after, o.reset) {
            (Some(r), Some(s)) => check(
                "retry_after_matches_reset",
                (r - s).abs() <= 1,
                format!("Retry-After {r}, RateLimit-Reset {s}"),
            ),
            (r, s) => check(
                "retry_after_matches_reset",
                false,
                format!("Retry-After {r:?}, RateLimit-Reset {s:?}: both are expected on a 429"),
            ),
        },
    });

    let limited: Vec<&Observation> = t
        .burst
        .iter()
        .filter(|o| is_2xx(o) || o.status == Some(429))
        .collect();
    let wrong: Vec<String> = limited
        .iter()
        .filter(|o| o.limit != Some(e.limit as i64))
        .map(|o| show(o.limit))
        .collect();
    out.push(check(
        "ratelimit_limit_header",
        !limited.is_empty() && wrong.is_empty(),
        if limited.is_empty() {
            "no answered request to inspect".to_owned()
        } else if wrong.is_empty() {
            format!(
                "RateLimit-Limit: {} on {} responses",
                e.limit,
                limited.len()
            )
        } else {
            format!(
                "expected RateLimit-Limit {}, saw {} (on {} of {} responses)",
                e.limit,
                wrong.first().cloned().unwrap_or_default(),
                wrong.len(),
                limited.len()
            )
        },
    ));

    out.push(remaining_check(t));

    let resets: Vec<Option<i64>> = limited.iter().map(|o| o.reset).collect();
    let bad_reset = resets
        .iter()
        .find(|r| !r.is_some_and(|r| r >= 1 && r <= w.seconds()));
    out.push(check(
        "reset_in_range",
        !resets.is_empty() && bad_reset.is_none(),
        match bad_reset {
            _ if resets.is_empty() => "no answered request to inspect".to_owned(),
            None => format!(
                "1 <= RateLimit-Reset <= {} on {} responses",
                w.seconds(),
                resets.len()
            ),
            Some(r) => format!("RateLimit-Reset {} outside 1..={}", show(*r), w.seconds()),
        },
    ));

    out.push(match (&t.second_key, first_429) {
        (None, None) => skip("consumer_isolation", "the first key was never exhausted"),
        (None, Some(_)) => skip("consumer_isolation", "no --second-key-env given"),
        (Some(o), _) => check(
            "consumer_isolation",
            is_2xx(o),
            format!(
                "second key while the first was exhausted: {}, RateLimit-Remaining {}",
                describe(o),
                show(o.remaining)
            ),
        ),
    });

    out.push(match &t.after_reset {
        None if first_429.is_none() => {
            skip("reset_restores_quota", "the first key was never exhausted")
        }
        None => skip("reset_restores_quota", "use --wait-reset to check"),
        Some(o) => check(
            "reset_restores_quota",
            is_2xx(o),
            format!(
                "after waiting for the reset: {}, RateLimit-Remaining {}",
                describe(o),
                show(o.remaining)
            ),
        ),
    });

    let all = t.all();
    let bad: Vec<String> = all
        .iter()
        .filter(|o| o.status.is_none_or(|s| s >= 500))
        .map(|o| describe(o))
        .collect();
    out.push(check(
        "no_5xx",
        bad.is_empty(),
        if bad.is_empty() {
            format!("{} requests, none 5xx or failed", all.len())
        } else {
            format!(
                "{} of {} requests: {}",
                bad.len(),
                all.len(),
                bad.join("; ")
            )
        },
    ));
    out
}

/// Non-2xx answers before the onset, which explain an early stop.
fn stray(obs: &[Observation]) -> String {
    let odd: Vec<String> = obs
        .iter()
        .enumerate()
        .filter(|(_, o)| !is_2xx(o))
        .map(|(i, o)| format!("request {}: {}", i + 1, describe(o)))
        .collect();
    if odd.is_empty() {
        String::new()
    } else {
        format!(" ({})", odd.join("; "))
    }
}

fn remaining_check(t: &Transcript) -> Check {
    const NAME: &str = "remaining_decrements";
    let seq: Vec<&Observation> = t
        .burst
        .iter()
        .filter(|o| is_2xx(o) || o.status == Some(429))
        .collect();
    let values: Vec<Option<i64>> = seq.iter().map(|o| o.remaining).collect();
    let shown = values
        .iter()
        .map(|v| v.map_or("-".to_owned(), |v| v.to_string()))
        .collect::<Vec<_>>()
        .join(", ");
    if values.is_empty() || values.iter().any(Option::is_none) {
        return check(NAME, false, format!("RateLimit-Remaining missing: {shown}"));
    }
    let v: Vec<i64> = values.into_iter().flatten().collect();
    // Between two allowed requests Remaining must fall; staying or rising means another
    // counter answered (or nothing counts).
    let separate = v
        .windows(2)
        .zip(seq.windows(2))
        .any(|(p, o)| is_2xx(o[0]) && is_2xx(o[1]) && p[1] >= p[0]);
    if separate || v.windows(2).any(|p| p[1] > p[0]) {
        return check(
            NAME,
            false,
            format!(
                "several gateway nodes counting separately (local policy): RateLimit-Remaining went {shown}"
            ),
        );
    }
    // Each allowed request takes exactly one; the refused one reports 0.
    let steps_ok = v.windows(2).zip(seq.windows(2)).all(|(p, o)| {
        if is_2xx(o[1]) {
            p[1] == p[0] - 1
        } else {
            p[1] == 0
        }
    });
    if !steps_ok {
        let skipped = v
            .windows(2)
            .zip(seq.windows(2))
            .any(|(p, o)| is_2xx(o[1]) && p[1] < p[0] - 1);
        let why = if skipped {
            " (a drop of more than one: other traffic on this consumer, or a gateway counting a request twice)"
        } else {
            ""
        };
        return check(
            NAME,
            false,
            format!("RateLimit-Remaining did not drop by exactly one per request: {shown}{why}"),
        );
    }
    let mismatch = seq.iter().find(|o| {
        let min = o.window_remaining.values().min().copied();
        min.is_some() && min != o.remaining
    });
    match mismatch {
        Some(o) => check(
            NAME,
            false,
            format!(
                "RateLimit-Remaining {:?} differs from the most restrictive X-RateLimit-Remaining-* {:?}",
                o.remaining, o.window_remaining
            ),
        ),
        None => check(
            NAME,
            true,
            format!(
                "RateLimit-Remaining went {shown}, matching the most restrictive X-RateLimit-Remaining-*"
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratelimit::expected::Window;

    fn resp(status: u16, limit: i64, remaining: i64, reset: i64) -> Observation {
        Observation {
            key: "first",
            status: Some(status),
            limit: Some(limit),
            remaining: Some(remaining),
            reset: Some(reset),
            retry_after: (status == 429).then_some(reset),
            window_limits: [("minute".to_owned(), limit)].into(),
            window_remaining: [("minute".to_owned(), remaining)].into(),
            ..Observation::default()
        }
    }

    fn good(limit: i64, spent: i64) -> Transcript {
        let mut burst: Vec<Observation> = (spent..limit)
            .map(|i| resp(200, limit, limit - i - 1, 30))
            .collect();
        burst.push(resp(429, limit, 0, 30));
        Transcript {
            no_key: Observation {
                status: Some(401),
                ..Observation::default()
            },
            unknown_key: Observation {
                status: Some(401),
                ..Observation::default()
            },
            burst,
            second_key: Some(resp(200, 100, 99, 30)),
            after_reset: None,
            ..Transcript::default()
        }
    }

    fn status_of(checks: &[Check], name: &str) -> Status {
        checks.iter().find(|c| c.name == name).unwrap().status
    }

    const TEN: Expected = Expected {
        limit: 10,
        window: Window::Minute,
    };

    #[test]
    fn a_gateway_that_behaves_passes_everything_but_skipped_checks() {
        for spent in [0, 3, 9] {
            let checks = evaluate(&good(10, spent), &TEN);
            for c in &checks {
                assert_ne!(c.status, Status::Fail, "spent {spent}: {c:?}");
            }
            assert_eq!(status_of(&checks, "reset_restores_quota"), Status::Skip);
        }
    }

    #[test]
    fn a_different_limit_fails_onset_and_header() {
        let checks = evaluate(&good(20, 0), &TEN);
        assert_eq!(status_of(&checks, "limit_enforced"), Status::Fail);
        assert_eq!(status_of(&checks, "ratelimit_limit_header"), Status::Fail);
        let checks = evaluate(&good(5, 0), &TEN);
        assert_eq!(status_of(&checks, "limit_enforced"), Status::Fail);
    }

    #[test]
    fn missing_auth_fails_the_auth_checks() {
        let mut t = good(10, 0);
        t.no_key.status = Some(200);
        t.unknown_key.status = Some(200);
        let checks = evaluate(&t, &TEN);
        assert_eq!(status_of(&checks, "no_key_401"), Status::Fail);
        assert_eq!(status_of(&checks, "unknown_key_401"), Status::Fail);
    }

    #[test]
    fn remaining_going_up_is_reported_as_several_nodes() {
        let mut t = good(10, 0);
        // Two nodes answering in turn: 9, 9, 8, 8, ...
        for (i, o) in t.burst.iter_mut().enumerate().take(10) {
            let r = 9 - (i as i64) / 2;
            o.remaining = Some(r);
            o.window_remaining.insert("minute".into(), r);
        }
        let checks = evaluate(&t, &TEN);
        let c = checks
            .iter()
            .find(|c| c.name == "remaining_decrements")
            .unwrap();
        assert!(c.evidence.contains("several gateway nodes"), "{c:?}");
        let mut t = good(10, 0);
        t.burst[2].remaining = Some(9);
        t.burst[2].window_remaining.insert("minute".into(), 9);
        let checks = evaluate(&t, &TEN);
        let c = checks
            .iter()
            .find(|c| c.name == "remaining_decrements")
            .unwrap();
        assert_eq!(c.status, Status::Fail);
        assert!(
            c.evidence
                .contains("several gateway nodes counting separately (local policy)")
        );
    }

    #[test]
    fn other_traffic_on_the_consumer_is_named() {
        let mut t = good(10, 0);
        // Someone else spent one between requests 3 and 4: 9, 8, 7, 5, 4, ...
        t.burst.remove(3);
        for o in t.burst.iter_mut().skip(3) {
            if o.status == Some(200) {
                let r = o.remaining.unwrap() - 1;
                o.remaining = Some(r);
                o.window_remaining.insert("minute".into(), r);
            }
        }
        t.burst.remove(t.burst.len() - 2);
        let checks = evaluate(&t, &TEN);
        let c = checks
            .iter()
            .find(|c| c.name == "remaining_decrements")
            .unwrap();
        assert_eq!(c.status, Status::Fail);
        assert!(
            c.evidence.contains("other traffic on this consumer"),
            "{c:?}"
        );
    }

    #[test]
    fn retry_after_and_reset_are_checked() {
        let mut t = good(10, 0);
        t.burst.last_mut().unwrap().retry_after = None;
        assert_eq!(status_of(&evaluate(&t, &TEN), "retry_after"), Status::Fail);
        let mut t = good(10, 0);
        t.burst.last_mut().unwrap().retry_after = Some(50);
        assert_eq!(
            status_of(&evaluate(&t, &TEN), "retry_after_matches_reset"),
            Status::Fail
        );
        let mut t = good(10, 0);
        t.burst[0].reset = Some(0);
        assert_eq!(
            status_of(&evaluate(&t, &TEN), "reset_in_range"),
            Status::Fail
        );
    }

    #[test]
    fn isolation_5xx_and_errors() {
        let mut t = good(10, 0);
        t.second_key = Some(resp(429, 10, 0, 30));
        assert_eq!(
            status_of(&evaluate(&t, &TEN), "consumer_isolation"),
            Status::Fail
        );
        t.second_key = None;
        assert_eq!(
            status_of(&evaluate(&t, &TEN), "consumer_isolation"),
            Status::Skip
        );
        t.burst[1].status = Some(502);
        let checks = evaluate(&t, &TEN);
        assert_eq!(status_of(&checks, "no_5xx"), Status::Fail);
        assert_eq!(status_of(&checks, "limit_enforced"), Status::Fail);
        t.burst[1].status = None;
        t.burst[1].error = Some("connection refused".into());
        assert_eq!(status_of(&evaluate(&t, &TEN), "no_5xx"), Status::Fail);
    }

    #[test]
    fn headerless_gateway_fails_header_checks_without_panicking() {
        let mut t = good(10, 0);
        for o in &mut t.burst {
            *o = Observation {
                status: o.status,
                ..Observation::default()
            };
        }
        let checks = evaluate(&t, &TEN);
        assert_eq!(status_of(&checks, "ratelimit_limit_header"), Status::Fail);
        assert_eq!(status_of(&checks, "remaining_decrements"), Status::Fail);
        assert_eq!(status_of(&checks, "reset_in_range"), Status::Fail);
        let empty = evaluate(&Transcript::default(), &TEN);
        assert_eq!(status_of(&empty, "limit_enforced"), Status::Fail);
    }
}
