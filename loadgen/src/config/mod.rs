//! Turns `loadgen run` flags into a validated [`RunConfig`]: every URL, header, body file,
//! targets file, SLO (typed or from an SLO file), rate and duration is checked here, before any
//! connection is opened, so a typo is a usage error (exit 64) and never a half-run test.
//!
//! [`RunArgs`] holds the flags as typed; the request mix (URLs, headers, bodies, targets files)
//! is checked into [`Target`]s by `request`, the stages of `--stage` into a [`Ramp`] by
//! `stage`, the default thread count by `threads`; every refusal is a [`ConfigError`].

mod error;
mod flags;
mod request;
mod stage;
mod threads;
mod traces;

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::HeaderMap;

use crate::report::{Baseline, json};
use crate::schedule::Ramp;
use crate::slo::{Slo, parse_fraction};
use crate::slo_file;
use crate::verdict::parse_regression_floor;
use error::invalid;
use request::{endpoint_of, header_from_env, make_target, parse_header, read_body, read_targets};

pub use error::ConfigError;
pub use flags::{GateArgs, GeneratorArgs, RequestArgs, RunArgs, SloArgs, TraceArgs};
pub use request::{Endpoint, MAX_BODY_BYTES, MAX_TARGETS, Target, mix_order};
pub use stage::{MAX_RATE, MAX_STAGES, parse_stage};
pub use traces::{MAX_TRACE_URL, TRACE_ID_PLACEHOLDER, TraceConfig, XRAY_TRACE_ID_PLACEHOLDER};

/// Largest connection count.
pub const MAX_CONNECTIONS: usize = 100_000;
/// Largest number of generator threads.
pub const MAX_THREADS: usize = 1024;

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);
/// Longest measured duration (a week: soak tests included).
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);
/// Longest warmup.
pub const MAX_WARMUP: Duration = DAY;
/// Longest per-request timeout.
pub const MAX_TIMEOUT: Duration = HOUR;
/// Largest tolerated schedule lag of the self-check.
pub const MAX_MAX_LAG: Duration = Duration::from_secs(60);
/// Farthest ahead `--start-at` may be: generators wait for it, so a wrong date would keep them
/// waiting for years.
pub const MAX_START_AHEAD: Duration = DAY;

/// The load model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Model {
    /// Arrival rate in requests/s; latency from intended send times.
    Open {
        /// Requests per second: the constant rate, or with stages ([`RunConfig::ramp`]) their
        /// mean scheduled rate, what the achieved rate is judged against.
        rate: f64,
    },
    /// Each connection sends as soon as its previous response arrived.
    Closed,
}

/// When measuring stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// After this long (after warmup).
    Duration(Duration),
    /// After this many measured requests.
    Requests(u64),
}

/// A validated `loadgen run`.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The URL as given (or the targets file), for reports.
    pub label: String,
    /// Where to connect.
    pub endpoint: Endpoint,
    /// The request mix (at least one).
    pub targets: Vec<Target>,
    /// Open or closed.
    pub model: Model,
    /// Connection pool size (HTTP/2: concurrent streams).
    pub connections: usize,
    /// When to stop.
    pub stop: Stop,
    /// Unmeasured lead-in.
    pub warmup: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
    /// HTTP/2.
    pub http2: bool,
    /// SLO gates: those of `--slo`, then those of `--slo-file`.
    pub slos: Vec<Slo>,
    /// One line per SLO of `--slo-file` that gives no gate, saying why; printed before the run.
    pub slo_notes: Vec<String>,
    /// An earlier report to compare with.
    pub baseline: Option<Baseline>,
    /// Regression bound as a fraction.
    pub max_regression: f64,
    /// JSON report destination (`-` = stdout).
    pub json: Option<String>,
    /// Absolute schedule start.
    pub start_at: Option<SystemTime>,
    /// Generator name.
    pub generator_id: Option<String>,
    /// Self-check lag bound.
    pub max_lag: Duration,
    /// Worker threads: `--threads`, or by default half the CPUs for a target on this machine
    /// and all of them otherwise (`threads::default_threads`).
    pub threads: usize,
    /// Live progress allowed.
    pub quiet: bool,
    /// The stages of `--stage` (open model): the schedule follows them, `model` holds their
    /// mean scheduled rate and `stop` their total duration (see [`RunConfig::with_ramp`]).
    pub ramp: Option<Ramp>,
    /// `--trace-sample` and `--trace-url`; `None` without them.
    pub trace: Option<TraceConfig>,
}

/// Refuses a duration flag above `max`, or zero unless `zero_ok` (a zero timeout or lag bound
/// is never meant). The bounds also keep every `Instant + duration` of the run from
/// overflowing.
pub(crate) fn check_duration(
    flag: &str,
    d: Duration,
    zero_ok: bool,
    max: Duration,
) -> Result<(), ConfigError> {
    if (zero_ok || !d.is_zero()) && d <= max {
        return Ok(());
    }
    let fmt = humantime::format_duration;
    let low = if zero_ok { "" } else { "longer than 0s and " };
    Err(invalid(format!(
        "{flag} {}: must be {low}at most {}",
        fmt(d),
        fmt(max)
    )))
}

impl RunConfig {
    /// Validates `args`, reading body, targets, SLO and baseline files and `--header-env`
    /// variables.
    pub fn from_args(args: &RunArgs) -> Result<RunConfig, ConfigError> {
        let slos = args
            .gates
            .slos
            .slo
            .iter()
            .filter(|s| !s.trim().is_empty())
            .map(|s| s.parse())
            .collect::<Result<Vec<Slo>, _>>()?;
        let from_files = slo_file::load(&args.gates.slos.slo_file)?;
        let slo_notes = from_files.notes();
        let slos = slos.into_iter().chain(from_files.gates).collect();

        let mut common = HeaderMap::new();
        for h in &args.request.headers {
            let (name, value) = parse_header(h)?;
            common.append(name, value);
        }
        for spec in &args.request.header_env {
            let (name, var) = spec
                .split_once('=')
                .filter(|(n, v)| !n.trim().is_empty() && !v.trim().is_empty())
                .ok_or_else(|| invalid(format!("--header-env `{spec}`: write `Name=ENV_VAR`")))?;
            let (name, value) = header_from_env(name.trim(), var.trim())?;
            common.append(name, value);
        }

        let (label, targets) = match (&args.request.targets, &args.request.url) {
            (Some(path), _) => (path.display().to_string(), read_targets(path, &common)?),
            (None, Some(url)) => {
                let body = match (&args.request.body, &args.request.body_file) {
                    (Some(b), _) => request::check_body_len(Bytes::from(b.clone().into_bytes()))?,
                    (None, Some(p)) => read_body(p)?,
                    (None, None) => Bytes::new(),
                };
                let t = make_target(url, &args.request.method, common.clone(), body, 1)?;
                (url.clone(), vec![t])
            }
            (None, None) => return Err(invalid("give a URL or --targets FILE")),
        };
        let endpoint = endpoint_of(&targets)?;
        let trace = traces::parse(&args.trace, &targets)?;

        let ramp = stage::ramp(args)?;
        let model = match args.rate.filter(|_| ramp.is_none()) {
            None => Model::Closed,
            Some(r) if r.is_finite() && r > 0.0 && r <= 10_000_000.0 => Model::Open { rate: r },
            Some(r) => {
                return Err(invalid(format!(
                    "--rate {r}: must be a number of requests/s above 0 (at most 1e7)"
                )));
            }
        };
        if args.request.connections == 0 || args.request.connections > MAX_CONNECTIONS {
            return Err(invalid(format!(
                "--connections {}: must be 1..={MAX_CONNECTIONS}",
                args.request.connections
            )));
        }
        let stop = match (args.duration, args.requests) {
            (_, Some(0)) => return Err(invalid("--requests must be at least 1")),
            (_, Some(n)) => Stop::Requests(n),
            (Some(d), None) => {
                check_duration("--duration", d, false, MAX_DURATION)?;
                Stop::Duration(d)
            }
            (None, None) => Stop::Duration(Duration::from_secs(10)),
        };
        check_duration("--timeout", args.request.timeout, false, MAX_TIMEOUT)?;
        check_duration("--max-lag", args.generator.max_lag, false, MAX_MAX_LAG)?;
        check_duration("--warmup", args.warmup, true, MAX_WARMUP)?;
        let max_regression = parse_fraction(&args.gates.max_regression)
            .map_err(|e| invalid(format!("--max-regression {e}")))?;
        let regression_floor_ms = parse_regression_floor(&args.gates.regression_floor)
            .map_err(|e| invalid(format!("--regression-floor {e}")))?;
        let baseline = match &args.gates.baseline {
            None => None,
            Some(p) => {
                let report = json::read(p).map_err(|e| invalid(format!("--baseline: {e}")))?;
                Some(Baseline {
                    source: p.display().to_string(),
                    report,
                    max_regression,
                    regression_floor_ms,
                })
            }
        };
        let start_at = match &args.start_at {
            None => None,
            Some(s) => {
                let t = humantime::parse_rfc3339_weak(s.trim()).map_err(|e| {
                    invalid(format!(
                        "--start-at `{s}`: {e}; write RFC 3339 like 2026-01-01T12:00:00Z"
                    ))
                })?;
                let late = SystemTime::now()
                    .duration_since(t)
                    .unwrap_or(Duration::ZERO);
                if late > Duration::from_secs(1) {
                    return Err(invalid(format!(
                        "--start-at `{s}` is {} in the past; choose a time a little ahead so all generators can wait for it",
                        humantime::format_duration(Duration::from_secs(late.as_secs()))
                    )));
                }
                let ahead = t
                    .duration_since(SystemTime::now())
                    .unwrap_or(Duration::ZERO);
                if ahead > MAX_START_AHEAD {
                    return Err(invalid(format!(
                        "--start-at `{s}` is {} ahead; at most {} (the generators wait for it)",
                        humantime::format_duration(Duration::from_secs(ahead.as_secs())),
                        humantime::format_duration(MAX_START_AHEAD)
                    )));
                }
                Some(t)
            }
        };
        if let Some(id) = &args.generator_id
            && (id.is_empty()
                || id.len() > 128
                || id.chars().any(|c| c.is_control() || c.is_whitespace()))
        {
            return Err(invalid(
                "--generator-id: 1..128 printable characters without spaces",
            ));
        }
        if let Some(p) = &args.gates.json
            && p.is_empty()
        {
            return Err(invalid("--json needs a file path or `-`"));
        }
        let threads = match args.generator.threads {
            Some(n) if n == 0 || n > MAX_THREADS => {
                return Err(invalid(format!("--threads {n}: must be 1..={MAX_THREADS}")));
            }
            Some(n) => n,
            None => threads::default_threads_for(&endpoint),
        };
        Ok(RunConfig {
            label,
            endpoint,
            targets,
            model,
            connections: args.request.connections,
            stop,
            warmup: args.warmup,
            timeout: args.request.timeout,
            http2: args.request.http2,
            slos,
            slo_notes,
            baseline,
            max_regression,
            json: args.gates.json.clone(),
            start_at,
            generator_id: args.generator_id.clone(),
            max_lag: args.generator.max_lag,
            threads,
            quiet: args.generator.quiet,
            ramp: None,
            trace,
        }
        .with_ramp(ramp))
    }

    /// This run with its schedule following `ramp` (its warmup and stages, the open model at
    /// their mean scheduled rate, for their total duration); unchanged for `None`. For code
    /// that builds runs itself (e.g. a capacity search ramping between steps).
    pub fn with_ramp(mut self, ramp: Option<Ramp>) -> RunConfig {
        if let Some(r) = &ramp {
            self.model = Model::Open {
                rate: r.mean_rate(),
            };
            self.stop = Stop::Duration(r.duration());
            self.warmup = r.warmup();
        }
        self.ramp = ramp;
        self
    }

    /// Target rate, in the open model (with stages, their mean scheduled rate; the rate of the
    /// moment is [`Ramp::rate_at`] of [`RunConfig::ramp`]).
    pub fn rate(&self) -> Option<f64> {
        match self.model {
            Model::Open { rate } => Some(rate),
            Model::Closed => None,
        }
    }
}
