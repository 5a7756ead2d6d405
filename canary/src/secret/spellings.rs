//! Every way the canary's outputs can spell a secret, and finding those spellings in text.
//!
//! A key a target echoes comes back through several encoders before it is written: Rust's
//! `{:?}` of a string (`\"`, `\\`, `\u{..}`), `escape_default`, the `{:?}` of an
//! `http::HeaderValue` (`\xNN` per byte), JSON (serde_json's, and the `\uXXXX` form of other
//! encoders), percent-encoding (upper- or lower-case hex, `+` for a space), and these nested up
//! to three deep (a JSON log line quoting the `{:?}` of a header value). A [`Pattern`] holds,
//! for each character of the secret, every spelling of that character; a match is a run of the
//! secret's characters each spelled in one of its ways, so a text mixing encodings matches too.

use std::borrow::Cow;
use std::collections::BTreeSet;

/// How deep encoders are nested.
const DEPTH: usize = 3;

/// One encoder, applied character by character.
type Encoder = fn(char) -> String;

const ENCODERS: [Encoder; 13] = [
    raw,
    rust_debug,
    escape_default,
    header_value_debug,
    json,
    json_ascii_lower,
    json_ascii_upper,
    percent_lower,
    percent_upper,
    form_lower,
    form_upper,
    every_byte_lower,
    every_byte_upper,
];

fn json_ascii_lower(c: char) -> String {
    json_ascii(c, false)
}

fn json_ascii_upper(c: char) -> String {
    json_ascii(c, true)
}

fn percent_lower(c: char) -> String {
    percent(c, false, false)
}

fn percent_upper(c: char) -> String {
    percent(c, true, false)
}

fn form_lower(c: char) -> String {
    percent(c, false, true)
}

fn form_upper(c: char) -> String {
    percent(c, true, true)
}

/// Percent-encoding of every byte, letters and digits too.
fn every_byte_lower(c: char) -> String {
    let mut buf = [0; 4];
    c.encode_utf8(&mut buf)
        .bytes()
        .map(|b| format!("%{b:02x}"))
        .collect()
}

fn every_byte_upper(c: char) -> String {
    every_byte_lower(c).to_uppercase()
}

fn raw(c: char) -> String {
    c.to_string()
}

/// What `{:?}` prints for a string holding `c`, without the quotes.
fn rust_debug(c: char) -> String {
    let quoted = format!("{:?}", c.to_string());
    quoted[1..quoted.len() - 1].to_owned()
}

fn escape_default(c: char) -> String {
    c.escape_default().to_string()
}

/// `http::HeaderValue`'s `{:?}`: visible ASCII as is, `"` escaped, every other byte `\xNN`.
fn header_value_debug(c: char) -> String {
    let mut buf = [0; 4];
    c.encode_utf8(&mut buf)
        .bytes()
        .map(|b| match b {
            b'"' => "\\\"".to_owned(),
            b'\t' | 0x20..=0x7e => char::from(b).to_string(),
            _ => format!("\\x{b:x}"),
        })
        .collect()
}

/// serde_json's string escaping (what the JSON logs and EMF use).
fn json(c: char) -> String {
    let quoted = serde_json::to_string(&c.to_string()).unwrap_or_default();
    quoted
        .get(1..quoted.len().saturating_sub(1))
        .unwrap_or_default()
        .to_owned()
}

/// JSON as ASCII-only encoders write it: `\uXXXX` (UTF-16) for non-ASCII, control, quoting
/// and HTML-sensitive characters.
fn json_ascii(c: char, upper: bool) -> String {
    match c {
        ' '..='~' if !matches!(c, '"' | '\\' | '<' | '>' | '&' | '\'') => c.to_string(),
        _ => {
            let mut units = [0; 2];
            c.encode_utf16(&mut units)
                .iter()
                .map(|u| {
                    if upper {
                        format!("\\u{u:04X}")
                    } else {
                        format!("\\u{u:04x}")
                    }
                })
                .collect()
        }
    }
}

/// Percent-encoding of everything but RFC 3986's unreserved characters; `form` writes a space
/// as `+` (application/x-www-form-urlencoded).
fn percent(c: char, upper: bool, form: bool) -> String {
    if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~') {
        return c.to_string();
    }
    if form && c == ' ' {
        return "+".to_owned();
    }
    let mut buf = [0; 4];
    c.encode_utf8(&mut buf)
        .bytes()
        .map(|b| {
            if upper {
                format!("%{b:02X}")
            } else {
                format!("%{b:02x}")
            }
        })
        .collect()
}

/// Every spelling of `c`: each encoder, and each encoder applied to those, [`DEPTH`] deep.
fn spellings_of(c: char) -> BTreeSet<String> {
    let mut all: BTreeSet<String> = BTreeSet::from([c.to_string()]);
    let mut level: BTreeSet<String> = all.clone();
    for _ in 0..DEPTH {
        let next: BTreeSet<String> = level
            .iter()
            .flat_map(|s| {
                ENCODERS
                    .iter()
                    .map(move |encode| s.chars().map(encode).collect::<String>())
            })
            .filter(|s| !all.contains(s))
            .collect();
        all.extend(next.iter().cloned());
        level = next;
    }
    all
}

/// The spellings of one secret, ready to be found in text.
#[derive(Debug)]
pub(crate) struct Pattern {
    /// For each character of the secret, its spellings.
    alternatives: Vec<Vec<Box<[u8]>>>,
    /// The bytes a match can start with.
    first: [bool; 256],
}

impl Pattern {
    /// The pattern of `secret` (which is not empty).
    pub(crate) fn new(secret: &str) -> Pattern {
        let alternatives: Vec<Vec<Box<[u8]>>> = secret
            .chars()
            .map(|c| {
                spellings_of(c)
                    .into_iter()
                    .map(|s| s.into_bytes().into_boxed_slice())
                    .collect()
            })
            .collect();
        let mut first = [false; 256];
        for spelling in alternatives.first().into_iter().flatten() {
            if let Some(&b) = spelling.first() {
                first[usize::from(b)] = true;
            }
        }
        Pattern {
            alternatives,
            first,
        }
    }

    /// Where a spelling of the secret starting at `start` ends (the longest one), if any.
    fn match_at(&self, text: &[u8], start: usize) -> Option<usize> {
        let mut ends = vec![start];
        for spellings in &self.alternatives {
            let mut next: Vec<usize> = Vec::new();
            for &at in &ends {
                let rest = &text[at..];
                for s in spellings {
                    let end = at + s.len();
                    if rest.starts_with(s) && !next.contains(&end) {
                        next.push(end);
                    }
                }
            }
            if next.is_empty() {
                return None;
            }
            ends = next;
        }
        ends.into_iter().max()
    }

    /// `text` with every spelling of the secret replaced by `with`.
    pub(crate) fn replace<'a>(&self, text: &'a str, with: &str) -> Cow<'a, str> {
        let bytes = text.as_bytes();
        let mut out: Option<String> = None;
        let mut copied = 0;
        let mut at = 0;
        while at < bytes.len() {
            if self.first[usize::from(bytes[at])]
                && text.is_char_boundary(at)
                && let Some(end) = self.match_at(bytes, at)
                && text.is_char_boundary(end)
            {
                let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
                o.push_str(&text[copied..at]);
                o.push_str(with);
                copied = end;
                at = end;
            } else {
                at += 1;
            }
        }
        match out {
            None => Cow::Borrowed(text),
            Some(mut o) => {
                o.push_str(&text[copied..]);
                Cow::Owned(o)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "Sec\"ret\\Key42 100% é✓";

    #[test]
    fn every_encoding_and_their_nesting_is_found() {
        let p = Pattern::new(KEY);
        let debug = format!("{KEY:?}");
        let json = serde_json::to_string(KEY).unwrap();
        let header = format!("{:?}", http::HeaderValue::from_str(KEY).unwrap());
        let pct: String = KEY.bytes().map(|b| format!("%{b:02X}")).collect();
        for text in [
            KEY.to_owned(),
            debug.clone(),
            format!("{debug:?}"),
            serde_json::to_string(&debug).unwrap(),
            serde_json::to_string(&format!("{debug:?}")).unwrap(),
            json.clone(),
            format!("{json:?}"),
            header.clone(),
            serde_json::to_string(&header).unwrap(),
            KEY.escape_default().to_string(),
            pct.clone(),
            pct.to_lowercase(),
            pct.replace("%20", "+"),
            KEY.bytes().map(|b| format!("%{b:02x}")).collect(),
            // Percent-encoders differ in what they leave alone.
            "Sec%22ret%5CKey42%20100%25%20%C3%A9%E2%9C%93".to_owned(),
            "Sec\"ret\\Key42 100%25 %C3%A9✓".to_owned(),
            "Sec\\u0022ret\\u005cKey42 100% \\u00e9\\u2713".to_owned(),
        ] {
            let line = format!("before {text} after");
            let out = p.replace(&line, "[redacted]");
            assert!(
                out.starts_with("before ") && out.ends_with(" after"),
                "{text}: {out}"
            );
            assert!(out.contains("[redacted]"), "{text}: {out}");
            for part in ["Key42", "ret", "%C3%A9", "%c3%a9", "\\xc3"] {
                assert!(!out.contains(part), "{text}: {out}");
            }
        }
    }

    #[test]
    fn other_text_is_left_alone() {
        let p = Pattern::new(KEY);
        for text in [
            "",
            "Sec\"ret\\Key4",
            "no secret here é ✓",
            "Sec\"ret\\Key42 100% é",
        ] {
            assert_eq!(p.replace(text, "[redacted]"), text);
        }
        // Two in a row, at the very start and end.
        assert_eq!(
            Pattern::new("ab").replace("ab%61%62ab", "X"),
            "XXX",
            "adjacent matches"
        );
    }
}
