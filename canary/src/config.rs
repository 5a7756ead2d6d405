//! Configuration: the TOML file (`--config`, read by [`crate::config_file`]), overridden field by
//! field by flags and `CANARY_` environment variables, checked as a whole before anything runs.
//! Every problem is reported at once, each with the field's name (the file key; the flag is the
//! same name in kebab-case) and where its value came from: the file's line, or the flag.

use std::time::Duration;

use http::{HeaderName, Method, Uri};

use crate::certificate::DEFAULT_MIN_DAYS;
use crate::cli::Settings;
use crate::config_file::{self, FileConfig};
use crate::metrics::DEFAULT_NAMESPACE;
use crate::probe::ProbeSpec;
use crate::probe_config::{ProbeDefaults, cert_min_days, probes_from_file, select_probes};
use crate::publish::limits::validate_namespace;
use crate::region::{self, LabelSource};
use crate::suite::default_suite;
use crate::validation::{
    ConfigError, Errors, Origin, dimension_safe, duration, in_reading_order, integer,
};

/// Where metrics go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkKind {
    /// PutMetricData to CloudWatch.
    CloudWatch,
    /// Embedded Metric Format JSON lines on stdout.
    Emf,
    /// Human-readable lines on stdout.
    Stdout,
}

impl SinkKind {
    /// The name used in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            SinkKind::CloudWatch => "cloudwatch",
            SinkKind::Emf => "emf",
            SinkKind::Stdout => "stdout",
        }
    }
}

/// The external heartbeat call.
#[derive(Debug, Clone)]
pub struct HeartbeatUrl {
    /// Where to call.
    pub url: Uri,
    /// GET or POST.
    pub method: Method,
}

/// A checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Base URL without a trailing slash.
    pub target: String,
    /// `Environment` dimension.
    pub environment: String,
    /// `Region` dimension: where this canary runs.
    pub region: String,
    /// The AWS region whose CloudWatch receives the metrics; `None`: the SDK's region.
    pub home_region: Option<String>,
    /// Environment variable that holds the API key.
    pub api_key_env: String,
    /// Header that carries the key.
    pub key_header: HeaderName,
    /// CloudWatch namespace.
    pub namespace: String,
    /// Sinks, in order.
    pub sinks: Vec<SinkKind>,
    /// CloudWatch storage resolution (1 or 60).
    pub storage_resolution: i32,
    /// Timeout of one PutMetricData attempt.
    pub publish_timeout: Duration,
    /// PutMetricData retries.
    pub publish_retries: u32,
    /// Optional external heartbeat.
    pub heartbeat: Option<HeartbeatUrl>,
    /// The probes to run, in order.
    pub probes: Vec<ProbeSpec>,
}

/// A flag/env value (text) over a file value (integer).
fn int_setting(
    field: &str,
    flag: &Option<String>,
    file: Option<i64>,
    errors: &mut Errors,
) -> Option<i64> {
    match flag {
        Some(text) => match text.trim().parse::<i64>() {
            Ok(v) => Some(v),
            Err(_) => {
                errors.push(field, format!("{text:?} is not an integer"));
                None
            }
        },
        None => file,
    }
}

fn pick<'a>(flag: &'a Option<String>, file: &'a Option<String>) -> Option<&'a str> {
    flag.as_deref().or(file.as_deref())
}

/// Whether the canary runs on ECS (or another AWS compute service), where CloudWatch is the
/// natural default sink.
fn running_in_aws() -> bool {
    std::env::var_os("ECS_CONTAINER_METADATA_URI_V4").is_some()
        || std::env::var_os("AWS_EXECUTION_ENV").is_some()
}

/// Resolves flags/env over the file over defaults, and checks everything. Every problem is
/// reported at once, with where its value came from: the file's syntax errors, unknown keys and
/// mistyped values, and whatever the checks of the values then refuse.
pub fn resolve(settings: &Settings) -> Result<Config, ConfigError> {
    let mut file = match &settings.config {
        Some(path) => Some(config_file::read(path)?),
        None => None,
    };
    let (values, mut problems) = match &mut file {
        Some(f) => (
            std::mem::take(&mut f.config),
            std::mem::take(&mut f.problems),
        ),
        None => (FileConfig::default(), Vec::new()),
    };
    let checked = match resolve_with(settings, values) {
        Ok(config) if problems.is_empty() => return Ok(config),
        Ok(_) => Vec::new(),
        Err(ConfigError::Fields(list)) => list,
        Err(other) => return Err(other),
    };
    for mut problem in checked {
        let top = problem.field.split(['.', '[']).next().unwrap_or_default();
        if let Some((flag, env)) = settings.source_of(top) {
            problem.origin = Some(Origin::Setting { flag, env });
        } else if let Some(f) = &file {
            match f.locate(&problem.field) {
                Some(origin) => problem.origin = Some(origin),
                // Reported while reading the file, or maybe on a line a syntax error broke.
                None => continue,
            }
        }
        problems.push(problem);
    }
    in_reading_order(&mut problems);
    Err(ConfigError::Fields(problems))
}

/// [`resolve`] for an already parsed file.
pub fn resolve_with(s: &Settings, file: FileConfig) -> Result<Config, ConfigError> {
    let mut errors = Errors::default();

    let target = match pick(&s.target, &file.target) {
        None => {
            errors.push(
                "target",
                "missing: give --target, CANARY_TARGET or `target` in the config file",
            );
            String::new()
        }
        Some(t) => check_target(t, &mut errors),
    };

    let environment = pick(&s.environment, &file.environment)
        .unwrap_or("dev")
        .to_owned();
    if !dimension_safe(&environment) {
        errors.push(
            "environment",
            format!("{environment:?} must be 1-255 characters of A-Z a-z 0-9 _ . -"),
        );
    }

    let (region, label_source) = region::label(pick(&s.region_label, &file.region_label), |v| {
        std::env::var(v).ok()
    });
    if let Err(e) = region::check_label(&region) {
        match label_source {
            LabelSource::Aws(var) => errors.push(
                "region_label",
                format!("{e} (taken from {var}; give --region-label instead)"),
            ),
            _ => errors.push("region_label", e),
        }
    }
    let home_region = pick(&s.home_region, &file.home_region).map(str::to_owned);
    if let Some(home) = &home_region
        && let Err(e) = region::check_aws_region(home)
    {
        errors.push("home_region", e);
    }

    let api_key_env = pick(&s.api_key_env, &file.api_key_env)
        .unwrap_or("CANARY_API_KEY")
        .to_owned();
    let env_name_ok = api_key_env
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && api_key_env
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        && api_key_env.len() <= 128;
    if !env_name_ok {
        errors.push(
            "api_key_env",
            "must be the NAME of an environment variable (letters, digits, _), not the key itself",
        );
    }

    let key_header_text = pick(&s.key_header, &file.key_header).unwrap_or("apikey");
    let key_header = HeaderName::from_bytes(key_header_text.as_bytes()).unwrap_or_else(|_| {
        errors.push(
            "key_header",
            format!("{key_header_text:?} is not a header name"),
        );
        HeaderName::from_static("apikey")
    });

    let namespace = pick(&s.namespace, &file.namespace)
        .unwrap_or(DEFAULT_NAMESPACE)
        .to_owned();
    if let Err(e) = validate_namespace(&namespace) {
        errors.push("namespace", e.to_string());
    }

    let sink_names: Vec<String> = match (&s.sinks, &file.sinks) {
        (Some(v), _) | (None, Some(v)) => v.clone(),
        (None, None) if running_in_aws() => vec!["cloudwatch".into()],
        (None, None) => vec!["stdout".into()],
    };
    let mut sinks = Vec::new();
    for name in &sink_names {
        let kind = match name.trim() {
            "cloudwatch" => SinkKind::CloudWatch,
            "emf" => SinkKind::Emf,
            "stdout" => SinkKind::Stdout,
            other => {
                errors.push(
                    "sinks",
                    format!("unknown sink {other:?}; use cloudwatch, emf or stdout"),
                );
                continue;
            }
        };
        if sinks.contains(&kind) {
            errors.push("sinks", format!("{name:?} is listed twice"));
        } else {
            sinks.push(kind);
        }
    }
    if sink_names.is_empty() {
        errors.push("sinks", "at least one sink is needed");
    }

    let storage_resolution = match int_setting(
        "storage_resolution",
        &s.storage_resolution,
        file.storage_resolution,
        &mut errors,
    ) {
        None | Some(60) => 60,
        Some(1) => 1,
        Some(other) => {
            errors.push(
                "storage_resolution",
                format!("{other} is not 1 (high resolution) or 60"),
            );
            60
        }
    };

    let publish_timeout = pick(&s.publish_timeout, &file.publish_timeout)
        .and_then(|t| duration("publish_timeout", t, false, &mut errors))
        .unwrap_or(Duration::from_secs(5));
    let publish_retries = int_setting(
        "publish_retries",
        &s.publish_retries,
        file.publish_retries,
        &mut errors,
    )
    .and_then(|v| integer("publish_retries", v, 0..=10, &mut errors))
    .unwrap_or(2) as u32;

    let heartbeat = pick(&s.heartbeat_url, &file.heartbeat_url).and_then(|url| {
        let method = match pick(&s.heartbeat_method, &file.heartbeat_method)
            .unwrap_or("GET")
            .to_ascii_uppercase()
            .as_str()
        {
            "GET" => Method::GET,
            "POST" => Method::POST,
            other => {
                errors.push("heartbeat_method", format!("{other:?} is not GET or POST"));
                Method::GET
            }
        };
        match url.parse::<Uri>() {
            Ok(uri)
                if matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some() =>
            {
                Some(HeartbeatUrl { url: uri, method })
            }
            _ => {
                // The URL may embed a token: name the problem, not the value.
                errors.push(
                    "heartbeat_url",
                    "must be an absolute http:// or https:// URL",
                );
                None
            }
        }
    });

    let defaults = ProbeDefaults {
        timeout: pick(&s.timeout, &file.timeout)
            .and_then(|t| duration("timeout", t, false, &mut errors))
            .unwrap_or(Duration::from_secs(5)),
        retries: int_setting("retries", &s.retries, file.retries, &mut errors)
            .and_then(|v| integer("retries", v, 0..=10, &mut errors))
            .unwrap_or(2) as u32,
        retry_backoff: pick(&s.retry_backoff, &file.retry_backoff)
            .and_then(|t| duration("retry_backoff", t, true, &mut errors))
            .unwrap_or(Duration::from_millis(200)),
        rate_limit: int_setting("rate_limit", &s.rate_limit, file.rate_limit, &mut errors)
            .and_then(|v| integer("rate_limit", v, 1..=i64::from(u32::MAX), &mut errors))
            .map(|v| v as u64),
        rate_limit_window: pick(&s.rate_limit_window, &file.rate_limit_window)
            .and_then(|t| duration("rate_limit_window", t, false, &mut errors))
            .unwrap_or(Duration::from_secs(60)),
        cert_min_days: match &s.cert_min_days {
            Some(text) => match text.trim().parse::<f64>() {
                Ok(v) => cert_min_days("cert_min_days", v, &mut errors),
                Err(_) => {
                    errors.push(
                        "cert_min_days",
                        format!("{text:?} is not a number of days such as 14 or 7.5"),
                    );
                    None
                }
            },
            None => file
                .cert_min_days
                .and_then(|v| cert_min_days("cert_min_days", v, &mut errors)),
        }
        .unwrap_or(DEFAULT_MIN_DAYS),
    };

    let mut probes = match &file.probes {
        None => default_suite(&defaults),
        Some(list) => probes_from_file(list, &defaults, &mut errors),
    };
    if let Some(names) = &s.probe_names {
        probes = select_probes(probes, names, &mut errors);
    }

    if !errors.0.is_empty() {
        return Err(ConfigError::Fields(errors.0));
    }
    Ok(Config {
        target,
        environment,
        region,
        home_region,
        api_key_env,
        key_header,
        namespace,
        sinks,
        storage_resolution,
        publish_timeout,
        publish_retries,
        heartbeat,
        probes,
    })
}

/// Checks the target URL; returns it without a trailing slash.
fn check_target(text: &str, errors: &mut Errors) -> String {
    let trimmed = text.trim().trim_end_matches('/');
    match trimmed.parse::<Uri>() {
        Ok(uri)
            if matches!(uri.scheme_str(), Some("http" | "https"))
                && uri.host().is_some_and(|h| !h.is_empty())
                && uri.query().is_none() =>
        {
            trimmed.to_owned()
        }
        _ => {
            errors.push(
                "target",
                format!("{text:?} is not an http:// or https:// base URL without a query"),
            );
            String::new()
        }
    }
}

#[cfg(test)]
mod tests;
