//! The flags of `loadgen run`, as typed: raw strings, numbers and paths with their `///` help
//! and `LOADGEN_*` environment fallbacks; `RunConfig::from_args` validates them. The request
//! ([`RequestArgs`]), generator ([`GeneratorArgs`]) and SLO ([`SloArgs`]) groups are flattened
//! into other subcommands too (`capacity`, `merge`, `report`), so each flag is spelled once.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::outputs::ReportFiles;

/// Flags of `loadgen run`. `Default` is for struct-update syntax in code that builds a run
/// from other flags (`capacity`'s steps); its values are not clap's defaults.
#[derive(Debug, Default, Args)]
pub struct RunArgs {
    /// What is sent, and over how many connections.
    #[command(flatten)]
    pub request: RequestArgs,

    /// Open model: constant arrival rate in requests/s (per generator with --start-at).
    /// Latency is measured from each request's intended send time. Without it: closed model.
    #[arg(long, short = 'r', env = "LOADGEN_RATE", allow_negative_numbers = true)]
    pub rate: Option<f64>,

    /// How long to measure (after warmup), e.g. 30s, 5m. Default 10s unless --requests is given.
    #[arg(long, short = 'z', env = "LOADGEN_DURATION", value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,

    /// Stop after this many measured requests instead of after a duration.
    #[arg(
        long,
        short = 'n',
        env = "LOADGEN_REQUESTS",
        conflicts_with = "duration"
    )]
    pub requests: Option<u64>,

    /// Load applied before measuring starts; excluded from all results.
    #[arg(long, env = "LOADGEN_WARMUP", value_parser = humantime::parse_duration, default_value = "0s")]
    pub warmup: Duration,

    /// Ramping arrival rate (open model, k6's ramping-arrival-rate), repeatable: each stage
    /// moves the rate linearly from where the previous one ended (the first from --rate, or 0)
    /// to RATE requests/s over DURATION, e.g. `--rate 100 --stage 5s:100 --stage 5s:300`
    /// (1,500 requests). The run lasts the stages together (no --duration or --requests);
    /// --warmup runs at --rate before the first stage.
    // A negative value reaches the parser (which names this flag) instead of reading as a flag.
    #[arg(
        long = "stage",
        env = "LOADGEN_STAGE",
        value_delimiter = ',',
        value_name = "DURATION:RATE",
        allow_hyphen_values = true
    )]
    pub stages: Vec<String>,

    /// SLO gates, the baseline comparison and the JSON report.
    #[command(flatten)]
    pub gates: GateArgs,

    /// Start the schedule at this absolute time (RFC 3339, e.g. 2026-01-01T12:00:00Z) so that
    /// several generators start together; --rate is then per generator.
    #[arg(long, env = "LOADGEN_START_AT")]
    pub start_at: Option<String>,

    /// This generator's name, written into its reports and interval log.
    #[arg(long, env = "LOADGEN_GENERATOR_ID")]
    pub generator_id: Option<String>,

    /// The generator's threads, self-check bound and progress display.
    #[command(flatten)]
    pub generator: GeneratorArgs,

    /// Write an HdrHistogram interval log: one interval per second, V2 compressed, tagged by
    /// outcome class (`2xx`, `2xx.uncorrected`, …), values in µs; input of `merge`/`report`.
    #[arg(long, env = "LOADGEN_HLOG", value_name = "FILE")]
    pub hlog: Option<PathBuf>,

    /// Report files (--hgrm, --html).
    #[command(flatten)]
    pub files: ReportFiles,

    /// Distributed tracing of the requests (--trace-sample, --trace-url).
    #[command(flatten)]
    pub trace: TraceArgs,
}

/// Which requests carry a W3C `traceparent`, and how the reports link their trace ids.
#[derive(Debug, Clone, Default, Args)]
pub struct TraceArgs {
    /// Send a fresh, sampled W3C traceparent (a new trace) on this fraction of requests, 0 to 1,
    /// e.g. 0.01 or 1; the reports list, per outcome class, the trace ids of the slowest traced
    /// requests and of the first failed ones.
    // A negative value reaches the validation (which names this flag) instead of reading as a flag.
    #[arg(
        long,
        env = "LOADGEN_TRACE_SAMPLE",
        value_name = "RATIO",
        allow_hyphen_values = true
    )]
    pub trace_sample: Option<String>,

    /// Link for each trace id in the reports: an http(s) URL containing {trace_id} (32 hex
    /// digits) or {xray_trace_id} (the same id as X-Ray writes it, 1-xxxxxxxx-xxx…), e.g.
    /// `https://console.aws.amazon.com/cloudwatch/home#xray:traces/{xray_trace_id}`. Needs
    /// --trace-sample.
    #[arg(long, env = "LOADGEN_TRACE_URL", value_name = "TEMPLATE")]
    pub trace_url: Option<String>,
}

/// What each request is and how it is sent: the request flags of `run`, shared by `capacity`.
#[derive(Debug, Clone, Default, Args)]
pub struct RequestArgs {
    /// Target URL, http:// or https:// (omit when --targets is given).
    #[arg(env = "LOADGEN_URL")]
    pub url: Option<String>,

    /// HTTP method of every request.
    #[arg(long, short = 'X', env = "LOADGEN_METHOD", default_value = "GET")]
    pub method: String,

    /// Request header `Name: value`; repeatable. Never put secrets here: use --header-env.
    #[arg(
        long = "header",
        short = 'H',
        env = "LOADGEN_HEADER",
        value_delimiter = '\n'
    )]
    pub headers: Vec<String>,

    /// Header whose value is read from an environment variable: `NAME=ENV_VAR`, e.g.
    /// `apikey=LOADGEN_API_KEY`; repeatable. Keeps secrets out of `ps` and logs.
    #[arg(long = "header-env", env = "LOADGEN_HEADER_ENV", value_delimiter = ',')]
    pub header_env: Vec<String>,

    /// Request body.
    #[arg(long, short = 'd', env = "LOADGEN_BODY", conflicts_with = "body_file")]
    pub body: Option<String>,

    /// Request body read from a file.
    #[arg(long, env = "LOADGEN_BODY_FILE")]
    pub body_file: Option<PathBuf>,

    /// JSON file with a weighted mix of requests (docs/loadgen.md, Requests: `[{"url":..,"method":..,
    /// "headers":{..},"header_env":{..},"body":..,"body_file":..,"weight":N}]`).
    #[arg(long, env = "LOADGEN_TARGETS", conflicts_with_all = ["url", "body", "body_file"])]
    pub targets: Option<PathBuf>,

    /// Connections: the closed model's concurrency, the open model's pool bound (requests queue
    /// when all are busy, and the queueing shows in corrected latency). With --http2, streams.
    #[arg(long, short = 'c', env = "LOADGEN_CONNECTIONS", default_value_t = 64)]
    pub connections: usize,

    /// Per-request timeout (from the actual send); a timeout is an outcome, counted and recorded.
    #[arg(long, short = 't', env = "LOADGEN_TIMEOUT", value_parser = humantime::parse_duration, default_value = "5s")]
    pub timeout: Duration,

    /// Use HTTP/2: h2c with prior knowledge for http://, ALPN for https://.
    #[arg(long, env = "LOADGEN_HTTP2", value_parser = clap::builder::BoolishValueParser::new())]
    pub http2: bool,
}

/// The generator's own settings, the same for `run` and `capacity`.
#[derive(Debug, Clone, Default, Args)]
pub struct GeneratorArgs {
    /// Self-check: the run is invalid when the generator wakes later than this at p99.
    #[arg(long, env = "LOADGEN_MAX_LAG", value_parser = humantime::parse_duration, default_value = "10ms")]
    pub max_lag: Duration,

    /// Generator worker threads, 1 to 1024. Default: half the CPUs (at least 1) when the target
    /// is on this machine (localhost, a loopback address or one of this machine's own), as the
    /// target needs the rest; one per CPU for a remote target.
    #[arg(long, env = "LOADGEN_THREADS")]
    pub threads: Option<usize>,

    /// No live progress on stderr (it is shown only when stderr is a terminal anyway).
    #[arg(long, short = 'q', env = "LOADGEN_QUIET", value_parser = clap::builder::BoolishValueParser::new())]
    pub quiet: bool,
}

/// The gates and the JSON report, the same for `run`, `merge` and `report`.
#[derive(Debug, Clone, Default, Args)]
pub struct GateArgs {
    /// The SLO gates.
    #[command(flatten)]
    pub slos: SloArgs,

    /// An earlier run's JSON report to compare against (p50, p99, p99.9, error rate, rps).
    #[arg(long, env = "LOADGEN_BASELINE")]
    pub baseline: Option<PathBuf>,

    /// Largest tolerated regression against --baseline, e.g. 10%.
    #[arg(long, env = "LOADGEN_MAX_REGRESSION", default_value = "10%")]
    pub max_regression: String,

    /// Latency floor of the --baseline comparison, e.g. 1ms, 500us, 0ms (off), at most 10s:
    /// each latency (p50, p99, p99.9) is taken as known only to within the floor, so it
    /// regresses only when new - floor > (baseline + floor) * (1 + --max-regression); with 1ms
    /// and 10%, p99 0.95ms -> 2.8ms passes, 0.95ms -> 3.2ms fails.
    // A negative value reaches the parser (which names this flag) instead of reading as a flag.
    #[arg(
        long,
        env = "LOADGEN_REGRESSION_FLOOR",
        default_value = crate::verdict::DEFAULT_REGRESSION_FLOOR,
        allow_hyphen_values = true
    )]
    pub regression_floor: String,

    /// Write the JSON report to this file (`-` for stdout, which then carries only the JSON).
    #[arg(long, env = "LOADGEN_JSON")]
    pub json: Option<String>,
}

/// The SLO gates (`--slo`, `--slo-file`), the same for every subcommand that judges.
#[derive(Debug, Clone, Default, Args)]
pub struct SloArgs {
    /// SLO gate, repeatable: p99<250ms, p99.9<1s, mean<50ms, error_rate<0.5% (every answer
    /// not 2xx/3xx, errors, timeouts), server_error_rate<0.1% (5xx, errors and timeouts; not
    /// 4xx), rps>=950, status_5xx==0, status_429<10, timeouts==0, p99_uncorrected<20ms, max<2s.
    #[arg(long = "slo", env = "LOADGEN_SLO", value_delimiter = ',')]
    pub slo: Vec<String>,

    /// SLO gates from an OpenSLO file (e.g. slo/sum-api.yaml), repeatable, with --slo or alone
    /// (all gates apply): a latency SLO (99% within 250 ms) gates p99<=250ms; an availability
    /// SLO (99.9% not 5xx) gates server_error_rate<=0.1%: answers 5xx, connection errors and
    /// timeouts count, 4xx answers are the client's doing and do not. Other SLOs are listed on
    /// stderr with why they give no gate.
    #[arg(long = "slo-file", env = "LOADGEN_SLO_FILE", value_name = "FILE")]
    pub slo_file: Vec<PathBuf>,
}
