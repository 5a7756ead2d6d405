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
/// Bad flags or input files (EX_USAGE).
pub const USAGE: u8 = 64;

/// The exit codes of `run`, `merge` and `report`, as `--help` prints them.
pub const HELP: &str = "\
Exit codes:
  0   pass: every SLO and the baseline comparison held
  1   other failure (I/O error, bad output path, ...)
  2   breach: an SLO failed, the target rate was not reached, or a regression beyond --max-regression
  3   invalid run: the generator itself was the bottleneck (schedule lag or CPU), results are not trustworthy
  64  usage error: bad flag, SLO expression, SLO file (--slo-file), URL, targets or body file,
      or an unreadable, truncated or mismatched interval log (merge, report)";
