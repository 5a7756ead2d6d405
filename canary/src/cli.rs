//! Command-line interface: `canary run` and `canary validate`. Every setting is a flag with a
//! `CANARY_` environment fallback and may also come from the TOML file given by `--config`
//! (flag or env wins over the file). Values stay text here so that `config` can report invalid
//! ones by field name with exit code 64.

use clap::{Args, Parser, Subcommand};

/// Exit codes, shown at the end of `--help`.
pub const EXIT_CODES: &str = "\
Exit codes:
  0   every probe passed and the metrics were delivered
  1   a probe failed (the metrics were delivered)
  2   the metrics could not be delivered (the EMF fallback on stdout was used)
  64  invalid configuration or usage

The API key is read from the environment variable named by --api-key-env (default
CANARY_API_KEY), never from a flag.";

/// Synthetic monitor for the sum API: probes it through the gateway and publishes CloudWatch
/// metrics (ProbeSuccess, ProbeLatency, ..., RunStarted, Heartbeat).
#[derive(Debug, Parser)]
#[command(name = "canary", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run probe rounds: one (`--once`, the scheduled-task mode) or one every DURATION (`--every`).
    #[command(after_help = EXIT_CODES)]
    Run(RunArgs),
    /// Check a configuration (file, flags and environment) without running it.
    #[command(after_help = EXIT_CODES)]
    Validate(Settings),
}

/// Arguments of `canary run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Run one round, then exit (the default when --every is not given).
    #[arg(long, conflicts_with = "every")]
    pub once: bool,
    /// Run a round every DURATION (e.g. 60s) until SIGTERM or SIGINT, which stop the canary
    /// after the round in flight.
    #[arg(long, env = "CANARY_EVERY", value_name = "DURATION")]
    pub every: Option<String>,
    /// Settings shared with `validate`.
    #[command(flatten)]
    pub settings: Settings,
}

/// Settings; each overrides the same-named field of the config file.
#[derive(Debug, Args, Default, Clone)]
pub struct Settings {
    /// TOML config file; without one, the built-in default probe suite runs against --target.
    #[arg(long, env = "CANARY_CONFIG", value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// Base URL of the API as clients reach it (the gateway), e.g. https://api.example.com.
    #[allow(rustdoc::bare_urls)] // clap prints this text as --help, where <...> would show.
    #[arg(long, env = "CANARY_TARGET", value_name = "URL")]
    pub target: Option<String>,
    /// Environment name, the `Environment` dimension of every metric [default: dev].
    #[arg(long, env = "CANARY_ENVIRONMENT", value_name = "NAME")]
    pub environment: Option<String>,
    /// Name of the environment variable that holds the canary's API key [default: CANARY_API_KEY].
    #[arg(long, env = "CANARY_API_KEY_ENV", value_name = "VAR")]
    pub api_key_env: Option<String>,
    /// Header that carries the API key [default: apikey].
    #[arg(long, env = "CANARY_KEY_HEADER", value_name = "NAME")]
    pub key_header: Option<String>,
    /// CloudWatch namespace [default: SumApi/Canary].
    #[arg(long, env = "CANARY_NAMESPACE", value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// Sinks, comma-separated: cloudwatch, emf, stdout [default: cloudwatch on ECS, else stdout].
    #[arg(
        long = "sink",
        env = "CANARY_SINK",
        value_name = "SINKS",
        value_delimiter = ','
    )]
    pub sinks: Option<Vec<String>>,
    /// Timeout of one probe attempt [default: 5s].
    #[arg(long, env = "CANARY_TIMEOUT", value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Retries of a probe after a connection error or a 5xx [default: 2].
    #[arg(long, env = "CANARY_RETRIES", value_name = "N")]
    pub retries: Option<String>,
    /// Backoff before the first retry, doubled for each further one [default: 200ms].
    #[arg(long, env = "CANARY_RETRY_BACKOFF", value_name = "DURATION")]
    pub retry_backoff: Option<String>,
    /// The canary consumer's rate limit (RateLimit-Limit the gateway must announce).
    #[arg(long, env = "CANARY_RATE_LIMIT", value_name = "N")]
    pub rate_limit: Option<String>,
    /// Length of the most restrictive rate-limit window (bounds RateLimit-Reset) [default: 1m].
    #[arg(long, env = "CANARY_RATE_LIMIT_WINDOW", value_name = "DURATION")]
    pub rate_limit_window: Option<String>,
    /// CloudWatch storage resolution in seconds: 1 (high resolution) or 60 [default: 60].
    #[arg(long, env = "CANARY_STORAGE_RESOLUTION", value_name = "SECONDS")]
    pub storage_resolution: Option<String>,
    /// Timeout of one PutMetricData attempt [default: 5s].
    #[arg(long, env = "CANARY_PUBLISH_TIMEOUT", value_name = "DURATION")]
    pub publish_timeout: Option<String>,
    /// Retries of PutMetricData (with backoff) before falling back to EMF [default: 2].
    #[arg(long, env = "CANARY_PUBLISH_RETRIES", value_name = "N")]
    pub publish_retries: Option<String>,
    /// Fewest days an HTTPS target's certificate must have left, 0 to 3650 (fractions allowed);
    /// fewer fails the probe, blamed on the gateway [default: 14].
    #[arg(
        long,
        env = "CANARY_CERT_MIN_DAYS",
        value_name = "DAYS",
        allow_negative_numbers = true
    )]
    pub cert_min_days: Option<String>,
    /// URL to call after each completed run (healthchecks.io-style external dead-man switch).
    /// Such URLs often embed a token: `--help` never shows the environment's value.
    #[arg(
        long,
        env = "CANARY_HEARTBEAT_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub heartbeat_url: Option<String>,
    /// Method for --heartbeat-url: GET or POST [default: GET].
    #[arg(long, env = "CANARY_HEARTBEAT_METHOD", value_name = "METHOD")]
    pub heartbeat_method: Option<String>,
    /// Where this canary runs: the `Region` dimension of every metric [default: AWS_REGION
    /// (set on ECS), else AWS_DEFAULT_REGION, else local].
    #[arg(long, env = "CANARY_REGION_LABEL", value_name = "LABEL")]
    pub region_label: Option<String>,
    /// The AWS region whose CloudWatch receives the metrics, wherever the canary runs (the
    /// alarms live there) [default: the SDK's region, AWS_REGION].
    #[arg(long, env = "CANARY_HOME_REGION", value_name = "REGION")]
    pub home_region: Option<String>,
    /// Run only these probes of the suite, comma-separated names (e.g. health,sum).
    #[arg(
        long = "probes",
        env = "CANARY_PROBES",
        value_name = "NAMES",
        value_delimiter = ','
    )]
    pub probe_names: Option<Vec<String>>,
}

impl Settings {
    /// The flag and environment variable of the config-file key `field`, when one of them set
    /// it: a problem with that field's value is then theirs, not the file's.
    pub fn source_of(&self, field: &str) -> Option<(&'static str, &'static str)> {
        let (set, flag, env) = match field {
            "target" => (self.target.is_some(), "--target", "CANARY_TARGET"),
            "environment" => (
                self.environment.is_some(),
                "--environment",
                "CANARY_ENVIRONMENT",
            ),
            "api_key_env" => (
                self.api_key_env.is_some(),
                "--api-key-env",
                "CANARY_API_KEY_ENV",
            ),
            "key_header" => (
                self.key_header.is_some(),
                "--key-header",
                "CANARY_KEY_HEADER",
            ),
            "namespace" => (self.namespace.is_some(), "--namespace", "CANARY_NAMESPACE"),
            "sinks" => (self.sinks.is_some(), "--sink", "CANARY_SINK"),
            "timeout" => (self.timeout.is_some(), "--timeout", "CANARY_TIMEOUT"),
            "retries" => (self.retries.is_some(), "--retries", "CANARY_RETRIES"),
            "retry_backoff" => (
                self.retry_backoff.is_some(),
                "--retry-backoff",
                "CANARY_RETRY_BACKOFF",
            ),
            "rate_limit" => (
                self.rate_limit.is_some(),
                "--rate-limit",
                "CANARY_RATE_LIMIT",
            ),
            "rate_limit_window" => (
                self.rate_limit_window.is_some(),
                "--rate-limit-window",
                "CANARY_RATE_LIMIT_WINDOW",
            ),
            "storage_resolution" => (
                self.storage_resolution.is_some(),
                "--storage-resolution",
                "CANARY_STORAGE_RESOLUTION",
            ),
            "publish_timeout" => (
                self.publish_timeout.is_some(),
                "--publish-timeout",
                "CANARY_PUBLISH_TIMEOUT",
            ),
            "publish_retries" => (
                self.publish_retries.is_some(),
                "--publish-retries",
                "CANARY_PUBLISH_RETRIES",
            ),
            "cert_min_days" => (
                self.cert_min_days.is_some(),
                "--cert-min-days",
                "CANARY_CERT_MIN_DAYS",
            ),
            "heartbeat_url" => (
                self.heartbeat_url.is_some(),
                "--heartbeat-url",
                "CANARY_HEARTBEAT_URL",
            ),
            "heartbeat_method" => (
                self.heartbeat_method.is_some(),
                "--heartbeat-method",
                "CANARY_HEARTBEAT_METHOD",
            ),
            "region_label" => (
                self.region_label.is_some(),
                "--region-label",
                "CANARY_REGION_LABEL",
            ),
            "home_region" => (
                self.home_region.is_some(),
                "--home-region",
                "CANARY_HOME_REGION",
            ),
            "probe_names" => (self.probe_names.is_some(), "--probes", "CANARY_PROBES"),
            _ => return None,
        };
        set.then_some((flag, env))
    }
}

#[cfg(test)]
mod tests {
    use clap::{Args, Command, FromArgMatches};

    use super::*;

    /// `source_of` names each setting's real flag and variable, so a problem is never blamed on
    /// a flag that does not exist.
    #[test]
    fn source_of_names_the_flags_clap_defines() {
        let command = || Settings::augment_args(Command::new("canary"));
        let mut checked = 0;
        for arg in command().get_arguments() {
            let field = arg.get_id().as_str();
            if field == "config" {
                continue;
            }
            assert_eq!(Settings::default().source_of(field), None, "{field} unset");
            let flag = format!(
                "--{}",
                arg.get_long().expect("every setting has a long flag")
            );
            let matches = command()
                .try_get_matches_from(["canary", &flag, "x"])
                .expect("parses");
            let settings = Settings::from_arg_matches(&matches).expect("settings");
            let env = arg.get_env().and_then(|e| e.to_str()).expect("env");
            assert_eq!(
                settings.source_of(field),
                Some((flag.as_str(), env)),
                "{field}"
            );
            checked += 1;
        }
        assert_eq!(checked, 20, "every setting but --config");
    }
}
