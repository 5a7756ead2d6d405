//! CloudWatch's PutMetricData limits, checked before anything is sent: a datum that CloudWatch
//! would reject (or silently mangle) is refused here with an error that names the metric and the
//! limit, and a large set of data is split into requests that each fit, never truncated.

use std::time::{Duration, SystemTime};

use thiserror::Error;

use crate::metrics::Datum;

/// Most metric data in one PutMetricData request.
pub const MAX_DATA_PER_REQUEST: usize = 1000;
/// Largest PutMetricData request body CloudWatch accepts (1 MB).
pub const MAX_REQUEST_BYTES: usize = 1_000_000;
/// Most dimensions on one metric.
pub const MAX_DIMENSIONS: usize = 30;
/// Longest metric name, namespace and dimension name, in characters.
pub const MAX_NAME_CHARS: usize = 255;
/// Longest dimension value, in characters.
pub const MAX_DIMENSION_VALUE_CHARS: usize = 1024;
/// Oldest timestamp CloudWatch accepts, relative to now (two weeks).
pub const MAX_AGE: Duration = Duration::from_secs(14 * 24 * 3600);
/// Furthest a timestamp may lie in the future (two hours).
pub const MAX_FUTURE: Duration = Duration::from_secs(2 * 3600);

/// Largest magnitude CloudWatch accepts (2^360); smaller non-zero magnitudes than 2^-360 are refused.
fn max_magnitude() -> f64 {
    2f64.powi(360)
}

/// A datum or namespace that CloudWatch would refuse.
#[derive(Debug, Error, PartialEq)]
pub enum LimitError {
    /// The namespace is empty, too long, or in the reserved `AWS/` space.
    #[error("invalid namespace {namespace:?}: {reason}")]
    Namespace {
        /// The namespace.
        namespace: String,
        /// What is wrong with it.
        reason: String,
    },
    /// One datum breaks a limit.
    #[error("metric {metric:?} cannot be published: {reason}")]
    Datum {
        /// The metric's name.
        metric: String,
        /// Which limit it breaks.
        reason: String,
    },
}

/// Checks a namespace against CloudWatch's rules.
pub fn validate_namespace(namespace: &str) -> Result<(), LimitError> {
    let fail = |reason: &str| {
        Err(LimitError::Namespace {
            namespace: namespace.to_owned(),
            reason: reason.to_owned(),
        })
    };
    let chars = namespace.chars().count();
    if namespace.trim().is_empty() {
        return fail("it must contain a non-whitespace character");
    }
    if chars > MAX_NAME_CHARS {
        return fail("it is longer than 255 characters");
    }
    if namespace.starts_with("AWS/") {
        return fail("the AWS/ prefix is reserved for AWS services");
    }
    if namespace.starts_with(':') {
        return fail("it must not start with ':'");
    }
    if namespace
        .chars()
        .any(|c| !c.is_ascii() || c.is_ascii_control())
    {
        return fail("only printable ASCII characters are allowed");
    }
    Ok(())
}

/// Checks one datum against CloudWatch's limits at time `now`.
pub fn validate_datum(datum: &Datum, now: SystemTime) -> Result<(), LimitError> {
    let fail = |reason: String| {
        Err(LimitError::Datum {
            metric: datum.name.clone(),
            reason,
        })
    };
    let name_chars = datum.name.chars().count();
    if datum.name.trim().is_empty() || name_chars > MAX_NAME_CHARS {
        return fail(format!("the name must be 1 to {MAX_NAME_CHARS} characters"));
    }
    if !datum.value.is_finite() {
        return fail(format!(
            "the value {} is not finite (NaN and infinities are refused)",
            datum.value
        ));
    }
    let magnitude = datum.value.abs();
    if magnitude > max_magnitude() || (magnitude != 0.0 && magnitude < 1.0 / max_magnitude()) {
        return fail(format!(
            "the value {} is outside CloudWatch's range (magnitude 2^-360 to 2^360, or 0)",
            datum.value
        ));
    }
    if datum.dimensions.len() > MAX_DIMENSIONS {
        return fail(format!(
            "{} dimensions, at most {MAX_DIMENSIONS} are allowed",
            datum.dimensions.len()
        ));
    }
    for (i, (name, value)) in datum.dimensions.iter().enumerate() {
        if name.trim().is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return fail(format!(
                "dimension name {name:?} must be 1 to {MAX_NAME_CHARS} characters"
            ));
        }
        if name.starts_with(':') {
            return fail(format!("dimension name {name:?} must not start with ':'"));
        }
        if value.trim().is_empty() || value.chars().count() > MAX_DIMENSION_VALUE_CHARS {
            return fail(format!(
                "the value of dimension {name:?} must be 1 to {MAX_DIMENSION_VALUE_CHARS} characters"
            ));
        }
        if datum.dimensions[..i].iter().any(|(other, _)| other == name) {
            return fail(format!("dimension {name:?} appears twice"));
        }
    }
    if let Ok(age) = now.duration_since(datum.timestamp)
        && age > MAX_AGE
    {
        return fail(format!(
            "the timestamp is {} old; CloudWatch accepts at most two weeks",
            humantime::format_duration(Duration::from_secs(age.as_secs()))
        ));
    }
    if let Ok(ahead) = datum.timestamp.duration_since(now)
        && ahead > MAX_FUTURE
    {
        return fail(format!(
            "the timestamp is {} in the future; CloudWatch accepts at most two hours",
            humantime::format_duration(Duration::from_secs(ahead.as_secs()))
        ));
    }
    Ok(())
}

/// A generous upper bound of one datum's encoded size in a request.
fn encoded_size_bound(datum: &Datum) -> usize {
    // Field names, the value, unit, timestamp and storage resolution fit in 200 bytes in every
    // protocol the SDK speaks; names and dimension strings may need escaping (at most 6 bytes per
    // character in JSON's \uXXXX form).
    let strings: usize = datum.name.len()
        + datum
            .dimensions
            .iter()
            .map(|(n, v)| n.len() + v.len() + 40)
            .sum::<usize>();
    200 + strings * 6
}

/// Validates every datum, then splits them into PutMetricData-sized batches in their order.
///
/// Fails on the first invalid datum: publishing the rest while dropping one would be the silent
/// truncation this module exists to prevent.
pub fn batches(
    namespace: &str,
    data: &[Datum],
    now: SystemTime,
) -> Result<Vec<Vec<Datum>>, LimitError> {
    validate_namespace(namespace)?;
    for datum in data {
        validate_datum(datum, now)?;
    }
    let overhead = 200 + namespace.len() * 6;
    let mut out: Vec<Vec<Datum>> = Vec::new();
    let mut current: Vec<Datum> = Vec::new();
    let mut size = overhead;
    for datum in data {
        let bound = encoded_size_bound(datum);
        if !current.is_empty()
            && (current.len() == MAX_DATA_PER_REQUEST || size + bound > MAX_REQUEST_BYTES)
        {
            out.push(std::mem::take(&mut current));
            size = overhead;
        }
        size += bound;
        current.push(datum.clone());
    }
    if !current.is_empty() {
        out.push(current);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Unit;

    fn datum(name: &str, value: f64) -> Datum {
        Datum::probe(
            name,
            "test",
            "health",
            value,
            Unit::Count,
            SystemTime::now(),
        )
    }

    #[test]
    fn oversized_batches_are_split_in_order_without_loss() {
        let data: Vec<Datum> = (0..2500).map(|i| datum("ProbeLatency", i as f64)).collect();
        let out = batches("SumApi/Canary", &data, SystemTime::now()).expect("valid data");
        assert_eq!(
            out.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![1000, 1000, 500]
        );
        let flattened: Vec<Datum> = out.into_iter().flatten().collect();
        assert_eq!(flattened, data);
    }

    #[test]
    fn batches_are_split_by_size_before_count() {
        // 30 dimensions with 1000-character values: each datum is large, so the byte limit binds.
        let mut big = datum("ProbeLatency", 1.0);
        big.dimensions = (0..30)
            .map(|i| (format!("D{i}"), "v".repeat(1000)))
            .collect();
        let data = vec![big; 20];
        let out = batches("SumApi/Canary", &data, SystemTime::now()).expect("valid data");
        assert!(out.len() > 1, "20 large data must not fit one request");
        assert_eq!(out.iter().map(Vec::len).sum::<usize>(), 20);
        for batch in &out {
            let bytes: usize = batch.iter().map(encoded_size_bound).sum();
            assert!(bytes <= MAX_REQUEST_BYTES, "batch of {bytes} bytes");
        }
    }

    #[test]
    fn empty_data_gives_no_request() {
        let out = batches("SumApi/Canary", &[], SystemTime::now()).expect("valid");
        assert!(out.is_empty());
    }

    #[test]
    fn invalid_values_are_rejected_with_the_metric_named() {
        for value in [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e200,
            -1e200,
            1e-200,
        ] {
            let err = batches(
                "SumApi/Canary",
                &[datum("ProbeLatency", value)],
                SystemTime::now(),
            )
            .expect_err("must be refused");
            let text = err.to_string();
            assert!(text.contains("ProbeLatency"), "{text}");
        }
        assert!(validate_datum(&datum("ProbeLatency", 0.0), SystemTime::now()).is_ok());
        assert!(validate_datum(&datum("ProbeLatency", -5.5), SystemTime::now()).is_ok());
    }

    #[test]
    fn one_invalid_datum_fails_the_whole_publish() {
        let data = vec![datum("ProbeSuccess", 1.0), datum("ProbeLatency", f64::NAN)];
        let err = batches("SumApi/Canary", &data, SystemTime::now()).expect_err("refused");
        assert!(err.to_string().contains("not finite"), "{err}");
    }

    #[test]
    fn timestamps_outside_the_window_are_rejected() {
        let now = SystemTime::now();
        let mut old = datum("ProbeSuccess", 1.0);
        old.timestamp = now - Duration::from_secs(15 * 24 * 3600);
        assert!(
            validate_datum(&old, now)
                .expect_err("too old")
                .to_string()
                .contains("two weeks")
        );
        let mut future = datum("ProbeSuccess", 1.0);
        future.timestamp = now + Duration::from_secs(3 * 3600);
        assert!(
            validate_datum(&future, now)
                .expect_err("too new")
                .to_string()
                .contains("two hours")
        );
    }

    #[test]
    fn names_and_dimensions_are_checked() {
        let now = SystemTime::now();
        assert!(validate_datum(&datum("", 1.0), now).is_err());
        assert!(validate_datum(&datum(&"x".repeat(256), 1.0), now).is_err());
        let mut many = datum("ProbeSuccess", 1.0);
        many.dimensions = (0..31).map(|i| (format!("D{i}"), "v".into())).collect();
        assert!(validate_datum(&many, now).is_err());
        let mut empty_value = datum("ProbeSuccess", 1.0);
        empty_value.dimensions[1].1 = String::new();
        assert!(validate_datum(&empty_value, now).is_err());
        let mut duplicate = datum("ProbeSuccess", 1.0);
        duplicate.dimensions[1].0 = "Environment".into();
        assert!(validate_datum(&duplicate, now).is_err());
    }

    #[test]
    fn namespaces_are_checked() {
        assert!(validate_namespace("SumApi/Canary").is_ok());
        for bad in ["", "   ", "AWS/EC2", ":x", "bad\nname"] {
            assert!(validate_namespace(bad).is_err(), "{bad:?}");
        }
        assert!(validate_namespace(&"n".repeat(256)).is_err());
    }
}
