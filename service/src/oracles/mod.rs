//! Test oracles: the independent references that the hand-written parts are checked against
//! by the unit tests and by the fuzz targets (`fuzz/`, which build the service with its
//! `fuzzing` feature). Compiled only for those: not part of the service's API.
//!
//! - [`agrees_with_serde`]: the number reader ([`crate::numbers::parse`]) against serde_json.
//! - [`fsum`] and [`agrees_with_fsum`]: the exact sum against Python's `math.fsum`, ported.

mod corpus;
mod fsum;

pub use fsum::{agrees_with_fsum, fsum};

use crate::error::ApiError;
use crate::http::json_text;
use crate::numbers::{Numbers, parse, parse_with_serde};

/// Whether [`parse`] reads `body` exactly as serde_json alone does: the same numbers bit for
/// bit (or both refuse it), and an echoed array text ([`Numbers::echo`]) that is exactly what
/// the answer would write for those numbers. `Err` describes the first disagreement. The
/// differential check of the fuzz target (`fuzz/`) and of its corpus replayed by the tests.
pub fn agrees_with_serde(body: &[u8]) -> Result<(), String> {
    compare(&parse(body), &parse_with_serde(body))
}

/// [`agrees_with_serde`]'s verdict on one reading and its reference.
fn compare(
    parsed: &Result<Numbers<'_>, ApiError>,
    reference: &Result<Vec<f64>, ApiError>,
) -> Result<(), String> {
    let bits = |values: &[f64]| values.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    match (parsed, reference) {
        (Ok(numbers), Ok(expected)) if bits(&numbers.values) != bits(expected) => {
            return Err(format!(
                "read {:?}, serde reads {expected:?}",
                numbers.values
            ));
        }
        (Ok(numbers), Err(e)) => {
            return Err(format!(
                "read {:?}, serde refuses it: {e:?}",
                numbers.values
            ));
        }
        (Err(e), Ok(expected)) => return Err(format!("refused ({e:?}), serde reads {expected:?}")),
        _ => {}
    }
    if let Ok(Numbers {
        values,
        echo: Some(text),
    }) = parsed
    {
        let mut written = Vec::new();
        json_text::push_numbers(&mut written, values);
        if written != *text {
            return Err(format!(
                "echoes {:?}, the answer would write {:?}",
                String::from_utf8_lossy(text),
                String::from_utf8_lossy(&written)
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_differential_check_reports_every_kind_of_disagreement() {
        let numbers = |values: Vec<f64>, echo: Option<&'static [u8]>| Ok(Numbers { values, echo });
        fn refused<T>() -> Result<T, ApiError> {
            Err(ApiError::InvalidBody {
                details: "no".into(),
            })
        }
        assert_eq!(
            compare(
                &numbers(vec![1.5, 2.0], Some(b"1.5,2")),
                &Ok(vec![1.5, 2.0])
            ),
            Ok(())
        );
        assert_eq!(compare(&refused(), &refused()), Ok(()));
        let cases = [
            (
                numbers(vec![1.5, 3.0], None),
                Ok(vec![1.5, 2.0]),
                "serde reads",
            ),
            // -0 and 0 are equal as floats, not as readings.
            (numbers(vec![-0.0], None), Ok(vec![0.0]), "serde reads"),
            (numbers(vec![1.0], None), refused(), "serde refuses"),
            (refused(), Ok(vec![1.0]), "refused"),
            (
                numbers(vec![1.5, 2.0], Some(b"1.50,2")),
                Ok(vec![1.5, 2.0]),
                "would write",
            ),
        ];
        for (parsed, reference, why) in cases {
            let verdict = compare(&parsed, &reference);
            assert!(
                verdict.as_ref().is_err_and(|e| e.contains(why)),
                "{verdict:?}"
            );
        }
    }
}
