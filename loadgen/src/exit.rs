//! Exit status of every subcommand, and the table of them that `--help` shows. One home, so
//! the codes the report maps a verdict to and the ones the help describes cannot drift apart.

/// Every gate held (for `ratelimit`: the gateway behaves as declared).
pub const PASS: u8 = 0;
/// Anything else went wrong (I/O, unreachable target at start, ...).
pub const FAILURE: u8 = 1;
/// An SLO, the rate target, or the baseline comparison was breached.
pub const BREACH: u8 = 2;
/// The run is invalid: the generator itself was the bottleneck.
pub const INVALID: u8 = 3;
/// The run was stopped by SIGINT or SIGTERM; the reports of what ran were written (see
/// [`crate::interrupt`]). A second signal exits at once with 130 or 143 instead.
pub const ABORTED: u8 = 4;
/// Bad flags or input files (EX_USAGE).
pub const USAGE: u8 = 64;

/// The exit codes of `run`, `merge` and `report`, as `--help` prints them.
pub const HELP: &str = "\
Exit codes:
  0   pass: every SLO and the baseline comparison held
  1   other failure (I/O error, bad output path, ...)
  2   breach: an SLO failed, the target rate was not reached, or a regression beyond --max-regression
  3   invalid run: the generator itself was the bottleneck (schedule lag or CPU), results are not trustworthy
  4   aborted (run): stopped by SIGINT or SIGTERM; every requested report was written for what ran
      (a second signal exits at once: 130 for SIGINT, 143 for SIGTERM)
  64  usage error: bad flag, SLO expression, SLO file (--slo-file), URL, targets or body file,
      or an unreadable, truncated or mismatched interval log (merge, report)";

/// The exit codes of `capacity`, as its `--help` prints them.
pub const CAPACITY_HELP: &str = "\
Exit codes:
  0   a capacity was found: the highest rate at which every gate held (and the baseline comparison held)
  1   other failure (I/O error, a target that accepts no connection, ...)
  2   breach: even --min-rate breached a gate, or the capacity dropped beyond --max-regression
  3   the generator was the limit before any step breached: the target's capacity was not found
  4   aborted: stopped by SIGINT or SIGTERM; the reports cover the steps that ran
      (a second signal exits at once: 130 for SIGINT, 143 for SIGTERM)
  64  usage error: bad flag (--min-rate above --max-rate, a rate or --step-duration not above 0),
      no gate (--slo, --slo-file), SLO expression or file, URL, targets, or --baseline not a capacity report";
