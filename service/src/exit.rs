//! Exit status of the `service` binary, and the table of them that `--help` shows. One home,
//! so the codes `main` returns and the ones the help describes cannot drift apart.

/// Served and shut down gracefully (SIGTERM/Ctrl-C), or a healthy `healthcheck`.
pub const SUCCESS: u8 = 0;
/// A runtime failure (e.g. a port cannot be bound), or an unhealthy `healthcheck`.
pub const FAILURE: u8 = 1;
/// Invalid configuration or usage (sysexits' EX_USAGE).
pub const USAGE: u8 = 64;

/// The exit codes, as `--help` prints them.
pub const HELP: &str = "\
Exit codes:
  0   success: served until SIGTERM/Ctrl-C and shut down gracefully, or a healthy `healthcheck`
  1   runtime failure (e.g. a port cannot be bound), or an unhealthy `healthcheck`
  64  invalid configuration or usage";
