//! SLO expressions (`p99<250ms`, `error_rate<0.5%`, `server_error_rate<=0.1%`, `rps>=950`,
//! `status_5xx==0`): parsing and validation only. A typo must be a usage error at start, never a
//! silent pass; a finished run is measured for each gate in `report` and judged in `verdict`.
//! Gates from an SLO file (`slo_file`) are expressions of this grammar too, so they are measured,
//! judged and shown exactly like typed ones.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::recorder::ErrorKind;

/// What an SLO expression measures.
#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    /// A percentile of the corrected latency, e.g. 99.9 for `p99.9`.
    Percentile(f64),
    /// A percentile of the uncorrected latency (from the actual send), `p99_uncorrected`.
    UncorrectedPercentile(f64),
    /// Mean corrected latency.
    Mean,
    /// Maximum corrected latency.
    Max,
    /// Share of requests that were not 2xx/3xx (errors and timeouts), as a fraction.
    ErrorRate,
    /// Share of requests answered 5xx or not answered at all (connection and protocol errors,
    /// timeouts), as a fraction: what an availability SLO counts as bad. 4xx answers (429
    /// included) are the client's doing and are not counted.
    ServerErrorRate,
    /// Achieved requests per second.
    Rps,
    /// Count of one exact status code (`status_503`).
    Status(u16),
    /// Count of one status class (`status_5xx`); the class digit.
    StatusClass(u8),
    /// Count of timed-out requests.
    Timeouts,
    /// Count of connection/protocol errors (not HTTP statuses).
    Errors,
    /// Count of failures of one kind (`errors_refused`, `errors_malformed`, ...).
    ErrorKind(ErrorKind),
    /// Total measured requests.
    Requests,
}

impl Metric {
    /// Whether it is a latency (compared in ms).
    pub fn is_latency(&self) -> bool {
        matches!(
            self,
            Metric::Percentile(_) | Metric::UncorrectedPercentile(_) | Metric::Mean | Metric::Max
        )
    }

    fn is_rate(&self) -> bool {
        matches!(self, Metric::ErrorRate | Metric::ServerErrorRate)
    }
}

/// Comparison operator of an SLO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

impl Op {
    /// Whether `actual OP threshold` holds.
    pub fn holds(self, actual: f64, threshold: f64) -> bool {
        match self {
            Op::Lt => actual < threshold,
            Op::Le => actual <= threshold,
            Op::Gt => actual > threshold,
            Op::Ge => actual >= threshold,
            Op::Eq => actual == threshold,
            Op::Ne => actual != threshold,
        }
    }
}

/// One validated SLO: `metric op threshold`. Latency thresholds are kept in milliseconds,
/// error rates as a fraction, everything else as a plain number.
#[derive(Debug, Clone, PartialEq)]
pub struct Slo {
    /// The expression as the user wrote it (trimmed); reports show it verbatim.
    pub expr: String,
    /// What is measured.
    pub metric: Metric,
    /// How it is compared.
    pub op: Op,
    /// The bound, in ms for latency metrics, as a fraction for error rates.
    pub threshold: f64,
    /// The objective of an SLO file (`--slo-file`) this gate was made from, by its name; `None`
    /// for a gate typed with `--slo`.
    pub from_slo: Option<String>,
}

/// Why an SLO expression was rejected.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SloError {
    /// No comparison operator.
    #[error("SLO `{0}`: missing operator; write e.g. `p99<250ms` (operators: < <= > >= == !=)")]
    NoOperator(String),
    /// Unknown metric name.
    #[error(
        "SLO `{expr}`: unknown metric `{metric}`; use pNN[.N] (e.g. p99, p99.9), pNN_uncorrected, mean, max, error_rate, server_error_rate, rps, status_NNN, status_Nxx, timeouts, errors, errors_KIND (KIND: refused, reset, timeout, tls, malformed, other) or requests"
    )]
    UnknownMetric {
        /// The whole expression.
        expr: String,
        /// The metric part.
        metric: String,
    },
    /// A value that does not fit the metric.
    #[error("SLO `{expr}`: bad value `{value}`: {why}")]
    BadValue {
        /// The whole expression.
        expr: String,
        /// The value part.
        value: String,
        /// What was expected.
        why: &'static str,
    },
}

impl FromStr for Slo {
    type Err = SloError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let expr = s.trim().to_string();
        let compact: String = expr.chars().filter(|c| !c.is_whitespace()).collect();
        let (pos, op, len) = find_op(&compact).ok_or_else(|| SloError::NoOperator(expr.clone()))?;
        let name = &compact[..pos];
        let value = &compact[pos + len..];
        let metric = parse_metric(name).ok_or_else(|| SloError::UnknownMetric {
            expr: expr.clone(),
            metric: name.to_string(),
        })?;
        let bad = |why| SloError::BadValue {
            expr: expr.clone(),
            value: value.to_string(),
            why,
        };
        let threshold = if metric.is_latency() {
            parse_latency_ms(value).ok_or_else(|| {
                bad("a latency needs a unit: us, ms, s or m (e.g. 250ms, 1s, 500us)")
            })?
        } else if metric.is_rate() {
            parse_rate(value).ok_or_else(|| {
                bad("an error rate is a percentage (0.5%) or a fraction (0.005) between 0 and 1")
            })?
        } else if metric == Metric::Rps {
            parse_non_negative(value)
                .ok_or_else(|| bad("a rate is a non-negative number of requests per second"))?
        } else {
            let n = parse_non_negative(value)
                .ok_or_else(|| bad("a count is a non-negative whole number"))?;
            if n.fract() != 0.0 {
                return Err(bad("a count is a non-negative whole number"));
            }
            n
        };
        Ok(Slo {
            expr,
            metric,
            op,
            threshold,
            from_slo: None,
        })
    }
}

impl fmt::Display for Slo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expr)
    }
}

fn find_op(s: &str) -> Option<(usize, Op, usize)> {
    let pos = s.find(['<', '>', '=', '!'])?;
    let rest = &s[pos..];
    let (op, len) = if rest.starts_with("<=") {
        (Op::Le, 2)
    } else if rest.starts_with(">=") {
        (Op::Ge, 2)
    } else if rest.starts_with("==") {
        (Op::Eq, 2)
    } else if rest.starts_with("!=") {
        (Op::Ne, 2)
    } else if rest.starts_with('<') {
        (Op::Lt, 1)
    } else if rest.starts_with('>') {
        (Op::Gt, 1)
    } else {
        return None;
    };
    Some((pos, op, len))
}

fn parse_percentile(s: &str) -> Option<f64> {
    let digits = s.strip_prefix('p')?;
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    // `p999` is the common shorthand for 99.9; `p9999` for 99.99.
    let q: f64 = match digits {
        "999" => 99.9,
        "9999" => 99.99,
        "99999" => 99.999,
        _ => digits.parse().ok()?,
    };
    (q > 0.0 && q <= 100.0).then_some(q)
}

fn parse_metric(name: &str) -> Option<Metric> {
    let name = name.to_ascii_lowercase();
    Some(match name.as_str() {
        "mean" | "avg" => Metric::Mean,
        "max" => Metric::Max,
        "error_rate" => Metric::ErrorRate,
        "server_error_rate" => Metric::ServerErrorRate,
        "rps" => Metric::Rps,
        "timeouts" => Metric::Timeouts,
        "errors" => Metric::Errors,
        "requests" => Metric::Requests,
        _ => {
            if let Some(code) = name.strip_prefix("status_") {
                let b = code.as_bytes();
                if b.len() == 3 && (b'1'..=b'5').contains(&b[0]) && &code[1..] == "xx" {
                    return Some(Metric::StatusClass(b[0] - b'0'));
                }
                let n: u16 = code.parse().ok().filter(|_| b.len() == 3)?;
                return (100..=599).contains(&n).then_some(Metric::Status(n));
            }
            if let Some(kind) = name.strip_prefix("errors_") {
                return ErrorKind::from_tag(kind).map(Metric::ErrorKind);
            }
            if let Some(p) = name.strip_suffix("_uncorrected") {
                return parse_percentile(p).map(Metric::UncorrectedPercentile);
            }
            Metric::Percentile(parse_percentile(&name)?)
        }
    })
}

fn parse_non_negative(s: &str) -> Option<f64> {
    let n: f64 = s.parse().ok()?;
    (n.is_finite() && n >= 0.0).then_some(n)
}

fn parse_rate(s: &str) -> Option<f64> {
    let f = match s.strip_suffix('%') {
        Some(p) => parse_non_negative(p)? / 100.0,
        None => parse_non_negative(s)?,
    };
    (f <= 1.0).then_some(f)
}

/// Parses `250ms`, `1s`, `1.5s`, `500us`, `500µs`, `2m` into milliseconds.
pub fn parse_latency_ms(s: &str) -> Option<f64> {
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (num, unit) = s.split_at(split);
    let n = parse_non_negative(num)?;
    let factor = match unit {
        "us" | "µs" => 0.001,
        "ms" => 1.0,
        "s" => 1000.0,
        "m" => 60_000.0,
        _ => return None,
    };
    Some(n * factor)
}

/// Parses a regression bound such as `10%` or `0.1` into a fraction.
pub fn parse_fraction(s: &str) -> Result<f64, String> {
    let f = match s.trim().strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
        None => s.trim().parse::<f64>(),
    }
    .map_err(|_| format!("`{s}` is not a percentage such as 10% (or a fraction such as 0.1)"))?;
    if !(f.is_finite() && f >= 0.0) {
        return Err(format!("`{s}` must be a non-negative percentage"));
    }
    Ok(f)
}

/// A duration given as a latency, for convenience in tests and reports.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_expressions() {
        let table: &[(&str, Metric, Op, f64)] = &[
            ("p99<250ms", Metric::Percentile(99.0), Op::Lt, 250.0),
            ("p99.9<1s", Metric::Percentile(99.9), Op::Lt, 1000.0),
            ("p999 <= 1.5s", Metric::Percentile(99.9), Op::Le, 1500.0),
            ("p50<500us", Metric::Percentile(50.0), Op::Lt, 0.5),
            ("p50<500µs", Metric::Percentile(50.0), Op::Lt, 0.5),
            ("p100<2m", Metric::Percentile(100.0), Op::Lt, 120_000.0),
            (
                "p99_uncorrected<10ms",
                Metric::UncorrectedPercentile(99.0),
                Op::Lt,
                10.0,
            ),
            ("mean<50ms", Metric::Mean, Op::Lt, 50.0),
            ("max<=2s", Metric::Max, Op::Le, 2000.0),
            ("error_rate<0.5%", Metric::ErrorRate, Op::Lt, 0.005),
            ("error_rate<=0.01", Metric::ErrorRate, Op::Le, 0.01),
            (
                "server_error_rate<=0.1%",
                Metric::ServerErrorRate,
                Op::Le,
                0.001,
            ),
            (
                "server_error_rate<0.02",
                Metric::ServerErrorRate,
                Op::Lt,
                0.02,
            ),
            ("rps>=950", Metric::Rps, Op::Ge, 950.0),
            ("rps>99.5", Metric::Rps, Op::Gt, 99.5),
            ("status_5xx==0", Metric::StatusClass(5), Op::Eq, 0.0),
            ("status_429<10", Metric::Status(429), Op::Lt, 10.0),
            ("STATUS_200!=0", Metric::Status(200), Op::Ne, 0.0),
            ("timeouts==0", Metric::Timeouts, Op::Eq, 0.0),
            ("errors<=3", Metric::Errors, Op::Le, 3.0),
            (
                "errors_malformed==0",
                Metric::ErrorKind(ErrorKind::Malformed),
                Op::Eq,
                0.0,
            ),
            (
                "errors_refused<5",
                Metric::ErrorKind(ErrorKind::Refused),
                Op::Lt,
                5.0,
            ),
            ("requests>=100", Metric::Requests, Op::Ge, 100.0),
        ];
        for (expr, metric, op, threshold) in table {
            let slo: Slo = expr.parse().unwrap_or_else(|e| panic!("{expr}: {e}"));
            assert_eq!(&slo.metric, metric, "{expr}");
            assert_eq!(slo.op, *op, "{expr}");
            assert!(
                (slo.threshold - threshold).abs() < 1e-9,
                "{expr}: {}",
                slo.threshold
            );
        }
    }

    #[test]
    fn invalid_expressions() {
        for expr in [
            "",
            "p99",
            "p99 250ms",
            "p99<",
            "p99<250",
            "p99<250 ms x",
            "p99<250xs",
            "p99<-5ms",
            "p99=<250ms",
            "p0<1ms",
            "p101<1ms",
            "p<1ms",
            "px9<1ms",
            "p9.9.9<1ms",
            "pp99<1ms",
            "latency<1ms",
            "error_rate<150%",
            "error_rate<2",
            "error_rate<abc",
            "server_error_rate<150%",
            "server_error_rate<250ms",
            "server_errors<1%",
            "rps>=-1",
            "rps>=NaN",
            "rps>=inf",
            "status_5xx==0.5",
            "status_700==0",
            "status_6xx==0",
            "status_50==0",
            "status_==0",
            "timeouts<1ms",
            "errors_broken==0",
            "errors_==0",
            "errors_tls<1%",
            "<250ms",
            "p99<<250ms",
            "mean<1e3ms",
        ] {
            assert!(expr.parse::<Slo>().is_err(), "accepted `{expr}`");
        }
    }

    #[test]
    fn error_messages_name_the_problem() {
        let e = "p99<250".parse::<Slo>().unwrap_err().to_string();
        assert!(e.contains("unit"), "{e}");
        let e = "latency<1ms".parse::<Slo>().unwrap_err().to_string();
        assert!(e.contains("unknown metric `latency`"), "{e}");
    }

    #[test]
    fn operators_compare() {
        assert!(Op::Lt.holds(1.0, 2.0) && !Op::Lt.holds(2.0, 2.0));
        assert!(Op::Le.holds(2.0, 2.0) && Op::Ge.holds(2.0, 2.0));
        assert!(Op::Gt.holds(3.0, 2.0) && !Op::Gt.holds(2.0, 2.0));
        assert!(Op::Eq.holds(0.0, 0.0) && Op::Ne.holds(1.0, 0.0));
    }

    #[test]
    fn fractions() {
        assert_eq!(parse_fraction("10%"), Ok(0.1));
        assert_eq!(parse_fraction("0.25"), Ok(0.25));
        assert!(parse_fraction("-1%").is_err());
        assert!(parse_fraction("ten").is_err());
    }
}
