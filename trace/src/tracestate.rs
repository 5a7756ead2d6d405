//! The W3C `tracestate` header (<https://www.w3.org/TR/trace-context/#tracestate-header>):
//! vendors' `key=value` entries, carried through unchanged in order.
//!
//! This crate adds no entry of its own; it only passes on what it received, within the spec's
//! limits: at most 32 entries, keys and values by the Recommendation's grammar, no duplicate key.
//! A value that breaks any of these is dropped whole (the trace goes on without it), never an
//! error. The combined value kept is at most 512 characters, the length the spec asks every
//! vendor to propagate: when longer, whole entries are removed, first those over 128 characters,
//! then from the end, as the spec says truncation must be done. Several `tracestate` fields are
//! combined with commas before reading, as RFC 7230 orders it.

use std::fmt;

use crate::traceparent::trim_ows;

/// The most entries a valid value has.
pub const MAX_MEMBERS: usize = 32;

/// The longest combined value kept (entries and the commas between them).
pub const MAX_LEN: usize = 512;

/// Entries longer than this are the first removed when the value is over [`MAX_LEN`].
const LONG_MEMBER: usize = 128;

/// Raw input longer than this is dropped unread: 32 entries of the longest key and value fit
/// with room for whitespace, so anything longer cannot be a value worth the work.
const MAX_RAW_LEN: usize = 20 * 1024;

/// A valid `tracestate` value, normalised (no optional whitespace, no empty entries); empty
/// when none was received or what was received was invalid.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct TraceState(String);

impl TraceState {
    /// Reads one header value; invalid input gives the empty state.
    pub fn parse(value: &[u8]) -> TraceState {
        TraceState::parse_all([value])
    }

    /// Reads the values of every `tracestate` field of a request, in order, as one list.
    pub fn parse_all<'a, I>(values: I) -> TraceState
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        let mut members: Vec<&[u8]> = Vec::new();
        let mut raw_len = 0;
        for value in values {
            raw_len += value.len() + 1;
            if raw_len > MAX_RAW_LEN {
                return TraceState::default();
            }
            for member in value.split(|&b| b == b',') {
                let member = trim_ows(member);
                if member.is_empty() {
                    continue;
                }
                if members.len() == MAX_MEMBERS || !valid_member(member) {
                    return TraceState::default();
                }
                let key = key_of(member);
                if members.iter().any(|m| key_of(m) == key) {
                    return TraceState::default();
                }
                members.push(member);
            }
        }
        truncate(&mut members);
        let mut out = String::with_capacity(members.iter().map(|m| m.len() + 1).sum());
        for member in members {
            if !out.is_empty() {
                out.push(',');
            }
            // Valid members are ASCII (checked above), so this never loses a byte.
            out.push_str(&String::from_utf8_lossy(member));
        }
        TraceState(out)
    }

    /// The normalised value, ready for a header; empty when there is nothing to send.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether there is no entry (then no `tracestate` header is sent).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The entries as `(key, value)`, in order.
    pub fn members(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .split(',')
            .filter(|m| !m.is_empty())
            .filter_map(|m| m.split_once('='))
    }
}

impl fmt::Display for TraceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TraceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceState({:?})", self.0)
    }
}

/// The key of a member already checked to contain `=`.
fn key_of(member: &[u8]) -> &[u8] {
    member.split(|&b| b == b'=').next().unwrap_or(member)
}

/// `key "=" value` by the Recommendation's grammar.
fn valid_member(member: &[u8]) -> bool {
    let Some(eq) = member.iter().position(|&b| b == b'=') else {
        return false;
    };
    valid_key(&member[..eq]) && valid_value(&member[eq + 1..])
}

/// `simple-key = lcalpha 0*255(keychar)`, or `multi-tenant-key = tenant-id "@" system-id` with
/// `tenant-id = (lcalpha / DIGIT) 0*240(keychar)` and `system-id = lcalpha 0*13(keychar)`.
fn valid_key(key: &[u8]) -> bool {
    let keychar = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-*/".contains(b);
    match key.iter().position(|&b| b == b'@') {
        None => {
            (1..=256).contains(&key.len())
                && key[0].is_ascii_lowercase()
                && key[1..].iter().all(keychar)
        }
        Some(at) => {
            let (tenant, system) = (&key[..at], &key[at + 1..]);
            (1..=241).contains(&tenant.len())
                && (tenant[0].is_ascii_lowercase() || tenant[0].is_ascii_digit())
                && tenant[1..].iter().all(keychar)
                && (1..=14).contains(&system.len())
                && system[0].is_ascii_lowercase()
                && system[1..].iter().all(keychar)
        }
    }
}

/// `value = 0*255(chr) nblk-chr`: printable ASCII but `,` and `=`, not ending in a space.
fn valid_value(value: &[u8]) -> bool {
    let nblk = |b: u8| matches!(b, 0x21..=0x2b | 0x2d..=0x3c | 0x3e..=0x7e);
    match value.split_last() {
        Some((&last, rest)) => {
            value.len() <= 256 && nblk(last) && rest.iter().all(|&b| b == b' ' || nblk(b))
        }
        None => false,
    }
}

/// Removes whole members until the combined value fits [`MAX_LEN`]: first those longer than
/// [`LONG_MEMBER`] (from the end), then from the end.
fn truncate(members: &mut Vec<&[u8]>) {
    let combined =
        |m: &[&[u8]]| m.iter().map(|m| m.len()).sum::<usize>() + m.len().saturating_sub(1);
    while combined(members) > MAX_LEN {
        match members.iter().rposition(|m| m.len() > LONG_MEMBER) {
            Some(i) => {
                members.remove(i);
            }
            None => {
                members.pop();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> TraceState {
        TraceState::parse(s.as_bytes())
    }

    #[test]
    fn valid_lists_are_carried_in_order_without_optional_whitespace() {
        let s = parse("rojo=00f067aa0ba902b7, congo=t61rcWkgMzE");
        assert_eq!(s.as_str(), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
        assert_eq!(
            s.members().collect::<Vec<_>>(),
            [("rojo", "00f067aa0ba902b7"), ("congo", "t61rcWkgMzE")]
        );
        assert_eq!(
            parse(" , a=1 ,\t,b=2,").as_str(),
            "a=1,b=2",
            "empty members are allowed"
        );
        assert!(parse("").is_empty());
        assert!(parse(" \t ").is_empty());
        assert_eq!(
            parse("a= leading spaces stay").as_str(),
            "a= leading spaces stay"
        );
        assert_eq!(
            parse("a=trailing   ").as_str(),
            "a=trailing",
            "trailing OWS is not value"
        );
        assert_eq!(parse("t0-_*/x@sys_-*/9=v").as_str(), "t0-_*/x@sys_-*/9=v");
        assert_eq!(parse("0tenant@s=v").as_str(), "0tenant@s=v");
        let combined = TraceState::parse_all([b"a=1,b=2".as_slice(), b"c=3".as_slice()]);
        assert_eq!(combined.as_str(), "a=1,b=2,c=3");
        assert_eq!(format!("{combined}"), "a=1,b=2,c=3");
    }

    #[test]
    fn any_invalid_member_drops_the_whole_value() {
        let long_key = format!("{}=v", "k".repeat(257));
        let long_value = format!("k={}", "v".repeat(257));
        let long_system = "t@abcdefghijklmno=v".to_string();
        let long_tenant = format!("{}@s=v", "t".repeat(242));
        let too_many = (0..33)
            .map(|i| format!("k{i}=v"))
            .collect::<Vec<_>>()
            .join(",");
        for bad in [
            "a",
            "=v",
            "a=",
            "A=1",
            "1a=1",
            "a.b=1",
            "a=1,a=2",
            "a=1,b",
            "a=v=w",
            "a=v\tw",
            "a=v\u{7f}",
            "a=caf\u{e9}",
            "a@=1",
            "@s=1",
            "t@1s=1",
            "t@s@x=1",
            "a=1;b=2",
            long_key.as_str(),
            long_value.as_str(),
            long_system.as_str(),
            long_tenant.as_str(),
            too_many.as_str(),
        ] {
            assert!(parse(bad).is_empty(), "{bad:?} kept as {:?}", parse(bad));
        }
        assert!(TraceState::parse(b"a=\xff").is_empty(), "not text");
        // Duplicates across two header fields count too.
        assert!(TraceState::parse_all([b"a=1".as_slice(), b"a=2".as_slice()]).is_empty());
        // The longest valid key and value, and exactly 32 members, are fine.
        let long_key = format!("{}={}", "k".repeat(256), "v".repeat(200));
        assert_eq!(parse(&long_key).as_str(), long_key);
        // The longest key with the longest value is valid but alone over 512: it is removed.
        let longest = format!("{}={}", "k".repeat(256), "v".repeat(256));
        assert!(parse(&longest).is_empty());
        let most = (0..32)
            .map(|i| format!("k{i}=v"))
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(parse(&most).members().count(), 32);
        // Whitespace alone never makes a value too long to read, up to a generous bound.
        assert_eq!(
            parse(&format!("a=1,{}b=2", " ".repeat(4000))).as_str(),
            "a=1,b=2"
        );
        assert!(parse(&" ".repeat(MAX_RAW_LEN + 1)).is_empty());
    }

    #[test]
    fn over_512_characters_whole_members_go_long_ones_first_then_from_the_end() {
        let long = format!("long={}", "x".repeat(150));
        let mut members = vec![long.clone()];
        for i in 0..20 {
            members.push(format!("k{i:02}={}", "y".repeat(20)));
        }
        // 156 + 20 * 24 + 20 commas = 656 > 512.
        let s = parse(&members.join(","));
        assert!(s.as_str().len() <= MAX_LEN, "{}", s.as_str().len());
        assert!(!s.as_str().contains("long="), "the long member goes first");
        assert_eq!(s.members().count(), 20, "480 + 19 commas fit after it");
        let s = parse(&format!(
            "{},k99={}",
            members[1..].join(","),
            "z".repeat(40)
        ));
        assert!(
            s.as_str().ends_with("k19=yyyyyyyyyyyyyyyyyyyy"),
            "the last member went"
        );
        assert_eq!(s.members().next(), Some(("k00", "y".repeat(20).as_str())));
        // Exactly 512 stays whole.
        let exact = format!("a={}", "v".repeat(MAX_LEN - 2));
        assert!(parse(&exact).is_empty(), "a value over 256 is invalid");
        let two = format!("a={},b={}", "v".repeat(254), "w".repeat(253));
        assert_eq!(two.len(), MAX_LEN);
        assert_eq!(parse(&two).as_str(), two);
    }
}
