//! The `opentelemetry` plugin's config checked into [`OpenTelemetry`]: what the local gateway
//! reproduces (W3C Trace Context propagation, the sampling rate) is kept, Kong's other settings
//! are checked as Kong would and otherwise left to Kong (endpoint, headers, resource attributes,
//! queue, timeouts), and what the local gateway could not reproduce is refused: other
//! propagation formats, cleared headers, a trace id response header, the logs endpoint.

use crate::error::PolicyError;
use crate::kong_yaml::OpenTelemetryConfig;
use crate::policy::{DEFAULT_SAMPLING_RATE, OpenTelemetry, Plugin};
use crate::vault;

fn invalid(msg: impl Into<String>) -> PolicyError {
    PolicyError::Invalid(msg.into())
}

fn unsupported(msg: impl Into<String>) -> PolicyError {
    PolicyError::Unsupported(msg.into())
}

/// Validates an `opentelemetry` config.
pub(crate) fn opentelemetry(c: OpenTelemetryConfig) -> Result<Plugin, PolicyError> {
    if c.logs_endpoint.is_some() {
        return Err(unsupported("opentelemetry logs_endpoint"));
    }
    if c.header_type.is_some() {
        return Err(unsupported(
            "opentelemetry header_type (deprecated by Kong: use propagation)",
        ));
    }
    if c.http_response_header_for_traceid.is_some() {
        return Err(unsupported(
            "opentelemetry http_response_header_for_traceid",
        ));
    }
    let traces_endpoint = match (c.traces_endpoint, c.endpoint) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "opentelemetry: give traces_endpoint only (endpoint is its deprecated name)",
            ));
        }
        (Some(e), None) | (None, Some(e)) => e,
        (None, None) => return Err(invalid("opentelemetry needs a traces_endpoint")),
    };
    check_endpoint(&traces_endpoint)?;
    let sampling_rate = match c.sampling_rate {
        None => DEFAULT_SAMPLING_RATE,
        Some(r) if (0.0..=1.0).contains(&r) => r,
        Some(r) => {
            return Err(invalid(format!(
                "opentelemetry sampling_rate must be from 0 to 1, found {r}"
            )));
        }
    };
    let p = c.propagation.unwrap_or_default();
    let only_w3c = |field: &str, list: &Option<Vec<String>>, also: &[&str]| match list
        .iter()
        .flatten()
        .find(|f| *f != "w3c" && !also.contains(&f.as_str()))
    {
        Some(other) => Err(unsupported(format!(
            "opentelemetry propagation.{field} `{other}` (the local gateway speaks W3C Trace Context only)"
        ))),
        None => Ok(()),
    };
    only_w3c("extract", &p.extract, &[])?;
    only_w3c("inject", &p.inject, &["preserve"])?;
    if p.default_format.as_deref().is_some_and(|f| f != "w3c") {
        return Err(unsupported(format!(
            "opentelemetry propagation.default_format `{}` (W3C only)",
            p.default_format.unwrap_or_default()
        )));
    }
    if p.clear.as_ref().is_some_and(|c| !c.is_empty()) {
        return Err(unsupported("opentelemetry propagation.clear"));
    }
    if p.inject.as_ref().is_some_and(Vec::is_empty) || p.extract.as_ref().is_some_and(Vec::is_empty)
    {
        return Err(unsupported(
            "opentelemetry propagation with nothing to extract or inject (the local gateway always propagates W3C)",
        ));
    }
    for (name, value) in c.headers.iter().flatten() {
        let name_ok = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !name_ok || value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(invalid(format!(
                "opentelemetry headers: `{}` is not a valid header",
                name.escape_debug()
            )));
        }
        if vault::is_reference(value) {
            vault::parse(value)?;
        }
    }
    for (field, value) in [
        ("connect_timeout", &c.connect_timeout),
        ("send_timeout", &c.send_timeout),
        ("read_timeout", &c.read_timeout),
    ] {
        let whole = value.as_ref().map(|v| {
            v.as_u64()
                .filter(|n| *n <= u64::from(crate::policy::MAX_TIMEOUT_MS))
        });
        if whole == Some(None) {
            return Err(invalid(format!(
                "opentelemetry {field} must be a whole number of milliseconds from 0 to {}",
                crate::policy::MAX_TIMEOUT_MS
            )));
        }
    }
    for (key, value) in c.resource_attributes.iter().flatten() {
        if key.is_empty() || value.is_empty() {
            return Err(invalid(
                "opentelemetry resource_attributes: keys and values must not be empty",
            ));
        }
    }
    Ok(Plugin::OpenTelemetry(OpenTelemetry {
        traces_endpoint,
        sampling_rate,
    }))
}

/// An http(s) URL with a host, or an env vault reference (the field is referenceable in Kong).
fn check_endpoint(endpoint: &str) -> Result<(), PolicyError> {
    if vault::is_reference(endpoint) {
        vault::parse(endpoint)?;
        return Ok(());
    }
    let rest = endpoint
        .strip_prefix("https://")
        .or_else(|| endpoint.strip_prefix("http://"));
    match rest {
        Some(r)
            if !r.is_empty()
                && !r.starts_with('/')
                && !r.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            Ok(())
        }
        _ => Err(invalid(format!(
            "opentelemetry traces_endpoint `{}` must be an http:// or https:// URL (or a {{vault://env/...}} reference)",
            endpoint.escape_debug()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::{KONG_YAML, Plugin, Policy};

    /// The committed policy with its opentelemetry config replaced by `config` (YAML lines at
    /// the plugin's config indentation).
    fn with_otel(config: &str) -> Result<Policy, crate::PolicyError> {
        let start = KONG_YAML
            .find("  - name: opentelemetry\n")
            .expect("kong.yaml enables opentelemetry");
        let rest = &KONG_YAML[start..];
        // The plugin is the last of the top-level list, which a blank line ends.
        let end = rest.find("\n\n").expect("a blank line after the plugins");
        let replaced = format!(
            "{}  - name: opentelemetry\n    config:\n{config}{}",
            &KONG_YAML[..start],
            &rest[end..]
        );
        Policy::parse(&replaced)
    }

    #[test]
    fn the_committed_plugin_propagates_w3c_from_an_endpoint_reference() {
        let p = Policy::committed().expect("valid");
        let o = p.tracing().expect("opentelemetry is enabled");
        assert!(
            o.traces_endpoint.starts_with("http"),
            "{}",
            o.traces_endpoint
        );
        assert_eq!(o.sampling_rate, 1.0);
        assert!(
            p.plugins
                .iter()
                .any(|i| matches!(i.plugin, Plugin::OpenTelemetry(_))
                    && i.scope.route.is_none()
                    && i.scope.consumer.is_none())
        );
    }

    #[test]
    fn what_the_local_gateway_cannot_reproduce_is_refused() {
        let ok = "      traces_endpoint: http://collector:4318/v1/traces\n";
        let o = with_otel(ok).expect("minimal");
        assert_eq!(
            o.tracing().expect("on").sampling_rate,
            0.01,
            "kong.conf's default"
        );
        let o = with_otel(
            "      traces_endpoint: \"{vault://env/otel-endpoint}\"\n      sampling_rate: 0.25\n      propagation:\n        extract: [w3c]\n        inject: [preserve, w3c]\n        default_format: w3c\n",
        )
        .expect("reference and w3c");
        assert_eq!(o.tracing().expect("on").sampling_rate, 0.25);
        for (config, says) in [
            ("      sampling_rate: 1\n", "needs a traces_endpoint"),
            (
                "      traces_endpoint: collector:4318\n",
                "http:// or https://",
            ),
            (
                "      traces_endpoint: \"http://\"\n",
                "http:// or https://",
            ),
            ("      traces_endpoint: \"{vault://aws/x}\"\n", "env vault"),
            (
                "      traces_endpoint: http://c/v1/traces\n      sampling_rate: 1.5\n",
                "from 0 to 1",
            ),
            (
                "      traces_endpoint: http://c/v1/traces\n      propagation:\n        extract: [b3]\n",
                "propagation.extract `b3`",
            ),
            (
                "      traces_endpoint: http://c/v1/traces\n      propagation:\n        default_format: datadog\n",
                "default_format",
            ),
            (
                "      traces_endpoint: http://c/v1/traces\n      propagation:\n        clear: [b3]\n",
                "propagation.clear",
            ),
            (
                "      traces_endpoint: http://c/v1/traces\n      logs_endpoint: http://c/v1/logs\n",
                "logs_endpoint",
            ),
            (
                "      traces_endpoint: http://c/v1/traces\n      header_type: b3\n",
                "header_type",
            ),
            (
                "      traces_endpoint: http://c/v1/traces\n      read_timeout: -5\n",
                "read_timeout must be a whole number",
            ),
            (
                "      traces_endpoint: http://c/v1/traces\n      samplingrate: 1\n",
                "unknown field",
            ),
            (
                "      traces_endpoint: http://c/v1/traces\n      headers:\n        \"Bad Name\": x\n",
                "not a valid header",
            ),
        ] {
            let err = with_otel(config).expect_err(config).to_string();
            assert!(err.contains(says), "{config}: {err}");
        }
    }
}
