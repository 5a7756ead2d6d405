//! The W3C `traceparent` header (<https://www.w3.org/TR/trace-context/#traceparent-header>):
//! `version-trace_id-parent_id-flags`, e.g. `00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01`.
//!
//! Reading follows the spec's rules for an unexpected format: version `00` is exactly 55
//! characters; a higher version is read as far as version `00` defines it (the three fields
//! after the version, the flags followed by the end or by a dash) and whatever follows is
//! ignored; version `ff`, uppercase or non-hex digits, all-zero ids and wrong lengths are
//! invalid. An invalid value is never an error for the request that carried it: the receiver
//! ignores it and starts a new trace ([`crate::SpanContext::extract`] returns `None`). Writing
//! always uses version `00`, the highest this crate knows.

use std::fmt;

use thiserror::Error;

use crate::ids::{SpanId, TraceId};

/// The length of a version `00` value, and the least any version may have.
pub const VERSION_00_LEN: usize = 55;

/// The longest value read at all: a pass-through service "only disallows prohibitively large
/// headers" (the spec); a future version with this much more than version `00` is one.
pub const MAX_LEN: usize = 256;

/// The 8 trace flags; only `sampled` (bit 0) is defined by version `00`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TraceFlags(u8);

impl TraceFlags {
    /// The `sampled` bit: the caller may have recorded trace data.
    pub const SAMPLED: TraceFlags = TraceFlags(0x01);
    /// No flag set.
    pub const NONE: TraceFlags = TraceFlags(0x00);

    /// The flags byte as received (unknown bits included).
    pub fn from_byte(byte: u8) -> TraceFlags {
        TraceFlags(byte)
    }

    /// `SAMPLED` or `NONE`: the flags this crate sends (the spec has other bits set to zero).
    pub fn sampled(sampled: bool) -> TraceFlags {
        if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::NONE
        }
    }

    /// The flags byte.
    pub fn to_byte(self) -> u8 {
        self.0
    }

    /// Whether the `sampled` bit is set (masked: other bits do not matter).
    pub fn is_sampled(self) -> bool {
        self.0 & TraceFlags::SAMPLED.0 != 0
    }
}

/// A valid `traceparent`: the caller's trace id, its span id and its flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TraceParent {
    /// The trace this request belongs to.
    pub trace_id: TraceId,
    /// The caller's span (the `parent-id` field).
    pub parent_id: SpanId,
    /// The caller's flags (unknown bits kept as received; this crate reads only `sampled`).
    pub flags: TraceFlags,
}

/// Why a `traceparent` value was ignored; for tests and debug logs, never for a response.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum TraceParentError {
    /// Shorter than the 55 characters of version `00`.
    #[error("shorter than 55 characters")]
    TooShort,
    /// Longer than [`MAX_LEN`].
    #[error("longer than {MAX_LEN} characters")]
    TooLong,
    /// The version is not two lowercase hex digits followed by a dash.
    #[error("the version is not two lowercase hex digits and a dash")]
    Version,
    /// Version `ff`, which the spec forbids.
    #[error("version ff is forbidden")]
    ForbiddenVersion,
    /// Version `00` with characters after the flags (only later versions may add fields).
    #[error("version 00 with more than 55 characters")]
    TrailingData,
    /// A dash is missing where version `00` puts one.
    #[error("a field separator is missing")]
    Separator,
    /// The trace id is not 32 lowercase hex digits.
    #[error("the trace id is not 32 lowercase hex digits")]
    TraceId,
    /// The trace id is all zeros.
    #[error("the trace id is all zeros")]
    ZeroTraceId,
    /// The parent id is not 16 lowercase hex digits.
    #[error("the parent id is not 16 lowercase hex digits")]
    ParentId,
    /// The parent id is all zeros.
    #[error("the parent id is all zeros")]
    ZeroParentId,
    /// The flags are not two lowercase hex digits.
    #[error("the flags are not two lowercase hex digits")]
    Flags,
}

impl TraceParent {
    /// Reads a header value. Optional whitespace around it (HTTP's OWS) is ignored; anything
    /// else that breaks the rules in the module doc is an error, which the caller ignores.
    pub fn parse(value: &[u8]) -> Result<TraceParent, TraceParentError> {
        use TraceParentError as E;
        let value = trim_ows(value);
        if value.len() > MAX_LEN {
            return Err(E::TooLong);
        }
        if value.len() < 3 || value[2] != b'-' {
            return Err(if value.len() < VERSION_00_LEN {
                E::TooShort
            } else {
                E::Version
            });
        }
        let version = crate::ids::decode_hex::<1>(&value[..2]).ok_or(E::Version)?[0];
        if version == 0xff {
            return Err(E::ForbiddenVersion);
        }
        if value.len() < VERSION_00_LEN {
            return Err(E::TooShort);
        }
        if version == 0 && value.len() != VERSION_00_LEN {
            return Err(E::TrailingData);
        }
        // A later version: the flags end the string or are followed by a dash.
        if value.len() > VERSION_00_LEN && value[VERSION_00_LEN] != b'-' {
            return Err(E::Separator);
        }
        if value[35] != b'-' || value[52] != b'-' {
            return Err(E::Separator);
        }
        let trace = crate::ids::decode_hex::<16>(&value[3..35]).ok_or(E::TraceId)?;
        let trace_id = TraceId::from_bytes(trace).ok_or(E::ZeroTraceId)?;
        let parent = crate::ids::decode_hex::<8>(&value[36..52]).ok_or(E::ParentId)?;
        let parent_id = SpanId::from_bytes(parent).ok_or(E::ZeroParentId)?;
        let flags = crate::ids::decode_hex::<1>(&value[53..55]).ok_or(E::Flags)?[0];
        Ok(TraceParent {
            trace_id,
            parent_id,
            flags: TraceFlags(flags),
        })
    }

    /// The version `00` value, as bytes ready for a header.
    pub fn to_bytes(&self) -> [u8; VERSION_00_LEN] {
        let mut out = [b'-'; VERSION_00_LEN];
        out[..2].copy_from_slice(b"00");
        out[3..35].copy_from_slice(&self.trace_id.to_hex());
        out[36..52].copy_from_slice(&self.parent_id.to_hex());
        out[53..55].copy_from_slice(&crate::ids::encode_hex::<1, 2>(&[self.flags.0]));
        out
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.to_bytes();
        f.write_str(std::str::from_utf8(&bytes).map_err(|_| fmt::Error)?)
    }
}

/// Without leading and trailing spaces and tabs (HTTP's optional whitespace).
pub(crate) fn trim_ows(mut value: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = value {
        value = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = value {
        value = rest;
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use TraceParentError as E;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn parse(s: &str) -> Result<TraceParent, TraceParentError> {
        TraceParent::parse(s.as_bytes())
    }

    #[test]
    fn version_00_is_read_and_written_back_unchanged() {
        let p = parse(VALID).expect("valid");
        assert_eq!(p.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(p.parent_id.to_string(), "00f067aa0ba902b7");
        assert!(p.flags.is_sampled());
        assert_eq!(p.to_string(), VALID);
        let unsampled =
            parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00").expect("ok");
        assert!(!unsampled.flags.is_sampled());
        // Flags are a bit field: 09 is sampled plus an unknown bit.
        assert!(
            parse(&VALID.replace("-01", "-09"))
                .expect("ok")
                .flags
                .is_sampled()
        );
        assert!(
            !parse(&VALID.replace("-01", "-fe"))
                .expect("ok")
                .flags
                .is_sampled()
        );
        // Optional whitespace around a header value is not part of it.
        assert_eq!(parse(&format!(" \t{VALID}\t ")), Ok(p));
    }

    #[test]
    fn hostile_values_are_rejected_for_the_reason_the_spec_names() {
        let cases: &[(String, TraceParentError)] = &[
            (String::new(), E::TooShort),
            ("00".into(), E::TooShort),
            (VALID[..54].into(), E::TooShort),
            (VALID.replacen("00-", "ff-", 1), E::ForbiddenVersion),
            (VALID.replacen("00-", "0g-", 1), E::Version),
            (VALID.replacen("00-", "0A-", 1), E::Version),
            (VALID.replacen("00-", "000-", 1), E::Version),
            (format!("x{VALID}"), E::Version),
            (format!("{VALID}-extra"), E::TrailingData),
            (format!("{VALID}0"), E::TrailingData),
            (
                VALID.replace("4bf92f3577b34da6a3ce929d0e0e4736", &"0".repeat(32)),
                E::ZeroTraceId,
            ),
            (
                VALID.replace("00f067aa0ba902b7", &"0".repeat(16)),
                E::ZeroParentId,
            ),
            (
                VALID.replace("4bf92f3577b34da6", "4BF92F3577B34DA6"),
                E::TraceId,
            ),
            (
                VALID.replace("00f067aa0ba902b7", "00F067AA0BA902B7"),
                E::ParentId,
            ),
            (VALID.replace("-01", "-0A"), E::Flags),
            (
                VALID.replace("4bf92f3577b34da6", "4bf92f3577b34dz6"),
                E::TraceId,
            ),
            (
                VALID.replace("00f067aa0ba902b7", "00f067aa0ba902.7"),
                E::ParentId,
            ),
            (VALID.replace("-01", "-0x"), E::Flags),
            (VALID.replace('-', "_"), E::Version),
            (VALID.replacen("-4bf9", "_4bf9", 1), E::Version),
            // A field one digit short shifts the separators.
            (
                "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-011".into(),
                E::Separator,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-011".into(),
                E::Separator,
            ),
            (format!("01-{}", "a".repeat(MAX_LEN)), E::TooLong),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\n".into(),
                E::TrailingData,
            ),
        ];
        for (value, want) in cases {
            assert_eq!(parse(value), Err(*want), "{value:?}");
        }
        // Bytes that are not text at all.
        let mut bytes = VALID.as_bytes().to_vec();
        bytes[10] = 0xff;
        assert_eq!(TraceParent::parse(&bytes), Err(E::TraceId));
    }

    #[test]
    fn a_later_version_is_read_as_far_as_version_00_defines_it() {
        let future =
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds";
        let p = parse(future).expect("a later version with more fields");
        assert_eq!(p.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(p.flags.is_sampled());
        assert_eq!(p.to_string(), VALID, "written back as version 00");
        assert!(
            parse(&VALID.replacen("00-", "01-", 1)).is_ok(),
            "exactly 55 is fine too"
        );
        // The same checks on the three known fields apply.
        assert_eq!(
            parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x"),
            Err(E::Separator),
            "flags followed by neither the end nor a dash"
        );
        assert_eq!(
            parse(&format!("cc-{}-00f067aa0ba902b7-01-x", "0".repeat(32))),
            Err(E::ZeroTraceId)
        );
        assert_eq!(
            parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0"),
            Err(E::TooShort)
        );
        assert_eq!(
            parse("fe-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01-x"),
            Err(E::TraceId)
        );
        let longest = format!(
            "{}-{}",
            future.replacen("cc", "01", 1),
            "x".repeat(MAX_LEN - future.len() - 1)
        );
        assert_eq!(longest.len(), MAX_LEN);
        assert!(parse(&longest).is_ok());
        assert_eq!(parse(&format!("{longest}x")), Err(E::TooLong));
    }

    #[test]
    fn flags_helpers() {
        assert_eq!(TraceFlags::sampled(true).to_byte(), 1);
        assert_eq!(TraceFlags::sampled(false), TraceFlags::NONE);
        assert!(TraceFlags::from_byte(0x03).is_sampled());
        assert!(!TraceFlags::default().is_sampled());
    }
}
