//! The subset of Terraform's `templatefile` that `alarms/` and `dashboards/` use: `${name}`
//! interpolation of a string variable, `%{ for x in list }` ... `%{ endfor }` (also
//! `%{ for i, x in list }`, `i` counting from 0) over a list of strings, and the `$${` and `%%{`
//! escapes. Anything else a template could contain (other `%{` directives, strip markers `~`,
//! `${` expressions) is an error here, so that a template the checks accept renders the same in
//! Terraform (a test compares both on the real files).

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
    /// A `%{` template directive other than `for` and `endfor`, or one with strip markers.
    #[error(
        "line {line}: `%{{{directive}}}`: only `%{{ for x in list }}`, `%{{ for i, x in list }}` and `%{{ endfor }}` are supported, without `~` (write `%%{{` for a literal)"
    )]
    Directive {
        /// 1-based line.
        line: usize,
        /// The text between the braces.
        directive: String,
    },
    /// `%{ for }` without its `%{ endfor }`, or an `%{ endfor }` without a `for`.
    #[error("line {line}: {what}")]
    Unbalanced {
        /// 1-based line.
        line: usize,
        /// What is missing.
        what: String,
    },
    /// A list used as a string, or a string looped over.
    #[error("line {line}: `{name}` is a {is}, used as a {used_as} (templatefile would fail)")]
    Type {
        /// 1-based line.
        line: usize,
        /// The variable.
        name: String,
        /// What it is.
        is: &'static str,
        /// How it is used.
        used_as: &'static str,
    },
    /// The loops would repeat their bodies too often or render too much text.
    #[error(
        "line {line}: the loops repeat their bodies more than {MAX_ITERATIONS} times or render more than {MAX_OUTPUT} bytes"
    )]
    TooLarge {
        /// 1-based line of the loop that went over.
        line: usize,
    },
    /// `${` without its closing brace.
    #[error("line {line}: `${{` is never closed")]
    Unterminated {
        /// 1-based line.
        line: usize,
    },
}

/// Most loop iterations one rendering may take: far more than any alarm file needs, far fewer
/// than nested loops over long lists could ask for.
pub const MAX_ITERATIONS: usize = 100_000;

/// Most bytes one rendering may produce.
pub const MAX_OUTPUT: usize = 64 * 1024 * 1024;

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    /// Literal text.
    Text(String),
    /// `${name}`.
    Var { name: String, line: usize },
    /// `%{ for [index,] value in list }` body `%{ endfor }`.
    For {
        index: Option<String>,
        value: String,
        list: String,
        line: usize,
        body: Vec<Node>,
    },
}

/// Parses `text` into nodes; every error names its line.
fn parse(text: &str) -> Result<Vec<Node>, TemplateError> {
    // A stack of open `for` loops; the bottom holds the top level.
    let mut stack: Vec<(Option<Node>, Vec<Node>)> = vec![(None, Vec::new())];
    let mut literal = String::new();
    let mut rest = text;
    let line_of = |rest: &str| text[..text.len() - rest.len()].matches('\n').count() + 1;
    let flush = |literal: &mut String, stack: &mut Vec<(Option<Node>, Vec<Node>)>| {
        if !literal.is_empty()
            && let Some((_, nodes)) = stack.last_mut()
        {
            nodes.push(Node::Text(std::mem::take(literal)));
        }
    };
    while let Some(pos) = rest.find(['$', '%']) {
        literal.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        let line = line_of(tail);
        if let Some(after) = tail.strip_prefix("$${") {
            literal.push_str("${");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("%%{") {
            literal.push_str("%{");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("%{") {
            let end = after
                .find('}')
                .ok_or(TemplateError::Unterminated { line })?;
            let directive = &after[..end];
            rest = &after[end + 1..];
            flush(&mut literal, &mut stack);
            let words: Vec<&str> = directive
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|w| !w.is_empty())
                .collect();
            let bad = || TemplateError::Directive {
                line,
                directive: directive.to_string(),
            };
            if directive.contains('~') {
                return Err(bad());
            }
            match words.as_slice() {
                ["endfor"] => {
                    let Some((
                        Some(Node::For {
                            index,
                            value,
                            list,
                            line: at,
                            ..
                        }),
                        body,
                    )) = (stack.len() > 1).then(|| stack.pop()).flatten()
                    else {
                        return Err(TemplateError::Unbalanced {
                            line,
                            what: "`%{ endfor }` without a `%{ for }`".into(),
                        });
                    };
                    let node = Node::For {
                        index,
                        value,
                        list,
                        line: at,
                        body,
                    };
                    if let Some((_, nodes)) = stack.last_mut() {
                        nodes.push(node);
                    }
                }
                ["for", value, "in", list] | ["for", _, value, "in", list]
                    if [value, list].iter().all(|w| is_identifier(w)) =>
                {
                    let index = match words.as_slice() {
                        ["for", index, _, "in", _] if is_identifier(index) => {
                            Some(index.to_string())
                        }
                        ["for", _, _, "in", _] => return Err(bad()),
                        _ => None,
                    };
                    // Terraform separates `index, value` by a comma; words alone would accept
                    // `for i x in list`.
                    if index.is_some() && !directive.contains(',') {
                        return Err(bad());
                    }
                    let open = Node::For {
                        index,
                        value: value.to_string(),
                        list: list.to_string(),
                        line,
                        body: Vec::new(),
                    };
                    stack.push((Some(open), Vec::new()));
                }
                _ => return Err(bad()),
            }
        } else if let Some(after) = tail.strip_prefix("${") {
            let end = after
                .find('}')
                .ok_or(TemplateError::Unterminated { line })?;
            let expr = &after[..end];
            let name = expr.trim();
            if !is_identifier(name) {
                return Err(TemplateError::Expression {
                    line,
                    expr: expr.to_string(),
                });
            }
            flush(&mut literal, &mut stack);
            if let Some((_, nodes)) = stack.last_mut() {
                nodes.push(Node::Var {
                    name: name.to_string(),
                    line,
                });
            }
            rest = &after[end + 1..];
        } else {
            // A lone `$` or `%` is literal text.
            literal.push_str(&tail[..1]);
            rest = &tail[1..];
        }
    }
    literal.push_str(rest);
    flush(&mut literal, &mut stack);
    if stack.len() > 1 {
        let line = match stack.last() {
            Some((Some(Node::For { line, .. }), _)) => *line,
            _ => 0,
        };
        return Err(TemplateError::Unbalanced {
            line,
            what: "`%{ for }` is never closed by `%{ endfor }`".into(),
        });
    }
    Ok(stack.pop().map(|(_, nodes)| nodes).unwrap_or_default())
}

/// Renders `text` as `templatefile(path, vars)` would, for the supported subset, with string
/// variables only.
pub fn render(text: &str, vars: &BTreeMap<String, String>) -> Result<String, TemplateError> {
    render_with_lists(text, vars, &BTreeMap::new())
}

/// Renders `text` as `templatefile(path, vars)` would, with string variables (`vars`) and list
/// variables (`lists`), which `%{ for }` loops over.
pub fn render_with_lists(
    text: &str,
    vars: &BTreeMap<String, String>,
    lists: &BTreeMap<String, Vec<String>>,
) -> Result<String, TemplateError> {
    let nodes = parse(text)?;
    let mut scope: Vec<(String, String)> = Vec::new();
    let mut out = String::with_capacity(text.len());
    let known = || {
        vars.keys()
            .chain(lists.keys())
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut budget = MAX_ITERATIONS;
    render_nodes(
        &nodes,
        vars,
        lists,
        &mut scope,
        &mut out,
        &mut budget,
        &known,
    )?;
    Ok(out)
}

fn render_nodes(
    nodes: &[Node],
    vars: &BTreeMap<String, String>,
    lists: &BTreeMap<String, Vec<String>>,
    scope: &mut Vec<(String, String)>,
    out: &mut String,
    budget: &mut usize,
    known: &dyn Fn() -> String,
) -> Result<(), TemplateError> {
    for node in nodes {
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Var { name, line } => {
                // Loop variables shadow the template's variables, the innermost first.
                let text = match scope.iter().rev().find(|(n, _)| n == name) {
                    Some((_, v)) => Some(v.as_str()),
                    None => vars.get(name).map(String::as_str),
                };
                match text {
                    Some(v) => out.push_str(v),
                    None if lists.contains_key(name) => {
                        return Err(TemplateError::Type {
                            line: *line,
                            name: name.clone(),
                            is: "list",
                            used_as: "string",
                        });
                    }
                    None => {
                        return Err(TemplateError::UnknownVariable {
                            line: *line,
                            name: name.clone(),
                            known: known(),
                        });
                    }
                }
            }
            Node::For {
                index,
                value,
                list,
                line,
                body,
            } => {
                let items = match lists.get(list) {
                    Some(items) if !scope.iter().any(|(n, _)| n == list) => items,
                    _ if scope.iter().any(|(n, _)| n == list) || vars.contains_key(list) => {
                        return Err(TemplateError::Type {
                            line: *line,
                            name: list.clone(),
                            is: "string",
                            used_as: "list",
                        });
                    }
                    _ => {
                        return Err(TemplateError::UnknownVariable {
                            line: *line,
                            name: list.clone(),
                            known: known(),
                        });
                    }
                };
                for (i, item) in items.iter().enumerate() {
                    if *budget == 0 || out.len() > MAX_OUTPUT {
                        return Err(TemplateError::TooLarge { line: *line });
                    }
                    *budget -= 1;
                    let depth = scope.len();
                    if let Some(index) = index {
                        scope.push((index.clone(), i.to_string()));
                    }
                    scope.push((value.clone(), item.clone()));
                    render_nodes(body, vars, lists, scope, out, budget, known)?;
                    scope.truncate(depth);
                }
            }
        }
    }
    Ok(())
}

/// The string variables a template references outside the loops that bind them, in order of
/// first use (a template that does not parse: the plain `${name}` references found).
pub fn variables(text: &str) -> Vec<String> {
    let Ok(nodes) = parse(text) else {
        return scanned_variables(text);
    };
    let mut names = Vec::new();
    collect(&nodes, &mut Vec::new(), &mut names, &mut Vec::new());
    names
}

/// Every plain `${name}` of `text`, escapes skipped, for a template that does not parse.
fn scanned_variables(text: &str) -> Vec<String> {
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

/// The list variables a template loops over, in order of first use.
pub fn list_variables(text: &str) -> Vec<String> {
    let Ok(nodes) = parse(text) else {
        return Vec::new();
    };
    let mut lists = Vec::new();
    collect(&nodes, &mut Vec::new(), &mut Vec::new(), &mut lists);
    lists
}

fn collect(
    nodes: &[Node],
    bound: &mut Vec<String>,
    names: &mut Vec<String>,
    lists: &mut Vec<String>,
) {
    for node in nodes {
        match node {
            Node::Text(_) => {}
            Node::Var { name, .. } => {
                if !bound.contains(name) && !names.contains(name) {
                    names.push(name.clone());
                }
            }
            Node::For {
                index,
                value,
                list,
                body,
                ..
            } => {
                if !bound.contains(list) && !lists.contains(list) {
                    lists.push(list.clone());
                }
                let depth = bound.len();
                bound.extend(index.iter().cloned());
                bound.push(value.clone());
                collect(body, bound, names, lists);
                bound.truncate(depth);
            }
        }
    }
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
            Err(TemplateError::Directive { line: 1, .. })
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

    fn lists() -> BTreeMap<String, Vec<String>> {
        [(
            "regions".to_string(),
            vec!["us-east-1".to_string(), "eu-west-1".to_string()],
        )]
        .into_iter()
        .collect()
    }

    #[test]
    fn for_loops_repeat_their_body_per_item_with_its_index() {
        let out = render_with_lists(
            "a: # %{ for i, r in regions }\n- id: ok_${i}\n  region: \"${r}\" # %{ endfor }\nb: 1\n",
            &vars(),
            &lists(),
        );
        assert_eq!(
            out.as_deref(),
            Ok(
                "a: # \n- id: ok_0\n  region: \"us-east-1\" # \n- id: ok_1\n  region: \"eu-west-1\" # \nb: 1\n"
            )
        );
        // Inline, nested, the template's variables inside, and a loop variable shadowing one.
        let out = render_with_lists(
            "0%{ for r in regions } + f(${r}, ${region}%{for region in regions}|${region}%{endfor})%{ endfor }",
            &vars(),
            &lists(),
        );
        assert_eq!(
            out.as_deref(),
            Ok(
                "0 + f(us-east-1, eu-west-1|us-east-1|eu-west-1) + f(eu-west-1, eu-west-1|us-east-1|eu-west-1)"
            )
        );
        let empty: BTreeMap<String, Vec<String>> =
            [("regions".to_string(), Vec::new())].into_iter().collect();
        assert_eq!(
            render_with_lists("[%{ for r in regions }${r}%{ endfor }]", &vars(), &empty).as_deref(),
            Ok("[]")
        );
    }

    #[test]
    fn malformed_loops_and_type_errors_are_refused_with_their_line() {
        let err = |t: &str| render_with_lists(t, &vars(), &lists()).expect_err(t);
        assert!(matches!(
            err("x\n%{ for r in regions }${r}"),
            TemplateError::Unbalanced { line: 2, .. }
        ));
        assert!(matches!(
            err("%{ endfor }"),
            TemplateError::Unbalanced { line: 1, .. }
        ));
        for bad in [
            "%{ for r in regions ~}x%{ endfor }",
            "%{~ for r in regions }x%{ endfor }",
            "%{ for i r in regions }x%{ endfor }",
            "%{ for r in upper(regions) }x%{ endfor }",
            "%{ for r of regions }x%{ endfor }",
            "%{ if true }x%{ endif }",
        ] {
            assert!(
                matches!(err(bad), TemplateError::Directive { line: 1, .. }),
                "{bad}"
            );
        }
        assert!(matches!(
            err("%{ for r in nowhere }x%{ endfor }"),
            TemplateError::UnknownVariable { name, .. } if name == "nowhere"
        ));
        assert!(matches!(
            err("%{ for r in region }x%{ endfor }"),
            TemplateError::Type { is: "string", .. }
        ));
        assert!(matches!(
            err("${regions}"),
            TemplateError::Type { is: "list", .. }
        ));
        assert!(matches!(
            err("%{ for r in regions }x"),
            TemplateError::Unbalanced { .. }
        ));
        assert!(matches!(
            err("%{ for r"),
            TemplateError::Unterminated { line: 1 }
        ));
        // Loop variables do not leak out of their loop.
        assert!(matches!(
            err("%{ for r in regions }%{ endfor }${r}"),
            TemplateError::UnknownVariable { name, .. } if name == "r"
        ));
        // Loops nested deep enough to repeat a body 2^200 times stop at the budget.
        let deep = "%{ for r in regions }".repeat(200) + &"%{ endfor }".repeat(200);
        assert!(matches!(err(&deep), TemplateError::TooLarge { .. }));
        let wide = "%{ for r in regions }".repeat(15) + "x" + &"%{ endfor }".repeat(15);
        assert_eq!(
            render_with_lists(&wide, &vars(), &lists()).map(|o| o.len()),
            Ok(1 << 15),
            "within the budget"
        );
    }

    #[test]
    fn loop_variables_are_not_template_variables() {
        let text = "${region} %{ for i, r in regions }${r}${i}${alb_arn_suffix}%{ endfor }";
        assert_eq!(variables(text), vec!["region", "alb_arn_suffix"]);
        assert_eq!(list_variables(text), vec!["regions"]);
    }

    #[test]
    fn lists_variables_once_and_skips_escapes() {
        assert_eq!(variables("${a} $${b} ${a} ${c-d} ${x.y}"), vec!["a", "c-d"]);
    }
}
