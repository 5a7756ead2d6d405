//! The canary's schedule, as Terraform declares it (`schedule_expression` of the canary stack),
//! turned into an interval, so the dead-man alarm's period can be checked against it.

use std::time::Duration;

/// The interval of an EventBridge Scheduler `rate(...)` expression, or of the every-minute
/// `cron(* * * * ? *)`; `None` for anything else (irregular schedules have no single interval).
pub fn interval(expression: &str) -> Option<Duration> {
    let expression = expression.trim();
    if let Some(inner) = expression
        .strip_prefix("rate(")
        .and_then(|r| r.strip_suffix(')'))
    {
        let (value, unit) = inner.trim().split_once(' ')?;
        let value: u64 = value.parse().ok().filter(|v| *v > 0)?;
        let seconds = match (unit.trim(), value) {
            ("minute", 1) | ("minutes", 2..) => 60,
            ("hour", 1) | ("hours", 2..) => 3_600,
            ("day", 1) | ("days", 2..) => 86_400,
            _ => return None,
        };
        return Some(Duration::from_secs(value.checked_mul(seconds)?));
    }
    let fields: Vec<&str> = expression
        .strip_prefix("cron(")?
        .strip_suffix(')')?
        .split_whitespace()
        .collect();
    (fields == ["*", "*", "*", "*", "?", "*"]).then_some(Duration::from_secs(60))
}

/// The string default of `variable "<name>"` in a Terraform variables file.
pub fn variable_default(hcl: &str, name: &str) -> Option<String> {
    let block = hcl.split(&format!("variable \"{name}\"")).nth(1)?;
    let block = &block[..block.find("\n}").unwrap_or(block.len())];
    string_assignment(block, "default")
}

/// The string value of `key = "value"` in HCL or tfvars text.
pub fn string_assignment(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once('=')?;
        (k.trim() == key).then(|| {
            v.trim()
                .strip_prefix('"')?
                .strip_suffix('"')
                .map(str::to_string)
        })?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_the_every_minute_cron() {
        assert_eq!(interval("rate(1 minute)"), Some(Duration::from_secs(60)));
        assert_eq!(interval("rate(5 minutes)"), Some(Duration::from_secs(300)));
        assert_eq!(interval("rate(2 hours)"), Some(Duration::from_secs(7_200)));
        assert_eq!(interval("cron(* * * * ? *)"), Some(Duration::from_secs(60)));
    }

    #[test]
    fn malformed_or_irregular_schedules_have_no_interval() {
        for bad in [
            "rate(0 minutes)",
            "rate(1 minutes)",
            "rate(2 minute)",
            "rate(x minutes)",
            "rate()",
            "cron(0 9 * * ? *)",
            "at(2026-01-01T00:00:00)",
            "",
            "rate(99999999999999999999 days)",
            "rate(18446744073709551615 days)",
        ] {
            assert_eq!(interval(bad), None, "{bad}");
        }
    }

    #[test]
    fn reads_a_variable_default_and_a_tfvars_value() {
        let hcl = "variable \"other\" {\n  default = \"no\"\n}\n\nvariable \"schedule_expression\" {\n  type    = string\n  default = \"rate(1 minute)\"\n}\n";
        assert_eq!(
            variable_default(hcl, "schedule_expression").as_deref(),
            Some("rate(1 minute)")
        );
        assert_eq!(variable_default(hcl, "missing"), None);
        assert_eq!(
            string_assignment(
                "a = 1\nschedule_expression = \"rate(2 minutes)\"\n",
                "schedule_expression"
            )
            .as_deref(),
            Some("rate(2 minutes)")
        );
    }
}
