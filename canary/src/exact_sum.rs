//! Exact summation of `f64`s, rounded once (the result `math.fsum` gives): the canary computes the
//! expected answer of the `sum` probe itself, so it needs no code from the service it checks.
//!
//! The partials method (Shewchuk, "Adaptive Precision Floating-Point Arithmetic") keeps a list of
//! non-overlapping partial sums whose exact total is the exact sum of the inputs; the final step
//! rounds that total once, with the half-way correction that makes the rounding correct.

use thiserror::Error;

/// Why no finite correctly rounded sum exists.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SumError {
    /// An input was NaN or infinite.
    #[error("input {index} is not a finite number")]
    NonFiniteInput {
        /// Position of the offending input.
        index: usize,
    },
    /// The sum (or an intermediate partial) exceeds the range of `f64`.
    #[error("the sum is outside the range of a 64-bit float")]
    Overflow,
}

/// The correctly rounded sum of `xs` (0.0 for an empty slice).
pub fn correctly_rounded_sum(xs: &[f64]) -> Result<f64, SumError> {
    let mut partials: Vec<f64> = Vec::new();
    for (index, &input) in xs.iter().enumerate() {
        if !input.is_finite() {
            return Err(SumError::NonFiniteInput { index });
        }
        let mut x = input;
        let mut kept = 0;
        for j in 0..partials.len() {
            let mut y = partials[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            if !hi.is_finite() {
                return Err(SumError::Overflow);
            }
            let lo = y - (hi - x);
            if lo != 0.0 {
                partials[kept] = lo;
                kept += 1;
            }
            x = hi;
        }
        partials.truncate(kept);
        // No zero partial, as in CPython: `fsum([-0.0])` is 0.0, not -0.0.
        if x != 0.0 {
            partials.push(x);
        }
    }
    Ok(round_partials(&partials))
}

/// Rounds the exact total of non-overlapping, increasing-magnitude partials once.
fn round_partials(partials: &[f64]) -> f64 {
    let Some((&top, rest)) = partials.split_last() else {
        return 0.0;
    };
    let mut hi = top;
    let mut lo = 0.0;
    let mut n = rest.len();
    while n > 0 {
        let x = hi;
        n -= 1;
        let y = rest[n];
        hi = x + y;
        let yr = hi - x;
        lo = y - yr;
        if lo != 0.0 {
            break;
        }
    }
    // Half-way case: the bits below `lo` push the exact value past the tie, so round away.
    if n > 0 && ((lo < 0.0 && rest[n - 1] < 0.0) || (lo > 0.0 && rest[n - 1] > 0.0)) {
        let y = lo * 2.0;
        let x = hi + y;
        let yr = x - hi;
        if y == yr {
            hi = x;
        }
    }
    hi
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancellation_and_decimal_fractions_are_exact() {
        assert_eq!(correctly_rounded_sum(&[1e16, 1.0, -1e16]), Ok(1.0));
        assert_eq!(correctly_rounded_sum(&[0.1; 10]), Ok(1.0));
        assert_eq!(
            correctly_rounded_sum(&[1e100, 1.0, -1e100, 1e-100]),
            Ok(1.0)
        );
        assert_eq!(correctly_rounded_sum(&[]), Ok(0.0));
        assert_eq!(correctly_rounded_sum(&[3.5, -1.25]), Ok(2.25));
    }

    #[test]
    fn zeros_sum_to_positive_zero_as_in_cpython() {
        // CPython 3.11-3.13: math.fsum([-0.0]) and math.fsum([-0.0, -0.0]) are 0.0.
        for xs in [&[-0.0][..], &[-0.0, -0.0], &[0.0, -0.0], &[1.0, -1.0]] {
            let sum = correctly_rounded_sum(xs).map(f64::to_bits);
            assert_eq!(sum, Ok(0.0f64.to_bits()), "{xs:?}");
        }
    }

    #[test]
    fn half_way_ties_round_correctly() {
        // 2^53 + 1 + 2^-50 is just above the tie between 2^53 and 2^53 + 2: the correct result is
        // 2^53 + 2, which naive left-to-right summation misses.
        let two53 = 9_007_199_254_740_992.0_f64;
        assert_eq!(
            correctly_rounded_sum(&[two53, 1.0, 2f64.powi(-50)]),
            Ok(two53 + 2.0)
        );
        assert_eq!(correctly_rounded_sum(&[two53, 1.0]), Ok(two53));
        assert_eq!(
            correctly_rounded_sum(&[1.0, 1e-16, 1e-16]),
            Ok(1.0000000000000002)
        );
    }

    #[test]
    fn non_finite_inputs_and_overflow_are_errors() {
        assert_eq!(
            correctly_rounded_sum(&[1.0, f64::NAN]),
            Err(SumError::NonFiniteInput { index: 1 })
        );
        assert_eq!(
            correctly_rounded_sum(&[f64::INFINITY]),
            Err(SumError::NonFiniteInput { index: 0 })
        );
        assert_eq!(
            correctly_rounded_sum(&[1.7e308, 1.7e308]),
            Err(SumError::Overflow)
        );
    }
}
