//! The sum itself: request validation and the correctly rounded exact summation.
//!
//! Knows nothing of HTTP. [`exact_sum`] adds every input exactly in a fixed-point
//! accumulator wide enough for any finite `f64` (a "superaccumulator") and rounds once, to
//! nearest with ties to even. The result is the one Python's `math.fsum` (Shewchuk's partials)
//! gives, with one improvement: an intermediate overflow such as `[1.7e308, 1.7e308, -1.7e308]`
//! still yields the finite true sum, where `fsum` raises.

use thiserror::Error;

/// Fewest numbers a sum request may carry (the old service's rule).
pub const MIN_NUMBERS: usize = 2;
/// Most numbers a sum request may carry (the old service's rule).
pub const MAX_NUMBERS: usize = 100;

/// Why a list of numbers cannot be summed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SumError {
    /// Too few numbers; the message is the old service's, word for word.
    #[error("at least {MIN_NUMBERS} numbers are required, got {0}")]
    TooFew(usize),
    /// Too many numbers; the message is the old service's, word for word.
    #[error("maximum {MAX_NUMBERS} numbers allowed, got {0}")]
    TooMany(usize),
    /// An input is NaN or infinite (JSON cannot carry these; kept for direct library callers).
    #[error("number at index {0} is not finite")]
    NotFinite(usize),
    /// The exact sum rounds to a value beyond the largest finite `f64`.
    #[error("the sum is outside the range of a 64-bit float (about ±1.8e308)")]
    OutOfRange,
}

/// Checks the count rule and returns the correctly rounded sum of `numbers`.
pub fn checked_sum(numbers: &[f64]) -> Result<f64, SumError> {
    if numbers.len() < MIN_NUMBERS {
        return Err(SumError::TooFew(numbers.len()));
    }
    if numbers.len() > MAX_NUMBERS {
        return Err(SumError::TooMany(numbers.len()));
    }
    if let Some(index) = numbers.iter().position(|x| !x.is_finite()) {
        return Err(SumError::NotFinite(index));
    }
    exact_sum(numbers).ok_or(SumError::OutOfRange)
}

/// Bits per limb of the accumulator. 32-bit digits held in `i64` leave 31 bits of headroom, so
/// about two billion additions can be made before the carries must be propagated.
const LIMB_BITS: u32 = 32;
/// Limbs enough for 2^-1074 .. 2^1024 (2098 bits), carries, and a sign limb.
const LIMBS: usize = 68;
/// Additions after which carries are propagated to keep every limb far from `i64` overflow.
const NORMALIZE_EVERY: usize = 1 << 30;

/// The correctly rounded sum of finite `numbers` (round to nearest, ties to even), or `None`
/// when that sum is not a finite `f64`. Non-finite inputs also give `None`.
pub fn exact_sum(numbers: &[f64]) -> Option<f64> {
    if let Some(sum) = sum_without_rounding(numbers) {
        return Some(sum);
    }
    // The accumulator holds the sum as an integer count of 2^-1074 (the smallest subnormal),
    // in base-2^32 digits that may temporarily be negative or exceed 32 bits.
    let mut limbs = [0i64; LIMBS];
    for (i, &x) in numbers.iter().enumerate() {
        if !x.is_finite() {
            return None;
        }
        add(&mut limbs, x);
        if (i + 1) % NORMALIZE_EVERY == 0 {
            normalize(&mut limbs);
        }
    }
    normalize(&mut limbs);
    round_to_f64(&mut limbs)
}

/// The sum by plain left-to-right addition when not one of the additions rounded (integers,
/// short binary fractions: most real inputs); `None` otherwise. Each addition's rounding error
/// is found exactly by Knuth's TwoSum; when every error is zero, every partial sum is exact, so
/// the result is the exact sum itself and needs no rounding. Anything else (a rounded step, an
/// overflow, a non-finite input, which make the error non-zero or NaN) is left to the
/// accumulator. A zero sum comes out as `+0.0`, as from the accumulator.
fn sum_without_rounding(numbers: &[f64]) -> Option<f64> {
    let mut sum = 0.0f64;
    for &x in numbers {
        let next = sum + x;
        let x_part = next - sum;
        let error = (sum - (next - x_part)) + (x - x_part);
        // `!=` is also true for NaN (from an infinite or NaN step).
        if error != 0.0 || !next.is_finite() {
            return None;
        }
        sum = next;
    }
    Some(sum)
}

/// Adds the finite `x` exactly.
fn add(limbs: &mut [i64; LIMBS], x: f64) {
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as u32;
    let fraction = bits & ((1u64 << 52) - 1);
    // x = mantissa * 2^(shift - 1074)
    let (mantissa, shift) = if biased == 0 {
        (fraction, 0)
    } else {
        (fraction | (1u64 << 52), biased - 1)
    };
    if mantissa == 0 {
        return;
    }
    let sign: i64 = if bits >> 63 == 1 { -1 } else { 1 };
    let index = (shift / LIMB_BITS) as usize;
    let wide = u128::from(mantissa) << (shift % LIMB_BITS);
    for k in 0..3 {
        let digit = ((wide >> (k * LIMB_BITS)) & 0xffff_ffff) as i64;
        limbs[index + k as usize] += sign * digit;
    }
}

/// Propagates carries so that every limb but the last is in `0..2^32`; the last holds the sign.
fn normalize(limbs: &mut [i64; LIMBS]) {
    let mut carry = 0i64;
    for limb in limbs.iter_mut() {
        let v = *limb + carry;
        carry = v >> LIMB_BITS;
        *limb = v & 0xffff_ffff;
    }
    // The last limb is far above any reachable magnitude, so the final carry is the sign.
    limbs[LIMBS - 1] += carry << LIMB_BITS;
}

/// Rounds the normalized accumulator to the nearest `f64`, ties to even.
fn round_to_f64(limbs: &mut [i64; LIMBS]) -> Option<f64> {
    let negative = limbs[LIMBS - 1] < 0;
    if negative {
        // Two's complement negation across the digits gives the magnitude.
        let mut carry = 1i64;
        for limb in limbs.iter_mut() {
            let v = (!*limb & 0xffff_ffff) + carry;
            carry = v >> LIMB_BITS;
            *limb = v & 0xffff_ffff;
        }
    }
    let Some(top) = limbs.iter().rposition(|&l| l != 0) else {
        return Some(0.0);
    };
    // Position of the highest set bit, counted from 2^-1074.
    let high = top as u32 * LIMB_BITS + (63 - (limbs[top] as u64).leading_zeros());
    let magnitude = if high < 53 {
        // Below 2^53 units of 2^-1074 the value is subnormal or in the lowest binade: exact.
        bits_at(limbs, 0, high + 1) as f64 * f64::from_bits(1)
    } else {
        let low = high - 52;
        let mut mantissa = bits_at(limbs, low, 53);
        let round = bits_at(limbs, low - 1, 1) == 1;
        let sticky = any_below(limbs, low - 1);
        let mut high = high;
        if round && (sticky || mantissa & 1 == 1) {
            mantissa += 1;
            if mantissa == 1 << 53 {
                mantissa >>= 1;
                high += 1;
            }
        }
        // value = mantissa * 2^(high - 52 - 1074); its biased exponent is high - 51.
        let biased = u64::from(high) - 51;
        if biased >= 0x7ff {
            return None;
        }
        f64::from_bits((biased << 52) | (mantissa & ((1u64 << 52) - 1)))
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// `count` (at most 64) bits of the normalized magnitude starting at bit `low`.
fn bits_at(limbs: &[i64; LIMBS], low: u32, count: u32) -> u64 {
    let index = (low / LIMB_BITS) as usize;
    let mut window = 0u128;
    for k in 0..3 {
        if let Some(&limb) = limbs.get(index + k) {
            window |= (limb as u128) << (k as u32 * LIMB_BITS);
        }
    }
    ((window >> (low % LIMB_BITS)) & ((1u128 << count) - 1)) as u64
}

/// Whether any bit below bit `end` of the normalized magnitude is set.
fn any_below(limbs: &[i64; LIMBS], end: u32) -> bool {
    let index = (end / LIMB_BITS) as usize;
    let partial = limbs[index] & ((1i64 << (end % LIMB_BITS)) - 1);
    partial != 0 || limbs[..index].iter().any(|&l| l != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issue_examples() {
        assert_eq!(exact_sum(&[1e16, 1.0, -1e16]), Some(1.0));
        assert_eq!(exact_sum(&[0.1; 10]), Some(1.0));
        assert_eq!(exact_sum(&[1.7e308, 1.7e308]), None);
        assert_eq!(exact_sum(&[-1.7e308, -1.7e308]), None);
        assert_eq!(checked_sum(&[1.7e308, 1.7e308]), Err(SumError::OutOfRange));
        assert_eq!(exact_sum(&[3.0, 4.0]), Some(7.0));
    }

    #[test]
    fn intermediate_overflow_still_gives_the_finite_sum() {
        assert_eq!(exact_sum(&[1.7e308, 1.7e308, -1.7e308]), Some(1.7e308));
        assert_eq!(exact_sum(&[f64::MAX, f64::MAX, -f64::MAX]), Some(f64::MAX));
    }

    #[test]
    fn edges_of_the_range() {
        let tiny = f64::from_bits(1);
        assert_eq!(exact_sum(&[tiny, tiny]), Some(2.0 * tiny));
        assert_eq!(exact_sum(&[tiny, -tiny]), Some(0.0));
        assert_eq!(exact_sum(&[f64::MAX, 0.0]), Some(f64::MAX));
        assert_eq!(exact_sum(&[-f64::MAX, -0.0]), Some(-f64::MAX));
        // MAX + half an ulp of MAX is a tie that rounds to even, i.e. to 2^1024: overflow.
        let half_ulp = 2f64.powi(970);
        assert_eq!(exact_sum(&[f64::MAX, half_ulp]), None);
        assert_eq!(exact_sum(&[f64::MAX, half_ulp, -tiny]), Some(f64::MAX));
        assert_eq!(
            exact_sum(&[f64::MIN_POSITIVE, -tiny]),
            Some(f64::MIN_POSITIVE - tiny)
        );
    }

    #[test]
    fn ties_round_to_even() {
        // 2^53 + 1 is a tie between 2^53 and 2^53 + 2: even mantissa wins (2^53).
        assert_eq!(
            exact_sum(&[9007199254740992.0, 1.0]),
            Some(9007199254740992.0)
        );
        // 2^53 + 3 is a tie between 2^53 + 2 and 2^53 + 4: the even one is 2^53 + 4.
        assert_eq!(
            exact_sum(&[9007199254740994.0, 1.0]),
            Some(9007199254740996.0)
        );
        // A tiny term breaks the tie upward.
        assert_eq!(
            exact_sum(&[9007199254740992.0, 1.0, 1e-300]),
            Some(9007199254740994.0)
        );
        assert_eq!(
            exact_sum(&[-9007199254740992.0, -1.0, -1e-300]),
            Some(-9007199254740994.0)
        );
    }

    #[test]
    fn count_rules_use_the_old_messages() {
        assert_eq!(
            checked_sum(&[1.0]).map_err(|e| e.to_string()),
            Err("at least 2 numbers are required, got 1".to_string())
        );
        assert_eq!(
            checked_sum(&[1.0; 101]).map_err(|e| e.to_string()),
            Err("maximum 100 numbers allowed, got 101".to_string())
        );
        assert_eq!(checked_sum(&[1.0; 100]), Ok(100.0));
        assert_eq!(checked_sum(&[1.0, f64::NAN]), Err(SumError::NotFinite(1)));
    }

    /// Reference for the random cross-check: inputs on a grid of 2^-60 whose exact sum fits an
    /// `i128`; Rust's `i128 as f64` rounds to nearest, ties to even, so scaling afterwards
    /// (a power of two, no subnormals reached) gives the correctly rounded sum independently.
    fn reference(numbers: &[f64]) -> f64 {
        let scale = 2f64.powi(60);
        let total: i128 = numbers.iter().map(|&x| (x * scale) as i128).sum();
        total as f64 / scale
    }

    #[test]
    fn random_cross_check_against_an_integer_reference() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed_0002);
        for _ in 0..20_000 {
            let n = rng.random_range(2..=100);
            let numbers: Vec<f64> = (0..n)
                .map(|_| {
                    // Values on the 2^-60 grid with magnitudes from 2^-60 to 2^60, so their
                    // sum cancels and carries in every way while staying inside an i128.
                    let magnitude_bits: u32 = rng.random_range(1..=120);
                    let raw: u128 = rng.random::<u128>() >> (128 - magnitude_bits);
                    let drop = magnitude_bits.saturating_sub(53);
                    let v = (raw >> drop) << drop;
                    let x = v as f64 / 2f64.powi(60);
                    if rng.random() { -x } else { x }
                })
                .collect();
            assert_eq!(
                exact_sum(&numbers),
                Some(reference(&numbers)),
                "inputs: {numbers:?}"
            );
        }
    }

    #[test]
    fn random_full_range_cross_check_against_python_fsum() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(0xf5u64);
        let mut compared = 0;
        for _ in 0..20_000 {
            let n = rng.random_range(2..=100);
            // Exponents clustered around a random centre so that cancellation and ties happen,
            // across the whole range including subnormals.
            let centre: i64 = rng.random_range(0..2046);
            let numbers: Vec<f64> = (0..n)
                .map(|_| {
                    let e = (centre + rng.random_range(-60..=60)).clamp(0, 2045) as u64;
                    let bits = (u64::from(rng.random::<bool>()) << 63)
                        | (e << 52)
                        | (rng.random::<u64>() >> 12);
                    f64::from_bits(bits)
                })
                .collect();
            if let Some(expected) = crate::oracles::fsum(&numbers).filter(|x| x.is_finite()) {
                compared += 1;
                assert_eq!(
                    exact_sum(&numbers).map(f64::to_bits),
                    Some(expected.to_bits()),
                    "inputs: {numbers:?}"
                );
            }
        }
        assert!(compared > 15_000, "only {compared} cases were comparable");
    }

    /// The accumulator alone, without the fast path.
    fn accumulated(numbers: &[f64]) -> Option<f64> {
        let mut limbs = [0i64; LIMBS];
        for &x in numbers {
            add(&mut limbs, x);
        }
        normalize(&mut limbs);
        round_to_f64(&mut limbs)
    }

    #[test]
    fn the_fast_path_answers_only_when_no_addition_rounds_and_then_agrees() {
        use rand::{Rng, SeedableRng};
        // Rounding steps, overflow and non-finite inputs are left to the accumulator.
        for numbers in [
            vec![0.1; 10],
            vec![1e16, 1.0, -1e16],
            vec![0.1, 0.2],
            vec![1.7e308, 1.7e308, -1.7e308],
            vec![1.0, f64::NAN],
            vec![f64::INFINITY, 1.0],
            vec![f64::from_bits(1), 1.0],
        ] {
            assert_eq!(sum_without_rounding(&numbers), None, "{numbers:?}");
        }
        assert_eq!(sum_without_rounding(&[1.5, 2.25, -0.75]), Some(3.0));
        assert_eq!(
            sum_without_rounding(&[-0.0, -0.0]).map(f64::to_bits),
            accumulated(&[-0.0, -0.0]).map(f64::to_bits)
        );
        let mut rng = rand::rngs::StdRng::seed_from_u64(0xfa57);
        let mut answered = 0;
        for _ in 0..20_000 {
            let n = rng.random_range(2..=100);
            // Integers, short binary fractions and arbitrary values: the first two mostly take
            // the fast path, the last mostly do not.
            let kind = rng.random_range(0..3);
            let numbers: Vec<f64> = (0..n)
                .map(|_| match kind {
                    0 => f64::from(rng.random_range(-1_000_000..1_000_000)),
                    1 => f64::from(rng.random_range(-4096..4096)) / 64.0,
                    _ => f64::from_bits(rng.random::<u64>() & !(0x400u64 << 52)),
                })
                .collect();
            if let Some(fast) = sum_without_rounding(&numbers) {
                answered += 1;
                assert_eq!(
                    Some(fast.to_bits()),
                    accumulated(&numbers).map(f64::to_bits),
                    "inputs: {numbers:?}"
                );
            }
        }
        assert!(
            answered > 10_000,
            "the fast path answered only {answered} times"
        );
    }

    #[test]
    fn random_order_does_not_matter() {
        use rand::seq::SliceRandom;
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..2_000 {
            let n = rng.random_range(2..=100);
            let mut numbers: Vec<f64> = (0..n)
                .map(|_| {
                    f64::from_bits(
                        rng.random::<u64>() & !(0x7ffu64 << 52)
                            | (rng.random_range(0..2046u64) << 52),
                    )
                })
                .collect();
            let first = exact_sum(&numbers);
            numbers.shuffle(&mut rng);
            assert_eq!(
                exact_sum(&numbers).map(f64::to_bits),
                first.map(f64::to_bits)
            );
        }
    }
}
