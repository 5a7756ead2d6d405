//! Configuration: command-line flags with `SERVICE_` environment fallbacks, validated before
//! anything binds. The origin secrets come only from the environment or a file, never a flag.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use thiserror::Error;

/// Environment variable holding the origin secret(s) the gateway sends as `X-Origin-Secret`.
pub const ORIGIN_SECRET_ENV: &str = "SERVICE_ORIGIN_SECRET";
/// A second variable of the same kind. A deployment injects two independently rotated secrets
/// (terraform's `origin-secret` and `origin-secret-alt`), one per variable, since a container
/// secret fills one variable: the gateway sends one of them, so the other can be rotated (and
/// the tasks redeployed) without refusing a request.
pub const ORIGIN_SECRET_ALT_ENV: &str = "SERVICE_ORIGIN_SECRET_ALT";

/// Largest body limit accepted by `--max-body` (16 MiB); the API needs a few KiB.
pub const MAX_BODY_CEILING: usize = 16 * 1024 * 1024;

/// Largest origin secret file read (64 KiB): a few secrets, one per line, fit many times over;
/// a wrong path such as a device or a log file is refused instead of read into memory.
pub const MAX_SECRET_FILE_BYTES: u64 = 64 * 1024;

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

/// The sum API: a drop-in replacement for the Go sum service, with exact sums, metrics and
/// graceful shutdown.
///
/// Origin secrets (for the gateway-bypass guard) are read from SERVICE_ORIGIN_SECRET and
/// SERVICE_ORIGIN_SECRET_ALT (each may hold several, separated by commas, for rotation) and/or
/// the file named by --origin-secret-file (one per line). When none is set, the guard is off;
/// one that is set must hold a secret.
#[derive(Debug, Clone, Parser)]
#[command(name = "service", version, about, long_about, after_help = crate::exit::HELP)]
pub struct Config {
    /// Address of the public API listener.
    #[arg(long, env = "SERVICE_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,

    /// Address of the Prometheus metrics listener (`GET /metrics`); never the public port.
    #[arg(long, env = "SERVICE_METRICS_LISTEN", default_value = "0.0.0.0:9090")]
    pub metrics_listen: SocketAddr,

    /// Largest accepted request body, in bytes (1 to 16777216).
    #[arg(long, env = "SERVICE_MAX_BODY", default_value_t = 64 * 1024)]
    pub max_body: usize,

    /// How long a client may take to send a request head or body, e.g. `10s` (1ms to 1h); any
    /// request unanswered for twice this after its first byte closes its connection.
    #[arg(long, env = "SERVICE_BODY_TIMEOUT", default_value = "10s", value_parser = duration_within(Duration::from_millis(1), HOUR))]
    pub body_timeout: Duration,

    /// After SIGTERM/Ctrl-C: how long to keep serving everything while readiness reports 503,
    /// so the load balancer can deregister the task, e.g. `5s` (0s to 10m).
    #[arg(long, env = "SERVICE_SHUTDOWN_DRAIN", default_value = "5s", value_parser = duration_within(Duration::ZERO, 10 * MINUTE))]
    pub shutdown_drain: Duration,

    /// After the drain: how long in-flight requests may take to finish before the process
    /// exits anyway, e.g. `15s` (1ms to 10m).
    #[arg(long, env = "SERVICE_SHUTDOWN_TIMEOUT", default_value = "15s", value_parser = duration_within(Duration::from_millis(1), 10 * MINUTE))]
    pub shutdown_timeout: Duration,

    /// How long a kept-alive connection stays open with no request after its last answer, e.g.
    /// `75s` (timed in half-second steps: ended within a second after). Keep it longer than
    /// the load balancer's idle timeout (60 s on an ALB) so that it never reuses a closed one.
    /// Graceful shutdown closes idle connections and waits for busy ones (at most
    /// --shutdown-timeout). `0s` closes every connection after its answer (0s to 1h).
    #[arg(long, env = "SERVICE_KEEP_ALIVE", default_value = "75s", value_parser = duration_within(Duration::ZERO, HOUR))]
    pub keep_alive: Duration,

    /// Worker threads of the public listener (1 to 256); default: one per CPU.
    #[arg(long, env = "SERVICE_WORKERS")]
    pub workers: Option<usize>,

    /// Record request metrics (`false` only to measure their cost in the benchmark).
    #[arg(long, env = "SERVICE_RECORD_METRICS", default_value_t = true, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub record_metrics: bool,

    /// File with origin secrets, one per line (e.g. a mounted secret).
    #[arg(long, env = "SERVICE_ORIGIN_SECRET_FILE")]
    pub origin_secret_file: Option<PathBuf>,

    /// Log format on stderr: `json` (one object per line, for deployments) or `text`.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Accepted values of `X-Origin-Secret`. Filled by [`Config::load_origin_secrets`] from
    /// the environment and the secret file; tests may set it directly. Empty: guard off.
    #[arg(skip)]
    pub origin_secrets: Vec<String>,

    /// Tracing: sampling and OTLP span export, from OpenTelemetry's standard variables
    /// (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_TRACES_SAMPLER`, ...; see `docs/tracing.md`), read
    /// by `main` with [`trace::Config::from_env`]. `None`, or no endpoint in it: nothing is
    /// exported.
    #[arg(skip)]
    pub trace: Option<trace::Config>,

    /// A subcommand instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands of the binary.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Exit 0 when the service answers 200 on its liveness endpoint, 1 otherwise (for a
    /// container HEALTHCHECK: the runtime image has no curl).
    Healthcheck {
        /// Liveness URL to check (plain http).
        #[arg(
            long,
            env = "SERVICE_HEALTHCHECK_URL",
            default_value = "http://127.0.0.1:8080/healthz/live"
        )]
        url: String,
        /// Give up after this long, e.g. `3s` (1ms to 5m).
        #[arg(long, env = "SERVICE_HEALTHCHECK_TIMEOUT", default_value = "3s", value_parser = duration_within(Duration::from_millis(1), 5 * MINUTE))]
        timeout: Duration,
    },
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Text,
}

/// A configuration that must not be used; the message says what to change.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// `--max-body` outside its range.
    #[error(
        "--max-body / SERVICE_MAX_BODY must be between 1 and {MAX_BODY_CEILING} bytes, got {0}"
    )]
    MaxBody(usize),
    /// `--workers` outside its range.
    #[error("--workers / SERVICE_WORKERS must be between 1 and 256, got {0}")]
    Workers(usize),
    /// Both listeners on the same address.
    #[error(
        "--listen and --metrics-listen must differ (metrics never go on the public port), both are {0}"
    )]
    SameListener(SocketAddr),
    /// The secret file cannot be read.
    #[error("cannot read the origin secret file {path}: {source}")]
    SecretFile {
        /// The file named by `--origin-secret-file`.
        path: PathBuf,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// The secret file is larger than any list of secrets would be.
    #[error(
        "the origin secret file {0} is larger than {MAX_SECRET_FILE_BYTES} bytes; it should hold a few secrets, one per line"
    )]
    SecretFileTooLarge(PathBuf),
    /// The secret file exists but holds no secret.
    #[error("the origin secret file {0} holds no secret; remove the setting or fill the file")]
    EmptySecretFile(PathBuf),
    /// A secret variable is set but holds no secret, or is not UTF-8: the guard must not be
    /// turned off by a variable that was meant to turn it on.
    #[error("{0} is set but holds no secret ({1}); unset it to run without the origin guard")]
    SecretEnv(&'static str, &'static str),
}

impl Config {
    /// A service on free loopback ports that stops at once (no drain, 1 s shutdown timeout,
    /// 2 workers), with `extra` flags on top: for running the service inside tests and local
    /// tools of this workspace.
    pub fn loopback(extra: &[&str]) -> Result<Config, clap::Error> {
        let base = [
            "service",
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
            "--shutdown-drain",
            "0s",
            "--shutdown-timeout",
            "1s",
            "--workers",
            "2",
        ];
        Config::try_parse_from(base.iter().chain(extra))
    }

    /// Adds the secrets from `SERVICE_ORIGIN_SECRET` and `SERVICE_ORIGIN_SECRET_ALT` (each
    /// comma-separated) and from `--origin-secret-file` (one per line) to
    /// [`Config::origin_secrets`].
    pub fn load_origin_secrets(&mut self) -> Result<(), ConfigError> {
        self.load_origin_secrets_from(|name| std::env::var_os(name))
    }

    /// [`Config::load_origin_secrets`] with the environment read through `env`.
    fn load_origin_secrets_from(
        &mut self,
        env: impl Fn(&str) -> Option<std::ffi::OsString>,
    ) -> Result<(), ConfigError> {
        for name in [ORIGIN_SECRET_ENV, ORIGIN_SECRET_ALT_ENV] {
            let Some(value) = env(name) else {
                continue;
            };
            let value = value
                .into_string()
                .map_err(|_| ConfigError::SecretEnv(name, "not UTF-8"))?;
            let before = self.origin_secrets.len();
            self.origin_secrets.extend(split_secrets(&value, ','));
            if self.origin_secrets.len() == before {
                return Err(ConfigError::SecretEnv(name, "empty"));
            }
        }
        if let Some(path) = &self.origin_secret_file {
            let text = read_secret_file(path)?;
            let before = self.origin_secrets.len();
            self.origin_secrets.extend(split_secrets(&text, '\n'));
            if self.origin_secrets.len() == before {
                return Err(ConfigError::EmptySecretFile(path.clone()));
            }
        }
        Ok(())
    }

    /// Checks every value; called by [`crate::start`] before anything binds.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_body == 0 || self.max_body > MAX_BODY_CEILING {
            return Err(ConfigError::MaxBody(self.max_body));
        }
        if let Some(w) = self.workers
            && !(1..=256).contains(&w)
        {
            return Err(ConfigError::Workers(w));
        }
        if self.listen == self.metrics_listen && self.listen.port() != 0 {
            return Err(ConfigError::SameListener(self.listen));
        }
        Ok(())
    }
}

/// A duration parser for clap that refuses values outside `min..=max`: clap then names the
/// flag (or its environment variable) in the usage error. The bounds keep every later
/// `Instant + duration` from overflowing and a typo such as `15000h` from being obeyed.
fn duration_within(
    min: Duration,
    max: Duration,
) -> impl Fn(&str) -> Result<Duration, String> + Clone + Send + Sync + 'static {
    move |text| {
        let d = humantime::parse_duration(text).map_err(|e| e.to_string())?;
        if (min..=max).contains(&d) {
            Ok(d)
        } else {
            Err(format!(
                "must be between {} and {}",
                humantime::format_duration(min),
                humantime::format_duration(max)
            ))
        }
    }
}

/// Reads the origin secret file, refusing one over [`MAX_SECRET_FILE_BYTES`] without reading
/// more than that (a device such as `/dev/zero` never ends).
fn read_secret_file(path: &std::path::Path) -> Result<String, ConfigError> {
    use std::io::Read;
    let io = |source| ConfigError::SecretFile {
        path: path.to_path_buf(),
        source,
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_SECRET_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(io)?;
    if bytes.len() as u64 > MAX_SECRET_FILE_BYTES {
        return Err(ConfigError::SecretFileTooLarge(path.to_path_buf()));
    }
    String::from_utf8(bytes)
        .map_err(|e| io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))
}

fn split_secrets(text: &str, separator: char) -> impl Iterator<Item = String> + '_ {
    text.split(separator)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, clap::Error> {
        Config::try_parse_from(std::iter::once("service").chain(args.iter().copied()))
    }

    #[test]
    fn loopback_serves_on_free_local_ports_and_takes_more_flags() {
        let c = Config::loopback(&["--max-body", "1024"]).expect("loopback flags parse");
        assert_eq!(c.listen.to_string(), "127.0.0.1:0");
        assert_eq!(c.metrics_listen.to_string(), "127.0.0.1:0");
        assert_eq!(c.shutdown_drain, Duration::ZERO);
        assert_eq!((c.max_body, c.workers), (1024, Some(2)));
        assert!(c.validate().is_ok());
        assert!(Config::loopback(&["--max-body", "0"]).is_ok_and(|c| c.validate().is_err()));
    }

    #[test]
    fn defaults_match_the_issue() {
        let c = parse(&[]).expect("defaults parse");
        assert_eq!(c.listen.to_string(), "0.0.0.0:8080");
        assert_eq!(c.metrics_listen.to_string(), "0.0.0.0:9090");
        assert_eq!(c.max_body, 65536);
        assert_eq!(c.shutdown_drain, Duration::from_secs(5));
        assert_eq!(c.shutdown_timeout, Duration::from_secs(15));
        assert!(c.record_metrics);
        c.validate().expect("defaults are valid");
    }

    #[test]
    fn invalid_values_are_rejected_with_the_flag_named() {
        assert!(parse(&["--listen", "nowhere"]).is_err());
        assert!(parse(&["--shutdown-drain", "5 parsecs"]).is_err());
        assert!(parse(&["--max-body", "-1"]).is_err());
        assert!(parse(&["--record-metrics", "maybe"]).is_err());
        for (text, on) in [("false", false), ("0", false), ("no", false), ("on", true)] {
            let c = parse(&["--record-metrics", text]).expect(text);
            assert_eq!(c.record_metrics, on, "{text}");
        }
        let err = parse(&["--max-body", "0"])
            .expect("parses")
            .validate()
            .expect_err("0 bytes");
        assert!(err.to_string().contains("--max-body"), "{err}");
        let err = parse(&["--workers", "0"])
            .expect("parses")
            .validate()
            .expect_err("0 workers");
        assert!(err.to_string().contains("--workers"), "{err}");
        // Durations out of their range are refused by the parser, naming the flag and range.
        for (flag, value, range) in [
            ("--shutdown-timeout", "0s", "between 1ms and 10m"),
            ("--shutdown-timeout", "10m 1s", "between 1ms and 10m"),
            (
                "--shutdown-drain",
                "18446744073709551615s",
                "between 0s and 10m",
            ),
            ("--body-timeout", "0s", "between 1ms and 1h"),
            ("--keep-alive", "2h", "between 0s and 1h"),
        ] {
            let err = parse(&[flag, value]).expect_err(value).to_string();
            assert!(
                err.contains(flag) && err.contains(range),
                "{flag} {value}: {err}"
            );
        }
        // The bounds themselves are accepted; `0s` turns keep-alive off.
        let c = parse(&[
            "--shutdown-drain",
            "0s",
            "--keep-alive",
            "0s",
            "--body-timeout",
            "1h",
        ])
        .expect("bounds are inclusive");
        assert_eq!(
            (c.shutdown_drain, c.keep_alive, c.body_timeout),
            (Duration::ZERO, Duration::ZERO, HOUR)
        );
        let same = [
            "--listen",
            "127.0.0.1:7000",
            "--metrics-listen",
            "127.0.0.1:7000",
        ];
        assert!(parse(&same).expect("parses").validate().is_err());
    }

    #[test]
    fn secrets_come_from_a_file() {
        let dir = std::env::temp_dir().join(format!("service-secrets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("secret");
        std::fs::write(&file, "first-secret-0123456\n\n  second-secret-0123456 \n").expect("write");
        let mut c =
            parse(&["--origin-secret-file", file.to_str().expect("utf-8 path")]).expect("parses");
        c.load_origin_secrets().expect("loads");
        assert!(
            c.origin_secrets
                .contains(&"first-secret-0123456".to_string())
        );
        assert!(
            c.origin_secrets
                .contains(&"second-secret-0123456".to_string())
        );
        c.validate().expect("long secrets are fine");

        std::fs::write(&file, "\n \n").expect("write");
        let mut c =
            parse(&["--origin-secret-file", file.to_str().expect("utf-8 path")]).expect("parses");
        assert!(matches!(
            c.load_origin_secrets(),
            Err(ConfigError::EmptySecretFile(_))
        ));

        let mut c = parse(&["--origin-secret-file", "/nonexistent/secret"]).expect("parses");
        assert!(matches!(
            c.load_origin_secrets(),
            Err(ConfigError::SecretFile { .. })
        ));

        // Larger than any list of secrets: refused without reading it all (a device never ends).
        std::fs::write(&file, "s".repeat(MAX_SECRET_FILE_BYTES as usize + 1)).expect("write");
        let mut c =
            parse(&["--origin-secret-file", file.to_str().expect("utf-8 path")]).expect("parses");
        assert!(matches!(
            c.load_origin_secrets(),
            Err(ConfigError::SecretFileTooLarge(_))
        ));
        let mut c = parse(&["--origin-secret-file", "/dev/zero"]).expect("parses");
        assert!(matches!(
            c.load_origin_secrets(),
            Err(ConfigError::SecretFileTooLarge(_))
        ));
        // Exactly the limit is fine; bytes that are not UTF-8 are an error naming the file.
        let at_limit = format!("{}\n", "s".repeat(MAX_SECRET_FILE_BYTES as usize - 1));
        std::fs::write(&file, at_limit).expect("write");
        let mut c =
            parse(&["--origin-secret-file", file.to_str().expect("utf-8 path")]).expect("parses");
        c.load_origin_secrets()
            .expect("a file of exactly the limit is read");
        std::fs::write(&file, b"secret-\xff\xfe-0123456\n").expect("write");
        let mut c =
            parse(&["--origin-secret-file", file.to_str().expect("utf-8 path")]).expect("parses");
        let err = c.load_origin_secrets().expect_err("not UTF-8");
        assert!(err.to_string().contains("secret"), "{err}");

        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn secrets_come_from_both_variables_and_a_set_variable_must_hold_one() {
        use std::ffi::OsString;
        let load = |vars: Vec<(&'static str, OsString)>| {
            let mut c = parse(&[]).expect("parses");
            c.load_origin_secrets_from(|name| {
                vars.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.clone())
            })
            .map(|()| c.origin_secrets)
        };
        let both = load(vec![
            (
                ORIGIN_SECRET_ENV,
                "current-0123456789, older-0123456789".into(),
            ),
            (ORIGIN_SECRET_ALT_ENV, "alternate-0123456789".into()),
        ])
        .expect("loads");
        assert_eq!(
            both,
            [
                "current-0123456789",
                "older-0123456789",
                "alternate-0123456789"
            ]
        );
        // Either alone turns the guard on; neither leaves it off.
        assert_eq!(
            load(vec![(ORIGIN_SECRET_ALT_ENV, "alternate-0123456789".into())]).expect("loads"),
            ["alternate-0123456789"]
        );
        assert!(load(vec![]).expect("loads").is_empty());
        // Set but empty, or not text: refused, naming the variable, never a guard left off.
        for (name, value) in [
            (ORIGIN_SECRET_ENV, OsString::from("")),
            (ORIGIN_SECRET_ALT_ENV, OsString::from(" , ,")),
        ] {
            let err = load(vec![(name, value)]).expect_err("empty");
            assert!(
                matches!(err, ConfigError::SecretEnv(n, "empty") if n == name),
                "{err}"
            );
            assert!(err.to_string().contains(name), "{err}");
        }
        use std::os::unix::ffi::OsStringExt;
        let err = load(vec![(
            ORIGIN_SECRET_ENV,
            OsString::from_vec(b"sec\xffret".to_vec()),
        )])
        .expect_err("not UTF-8");
        assert!(
            matches!(err, ConfigError::SecretEnv(_, "not UTF-8")),
            "{err}"
        );
    }
}
