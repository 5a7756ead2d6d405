//! JSON text appended straight to a byte buffer, byte for byte as serde_json writes it:
//! strings with its escapes, integers by `itoa`, finite floats by `zmij` in the shortest form
//! that reads back exactly, `null` for the others. The sum answer and the JSON log lines are
//! written on every request; building them this way skips a serializer and a field visitor
//! per value (keys are constants, most strings need no escape). Bytes rather than a `String`:
//! the text goes out as bytes, and pieces that are ASCII by construction (timestamps, header
//! values, the request's own number text) are appended without a UTF-8 check each.

use std::fmt::{self, Write};

/// 2^53: up to here every whole `f64` is an exact integer.
const EXACT_INTEGER_LIMIT: f64 = 9_007_199_254_740_992.0;

/// Each byte as its two lowercase hex digits.
pub const HEX_PAIRS: [[u8; 2]; 256] = {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut pairs = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        pairs[i] = [HEX[i >> 4], HEX[i & 0xf]];
        i += 1;
    }
    pairs
};

/// Writes `bytes` as lowercase hex digits into `out`, which holds twice as many bytes (any
/// more are left as they are).
pub fn write_hex(bytes: &[u8], out: &mut [u8]) {
    for (pair, byte) in out.chunks_exact_mut(2).zip(bytes) {
        pair.copy_from_slice(&HEX_PAIRS[usize::from(*byte)]);
    }
}

/// Appends `value` as a quoted JSON string.
pub fn push_str(out: &mut Vec<u8>, value: &str) {
    push_text(out, value.as_bytes());
}

/// Appends UTF-8 text given as bytes (a header value, an address) as a quoted JSON string.
pub fn push_text(out: &mut Vec<u8>, value: &[u8]) {
    out.push(b'"');
    push_escaped(out, value);
    out.push(b'"');
}

/// Whether `b` must be escaped inside a JSON string (serde_json leaves DEL and non-ASCII as is).
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Whether any byte of `bytes` must be escaped; eight bytes at a time (the values are short,
/// too short for vector code to pay off).
fn any_needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Exact as a yes/no answer for the whole word: whether some byte is zero, or below `n`.
    let has_zero = |w: u64| w.wrapping_sub(ONES) & !w & HIGH != 0;
    let has_below = |w: u64, n: u8| w.wrapping_sub(ONES * u64::from(n)) & !w & HIGH != 0;
    let mut words = bytes.chunks_exact(8);
    for chunk in &mut words {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        if has_below(w, 0x20)
            || has_zero(w ^ (ONES * u64::from(b'"')))
            || has_zero(w ^ (ONES * u64::from(b'\\')))
        {
            return true;
        }
    }
    words.remainder().iter().any(|&b| needs_escape(b))
}

/// Appends the inside of a JSON string: `"`, `\`, the short forms `\b \f \n \r \t`, other
/// control characters as `\u00xx`, everything else (UTF-8 sequences included) unchanged.
pub fn push_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    // Most values (ids, routes, addresses, names) need no escape: one scan, one copy.
    if !any_needs_escape(bytes) {
        out.extend_from_slice(bytes);
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !needs_escape(b) {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]),
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Appends an unsigned integer.
pub fn push_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// Appends a signed integer.
pub fn push_i64(out: &mut Vec<u8>, value: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// Appends a float in its shortest round-trip form (`0.1`, `1e+300`), or `null` when it is
/// not finite, as serde_json does.
pub fn push_f64(out: &mut Vec<u8>, value: f64) {
    if value.is_finite() {
        out.extend_from_slice(zmij::Buffer::new().format_finite(value).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

/// Appends `micros / 1000` as [`push_f64`] writes it (`0.052`, `12.5`, `3.0`), without the
/// float formatter for durations below 10^12 µs (11 days): such a quotient has at most 12
/// significant digits, so its shortest form is the exact decimal, in plain notation.
pub fn push_millis(out: &mut Vec<u8>, micros: u64) {
    if micros >= 1_000_000_000_000 {
        push_f64(out, micros as f64 / 1e3);
        return;
    }
    push_u64(out, micros / 1000);
    let fraction = (micros % 1000) as u32;
    if fraction == 0 {
        out.extend_from_slice(b".0");
        return;
    }
    let digits = [fraction / 100, fraction / 10 % 10, fraction % 10];
    let len = if digits[2] != 0 {
        3
    } else if digits[1] != 0 {
        2
    } else {
        1
    };
    out.push(b'.');
    out.extend(digits[..len].iter().map(|&d| b'0' + d as u8));
}

/// Appends a number as the old Go service wrote it: whole values within ±2^53 as JSON
/// integers (`7`), everything else as a float (`0.30000000000000004`).
pub fn push_number(out: &mut Vec<u8>, value: f64) {
    // Whole exactly when the value survives the trip through an integer (the cast saturates
    // and maps NaN to 0, neither of which survives); cheaper than `fract`, a libm call here.
    let whole = value as i64;
    if whole as f64 == value && value.abs() <= EXACT_INTEGER_LIMIT {
        push_i64(out, whole);
    } else {
        push_f64(out, value);
    }
}

/// Appends `values` comma-separated, each as [`push_number`] writes it: the inside of the sum
/// answer's `numbers` array.
pub fn push_numbers(out: &mut Vec<u8>, values: &[f64]) {
    for (i, &x) in values.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_number(out, x);
    }
}

/// A `fmt::Write` that escapes whatever is formatted through it (for `Debug` values).
pub struct Escaping<'a>(pub &'a mut Vec<u8>);

impl Write for Escaping<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        push_escaped(self.0, s.as_bytes());
        Ok(())
    }
}

/// The text of a buffer these functions wrote (valid UTF-8 when every piece was), for the
/// tests that compare it with serde_json's; invalid bytes become U+FFFD.
#[cfg(test)]
pub(crate) fn into_string(out: Vec<u8>) -> String {
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut all: String = (0u8..0x80).map(char::from).collect();
        all.push_str("é€😀 \u{2028}\u{7f}\"\\end");
        for s in [
            all.as_str(),
            "",
            "plain",
            "a\"b\\\\c",
            "\u{1}x\u{1f}",
            "\"",
            "é\n",
        ] {
            let mut mine = Vec::new();
            push_str(&mut mine, s);
            assert_eq!(
                into_string(mine),
                serde_json::to_string(s).expect("serializes"),
                "{s:?}"
            );
        }
        // Every byte value at every position of a word and of the tail.
        for len in 1..=17 {
            for at in 0..len {
                for b in 0..=0x7fu8 {
                    let mut text = vec![b'a'; len];
                    text[at] = b;
                    let text = String::from_utf8(text).expect("ASCII");
                    assert_eq!(
                        any_needs_escape(text.as_bytes()),
                        needs_escape(b),
                        "{text:?}"
                    );
                }
            }
        }
        assert!(!any_needs_escape("é€😀 \u{7f}".as_bytes()));
        let mut debug = Vec::new();
        write!(Escaping(&mut debug), "{:?}", "q\"").expect("a String takes everything");
        assert_eq!(into_string(debug), r#"\"q\\\"\""#);
    }

    #[test]
    fn numbers_are_written_as_serde_json_writes_them() {
        let mut rng = rand::rng();
        let mut samples = vec![
            0.0,
            -0.0,
            1.0,
            0.062246,
            1e300,
            1e-7,
            5e-324,
            123456789.125,
            f64::MAX,
            f64::MIN,
        ];
        samples.extend((0..2000).map(|_| f64::from_bits(rng.random::<u64>())));
        samples.extend((0..2000).map(|_| rng.random_range(-1e6..1e6)));
        for x in samples {
            let mut mine = Vec::new();
            push_f64(&mut mine, x);
            assert_eq!(
                into_string(mine),
                serde_json::to_string(&x).expect("serializes"),
                "{x}"
            );
        }
        for x in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut mine = Vec::new();
            push_f64(&mut mine, x);
            assert_eq!(into_string(mine), "null");
        }
        for n in [0, 1, 9, 10, 99, 100, u64::from(u32::MAX), u64::MAX] {
            let mut mine = Vec::new();
            push_u64(&mut mine, n);
            assert_eq!(into_string(mine), n.to_string());
        }
        for n in [i64::MIN, -1, 0, 7, i64::MAX] {
            let mut mine = Vec::new();
            push_i64(&mut mine, n);
            assert_eq!(into_string(mine), n.to_string());
        }
    }

    #[test]
    fn durations_in_millis_are_written_as_the_float_they_stand_for() {
        let mut rng = rand::rng();
        let mut micros: Vec<u64> = (0..200_000).collect();
        micros.extend((0..200_000).map(|_| rng.random_range(0..2_000_000_000_000)));
        micros.extend([
            999_999_999_999,
            1_000_000_000_000,
            123_456_789_012_345,
            u64::MAX,
        ]);
        for m in micros {
            let (mut mine, mut float) = (Vec::new(), Vec::new());
            push_millis(&mut mine, m);
            push_f64(&mut float, m as f64 / 1e3);
            assert_eq!(into_string(mine), into_string(float), "{m} µs");
        }
    }

    #[test]
    fn numbers_keep_the_old_services_shape() {
        let text = |x: f64| {
            let mut out = Vec::new();
            push_number(&mut out, x);
            into_string(out)
        };
        assert_eq!(text(7.0), "7");
        assert_eq!(text(-7.0), "-7");
        assert_eq!(text(-0.0), "0");
        assert_eq!(text(9007199254740992.0), "9007199254740992");
        assert_eq!(text(-9007199254740992.0), "-9007199254740992");
        // Beyond 2^53 a whole value is written as the float it is.
        let beyond = 9007199254740994.0;
        assert_eq!(
            text(beyond),
            serde_json::to_string(&beyond).expect("serializes")
        );
        assert!(text(beyond).contains(['.', 'e']), "{}", text(beyond));
        assert_eq!(text(0.5), "0.5");
        assert_eq!(text(1e300), "1e+300");
        assert_eq!(text(0.1 + 0.2), "0.30000000000000004");
    }
}
