//! The subset of Terraform's `templatefile` that `alarms/` and `dashboards/` use: `${name}`
//! interpolation of a string variable, `$${` and `%%{` escapes. Anything else a template could
//! contain (`%{` directives, `${` expressions) is an error here, so that a template the checks
//! accept renders the same in Terraform (a test compares both on the real files).

use std::collections::BTreeMap;

use thiserror::Error;

/// Why a template could not be rendered.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum TemplateError {
    /// `${name}` names a variable that was not given; Terraform fails the same way.
    #[error(
        "line {line}: unknown template variable `{name}` (templatefile would fail; known: {known})"
    )]
    UnknownVariable {
        /// 1-based line of the reference.
        line: usize,
        /// The variable's name.
        name: String,
        /// The variables that were given, comma-separated.
        known: String,
    },
    /// `${...}` holds an expression rather than a plain variable name.
    #[error(
        "line {line}: `${{{expr}}}` is not a plain variable; only `${{name}}` is supported (write `$${{` for a literal)"
    )]
    Expression {
        /// 1-based line.
        line: usize,
        /// The text between the braces.
        expr: String,
    },
    /// A `%{` template directive, which the data templates must not use.
    #[error(
        "line {line}: template directives (`%{{`) are not supported (write `%%{{` for a literal)"
    )]
    Directive {
        /// 1-based line.
        line: usize,
    },
    /// `${` without its closing brace.
    #[error("line {line}: `${{` is never closed")]
    Unterminated {
        /// 1-based line.
        line: usize,
    },
}

/// Renders `text` as `templatefile(path, vars)` would, for the supported subset.
pub fn render(text: &str, vars: &BTreeMap<String, String>) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let line_of = |rest: &str| text[..text.len() - rest.len()].matches('\n').count() + 1;
    while let Some(pos) = rest.find(['$', '%']) {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("%%{") {
            out.push_str("%{");
            rest = after;
        } else if tail.starts_with("%{") {
            return Err(TemplateError::Directive {
                line: line_of(tail),
            });
        } else if let Some(after) = tail.strip_prefix("${") {
            let end = after.find('}').ok_or_else(|| TemplateError::Unterminated {
                line: line_of(tail),
            })?;
            let expr = &after[..end];
            let name = expr.trim();
            if !is_identifier(name) {
                return Err(TemplateError::Expression {
                    line: line_of(tail),
                    expr: expr.to_string(),
                });
            }
            let value = vars
                .get(name)
                .ok_or_else(|| TemplateError::UnknownVariable {
                    line: line_of(tail),
                    name: name.to_string(),
                    known: vars.keys().cloned().collect::<Vec<_>>().join(", "),
                })?;
            out.push_str(value);
            rest = &after[end + 1..];
        } else {
            // A lone `$` or `%` is literal text.
            out.push_str(&tail[..1]);
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The variable names a template references, in order of first use.
pub fn variables(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(pos) = rest.find("${") {
        let escaped = pos > 0 && rest.as_bytes()[pos - 1] == b'$';
        let after = &rest[pos + 2..];
        let Some(end) = after.find('}') else { break };
        let name = after[..end].trim();
        if !escaped && is_identifier(name) && !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
        rest = &after[end + 1..];
    }
    names
}

/// Terraform identifiers: a letter or `_`, then letters, digits, `_` or `-`.
fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> BTreeMap<String, String> {
        [("region", "eu-west-1"), ("alb_arn_suffix", "app/a/1")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn substitutes_variables_and_keeps_other_text() {
        let out = render(
            r#"{"r": "${region}", "lb": "${ alb_arn_suffix }", "cost": "5$ or 5%"}"#,
            &vars(),
        );
        assert_eq!(
            out,
            Ok(r#"{"r": "eu-west-1", "lb": "app/a/1", "cost": "5$ or 5%"}"#.to_string())
        );
    }

    #[test]
    fn escapes_render_literally() {
        assert_eq!(
            render("$${region} %%{ if }", &vars()),
            Ok("${region} %{ if }".to_string())
        );
    }

    #[test]
    fn unknown_variable_names_the_variable_and_line() {
        let err = render("a\nb ${alb_name}", &vars()).expect_err("alb_name is not a variable");
        assert!(
            matches!(&err, TemplateError::UnknownVariable { line: 2, name, .. } if name == "alb_name")
        );
        assert!(
            err.to_string().contains("alb_arn_suffix"),
            "lists the known variables: {err}"
        );
    }

    #[test]
    fn expressions_directives_and_unterminated_references_are_rejected() {
        assert!(matches!(
            render("${var.x}", &vars()),
            Err(TemplateError::Expression { .. })
        ));
        assert!(matches!(
            render("${...}", &vars()),
            Err(TemplateError::Expression { .. })
        ));
        assert!(matches!(
            render("${upper(region)}", &vars()),
            Err(TemplateError::Expression { .. })
        ));
        assert!(matches!(
            render("%{ if true }x%{ endif }", &vars()),
            Err(TemplateError::Directive { line: 1 })
        ));
        assert!(matches!(
            render("x ${region", &vars()),
            Err(TemplateError::Unterminated { line: 1 })
        ));
        assert!(matches!(
            render("${}", &vars()),
            Err(TemplateError::Expression { .. })
        ));
    }

    #[test]
    fn large_and_hostile_input_is_handled_without_panic() {
        let big = "${region}".repeat(100_000);
        assert_eq!(
            render(&big, &vars()).map(|s| s.len()),
            Ok("eu-west-1".len() * 100_000)
        );
        // Only the last two dollars form the `$${` escape; the rest are literal.
        let dollars = "$".repeat(10_000) + "{" + &"}".repeat(10);
        let rendered = render(&dollars, &vars()).expect("literal dollars and an escape");
        assert_eq!(rendered, "$".repeat(9_998) + "${" + &"}".repeat(10));
        assert!(render("é${region}ü\u{0}", &vars()).is_ok());
    }

    #[test]
    fn lists_variables_once_and_skips_escapes() {
        assert_eq!(variables("${a} $${b} ${a} ${c-d} ${x.y}"), vec!["a", "c-d"]);
    }
}
