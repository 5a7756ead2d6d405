//! Trace and span identifiers: 16 and 8 random bytes, never all zero (W3C Trace Context calls an
//! all-zero id invalid), written as lowercase hex and read back only from lowercase hex.
//!
//! New ids come from the thread-local generator of `rand` (seeded from the OS, no lock, no
//! system call per id). Every bit is random, so the 56 rightmost bits of a trace id are the
//! randomness that trace-id-ratio sampling reads ([`TraceId::randomness`]).

use std::fmt;

/// The lowercase hex digits, indexed by nibble.
const HEX: &[u8; 16] = b"0123456789abcdef";

/// A 16-byte trace id, shared by every span of one trace; never all zero.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId([u8; 16]);

/// An 8-byte span id, one per span (the `parent-id` of a `traceparent`); never all zero.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId([u8; 8]);

impl TraceId {
    /// The id with these bytes, or `None` when they are all zero (an invalid id).
    pub fn from_bytes(bytes: [u8; 16]) -> Option<TraceId> {
        (bytes != [0; 16]).then_some(TraceId(bytes))
    }

    /// The id's bytes, most significant first (as on the wire and in OTLP).
    pub fn to_bytes(self) -> [u8; 16] {
        self.0
    }

    /// A new random id.
    pub fn random() -> TraceId {
        loop {
            // All zero comes once in 2^128 draws; the loop keeps the invariant without a branch
            // that could ever hand out an invalid id.
            if let Some(id) = TraceId::from_bytes(rand::random::<u128>().to_be_bytes()) {
                return id;
            }
        }
    }

    /// Reads exactly 32 lowercase hex digits; `None` for any other length, any other byte
    /// (uppercase included) or all zeros.
    pub fn from_hex(hex: &[u8]) -> Option<TraceId> {
        decode_hex::<16>(hex).and_then(TraceId::from_bytes)
    }

    /// The 56 rightmost bits, as an integer below 2^56: the randomness value that W3C Trace
    /// Context Level 2 and OpenTelemetry's probability sampling read from a trace id.
    pub fn randomness(self) -> u64 {
        let mut low = [0u8; 8];
        low[1..].copy_from_slice(&self.0[9..]);
        u64::from_be_bytes(low)
    }

    /// The 32 lowercase hex digits.
    pub fn to_hex(self) -> [u8; 32] {
        encode_hex(&self.0)
    }
}

impl SpanId {
    /// The id with these bytes, or `None` when they are all zero (an invalid id).
    pub fn from_bytes(bytes: [u8; 8]) -> Option<SpanId> {
        (bytes != [0; 8]).then_some(SpanId(bytes))
    }

    /// The id's bytes, most significant first (as on the wire and in OTLP).
    pub fn to_bytes(self) -> [u8; 8] {
        self.0
    }

    /// A new random id.
    pub fn random() -> SpanId {
        loop {
            if let Some(id) = SpanId::from_bytes(rand::random::<u64>().to_be_bytes()) {
                return id;
            }
        }
    }

    /// Reads exactly 16 lowercase hex digits; `None` for any other length, any other byte
    /// (uppercase included) or all zeros.
    pub fn from_hex(hex: &[u8]) -> Option<SpanId> {
        decode_hex::<8>(hex).and_then(SpanId::from_bytes)
    }

    /// The 16 lowercase hex digits.
    pub fn to_hex(self) -> [u8; 16] {
        encode_hex(&self.0)
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(hex_str(&self.to_hex()))
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(hex_str(&self.to_hex()))
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({self})")
    }
}

/// `N` bytes as `2N` lowercase hex digits; `M` must be `2N` (checked by the callers' types).
pub(crate) fn encode_hex<const N: usize, const M: usize>(bytes: &[u8; N]) -> [u8; M] {
    let mut out = [0u8; M];
    for (pair, byte) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = HEX[usize::from(byte >> 4)];
        pair[1] = HEX[usize::from(byte & 0x0f)];
    }
    out
}

/// Exactly `2N` lowercase hex digits as `N` bytes; `None` for any other input.
pub(crate) fn decode_hex<const N: usize>(hex: &[u8]) -> Option<[u8; N]> {
    if hex.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

/// One lowercase hex digit's value; uppercase is not hex here (W3C: `HEXDIGLC`).
fn nibble(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    }
}

/// The hex digits made by [`encode_hex`] as text (they are ASCII by construction).
fn hex_str(digits: &[u8]) -> &str {
    std::str::from_utf8(digits).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_only_lowercase_is_read() {
        let t = TraceId::from_hex(b"4bf92f3577b34da6a3ce929d0e0e4736").expect("valid");
        assert_eq!(t.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(t.to_bytes()[0], 0x4b);
        let s = SpanId::from_hex(b"00f067aa0ba902b7").expect("valid");
        assert_eq!(s.to_string(), "00f067aa0ba902b7");
        assert_eq!(format!("{s:?}"), "SpanId(00f067aa0ba902b7)");
        assert!(TraceId::from_hex(b"4BF92F3577B34DA6A3CE929D0E0E4736").is_none());
        assert!(SpanId::from_hex(b"00F067AA0BA902B7").is_none());
        assert!(SpanId::from_hex(b"00f067aa0ba902bg").is_none(), "non-hex");
        assert!(SpanId::from_hex(b"00f067aa0ba902b").is_none(), "short");
        assert!(SpanId::from_hex(b"00f067aa0ba902b77").is_none(), "long");
        assert!(TraceId::from_hex(&[b'0'; 32]).is_none(), "all zero");
        assert!(SpanId::from_hex(&[b'0'; 16]).is_none(), "all zero");
        assert!(TraceId::from_bytes([0; 16]).is_none());
        assert!(SpanId::from_bytes([0; 8]).is_none());
    }

    #[test]
    fn random_ids_are_valid_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let t = TraceId::random();
            assert_ne!(t.to_bytes(), [0; 16]);
            assert!(seen.insert(t), "a repeated trace id");
            assert_ne!(SpanId::random().to_bytes(), [0; 8]);
        }
    }

    #[test]
    fn randomness_is_the_56_rightmost_bits() {
        let t = TraceId::from_hex(b"ffffffffffffffffff0123456789abcd").expect("valid");
        assert_eq!(t.randomness(), 0x0001_2345_6789_abcd);
        let max = TraceId::from_hex(b"0000000000000000ffffffffffffffff").expect("valid");
        assert_eq!(max.randomness(), (1 << 56) - 1);
    }
}
