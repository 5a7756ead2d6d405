//! Where the canary runs and where its metrics go. Every datum carries a `Region` dimension, the
//! label of the place it was measured from: `--region-label` when given, else the AWS region
//! the task runs in (`AWS_REGION`, which ECS sets, or `AWS_DEFAULT_REGION`), else `local`. The
//! home region is the AWS region whose CloudWatch receives the metrics (and holds the alarms),
//! whichever region the task runs in; without one the SDK's region is used.

/// The label used when neither `--region-label` nor an AWS region is set.
pub const LOCAL_LABEL: &str = "local";

/// Longest region label: AWS's own names are at most 20-odd characters; a label is a short name.
pub const MAX_LABEL_CHARS: usize = 64;

/// The environment variables an AWS region is read from, in the SDK's order.
pub const AWS_REGION_VARS: [&str; 2] = ["AWS_REGION", "AWS_DEFAULT_REGION"];

/// Where the label came from, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelSource {
    /// `--region-label`, `CANARY_REGION_LABEL` or the file's `region_label`.
    Given,
    /// This AWS environment variable.
    Aws(&'static str),
    /// Nothing was set: [`LOCAL_LABEL`].
    Default,
}

/// The region label: the given one, else the first non-empty AWS region variable (read with
/// `env`), else [`LOCAL_LABEL`].
pub fn label(given: Option<&str>, env: impl Fn(&str) -> Option<String>) -> (String, LabelSource) {
    if let Some(given) = given {
        return (given.to_owned(), LabelSource::Given);
    }
    for var in AWS_REGION_VARS {
        if let Some(value) = env(var).filter(|v| !v.trim().is_empty()) {
            return (value, LabelSource::Aws(var));
        }
    }
    (LOCAL_LABEL.to_owned(), LabelSource::Default)
}

/// Why `label` cannot be a `Region` dimension, if it cannot.
pub fn check_label(label: &str) -> Result<(), String> {
    let count = label.chars().count();
    if count == 0 {
        return Err("is empty; give a short name such as us-east-1 or office-berlin".into());
    }
    if count > MAX_LABEL_CHARS {
        return Err(format!(
            "is {count} characters long; at most {MAX_LABEL_CHARS}"
        ));
    }
    if !label
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        return Err(format!(
            "{:?} must be letters, digits, _ . or - (such as us-east-1)",
            shorten(label)
        ));
    }
    Ok(())
}

/// Why `region` is not an AWS region name (`us-east-1`, `eu-central-2`, `us-gov-west-1`), if it
/// is not.
pub fn check_aws_region(region: &str) -> Result<(), String> {
    let parts: Vec<&str> = region.split('-').collect();
    let letters = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase());
    let valid = region.len() <= 32
        && parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1].iter().all(|p| letters(p))
        && parts
            .last()
            .is_some_and(|n| (1..=2).contains(&n.len()) && n.chars().all(|c| c.is_ascii_digit()));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{:?} is not an AWS region name such as us-east-1",
            shorten(region)
        ))
    }
}

/// At most 64 characters of `text`, for messages about hostile input.
pub fn shorten(text: &str) -> String {
    if text.chars().count() <= MAX_LABEL_CHARS {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(MAX_LABEL_CHARS).collect();
        short.push_str("...");
        short
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_label_is_given_else_the_aws_region_else_local() {
        let none = |_: &str| None;
        assert_eq!(
            label(Some("lab"), |_| Some("us-east-1".into())),
            ("lab".into(), LabelSource::Given)
        );
        let aws = |v: &str| (v == "AWS_DEFAULT_REGION").then(|| "eu-west-1".to_owned());
        assert_eq!(
            label(None, aws),
            ("eu-west-1".into(), LabelSource::Aws("AWS_DEFAULT_REGION"))
        );
        let both = |v: &str| Some(format!("{v}-1"));
        assert_eq!(label(None, both).1, LabelSource::Aws("AWS_REGION"));
        let blank = |_: &str| Some("  ".to_owned());
        assert_eq!(label(None, blank), ("local".into(), LabelSource::Default));
        assert_eq!(label(None, none).0, LOCAL_LABEL);
    }

    #[test]
    fn labels_are_short_dimension_safe_names() {
        for ok in ["us-east-1", "office_berlin", "a", "x.y-z", &"a".repeat(64)] {
            assert_eq!(check_label(ok), Ok(()), "{ok}");
        }
        assert!(check_label("").unwrap_err().contains("empty"));
        assert!(check_label(&"a".repeat(65)).unwrap_err().contains("65"));
        for bad in ["us east", "eu/west", "ré", "a\u{0}"] {
            assert!(check_label(bad).is_err(), "{bad}");
        }
        let hostile = "é".repeat(100_000);
        let message = check_label(&hostile).expect_err("too long");
        assert!(message.len() < 100, "{message}");
        let message = check_aws_region(&"x".repeat(100_000)).expect_err("no region");
        assert!(message.len() < 120 && message.contains("..."), "{message}");
    }

    #[test]
    fn aws_region_names_are_recognised() {
        for ok in [
            "us-east-1",
            "eu-central-2",
            "us-gov-west-1",
            "ap-southeast-4",
        ] {
            assert_eq!(check_aws_region(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "us-east",
            "US-EAST-1",
            "useast1",
            "us-east-100",
            "u-east-1",
            "us--1",
            "local",
        ] {
            assert!(check_aws_region(bad).is_err(), "{bad}");
        }
    }
}
