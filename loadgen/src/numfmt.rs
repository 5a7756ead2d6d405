//! Number formatting shared by the verdict's reasons and the text and HTML reports, so a value
//! reads the same wherever it is shown.

/// Formats an SLO's actual value in the metric's unit.
pub fn fmt_value(expr: &str, v: f64) -> String {
    let metric = expr
        .split(['<', '>', '=', '!'])
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if metric == "error_rate" || metric == "server_error_rate" {
        format!("{:.3}%", v * 100.0)
    } else if metric.starts_with('p') || metric == "mean" || metric == "max" || metric == "avg" {
        format!("{v:.3}ms")
    } else {
        fmt_num(v)
    }
}

/// A number without noise: integers plain, others with up to 3 decimals.
pub fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}
