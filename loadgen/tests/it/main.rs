//! loadgen's black-box tests, in one test binary (built and linked once, not once per file), a
//! module per concern:
//!
//! - [`run`]: `loadgen run` against local servers and nginx, in-process and through the built
//!   binary: load models, outcomes, timeouts, gates, exit codes, the JSON report, hostile flags.
//! - [`output`]: the files a run writes (JSON, hlog, hgrm, HTML) and `loadgen merge`/`report`.
//! - [`slo_file`]: `--slo-file` (the repository's SLOs as gates of `run`, `merge`, `report`;
//!   5xx and unanswered requests breach the availability gate, 4xx do not; bad SLO files).
//! - [`regression_floor`]: `--regression-floor` of the baseline comparison, through `report`
//!   on a log of known latencies; bad floors on `run`, `merge` and `report`.
//! - [`interrupt`]: SIGINT or SIGTERM mid-run (`aborted`, exit 4, every output written and
//!   readable, the hlog by Python's `hdrhistogram`), a second signal (130, 143), a target that
//!   never answers, `kill -9` (the intervals written so far stay readable).
//! - [`stages`]: `--stage` ramps send the integral of their rate, per-second intervals follow
//!   the ramp, ramped generators merge; bad stages are exit 64 naming the flag.
//! - [`error_kinds`]: errors by kind against raw servers: a 200 with broken chunked framing is
//!   a `malformed` error and never a 2xx; refused, reset, timeout, TLS, 4xx, 5xx add up.
//! - [`targets_rows`]: a `--targets` mix's per-entry rows (text, JSON, HTML, through the hlog);
//!   the HTML plots' SLO lines, corrected and uncorrected lines and width in headless Chromium.
//! - [`reach`]: a target that refuses every connection (or TLS to a plain-HTTP port) ends the
//!   run in seconds with exit 1 and the reason; a URL without a scheme says what to write.
//! - [`tls`]: `loadgen run` over TLS with a CA made at test time; ALPN picks h2 or HTTP/1.1.
//! - [`capacity`]: `loadgen capacity` against a one-worker server of known capacity: the
//!   search lands below its knee; breaches, baseline regressions and bad flags.
//! - [`ratelimit`]: `loadgen ratelimit` against the real service behind the local gateway.
//! - [`traces`]: `--trace-sample` sends a fresh sampled `traceparent` on that fraction of
//!   requests (none at 0); the reports list the slowest and failed traced requests by the ids
//!   the server saw, linked with `--trace-url`; bad values are exit 64 naming the flag.

mod capacity;
#[path = "../common/mod.rs"]
mod common;
mod error_kinds;
mod interrupt;
mod output;
mod ratelimit;
mod reach;
mod regression_floor;
mod run;
mod slo_file;
mod stages;
mod targets_rows;
mod tls;
mod traces;
