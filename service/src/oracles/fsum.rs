//! The reference the exact sum is checked against: Python's `math.fsum` ported, an
//! independent algorithm (Shewchuk's partials) that rounds the same exact sum correctly.

use crate::sum::{MAX_NUMBERS, exact_sum};

/// Python's `math.fsum` (Shewchuk's partials with the half-even correction), ported as
/// written in CPython; `None` on intermediate overflow (where CPython raises).
pub fn fsum(numbers: &[f64]) -> Option<f64> {
    let mut partials: Vec<f64> = Vec::new();
    for &x0 in numbers {
        let mut x = x0;
        let mut i = 0;
        for j in 0..partials.len() {
            let mut y = partials[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            let lo = y - (hi - x);
            if lo != 0.0 {
                partials[i] = lo;
                i += 1;
            }
            x = hi;
        }
        if !x.is_finite() {
            return None;
        }
        partials.truncate(i);
        // CPython keeps no zero partial: `fsum([-0.0])` is 0.0 (a zero pushed here made the
        // port answer -0.0; found by the fuzz target).
        if x != 0.0 {
            partials.push(x);
        }
    }
    let mut n = partials.len();
    let mut hi = 0.0;
    if n > 0 {
        n -= 1;
        hi = partials[n];
        let mut lo = 0.0;
        while n > 0 {
            let x = hi;
            n -= 1;
            let y = partials[n];
            hi = x + y;
            let yr = hi - x;
            lo = y - yr;
            if lo != 0.0 {
                break;
            }
        }
        if n > 0 && ((lo < 0.0 && partials[n - 1] < 0.0) || (lo > 0.0 && partials[n - 1] > 0.0)) {
            let y = lo * 2.0;
            let x = hi + y;
            let yr = x - hi;
            if y == yr {
                hi = x;
            }
        }
    }
    Some(hi)
}

/// The fuzz target's property over raw bytes, read as up to [`MAX_NUMBERS`] little-endian
/// `f64`s (non-finite ones left out): [`exact_sum`] gives [`fsum`]'s result bit for bit
/// wherever `fsum` has one, and the same sum whatever the order of the inputs (also where
/// `fsum` overflows midway). `Err` describes the first disagreement.
pub fn agrees_with_fsum(data: &[u8]) -> Result<(), String> {
    let numbers: Vec<f64> = data
        .chunks_exact(8)
        .filter_map(|b| b.try_into().ok().map(f64::from_le_bytes))
        .filter(|x| x.is_finite())
        .take(MAX_NUMBERS)
        .collect();
    let sum = exact_sum(&numbers);
    if let Some(expected) = fsum(&numbers).filter(|x| x.is_finite())
        && sum.map(f64::to_bits) != Some(expected.to_bits())
    {
        return Err(format!(
            "{sum:?}, fsum gives {expected:?}, inputs {numbers:?}"
        ));
    }
    let reversed: Vec<f64> = numbers.iter().rev().copied().collect();
    let backwards = exact_sum(&reversed);
    if backwards.map(f64::to_bits) != sum.map(f64::to_bits) {
        return Err(format!(
            "{sum:?} forwards, {backwards:?} backwards, inputs {numbers:?}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_property_holds_on_known_sums() {
        let bytes = |xs: &[f64]| xs.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        assert_eq!(
            agrees_with_fsum(&bytes(&[1e16, 1.0, -1e16, 0.1, 0.2])),
            Ok(())
        );
        assert_eq!(
            agrees_with_fsum(&bytes(&[1.7e308, 1.7e308, -1.7e308])),
            Ok(())
        );
        assert_eq!(
            agrees_with_fsum(b"\x01\x02"),
            Ok(()),
            "fewer than 8 bytes: no numbers"
        );
        assert_eq!(fsum(&[0.1; 10]), Some(1.0));
        // As CPython 3.11-3.13 answer.
        assert_eq!(fsum(&[-0.0]).map(f64::to_bits), Some(0.0f64.to_bits()));
        assert_eq!(
            fsum(&[-0.0, -0.0]).map(f64::to_bits),
            Some(0.0f64.to_bits())
        );
        assert_eq!(agrees_with_fsum(&bytes(&[-0.0])), Ok(()));
        assert_eq!(
            fsum(&[1.7e308, 1.7e308, -1.7e308]),
            None,
            "CPython raises here"
        );
    }
}
