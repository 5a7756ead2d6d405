//! The capacity report: the search's settings, every step, the capacity (`capacity_rps`, the
//! highest rate that met every gate; null when none did), the verdict, the comparison with an
//! earlier capacity report (`--baseline`), and the autoscaling target derived from the
//! capacity: ECS target tracking on `ALBRequestCountPerTarget` counts requests per task per
//! minute, so the target is `capacity / tasks * headroom * 60`. Its JSON form is described by
//! `loadgen/schema/capacity.schema.json`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Ending;
use super::step::Step;
use crate::verdict::Verdict;

/// Version of the capacity report's shape.
pub const SCHEMA_VERSION: u32 = 1;
/// The `kind` of a capacity report (a `run` report has none).
pub const KIND: &str = "capacity";
/// The JSON Schema of the capacity report, as shipped in the repository.
pub const SCHEMA: &str = include_str!("../../schema/capacity.schema.json");
/// Largest report read back as a baseline.
const MAX_REPORT_BYTES: u64 = 16 << 20;

/// What the search was asked to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// `--min-rate`, requests/s.
    pub min_rate: f64,
    /// `--max-rate`, requests/s.
    pub max_rate: f64,
    /// `--step-duration`, seconds.
    pub step_duration_s: f64,
    /// `--precision`, a fraction.
    pub precision: f64,
    /// Connection pool size of every step.
    pub connections: usize,
    /// The gates, as reports name them.
    pub gates: Vec<String>,
}

/// The per-task rate for the ECS autoscaling policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Autoscaling {
    /// `--tasks`: tasks that served the URL during the search.
    pub tasks: u32,
    /// `--headroom`: the share of one task's capacity autoscaling should aim at.
    pub headroom: f64,
    /// The capacity of one task, requests/s.
    pub capacity_per_task_rps: f64,
    /// `capacity_per_task_rps * headroom`, requests/s.
    pub target_rps_per_task: f64,
    /// The target value of an `ALBRequestCountPerTarget` target-tracking policy (requests per
    /// task per minute): `target_rps_per_task * 60`, rounded down. Terraform's
    /// `requests_per_target` (the compute stack).
    pub alb_request_count_per_target: u64,
}

impl Autoscaling {
    /// The autoscaling target of `capacity_rps` measured over `tasks`, with `headroom`.
    pub fn of(capacity_rps: f64, tasks: u32, headroom: f64) -> Autoscaling {
        let per_task = capacity_rps / f64::from(tasks.max(1));
        let target = per_task * headroom;
        Autoscaling {
            tasks,
            headroom,
            capacity_per_task_rps: per_task,
            target_rps_per_task: target,
            alb_request_count_per_target: ((target * 60.0).floor() as u64).max(1),
        }
    }
}

/// The comparison with an earlier capacity report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The baseline file.
    pub source: String,
    /// Its capacity (null when it found none).
    pub baseline_capacity_rps: Option<f64>,
    /// This search's capacity.
    pub capacity_rps: Option<f64>,
    /// Relative change; null when either is null.
    pub change: Option<f64>,
    /// `--max-regression`, a fraction: the largest tolerated drop.
    pub max_regression: f64,
    /// Whether the capacity dropped by no more than that.
    pub pass: bool,
    /// What makes the two less comparable (other gates, other step duration).
    pub notes: Vec<String>,
}

/// Compares `capacity_rps` of this search (`settings`) with the baseline `old` from `source`.
pub fn compare(
    source: &str,
    old: &CapacityReport,
    capacity_rps: Option<f64>,
    settings: &Settings,
    max_regression: f64,
) -> Comparison {
    let change = match (old.capacity_rps, capacity_rps) {
        (Some(b), Some(c)) if b > 0.0 => Some((c - b) / b),
        _ => None,
    };
    let pass = match (old.capacity_rps, capacity_rps) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(b), Some(c)) => c >= b * (1.0 - max_regression),
    };
    let mut notes = Vec::new();
    if old.settings.gates != settings.gates {
        notes.push(format!(
            "the baseline was searched with other gates ({}); capacities under different gates differ by design",
            old.settings.gates.join(", ")
        ));
    }
    if old.settings.step_duration_s != settings.step_duration_s {
        notes.push(format!(
            "the baseline's steps lasted {} s, these {} s",
            old.settings.step_duration_s, settings.step_duration_s
        ));
    }
    if old.capacity_rps.is_none() {
        notes.push("the baseline found no capacity: nothing to regress from".into());
    }
    Comparison {
        source: source.to_string(),
        baseline_capacity_rps: old.capacity_rps,
        capacity_rps,
        change,
        max_regression,
        pass,
        notes,
    }
}

/// The whole capacity report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityReport {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Always [`KIND`]: tells a capacity report from a run report.
    pub kind: String,
    /// "loadgen X.Y.Z".
    pub tool: String,
    /// URL or targets file.
    pub url: String,
    /// Wall-clock start of the search, RFC 3339.
    pub start: String,
    /// What the search was asked to do.
    pub settings: Settings,
    /// The highest rate, requests/s, at which a step met every gate (null: none did).
    pub capacity_rps: Option<f64>,
    /// The lowest rate that breached a gate (null: none did).
    pub first_failing_rps: Option<f64>,
    /// How the search ended.
    pub ending: Ending,
    /// pass: a capacity was found; fail: even --min-rate breached, or the capacity regressed;
    /// invalid: the generator was the limit before any breach; aborted: stopped by a signal.
    pub verdict: Verdict,
    /// Why the verdict is what it is.
    pub reasons: Vec<String>,
    /// The autoscaling target, when a capacity was found.
    pub autoscaling: Option<Autoscaling>,
    /// The comparison with `--baseline`.
    pub baseline: Option<Comparison>,
    /// Every step, in the order run.
    pub steps: Vec<Step>,
}

impl CapacityReport {
    /// The verdict and its reasons from how the search ended and the baseline comparison.
    pub fn judge(
        ending: Ending,
        capacity_rps: Option<f64>,
        baseline: Option<&Comparison>,
    ) -> (Verdict, Vec<String>) {
        let mut reasons = vec![ending.describe().to_string()];
        let verdict = match (ending, capacity_rps) {
            (Ending::Aborted, _) => return (Verdict::Aborted, reasons),
            (Ending::GeneratorLimit, _) => return (Verdict::Invalid, reasons),
            (_, None) => Verdict::Fail,
            (_, Some(_)) => Verdict::Pass,
        };
        match baseline {
            Some(c) if !c.pass => {
                reasons.push(format!(
                    "capacity regressed beyond {:.1}% against {}: {} -> {}",
                    c.max_regression * 100.0,
                    c.source,
                    fmt_rate(c.baseline_capacity_rps),
                    fmt_rate(c.capacity_rps)
                ));
                (Verdict::Fail, reasons)
            }
            _ => (verdict, reasons),
        }
    }

    /// The step whose rate is the capacity (the knee), if any.
    pub fn knee(&self) -> Option<&Step> {
        let c = self.capacity_rps?;
        self.steps
            .iter()
            .find(|s| s.rate == c && s.verdict == super::StepVerdict::Pass)
    }
}

/// `12.5 req/s`, or `none`.
pub fn fmt_rate(r: Option<f64>) -> String {
    r.map_or_else(|| "none".to_string(), |r| format!("{r:.1} req/s"))
}

/// Writes `r` as pretty JSON to `dest`: a file path, or `-` for stdout.
pub fn write(r: &CapacityReport, dest: &str) -> std::io::Result<()> {
    crate::report::json::write_pretty(r, dest)
}

/// Reads a capacity report written by [`write()`]; the error says what the file is instead.
pub fn read(path: &Path) -> Result<CapacityReport, String> {
    let bytes = crate::input::read_capped(path, MAX_REPORT_BYTES, true)
        .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| format!("`{}` is not JSON: {e}", path.display()))?;
    if value.get("kind").and_then(|k| k.as_str()) != Some(KIND) {
        let what = if value.get("latency_ms").is_some() {
            "a `loadgen run` report"
        } else {
            "no loadgen capacity report"
        };
        return Err(format!(
            "`{}` is {what}; give the --json of an earlier `loadgen capacity`",
            path.display()
        ));
    }
    serde_json::from_value(value)
        .map_err(|e| format!("`{}` is not a loadgen capacity report: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(gates: &[&str]) -> Settings {
        Settings {
            min_rate: 10.0,
            max_rate: 1000.0,
            step_duration_s: 10.0,
            precision: 0.05,
            connections: 64,
            gates: gates.iter().map(|g| g.to_string()).collect(),
        }
    }

    fn report(capacity_rps: Option<f64>) -> CapacityReport {
        CapacityReport {
            schema_version: SCHEMA_VERSION,
            kind: KIND.into(),
            tool: "loadgen test".into(),
            url: "http://127.0.0.1:9/".into(),
            start: "2026-01-01T00:00:00Z".into(),
            settings: settings(&["p99<50ms"]),
            capacity_rps,
            first_failing_rps: None,
            ending: Ending::Knee,
            verdict: Verdict::Pass,
            reasons: Vec::new(),
            autoscaling: None,
            baseline: None,
            steps: Vec::new(),
        }
    }

    #[test]
    fn the_autoscaling_target_is_per_task_per_minute_with_headroom() {
        let a = Autoscaling::of(300.0, 2, 0.7);
        assert_eq!(a.capacity_per_task_rps, 150.0);
        assert!((a.target_rps_per_task - 105.0).abs() < 1e-9);
        assert_eq!(a.alb_request_count_per_target, 6300);
        assert_eq!(
            Autoscaling::of(0.001, 1, 0.5).alb_request_count_per_target,
            1
        );
    }

    #[test]
    fn a_drop_beyond_the_bound_fails_and_says_so() {
        let s = settings(&["p99<50ms"]);
        let old = report(Some(100.0));
        let c = compare("old.json", &old, Some(85.0), &s, 0.1);
        assert!(!c.pass);
        assert!((c.change.expect("a change") + 0.15).abs() < 1e-9);
        let (v, reasons) = CapacityReport::judge(Ending::Knee, Some(85.0), Some(&c));
        assert_eq!(v, Verdict::Fail);
        assert!(
            reasons[1].contains("100.0 req/s -> 85.0 req/s"),
            "{reasons:?}"
        );

        assert!(compare("b", &old, Some(91.0), &s, 0.1).pass);
        assert!(!compare("b", &old, None, &s, 0.1).pass);
        let none = compare("b", &report(None), Some(1.0), &s, 0.1);
        assert!(
            none.pass && none.notes[0].contains("no capacity"),
            "{none:?}"
        );
        let other = compare("b", &old, Some(100.0), &settings(&["p99<1s"]), 0.1);
        assert!(other.notes[0].contains("other gates"), "{other:?}");
    }

    #[test]
    fn the_verdict_follows_how_the_search_ended() {
        let v = |e, c| CapacityReport::judge(e, c, None).0;
        assert_eq!(v(Ending::Knee, Some(1.0)), Verdict::Pass);
        assert_eq!(v(Ending::MaxRate, Some(1.0)), Verdict::Pass);
        assert_eq!(
            v(Ending::GeneratorLimitAfterBreach, Some(1.0)),
            Verdict::Pass
        );
        assert_eq!(v(Ending::BreachedAtMinRate, None), Verdict::Fail);
        assert_eq!(v(Ending::GeneratorLimit, Some(1.0)), Verdict::Invalid);
        assert_eq!(v(Ending::GeneratorLimit, None), Verdict::Invalid);
        assert_eq!(v(Ending::Aborted, Some(1.0)), Verdict::Aborted);
    }

    #[test]
    fn a_run_report_is_no_capacity_baseline() {
        let dir = std::env::temp_dir().join(format!("loadgen-cap-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let run = dir.join("run.json");
        std::fs::write(&run, r#"{"latency_ms": {}, "verdict": "pass"}"#).expect("write");
        let e = read(&run).expect_err("a run report");
        assert!(e.contains("`loadgen run` report"), "{e}");
        let cap = dir.join("cap.json");
        write(&report(Some(42.0)), cap.to_str().expect("utf-8")).expect("write");
        assert_eq!(read(&cap).expect("reads back").capacity_rps, Some(42.0));
        std::fs::write(&cap, "[1,").expect("write");
        assert!(read(&cap).expect_err("not JSON").contains("not JSON"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
