//! Reading the sum request's body, `{"numbers":[...]}`, into the numbers.
//!
//! Two readers, one answer. The body as clients send it (one `numbers` key, an array of JSON
//! numbers, any JSON whitespace) is scanned directly: every token is checked against JSON's
//! number grammar and converted by the standard library's correctly rounded parser. Anything
//! else (other keys, nesting, strings, nulls, a number out of range, malformed text) goes to
//! serde_json, which reads the same value where there is one (unknown keys ignored, as by the
//! old service) and otherwise gives the precise error. Both round every number correctly, so
//! which reader answered never shows.

use serde::de::{SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::error::ApiError;
use crate::sum::MAX_NUMBERS;

/// The numbers of a sum request.
#[derive(Debug, Clone, PartialEq)]
pub struct Numbers<'a> {
    /// Every number, in order.
    pub values: Vec<f64>,
    /// The body's text of the whole array between `[` and `]`, when it is exactly what the
    /// answer writes for these values ([`json_text::push_numbers`]): the answer then copies
    /// it instead of formatting every number again. Only compact arrays of short plain numbers
    /// (`1.5`, `-20`, `0.125`) qualify.
    ///
    /// [`json_text::push_numbers`]: crate::http::json_text::push_numbers
    pub echo: Option<&'a [u8]>,
}

/// Parses `{"numbers":[...]}`; anything else is `INVALID_REQUEST_BODY`. A missing `numbers`
/// key gives no numbers (a validation error later).
pub fn parse(body: &[u8]) -> Result<Numbers<'_>, ApiError> {
    if let Some(numbers) = scan(body) {
        return Ok(numbers);
    }
    parse_with_serde(body).map(|values| Numbers { values, echo: None })
}

/// The body read by serde_json alone: [`parse`]'s answer for anything the scanner leaves to
/// it, and the reference the tests and the fuzz target hold the scanner to.
pub fn parse_with_serde(body: &[u8]) -> Result<Vec<f64>, ApiError> {
    // serde would also read a struct from a JSON array; the contract is an object.
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(ApiError::InvalidBody {
            details: r#"the body must be a JSON object like {"numbers":[1,2]}"#.into(),
        });
    }
    // JSON is UTF-8 (RFC 8259); serde_json would skip invalid bytes inside ignored fields.
    let text = std::str::from_utf8(body).map_err(|e| ApiError::InvalidBody {
        details: format!("the body is not valid UTF-8: {e}"),
    })?;
    let request: SumRequest = serde_json::from_str(text).map_err(|e| ApiError::InvalidBody {
        details: e.to_string(),
    })?;
    Ok(request.numbers.unwrap_or_default())
}

/// The request body for serde; unknown fields are ignored, as by the old service.
#[derive(Debug, Deserialize)]
struct SumRequest {
    /// Missing means "no numbers" (a validation error); `null` is a type error.
    #[serde(default, deserialize_with = "present")]
    numbers: Option<Vec<f64>>,
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<f64>>, D::Error> {
    d.deserialize_seq(NumberSeq).map(Some)
}

/// Reads a JSON array of numbers into a vector sized for a typical request up front (serde's
/// own `Vec` visitor gets no length hint from JSON and grows three times for ten numbers).
struct NumberSeq;

impl<'de> Visitor<'de> for NumberSeq {
    type Value = Vec<f64>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<f64>, A::Error> {
        let mut numbers = Vec::with_capacity(seq.size_hint().unwrap_or(16).min(MAX_NUMBERS + 1));
        while let Some(x) = seq.next_element::<f64>()? {
            numbers.push(x);
        }
        Ok(numbers)
    }
}

/// The numbers of a body of exactly the shape `{"numbers":[n, ...]}` (JSON whitespace
/// anywhere between tokens), every `n` a finite JSON number; `None` for anything else.
fn scan(body: &[u8]) -> Option<Numbers<'_>> {
    let mut at = Cursor { body, pos: 0 };
    at.expect(b'{')?;
    at.expect(b'"')?;
    if !at.rest().starts_with(b"numbers\"") {
        return None;
    }
    at.pos += b"numbers\"".len();
    at.expect(b':')?;
    at.expect(b'[')?;
    let array_start = at.pos;
    let mut values = Vec::with_capacity(16);
    // Whether the array's text is the answer's text (see `Numbers::echo`).
    let mut echo;
    if at.peek() == Some(b']') {
        at.pos += 1;
        echo = false;
    } else {
        echo = at.pos == array_start;
        loop {
            let before = at.pos;
            at.skip_whitespace();
            echo &= before == at.pos;
            let (value, canonical) = at.number()?;
            values.push(value);
            echo &= canonical;
            // The separator: usually right after the number.
            let separator = match at.rest().first() {
                Some(&b) if b == b',' || b == b']' => {
                    at.pos += 1;
                    b
                }
                _ => {
                    echo = false;
                    at.next()?
                }
            };
            match separator {
                b',' => {}
                b']' => break,
                _ => return None,
            }
        }
    }
    let array_end = at.pos - 1;
    at.expect(b'}')?;
    at.skip_whitespace();
    if !at.rest().is_empty() {
        return None;
    }
    let echo = echo.then(|| body.get(array_start..array_end)).flatten();
    Some(Numbers { values, echo })
}

/// A position in the body.
struct Cursor<'a> {
    body: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a [u8] {
        self.body.get(self.pos..).unwrap_or_default()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.rest().first(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// The next byte after whitespace, without taking it.
    fn peek(&mut self) -> Option<u8> {
        self.skip_whitespace();
        self.rest().first().copied()
    }

    /// Takes the next byte after whitespace.
    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    /// Takes `expected` after whitespace, or gives up.
    fn expect(&mut self, expected: u8) -> Option<()> {
        (self.next()? == expected).then_some(())
    }

    /// Takes one JSON number (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`) and converts
    /// it, correctly rounded; `None` if the grammar is not met or the value is not finite.
    /// Also tells whether the token is the text [`json_text::push_number`] writes for the value
    /// (see [`is_canonical`]).
    ///
    /// [`json_text::push_number`]: crate::http::json_text::push_number
    fn number(&mut self) -> Option<(f64, bool)> {
        let rest = self.rest();
        // The byte at `i`, or 0 past the end (never a digit, sign, point or exponent mark).
        let at = |i: usize| rest.get(i).copied().unwrap_or(0);
        let digit = |i: usize| at(i).wrapping_sub(b'0');
        let negative = at(0) == b'-';
        let int_start = usize::from(negative);
        // All digits as one integer (exact while there are at most 19 of them), and the power
        // of ten to apply.
        let mut mantissa = 0u64;
        let mut i = int_start;
        while digit(i) < 10 {
            mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(digit(i)));
            i += 1;
        }
        let int_end = i;
        if int_end == int_start || (int_end - int_start > 1 && at(int_start) == b'0') {
            return None;
        }
        let mut frac_start = i;
        if at(i) == b'.' {
            i += 1;
            frac_start = i;
            while digit(i) < 10 {
                mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(digit(i)));
                i += 1;
            }
            if i == frac_start {
                return None;
            }
        }
        let frac_end = i;
        let digits = (int_end - int_start) + (frac_end - frac_start);
        let mut exponent = -((frac_end - frac_start) as i64);
        let plain = !matches!(at(i), b'e' | b'E');
        if !plain {
            i += 1;
            let sign = match at(i) {
                b'-' => -1,
                b'+' => 1,
                _ => 0,
            };
            if sign != 0 {
                i += 1;
            }
            let exp_start = i;
            let mut written = 0i64;
            while digit(i) < 10 {
                // Saturates far beyond any finite double's exponent; the slow path decides.
                written = (written * 10 + i64::from(digit(i))).min(1 << 40);
                i += 1;
            }
            if i == exp_start {
                return None;
            }
            exponent += if sign < 0 { -written } else { written };
        }
        self.pos += i;
        let canonical = plain
            && is_canonical(
                negative,
                rest.get(int_start..int_end)?,
                rest.get(frac_start..frac_end)?,
            );
        // Clinger's fast path: an integer below 2^53 and a power of ten up to 10^22 are both
        // exact doubles, so one multiplication or division rounds correctly by itself.
        if digits <= 19 && mantissa <= 1 << 53 && (-22..=22).contains(&exponent) {
            let m = mantissa as f64;
            let power = POWERS_OF_TEN[exponent.unsigned_abs() as usize];
            let magnitude = if exponent >= 0 { m * power } else { m / power };
            return Some((if negative { -magnitude } else { magnitude }, canonical));
        }
        // Long or extreme numbers: the standard library's parser, also correctly rounded.
        let token = std::str::from_utf8(rest.get(..i)?).ok()?;
        let value = token.parse::<f64>().ok().filter(|x| x.is_finite())?;
        Some((value, canonical))
    }
}

/// Whether a number written without exponent as `-`? `int` (`.` `frac`)? is already the text
/// [`json_text::push_number`] writes for its value:
/// - a whole number is written by `itoa`: the same digits, except `-0` (written `0`);
/// - any other number in the shortest form that reads back exactly, in plain notation from
///   1e-5 up to 1e16: at most 15 significant digits read back as themselves (any two such
///   decimals are distinct doubles), so with no trailing zero the token is that form.
///
/// Conservative: leading zeros count as digits, and `1.0` or `1.50` are not canonical.
///
/// [`json_text::push_number`]: crate::http::json_text::push_number
fn is_canonical(negative: bool, int: &[u8], frac: &[u8]) -> bool {
    let zero_int = int == b"0";
    if frac.is_empty() {
        return int.len() <= 15 && !(negative && zero_int);
    }
    let leading_zeros = frac.iter().take_while(|&&d| d == b'0').count();
    int.len() + frac.len() <= 15 && frac.last() != Some(&b'0') && (!zero_int || leading_zeros <= 4)
}

/// 10^0 ..= 10^22, every one an exact double.
const POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    /// What serde_json alone makes of `body` (the reference for the scanner).
    fn by_serde(body: &str) -> Option<Vec<u64>> {
        serde_json::from_str::<SumRequest>(body).ok().map(|r| {
            r.numbers
                .unwrap_or_default()
                .iter()
                .map(|x| x.to_bits())
                .collect()
        })
    }

    fn by_scan(body: &str) -> Option<Vec<u64>> {
        scan(body.as_bytes()).map(|n| n.values.iter().map(|x| x.to_bits()).collect())
    }

    #[test]
    fn the_usual_bodies_are_scanned_and_read_as_serde_reads_them() {
        for body in [
            r#"{"numbers":[1,2]}"#,
            r#"{"numbers":[]}"#,
            " \t\r\n{ \"numbers\" : [ 1.5 , -2.25e3 ,0.1,1E+2,1e-2 ,-0, -0.0,0e0] } \n",
            r#"{"numbers":[1e16,1,-1e16]}"#,
            r#"{"numbers":[1e-400,4.9e-324,1.7976931348623157e308]}"#,
            r#"{"numbers":[0.30000000000000004441,123456789012345678901234567890]}"#,
            r#"{"numbers":[9007199254740993,9007199254740992e22,9007199254740992e-22]}"#,
            r#"{"numbers":[1e22,1e23,1e-22,1e-23,0.000001,123.456e-5,18446744073709551616]}"#,
            r#"{"numbers":[1.50000000000000000000000,0e-999999999999,-0e+7]}"#,
        ] {
            assert!(by_scan(body).is_some(), "not scanned: {body}");
            assert_eq!(by_scan(body), by_serde(body), "{body}");
        }
    }

    #[test]
    fn everything_else_is_left_to_serde() {
        for body in [
            r#"{"numbers":[1,2],"extra":true}"#,
            r#"{"extra":1,"numbers":[1,2]}"#,
            r#"{"numbers":[1,2],"numbers":[3]}"#,
            r#"{"numbers":null}"#,
            r#"{"numbers":["1",2]}"#,
            r#"{"numbers":[1e400,1]}"#,
            r#"{"numbers":[-1e400,1]}"#,
            r#"{"numbers":[01,2]}"#,
            r#"{"numbers":[1.,2]}"#,
            r#"{"numbers":[.5,2]}"#,
            r#"{"numbers":[+1,2]}"#,
            r#"{"numbers":[1e,2]}"#,
            r#"{"numbers":[1,2,]}"#,
            r#"{"numbers":[,1]}"#,
            r#"{"numbers":[1 2]}"#,
            r#"{"numbers":[NaN,1]}"#,
            r#"{"numbers":[Infinity,1]}"#,
            r#"{"numbers":[inf,1]}"#,
            r#"{"numbers":[[1],2]}"#,
            r#"{"numbers":[1,2]"#,
            r#"{"numbers":[1,2]}}"#,
            r#"{"numbers":[1,2]} x"#,
            r#"{"number":[1,2]}"#,
            r#"{"numbers\u0020":[1,2]}"#,
            r#"{"numbersx":[1,2]}"#,
            "{\"numbers\":[1,\u{c}2]}",
            r#"[1,2]"#,
            "",
        ] {
            assert_eq!(by_scan(body), None, "scanned: {body}");
        }
    }

    #[test]
    fn random_bodies_read_the_same_either_way() {
        let mut rng = rand::rng();
        let pieces = [
            "0",
            "-0",
            "1",
            "-7",
            "10",
            "0.5",
            "-0.125",
            "1e3",
            "1E-3",
            "2.5e+10",
            "1e308",
            "1e309",
            "1e-330",
            "00",
            "1.",
            ".1",
            "-",
            "+1",
            "1e",
            "0x10",
            "1_0",
            " ",
            "\n",
            ",",
            "]",
            "[",
            "\"a\"",
            "null",
            "true",
            "9007199254740993",
            "0.1000000000000000055511151231257827",
        ];
        let mut scanned = 0;
        for _ in 0..20_000 {
            let mut body = String::from("{\"numbers\":[");
            let n = rng.random_range(0..12);
            for i in 0..n {
                if i > 0 && rng.random_range(0..8) != 0 {
                    body.push(',');
                }
                let kind = rng.random_range(0..4);
                if kind == 0 {
                    body.push_str(pieces[rng.random_range(0..pieces.len())]);
                } else if kind == 1 {
                    // Short decimals, the fast path's domain, with exponents on both sides.
                    let m: i64 = rng.random_range(-(1 << 54)..(1 << 54)) >> rng.random_range(0..54);
                    let e: i32 = rng.random_range(-30..30);
                    body.push_str(&format!("{m}e{e}"));
                } else {
                    let x = f64::from_bits(rng.random::<u64>());
                    body.push_str(&format!("{x:e}"));
                }
            }
            body.push_str("]}");
            if let Some(mine) = by_scan(&body) {
                scanned += 1;
                assert_eq!(Some(mine), by_serde(&body), "{body}");
            }
        }
        assert!(scanned > 2_000, "only {scanned} bodies were scanned");
    }

    /// The answer's text for `x` (what [`Numbers::echo`] stands in for).
    fn answer_text(x: f64) -> String {
        let mut text = Vec::new();
        crate::http::json_text::push_number(&mut text, x);
        crate::http::json_text::into_string(text)
    }

    #[test]
    fn an_echoed_array_is_exactly_what_the_answer_writes() {
        // Plain tokens of every shape near the rule's edges: signs, leading and trailing
        // zeros, 1 to 18 digits on either side, tiny and huge magnitudes.
        let mut rng = rand::rng();
        let digits = |rng: &mut rand::rngs::ThreadRng, n: usize| -> String {
            (0..n)
                .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
                .collect()
        };
        let (mut echoed, mut not_echoed) = (0, 0);
        for _ in 0..200_000 {
            let sign = if rng.random_bool(0.3) { "-" } else { "" };
            let int = match rng.random_range(0..3) {
                0 => "0".to_owned(),
                _ => {
                    let n = rng.random_range(0..18);
                    format!("{}{}", rng.random_range(1..10), digits(&mut rng, n))
                }
            };
            let frac = match rng.random_range(0..3) {
                0 => String::new(),
                _ => {
                    let zeros = "0".repeat(rng.random_range(0..8));
                    let n = rng.random_range(1..12);
                    format!(".{zeros}{}", digits(&mut rng, n))
                }
            };
            let token = format!("{sign}{int}{frac}");
            let body = format!(r#"{{"numbers":[{token},{token}]}}"#);
            let numbers = scan(body.as_bytes()).expect("a plain number is scanned");
            let expected = answer_text(numbers.values[0]);
            match numbers.echo {
                Some(text) => {
                    echoed += 1;
                    assert_eq!(text, format!("{expected},{expected}").as_bytes(), "{token}");
                }
                None => not_echoed += 1,
            }
            // The rule is conservative, but not so much that usual numbers miss it.
            if expected == token && token.len() <= 10 && !token.contains(".0000") {
                assert!(numbers.echo.is_some(), "{token} was not echoed");
            }
        }
        assert!(
            echoed > 50_000 && not_echoed > 50_000,
            "{echoed} / {not_echoed}"
        );
        // Never echoed: exponents, whitespace, `-0`, trailing zeros, anything serde reads.
        for body in [
            r#"{"numbers":[1e2,3]}"#,
            r#"{"numbers":[1, 2]}"#,
            r#"{"numbers":[ 1,2]}"#,
            r#"{"numbers":[1,2 ]}"#,
            r#"{"numbers":[-0,2]}"#,
            r#"{"numbers":[1.50,2]}"#,
            r#"{"numbers":[1.0,2]}"#,
            r#"{"numbers":[0.000001,2]}"#,
            r#"{"numbers":[1234567890123456,2]}"#,
            r#"{"numbers":[]}"#,
        ] {
            let numbers = scan(body.as_bytes()).expect("scanned");
            assert_eq!(numbers.echo, None, "{body}");
        }
        let numbers = parse(br#"{"numbers":[1,2],"x":1}"#).expect("read by serde");
        assert_eq!((numbers.values, numbers.echo), (vec![1.0, 2.0], None));
        let numbers = parse(br#"{"numbers":[1.5,-2,0.00001,123456789012345]}"#).expect("read");
        assert_eq!(numbers.echo, Some(&b"1.5,-2,0.00001,123456789012345"[..]));
    }

    #[test]
    fn nearly_valid_bodies_are_never_read_differently() {
        // Valid bodies with a few bytes inserted, removed or replaced: where a hand-written
        // reader goes wrong. Whatever the scanner accepts, serde_json must read the same.
        let mut rng = rand::rng();
        let alphabet = b"0123456789.eE+- \t\n,[]{}\":numbersx\\";
        let seeds = [
            r#"{"numbers":[1.5,2.25,-3e2,0,0.001]}"#,
            r#" { "numbers" : [ 10 , 20 ] } "#,
            r#"{"numbers":[9007199254740993e-3,1E+22,-0.0]}"#,
        ];
        let (mut scanned, mut runs) = (0, 0);
        for _ in 0..30_000 {
            let mut body = seeds[rng.random_range(0..seeds.len())].as_bytes().to_vec();
            for _ in 0..rng.random_range(1..=3) {
                let at = rng.random_range(0..=body.len());
                let byte = alphabet[rng.random_range(0..alphabet.len())];
                match rng.random_range(0..3) {
                    0 => body.insert(at, byte),
                    1 if at < body.len() => {
                        body.remove(at);
                    }
                    _ if at < body.len() => body[at] = byte,
                    _ => body.push(byte),
                }
            }
            let Ok(text) = std::str::from_utf8(&body) else {
                continue;
            };
            runs += 1;
            if let Some(mine) = by_scan(text) {
                scanned += 1;
                assert_eq!(Some(mine), by_serde(text), "{text}");
            }
            // And the public reader never panics, whatever it is given.
            let _ = parse(&body);
        }
        assert!(
            runs > 25_000 && scanned > 1_000,
            "{runs} bodies, {scanned} scanned"
        );
    }
}
