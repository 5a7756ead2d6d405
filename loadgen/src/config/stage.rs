//! `--stage DURATION:RATE` (repeatable): k6's ramping arrival rate. Each stage is parsed and
//! bounded here, then, with `--rate` (where the first stage starts; 0 when absent) and
//! `--warmup` (run at that rate before the first stage), becomes the [`Ramp`] of the schedule.
//! The stages set the run's length, so `--duration` and `--requests` are refused beside them.

use std::time::Duration;

use crate::schedule::{Ramp, Stage};

use super::error::invalid;
use super::{ConfigError, MAX_DURATION, RunArgs};

/// Most stages of one run: far more than a hand-written profile, few enough that a generated
/// one stays a readable command line.
pub const MAX_STAGES: usize = 10_000;
/// Highest rate of a stage (and of `--rate`), requests/s.
pub const MAX_RATE: f64 = 10_000_000.0;

/// How to write a stage, for the errors.
const FORM: &str = "write DURATION:RATE, e.g. 30s:200 (to 200 requests/s over 30 s)";

/// Parses one `--stage` value: `DURATION:RATE`, a humantime duration above 0 and at most
/// [`MAX_DURATION`] (`500ms`, `30s`, `2m`, `1h30m`) and a rate in requests/s from 0 to
/// [`MAX_RATE`] (`100`, `0.5`, `1e3`).
pub fn parse_stage(text: &str) -> Result<Stage, ConfigError> {
    let bad = |why: String| invalid(format!("--stage `{text}`: {why}"));
    let (d, r) = text
        .split_once(':')
        .ok_or_else(|| bad(format!("no `:` between duration and rate; {FORM}")))?;
    let (d, r) = (d.trim(), r.trim());
    let duration =
        humantime::parse_duration(d).map_err(|e| bad(format!("duration `{d}`: {e}; {FORM}")))?;
    if duration.is_zero() {
        return Err(bad(format!(
            "the duration must be above 0 (for a jump in rate, a short stage such as 1ms:{r}); {FORM}"
        )));
    }
    if duration > MAX_DURATION {
        return Err(bad(format!(
            "duration {d} is longer than the longest run, {}",
            humantime::format_duration(MAX_DURATION)
        )));
    }
    let target: f64 = r
        .strip_suffix("/s")
        .unwrap_or(r)
        .parse()
        .map_err(|_| bad(format!("rate `{r}` is not a number; {FORM}")))?;
    if !(target.is_finite() && (0.0..=MAX_RATE).contains(&target)) {
        return Err(bad(format!(
            "rate {r}: must be a number of requests/s from 0 to {MAX_RATE:e}"
        )));
    }
    Ok(Stage { duration, target })
}

/// The ramp of `--stage`, with `--rate` as its starting rate and `--warmup` run at it; `None`
/// without `--stage`. Refuses what would leave the run ill-defined: `--duration` or
/// `--requests` beside stages, a warmup at a rate of 0, more than [`MAX_STAGES`] stages, stages
/// longer than [`MAX_DURATION`] together, and stages that schedule no request at all.
pub fn ramp(args: &RunArgs) -> Result<Option<Ramp>, ConfigError> {
    let given: Vec<&str> = args
        .stages
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    if given.is_empty() {
        return Ok(None);
    }
    if given.len() > MAX_STAGES {
        return Err(invalid(format!(
            "--stage: {} stages; at most {MAX_STAGES}",
            given.len()
        )));
    }
    let stages = given
        .iter()
        .map(|s| parse_stage(s))
        .collect::<Result<Vec<Stage>, _>>()?;
    let mut total = Duration::ZERO;
    for s in &stages {
        total = total.saturating_add(s.duration);
    }
    let length = humantime::format_duration(total);
    if total > MAX_DURATION {
        return Err(invalid(format!(
            "--stage: the stages last {length} together; at most {}",
            humantime::format_duration(MAX_DURATION)
        )));
    }
    if args.duration.is_some() {
        return Err(invalid(format!(
            "--duration cannot be combined with --stage: the run lasts as long as the stages together ({length}); drop --duration"
        )));
    }
    if args.requests.is_some() {
        return Err(invalid(format!(
            "--requests cannot be combined with --stage: the stages schedule the requests (over {length}); drop --requests"
        )));
    }
    let from = match args.rate {
        None => 0.0,
        Some(r) if r.is_finite() && (0.0..=MAX_RATE).contains(&r) => r,
        Some(r) => {
            return Err(invalid(format!(
                "--rate {r}: with --stage it is the rate the first stage starts from, a number of requests/s from 0 to {MAX_RATE:e}"
            )));
        }
    };
    if !args.warmup.is_zero() && from == 0.0 {
        return Err(invalid(
            "--warmup with --stage runs at --rate, the rate the first stage starts from: give --rate above 0, or make the warmup a first stage (e.g. --stage 10s:100)",
        ));
    }
    let ramp = Ramp::new(from, args.warmup, &stages);
    if ramp.measured_slots() == 0 {
        return Err(invalid(
            "--stage: the rate is 0 throughout the stages, so no request would be sent; give a stage a rate above 0",
        ));
    }
    Ok(Some(ramp))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse_stage(text).expect_err(text).to_string()
    }

    #[test]
    fn stages_parse() {
        let s = parse_stage("5s:100").expect("valid");
        assert_eq!((s.duration, s.target), (Duration::from_secs(5), 100.0));
        let s = parse_stage(" 500ms : 0.5 ").expect("valid");
        assert_eq!((s.duration, s.target), (Duration::from_millis(500), 0.5));
        let s = parse_stage("2m:1e3/s").expect("valid");
        assert_eq!((s.duration, s.target), (Duration::from_secs(120), 1000.0));
        let s = parse_stage("1h30m:0").expect("valid");
        assert_eq!((s.duration, s.target), (Duration::from_secs(5400), 0.0));
    }

    #[test]
    fn bad_stages_name_the_flag_and_say_what_to_write() {
        for (text, why) in [
            ("5s100", "no `:`"),
            ("", "no `:`"),
            ("5s:-100", "from 0"),
            ("0s:100", "above 0"),
            ("0ms:100", "above 0"),
            ("-5s:100", "duration `-5s`"),
            ("five:100", "duration `five`"),
            ("5:100", "duration `5`"),
            ("5s:", "not a number"),
            ("5s:abc", "not a number"),
            ("5s:100:3", "not a number"),
            ("5s:NaN", "from 0"),
            ("5s:inf", "from 0"),
            ("5s:-inf", "from 0"),
            ("5s:1e8", "from 0"),
            ("5s:1e400", "from 0"),
            ("8d:100", "longer than the longest run"),
            ("99999999999999999999999s:1", "duration"),
            ("18446744073709551615s:1", "duration"),
        ] {
            let e = err(text);
            assert!(e.starts_with(&format!("--stage `{text}`")), "{text}: {e}");
            assert!(e.contains(why), "{text}: {e}");
        }
    }
}
