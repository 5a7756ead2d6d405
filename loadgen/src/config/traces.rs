//! `--trace-sample` and `--trace-url` checked into a [`TraceConfig`]: a fraction from 0 to 1,
//! and a link template for the reports that holds `{trace_id}` and is an http(s) URL (the HTML
//! report makes it a link, so `javascript:` and the like are refused).

use super::error::invalid;
use super::{ConfigError, Target};
use crate::config::flags::TraceArgs;

/// The placeholder of `--trace-url` for the W3C trace id (32 hex digits).
pub const TRACE_ID_PLACEHOLDER: &str = "{trace_id}";

/// The placeholder of `--trace-url` for the same id as X-Ray writes it (`1-` + 8 + `-` + 24 hex
/// digits), for links into the X-Ray console; a template holds at least one of the two.
pub const XRAY_TRACE_ID_PLACEHOLDER: &str = "{xray_trace_id}";

/// Longest `--trace-url` template.
pub const MAX_TRACE_URL: usize = 2048;

/// What is traced, and how the reports link a trace id.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceConfig {
    /// Fraction of requests that carry a fresh sampled `traceparent`, 0 to 1.
    pub ratio: f64,
    /// Link template with `{trace_id}`, for the reports.
    pub url: Option<String>,
}

/// Reads the flags; `None` when `--trace-sample` is not given. A request that already sets
/// `traceparent` itself (`--header`, a targets file) is refused with the flag: it would go out
/// with two, which receivers must ignore.
pub(super) fn parse(
    args: &TraceArgs,
    targets: &[Target],
) -> Result<Option<TraceConfig>, ConfigError> {
    let url = args.trace_url.as_deref().map(check_url).transpose()?;
    let Some(raw) = &args.trace_sample else {
        return match url {
            Some(_) => Err(invalid(
                "--trace-url needs --trace-sample (which requests carry a trace id)",
            )),
            None => Ok(None),
        };
    };
    let ratio = raw
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|r| (0.0..=1.0).contains(r))
        .ok_or_else(|| {
            invalid(format!(
                "--trace-sample `{}`: write the fraction of requests to trace, from 0 to 1 (e.g. 0.01, 1)",
                raw.escape_debug()
            ))
        })?;
    if ratio > 0.0
        && targets
            .iter()
            .any(|t| t.headers.contains_key("traceparent"))
    {
        return Err(invalid(
            "--trace-sample: a request already sets a traceparent header (--header or the targets file); drop one of the two",
        ));
    }
    Ok(Some(TraceConfig { ratio, url }))
}

fn check_url(template: &str) -> Result<String, ConfigError> {
    let shown: String = template
        .chars()
        .take(80)
        .collect::<String>()
        .escape_debug()
        .to_string();
    let why = if template.len() > MAX_TRACE_URL {
        format!("longer than {MAX_TRACE_URL} bytes")
    } else if !template.contains(TRACE_ID_PLACEHOLDER)
        && !template.contains(XRAY_TRACE_ID_PLACEHOLDER)
    {
        format!(
            "must contain {TRACE_ID_PLACEHOLDER} (or {XRAY_TRACE_ID_PLACEHOLDER}), where each trace id goes"
        )
    } else if !(template.starts_with("https://") || template.starts_with("http://")) {
        "must be an http:// or https:// URL".to_string()
    } else if template
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || matches!(c, '"' | '<' | '>' | '`'))
    {
        "holds spaces, control characters or quotes".to_string()
    } else {
        return Ok(template.to_string());
    };
    Err(invalid(format!("--trace-url `{shown}`: {why}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(sample: Option<&str>, url: Option<&str>) -> TraceArgs {
        TraceArgs {
            trace_sample: sample.map(str::to_string),
            trace_url: url.map(str::to_string),
        }
    }

    #[test]
    fn good_values_are_read() {
        assert_eq!(parse(&args(None, None), &[]).expect("ok"), None);
        let c = parse(&args(Some(" 0.25 "), Some("https://x/t/{trace_id}")), &[])
            .expect("ok")
            .expect("on");
        assert_eq!(c.ratio, 0.25);
        assert_eq!(c.url.as_deref(), Some("https://x/t/{trace_id}"));
        let xray = "https://console.aws.amazon.com/cloudwatch/home#xray:traces/{xray_trace_id}";
        let c = parse(&args(Some("1"), Some(xray)), &[])
            .expect("ok")
            .expect("on");
        assert_eq!(c.url.as_deref(), Some(xray));
        for ok in ["0", "1", "1.0", "0.000001"] {
            assert!(parse(&args(Some(ok), None), &[]).is_ok(), "{ok}");
        }
    }

    #[test]
    fn bad_values_name_the_flag() {
        for bad in [
            "", "-0.1", "1.01", "NaN", "inf", "50%", "half", "1e999", "0x1",
        ] {
            let e = parse(&args(Some(bad), None), &[])
                .expect_err(bad)
                .to_string();
            assert!(e.starts_with("--trace-sample"), "{bad}: {e}");
        }
        let long = format!("https://x/{}/{{trace_id}}", "a".repeat(3000));
        for bad in [
            "https://x/t/",
            "javascript:alert(1)//{trace_id}",
            "ftp://x/{trace_id}",
            "https://x/{trace_id}\" onclick=\"x",
            "https://x/<script>{trace_id}",
            "https://x/{trace_id}\n",
            long.as_str(),
        ] {
            let e = parse(&args(Some("1"), Some(bad)), &[])
                .expect_err(bad)
                .to_string();
            assert!(e.starts_with("--trace-url"), "{bad}: {e}");
            assert!(e.len() < 300, "the message quotes a bounded part: {e}");
        }
        let e = parse(&args(None, Some("https://x/{trace_id}")), &[])
            .expect_err("needs sampling")
            .to_string();
        assert!(e.contains("--trace-url needs --trace-sample"), "{e}");
    }
}
