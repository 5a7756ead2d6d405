//! The part of CloudWatch metric math that the alarms use, parsed and evaluated at one datapoint:
//! numbers, query ids, `+ - * /`, comparisons (`>`, `>=`, `<`, `<=`, `==`, `!=`), parentheses,
//! arrays `[a, b]`, and the functions `FILL(x, value)`, `IF(condition, a, b)`, `MIN`, `MAX` and
//! `SUM` (of an array or of values). A datapoint may be missing (`None`), as in CloudWatch:
//! arithmetic on a missing value is missing, `FILL` replaces it, `MIN`/`MAX`/`SUM` of an array
//! skip it. The tests evaluate an alarm's expression for given metric values, so that what an
//! M-of-N alarm does for one, two or three failing regions is checked, not just its text.

use std::collections::{BTreeMap, BTreeSet};

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A number.
    Number(f64),
    /// A query id.
    Id(String),
    /// `-x`.
    Negate(Box<Expr>),
    /// `a op b`, op one of `+ - * / > >= < <= == !=`.
    Binary(Box<Expr>, String, Box<Expr>),
    /// `[a, b, ...]`.
    Array(Vec<Expr>),
    /// `NAME(args)`.
    Call(String, Vec<Expr>),
}

/// Longest expression parsed: CloudWatch takes 1024 characters (more for Metrics Insights).
pub const MAX_CHARS: usize = 4096;

/// Parses `text`; the error says where it stopped.
pub fn parse(text: &str) -> Result<Expr, String> {
    if text.len() > MAX_CHARS {
        return Err(format!("{} characters, at most {MAX_CHARS}", text.len()));
    }
    let tokens = tokenize(text)?;
    let mut p = Parser { tokens, at: 0 };
    let e = p.comparison(0)?;
    match p.tokens.get(p.at) {
        None => Ok(e),
        Some(t) => Err(format!("unexpected `{t}` after a complete expression")),
    }
}

fn tokenize(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() || c == '.' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            out.push(chars[start..i].iter().collect());
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(chars[start..i].iter().collect());
        } else if matches!(c, '>' | '<' | '=' | '!') {
            if chars.get(i + 1) == Some(&'=') {
                out.push(format!("{c}="));
                i += 2;
            } else if c == '=' || c == '!' {
                return Err(format!("`{c}` at {i}: use == or !="));
            } else {
                out.push(c.to_string());
                i += 1;
            }
        } else if "+-*/(),[]".contains(c) {
            out.push(c.to_string());
            i += 1;
        } else {
            return Err(format!("unexpected character `{c}` at {i}"));
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<String>,
    at: usize,
}

/// Deepest nesting parsed (parentheses, calls, arrays).
const MAX_DEPTH: usize = 64;

impl Parser {
    fn peek(&self) -> Option<&str> {
        self.tokens.get(self.at).map(String::as_str)
    }

    fn expect(&mut self, token: &str) -> Result<(), String> {
        match self.peek() {
            Some(t) if t == token => {
                self.at += 1;
                Ok(())
            }
            other => Err(format!("expected `{token}`, found {other:?}")),
        }
    }

    fn comparison(&mut self, depth: usize) -> Result<Expr, String> {
        let left = self.sum(depth)?;
        match self.peek() {
            Some(op @ (">" | ">=" | "<" | "<=" | "==" | "!=")) => {
                let op = op.to_string();
                self.at += 1;
                let right = self.sum(depth)?;
                Ok(Expr::Binary(Box::new(left), op, Box::new(right)))
            }
            _ => Ok(left),
        }
    }

    fn sum(&mut self, depth: usize) -> Result<Expr, String> {
        let mut left = self.product(depth)?;
        while let Some(op @ ("+" | "-")) = self.peek() {
            let op = op.to_string();
            self.at += 1;
            let right = self.product(depth)?;
            left = Expr::Binary(Box::new(left), op, Box::new(right));
        }
        Ok(left)
    }

    fn product(&mut self, depth: usize) -> Result<Expr, String> {
        let mut left = self.factor(depth)?;
        while let Some(op @ ("*" | "/")) = self.peek() {
            let op = op.to_string();
            self.at += 1;
            let right = self.factor(depth)?;
            left = Expr::Binary(Box::new(left), op, Box::new(right));
        }
        Ok(left)
    }

    fn list(&mut self, close: &str, depth: usize) -> Result<Vec<Expr>, String> {
        let mut items = Vec::new();
        if self.peek() == Some(close) {
            self.at += 1;
            return Ok(items);
        }
        loop {
            items.push(self.comparison(depth + 1)?);
            match self.peek() {
                Some(",") => self.at += 1,
                Some(t) if t == close => {
                    self.at += 1;
                    return Ok(items);
                }
                other => return Err(format!("expected `,` or `{close}`, found {other:?}")),
            }
        }
    }

    fn factor(&mut self, depth: usize) -> Result<Expr, String> {
        if depth > MAX_DEPTH {
            return Err(format!("nested deeper than {MAX_DEPTH}"));
        }
        let Some(token) = self.peek().map(str::to_string) else {
            return Err("the expression ends too early".into());
        };
        self.at += 1;
        match token.as_str() {
            "(" => {
                let e = self.comparison(depth + 1)?;
                self.expect(")")?;
                Ok(e)
            }
            "-" => Ok(Expr::Negate(Box::new(self.factor(depth + 1)?))),
            "[" => Ok(Expr::Array(self.list("]", depth)?)),
            t if t.starts_with(|c: char| c.is_ascii_digit() || c == '.') => t
                .parse::<f64>()
                .map(Expr::Number)
                .map_err(|_| format!("`{t}` is not a number")),
            t if t.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') => {
                if self.peek() == Some("(") {
                    self.at += 1;
                    Ok(Expr::Call(t.to_string(), self.list(")", depth)?))
                } else {
                    Ok(Expr::Id(t.to_string()))
                }
            }
            t => Err(format!("unexpected `{t}`")),
        }
    }
}

impl Expr {
    /// Every query id the expression reads.
    pub fn ids(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        self.collect_ids(&mut out);
        out
    }

    fn collect_ids(&self, out: &mut BTreeSet<String>) {
        match self {
            Expr::Number(_) => {}
            Expr::Id(id) => {
                out.insert(id.clone());
            }
            Expr::Negate(e) => e.collect_ids(out),
            Expr::Binary(a, _, b) => {
                a.collect_ids(out);
                b.collect_ids(out);
            }
            Expr::Array(items) | Expr::Call(_, items) => {
                items.iter().for_each(|e| e.collect_ids(out))
            }
        }
    }

    /// The value at one datapoint, the queries' values given by id (`None`: missing).
    pub fn eval(&self, values: &BTreeMap<String, Option<f64>>) -> Result<Option<f64>, String> {
        match self {
            Expr::Number(n) => Ok(Some(*n)),
            Expr::Id(id) => values
                .get(id)
                .copied()
                .ok_or_else(|| format!("no query `{id}`")),
            Expr::Negate(e) => Ok(e.eval(values)?.map(|v| -v)),
            Expr::Binary(a, op, b) => {
                let (Some(a), Some(b)) = (a.eval(values)?, b.eval(values)?) else {
                    return Ok(None);
                };
                let truth = |t: bool| Some(if t { 1.0 } else { 0.0 });
                Ok(match op.as_str() {
                    "+" => Some(a + b),
                    "-" => Some(a - b),
                    "*" => Some(a * b),
                    "/" if b == 0.0 => None,
                    "/" => Some(a / b),
                    ">" => truth(a > b),
                    ">=" => truth(a >= b),
                    "<" => truth(a < b),
                    "<=" => truth(a <= b),
                    "==" => truth(a == b),
                    "!=" => truth(a != b),
                    other => return Err(format!("unknown operator `{other}`")),
                })
            }
            Expr::Array(_) => Err("an array is only an argument of MIN, MAX or SUM".into()),
            Expr::Call(name, args) => self.call(name, args, values),
        }
    }

    fn call(
        &self,
        name: &str,
        args: &[Expr],
        values: &BTreeMap<String, Option<f64>>,
    ) -> Result<Option<f64>, String> {
        match (name, args) {
            ("FILL", [x, value]) => match x.eval(values)? {
                Some(v) => Ok(Some(v)),
                None => value.eval(values),
            },
            ("IF", [condition, a, b]) => match condition.eval(values)? {
                None => Ok(None),
                Some(c) if c != 0.0 => a.eval(values),
                Some(_) => b.eval(values),
            },
            ("MIN" | "MAX" | "SUM", args) if !args.is_empty() => {
                let items: Vec<&Expr> = match args {
                    [Expr::Array(items)] => items.iter().collect(),
                    _ => args.iter().collect(),
                };
                let mut present = Vec::new();
                for item in items {
                    present.extend(item.eval(values)?);
                }
                let fold = |f: fn(f64, f64) -> f64| present.iter().copied().reduce(f);
                Ok(match name {
                    "MIN" => fold(f64::min),
                    "MAX" => fold(f64::max),
                    _ => fold(|a, b| a + b),
                })
            }
            _ => Err(format!(
                "`{name}` with {} arguments is not supported here",
                args.len()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, Option<f64>)]) -> BTreeMap<String, Option<f64>> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn the_alarm_files_expressions_parse_and_evaluate() {
        let e = parse("100 * FILL(client_errors, 0) / IF(requests > 0, requests, 1)").expect("ok");
        assert_eq!(
            e.ids(),
            ["client_errors", "requests"].map(String::from).into()
        );
        let v = values(&[("client_errors", None), ("requests", Some(10.0))]);
        assert_eq!(e.eval(&v), Ok(Some(0.0)));
        let v = values(&[("client_errors", Some(5.0)), ("requests", Some(0.0))]);
        assert_eq!(e.eval(&v), Ok(Some(500.0)));
        let e = parse("MIN([missing_key, bad_key])").expect("ok");
        let v = values(&[("missing_key", None), ("bad_key", Some(0.0))]);
        assert_eq!(e.eval(&v), Ok(Some(0.0)), "MIN skips the missing");
        let e = parse("0 + (1 - FILL(ok_0, 1)) + IF(FILL(ms_0, 0) > 1000, 1, 0)").expect("ok");
        let v = values(&[("ok_0", Some(0.0)), ("ms_0", Some(1500.0))]);
        assert_eq!(e.eval(&v), Ok(Some(2.0)));
        let v = values(&[("ok_0", None), ("ms_0", None)]);
        assert_eq!(e.eval(&v), Ok(Some(0.0)), "FILL: missing is neither");
        assert_eq!(parse("desired - running").map(|e| e.ids().len()), Ok(2));
        assert_eq!(
            parse("-2 * -x")
                .expect("ok")
                .eval(&values(&[("x", Some(3.0))])),
            Ok(Some(6.0))
        );
    }

    #[test]
    fn missing_values_and_bad_expressions() {
        let v = values(&[("a", None), ("b", Some(1.0))]);
        assert_eq!(parse("a + b").expect("ok").eval(&v), Ok(None));
        assert_eq!(parse("b / 0").expect("ok").eval(&v), Ok(None));
        assert_eq!(parse("SUM([a, b, b])").expect("ok").eval(&v), Ok(Some(2.0)));
        assert_eq!(parse("MAX(a)").expect("ok").eval(&v), Ok(None));
        assert!(parse("c").expect("ok").eval(&v).is_err(), "an unknown id");
        assert!(parse("SEARCH(a)").expect("ok").eval(&v).is_err());
        for bad in [
            "", "a +", "(a", "a b", "FILL(a", "a = b", "a $ b", "[a, b", "1..2",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert!(
            parse(&"(".repeat(100_000)).is_err(),
            "too long, no overflow"
        );
        let deep = "(".repeat(500) + "a" + &")".repeat(500);
        assert!(parse(&deep).is_err(), "too deep, no overflow");
    }
}
