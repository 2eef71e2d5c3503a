//! `exp`, the logistic sigmoid and `tanh` in plain `f32` arithmetic that the compiler
//! vectorises, for the kernels' elementwise loops: the C library's `expf` and `tanhf` are
//! calls, one value at a time, and took a fifth of the LSTM's step (`perf`, 2026-12-06).
//!
//! Cephes' single-precision algorithms (Moshier): `exp` by Cody-Waite range reduction and a
//! degree-5 polynomial, within 1 ulp of the true value on the range used; `tanh` by an odd
//! polynomial below 0.625 and `1 - 2 / (exp(2|x|) + 1)` above. Only additions,
//! multiplications, divisions and bit operations, never a fused multiply-add (Rust does not
//! contract), so every CPU and every kernel path computes the same bits.

/// `e^x`; inputs below -87.3 give about 1.2e-38 (the smallest normal), above 88.3 about
/// 2.1e38, instead of 0 and infinity, which callers' `1 / (1 + e^x)` does not tell apart.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 in two parts: `n * LN2_HI` is exact for the n that occur.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding and subtracting 1.5 * 2^23 rounds to the nearest integer (ties to even).
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.3, 88.3);
    let t = x * LOG2E + ROUND;
    let n = t - ROUND;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let mut p = 1.987_569_2e-4;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 0.166_666_65;
    p = p * r + 0.5;
    let e = p * (r * r) + r + 1.0;
    // `t` lies in [2^23, 2^24), where its bits count in ones: they are those of ROUND plus n.
    // So 2^n is built from the bits, n in -126..=127 a normal exponent, with no conversion to
    // an integer (Rust's saturating `as i32` kept the loop from vectorising).
    let biased = t.to_bits().wrapping_sub(ROUND.to_bits()).wrapping_add(127);
    let scale = f32::from_bits(biased << 23);
    e * scale
}

/// `1 / (1 + e^-x)`.
#[inline(always)]
pub(crate) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// The hyperbolic tangent.
#[inline(always)]
pub(crate) fn tanh(x: f32) -> f32 {
    let a = x.abs();
    let z = x * x;
    let mut p = -5.704_988_7e-3;
    p = p * z + 2.063_909e-2;
    p = p * z - 5.373_971_6e-2;
    p = p * z + 0.133_314_42;
    p = p * z - 0.333_332_8;
    let small = p * z * x + x;
    let large = (1.0 - 2.0 / (exp(2.0 * a) + 1.0)).copysign(x);
    if a < 0.625 {
        small
    } else {
        large
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The distance in units in the last place between `got` and the correctly rounded
    /// float64 value.
    fn ulps(got: f32, want: f64) -> f64 {
        #[allow(clippy::cast_possible_truncation)]
        let rounded = want as f32;
        let ulp = f64::from(f32::from_bits(rounded.abs().to_bits() + 1) - rounded.abs());
        (f64::from(got) - want).abs() / ulp
    }

    fn grid() -> impl Iterator<Item = f32> {
        (-200_000..=200_000).map(|i| i as f32 * 4.4e-4)
    }

    #[test]
    fn exp_is_within_two_ulps_of_float64() {
        let worst = grid()
            .filter(|x| x.abs() < 87.0)
            .map(|x| ulps(exp(x), f64::from(x).exp()))
            .fold(0.0, f64::max);
        assert!(worst <= 2.0, "{worst} ulps");
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(-1000.0) > 0.0 && exp(-1000.0) < 1.3e-38);
        assert!(exp(1000.0).is_finite());
    }

    #[test]
    fn sigmoid_and_tanh_are_within_a_few_ulps_of_float64() {
        let (mut s_worst, mut t_worst) = (0.0f64, 0.0f64);
        for x in grid().filter(|x| x.abs() < 80.0) {
            let xd = f64::from(x);
            s_worst = s_worst.max(ulps(sigmoid(x), 1.0 / (1.0 + (-xd).exp())));
            t_worst = t_worst.max(ulps(tanh(x), xd.tanh()));
        }
        assert!(s_worst <= 4.0, "sigmoid: {s_worst} ulps");
        assert!(t_worst <= 4.0, "tanh: {t_worst} ulps");
        assert_eq!(tanh(0.0), 0.0);
        assert_eq!(tanh(-100.0), -1.0);
        assert_eq!(sigmoid(100.0), 1.0);
        assert!(tanh(-1e-30) < 0.0);
    }
}
