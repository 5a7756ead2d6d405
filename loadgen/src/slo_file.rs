//! Gates from SLO files (`--slo-file slo/sum-api.yaml`): the objectives of OpenSLO files, read
//! and checked by the `slo` crate (`slo::model::load`, `slo::gates::gates`), become expressions
//! of [`crate::slo`], so they are measured, judged and reported exactly like `--slo` gates, and
//! the release gate and the alerts read one definition.
//!
//! - A latency objective (99% of answers within 250 ms) becomes `p99<=250ms`: the corrected
//!   percentile at most the bound ("within" includes it).
//! - An availability objective (99.9% of answers not 5xx) becomes `server_error_rate<=0.1%`:
//!   requests answered 5xx or not answered at all (connection and protocol errors, timeouts)
//!   over all requests. 4xx answers (429 included) are the client's doing: answered, never bad.
//!
//! Each gate keeps the name of the SLO it came from, which reports show beside it. SLOs that no
//! load test can check (the canary's synthetic one) are returned with the reason, for the
//! caller to print once; a set of files that gives no gate at all is refused, since a gate file
//! that gates nothing is a mistake.

use std::path::PathBuf;

use ::slo::gates::{Gate, Skipped, gates};
use ::slo::model::{Problems, load as load_slos};

use crate::slo::{Slo, SloError};

/// The flag this module reads, named in every message.
pub const FLAG: &str = "--slo-file";

/// The gates of some SLO files, and the SLOs that give none.
#[derive(Debug, Clone, Default)]
pub struct FileGates {
    /// One gate per gated SLO, in file order.
    pub gates: Vec<Slo>,
    /// SLOs that are no load-test property, with the reason.
    pub skipped: Vec<Skipped>,
}

impl FileGates {
    /// One line per skipped SLO, for stderr: `--slo-file: SLO NAME gives no gate: REASON`.
    pub fn notes(&self) -> Vec<String> {
        self.skipped
            .iter()
            .map(|s| format!("{FLAG}: SLO {} gives no gate: {}", s.slo, s.reason))
            .collect()
    }
}

/// Why `--slo-file` was refused (a usage error, exit 64).
#[derive(Debug, thiserror::Error)]
pub enum SloFileError {
    /// A file is missing, unreadable, not OpenSLO, or inconsistent: every problem, each naming
    /// the file, the SLO and the field.
    #[error("--slo-file: {} in the SLO files:\n{}", count(.0.0.len()), indent(.0))]
    Invalid(Problems),
    /// The files hold no SLO a load test can check.
    #[error("--slo-file {files}: no SLO gives a gate (gates come from SLOs labelled sli: latency or sli: availability; a gate file that gates nothing is a mistake){}", skipped_list(.skipped))]
    NoGate {
        /// The files, as given.
        files: String,
        /// Every SLO they hold, with why it gives no gate.
        skipped: Vec<Skipped>,
    },
    /// A gate whose bound cannot be written as an expression (a target so close to 0 or 1
    /// that the percentile or the budget rounds away).
    #[error("--slo-file: SLO {slo}: its gate `{expr}` is not a valid gate: {source}")]
    Expression {
        /// The SLO.
        slo: String,
        /// The expression made of it.
        expr: String,
        /// Why it was refused.
        source: SloError,
    },
}

fn count(n: usize) -> String {
    if n == 1 {
        "1 problem".to_owned()
    } else {
        format!("{n} problems")
    }
}

fn indent(problems: &Problems) -> String {
    problems
        .0
        .iter()
        .map(|p| format!("  {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn skipped_list(skipped: &[Skipped]) -> String {
    if skipped.is_empty() {
        return ": the files hold no SLO at all".to_owned();
    }
    skipped
        .iter()
        .map(|s| format!("\n  SLO {}: {}", s.slo, s.reason))
        .collect()
}

/// Reads and checks `files` (every problem of every file at once) and makes their gates.
/// No files: no gates, and no error (the flag was not given). Empty names are left out, as
/// empty `--slo` values are (an empty `LOADGEN_SLO_FILE` means none).
pub fn load(files: &[PathBuf]) -> Result<FileGates, SloFileError> {
    let files: Vec<PathBuf> = files
        .iter()
        .filter(|f| !f.as_os_str().is_empty())
        .cloned()
        .collect();
    if files.is_empty() {
        return Ok(FileGates::default());
    }
    let slos = load_slos(&files).map_err(SloFileError::Invalid)?;
    let (made, skipped) = gates(&slos);
    if made.is_empty() {
        let files = files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(" ");
        return Err(SloFileError::NoGate { files, skipped });
    }
    let gates = made.iter().map(gate).collect::<Result<_, _>>()?;
    Ok(FileGates { gates, skipped })
}

/// The expression of one gate, parsed by the grammar of `--slo` (so it is measured and shown
/// like a typed one), with the SLO it came from.
pub fn gate(g: &Gate) -> Result<Slo, SloFileError> {
    let (slo, expr) = match g {
        Gate::Percentile {
            slo,
            percentile,
            bound_ms,
        } => (
            slo,
            format!("p{}<={}ms", plain(*percentile), plain(*bound_ms)),
        ),
        Gate::ServerErrorRatio { slo, max_ratio } => (
            slo,
            format!("server_error_rate<={}%", plain(max_ratio * 100.0)),
        ),
    };
    let mut parsed: Slo = expr.parse().map_err(|source| SloFileError::Expression {
        slo: slo.clone(),
        expr: expr.clone(),
        source,
    })?;
    parsed.from_slo = Some(slo.clone());
    Ok(parsed)
}

/// A number as people write it: at most six decimals, no trailing zeros (`99.9`, not
/// `99.89999999999999`, which is how `0.999 * 100` comes out of floating point).
fn plain(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0');
    s.trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slo::{Metric, Op};
    use std::path::Path;

    fn repository_file() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../slo/sum-api.yaml")
    }

    #[test]
    fn the_repository_slos_become_a_latency_and_an_availability_gate() {
        let g = load(&[repository_file()]).expect("valid");
        let shown: Vec<(&str, Option<&str>)> = g
            .gates
            .iter()
            .map(|s| (s.expr.as_str(), s.from_slo.as_deref()))
            .collect();
        assert_eq!(
            shown,
            [
                ("server_error_rate<=0.1%", Some("sum-api-availability")),
                ("p99<=250ms", Some("sum-api-latency")),
            ]
        );
        assert_eq!(g.gates[0].metric, Metric::ServerErrorRate);
        assert!((g.gates[0].threshold - 0.001).abs() < 1e-12);
        assert_eq!(g.gates[1].metric, Metric::Percentile(99.0));
        assert_eq!((g.gates[1].op, g.gates[1].threshold), (Op::Le, 250.0));
        // The same gate as typed: identical but for where it came from.
        let typed: Slo = "p99<=250ms".parse().expect("valid");
        assert_eq!(
            Slo {
                from_slo: None,
                ..g.gates[1].clone()
            },
            typed
        );
        // The ALB's SLOs ask for the same gates as the service's; the canary's is no gate.
        let notes = g.notes();
        assert_eq!(
            notes,
            [
                "--slo-file: SLO sum-api-availability-alb gives no gate: the same gate as SLO sum-api-availability (one load test measures it once)",
                "--slo-file: SLO sum-api-latency-alb gives no gate: the same gate as SLO sum-api-latency (one load test measures it once)",
                "--slo-file: SLO sum-api-synthetic gives no gate: sli: synthetic is measured outside a load test",
            ]
        );
    }

    #[test]
    fn odd_targets_read_as_people_write_them() {
        let p = |percentile, bound_ms| Gate::Percentile {
            slo: "s".into(),
            percentile,
            bound_ms,
        };
        let expr = |g: &Gate| gate(g).expect("valid").expr;
        assert_eq!(expr(&p(0.999 * 100.0, 0.1 * 1000.0)), "p99.9<=100ms");
        assert_eq!(expr(&p(99.95, 0.5)), "p99.95<=0.5ms");
        assert_eq!(expr(&p(50.0, 1500.0)), "p50<=1500ms");
        let ratio = Gate::ServerErrorRatio {
            slo: "s".into(),
            max_ratio: 1.0 - 0.9995,
        };
        assert_eq!(expr(&ratio), "server_error_rate<=0.05%");
        // A target that rounds away is refused by name, not turned into a gate of nothing.
        let e = gate(&p(1e-9, 250.0)).expect_err("p0 is no percentile");
        assert!(e.to_string().contains("SLO s: its gate `p0<=250ms`"), "{e}");
    }

    #[test]
    fn no_files_give_no_gates_and_no_error() {
        let g = load(&[]).expect("nothing asked");
        assert!(g.gates.is_empty() && g.skipped.is_empty());
    }
}
