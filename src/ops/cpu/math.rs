//! `exp`, the logistic sigmoid, `tanh` and `erf` in plain `f32` arithmetic that the compiler
//! vectorises, for the kernels' elementwise loops: the C library's `expf` and `tanhf` are
//! calls, one value at a time, and took a fifth of the LSTM's step (`perf`, 2026-12-06);
//! `libm`'s `erff`, one value at a time with branches, made GELU's forward pass cost more
//! than the two dense layers around it.
//!
//! Cephes' single-precision algorithms (Moshier): `exp` by Cody-Waite range reduction and a
//! degree-5 polynomial, within 1 ulp of the true value on the range used; `tanh` by an odd
//! polynomial below 0.625 and `1 - 2 / (exp(2|x|) + 1)` above. `erf` is Sun's (FreeBSD's
//! `s_erff.c`, which `libm` ports): every range's rational function computed and the right
//! one chosen, so that there is no branch per value. Only additions,
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

/// Sun's `erff` coefficients (FreeBSD `s_erff.c`, as `libm` 0.2 has them): `erf` on
/// `[0, 0.84375)` is `x + x * P(x²) / Q(x²)`.
mod erf_coefficients {
    pub(super) const ERX: f32 = f32::from_bits(0x3f58_560b);
    pub(super) const PP: [f32; 5] = [
        f32::from_bits(0x3e03_75d4),
        f32::from_bits(0xbea6_6beb),
        f32::from_bits(0xbce9_528f),
        f32::from_bits(0xbbbd_1489),
        f32::from_bits(0xb7c7_56b1),
    ];
    pub(super) const QQ: [f32; 5] = [
        f32::from_bits(0x3ecb_bbce),
        f32::from_bits(0x3d85_2a63),
        f32::from_bits(0x3ba6_8116),
        f32::from_bits(0x390a_ee49),
        f32::from_bits(0xb684_e21a),
    ];
    /// `erf` on `[0.84375, 1.25)`: `ERX + P(s) / Q(s)`, `s = |x| - 1`.
    pub(super) const PA: [f32; 7] = [
        f32::from_bits(0xbb1a_cdc6),
        f32::from_bits(0x3ed4_6805),
        f32::from_bits(0xbebe_9208),
        f32::from_bits(0x3ea2_fe54),
        f32::from_bits(0xbde3_1cc2),
        f32::from_bits(0x3d11_51b3),
        f32::from_bits(0xbb0d_f9c0),
    ];
    pub(super) const QA: [f32; 6] = [
        f32::from_bits(0x3dd9_f331),
        f32::from_bits(0x3f0a_5785),
        f32::from_bits(0x3d93_1ae7),
        f32::from_bits(0x3e01_3307),
        f32::from_bits(0x3c5f_6e13),
        f32::from_bits(0x3c44_5aa3),
    ];
    /// `erfc` on `[1.25, 1 / 0.35)`: `exp(-x² - 0.5625 + R(s) / S(s)) / x`, `s = 1 / x²`.
    pub(super) const RA: [f32; 8] = [
        f32::from_bits(0xbc21_a093),
        f32::from_bits(0xbf31_a0b7),
        f32::from_bits(0xc128_f022),
        f32::from_bits(0xc279_8057),
        f32::from_bits(0xc322_658c),
        f32::from_bits(0xc338_9ae7),
        f32::from_bits(0xc2a2_932b),
        f32::from_bits(0xc11d_077e),
    ];
    pub(super) const SA: [f32; 8] = [
        f32::from_bits(0x419d_35ce),
        f32::from_bits(0x4309_a863),
        f32::from_bits(0x43d9_486f),
        f32::from_bits(0x4421_58c9),
        f32::from_bits(0x43d6_810b),
        f32::from_bits(0x42d9_451f),
        f32::from_bits(0x40d2_3f7c),
        f32::from_bits(0xbd77_7f97),
    ];
    /// `erfc` on `[1 / 0.35, 6)`, the same form.
    pub(super) const RB: [f32; 7] = [
        f32::from_bits(0xbc21_a092),
        f32::from_bits(0xbf4c_9dd4),
        f32::from_bits(0xc18e_104b),
        f32::from_bits(0xc320_a2ea),
        f32::from_bits(0xc41f_6441),
        f32::from_bits(0xc480_230b),
        f32::from_bits(0xc3f1_c275),
    ];
    pub(super) const SB: [f32; 7] = [
        f32::from_bits(0x41f2_b459),
        f32::from_bits(0x43a2_e571),
        f32::from_bits(0x44c0_1759),
        f32::from_bits(0x4547_fdbb),
        f32::from_bits(0x451f_90ce),
        f32::from_bits(0x43ed_43a7),
        f32::from_bits(0xc1b3_8712),
    ];
}

/// `c[0] + s * (c[1] + s * (...))`, Horner's scheme as `s_erff.c` writes it.
#[inline(always)]
fn horner(c: &[f32], s: f32) -> f32 {
    c.iter().rev().fold(0.0, |acc, &c| acc * s + c)
}

/// `1 + s * (c[0] + s * (c[1] + ...))`, the denominators' form.
#[inline(always)]
fn horner1(c: &[f32], s: f32) -> f32 {
    1.0 + s * horner(c, s)
}

/// Below this magnitude [`erf`] is [`erf_near_zero`].
pub(crate) const ERF_NEAR_ZERO: f32 = 0.84375;

/// [`erf`] for `|x| <` [`ERF_NEAR_ZERO`] (its first range, odd in `x`), cheaper than
/// computing every range: callers whose values all lie there (most of a GELU's inputs)
/// take it alone.
#[inline(always)]
pub(crate) fn erf_near_zero(x: f32) -> f32 {
    use erf_coefficients::{PP, QQ};
    let z = x * x;
    x + x * (horner(&PP, z) / horner1(&QQ, z))
}

/// The error function, `libm::erff`'s algorithm with [`exp`] for its `expf`: the same bits
/// below `|x| = 1.25`, within 2 ulps above (tested on a grid against float64). NaN gives
/// NaN, ±infinity ±1.
#[inline(always)]
pub(crate) fn erf(x: f32) -> f32 {
    use erf_coefficients::{ERX, PA, QA, RA, RB, SA, SB};
    let a = x.abs();
    let small = erf_near_zero(x);
    // [0.84375, 1.25), written as `libm` does: 1 - erfc.
    let s = a - 1.0;
    let near_one = 1.0 - (1.0 - ERX - horner(&PA, s) / horner1(&QA, s));
    // [1.25, 6): 1 - erfc, erfc from exp(-x² - 0.5625 + R/S) / x with x² split exactly: `hi`
    // keeps x's top 11 significand bits, so `hi * hi` is exact.
    let s = 1.0 / (a * a);
    let (r, big_s) = if a < f32::from_bits(0x4036_db6d) {
        (horner(&RA, s), horner1(&SA, s))
    } else {
        (horner(&RB, s), horner1(&SB, s))
    };
    let hi = f32::from_bits(a.to_bits() & 0xffff_e000);
    let erfc = exp(-hi * hi - 0.5625) * exp((hi - a) * (hi + a) + r / big_s) / a;
    let tail = 1.0 - erfc;
    let magnitude = if a < 1.25 {
        near_one
    } else if a < 6.0 {
        tail
    } else {
        1.0
    };
    if a < ERF_NEAR_ZERO || a.is_nan() {
        small
    } else {
        magnitude.copysign(x)
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

    #[test]
    fn erf_is_libms_below_one_and_a_quarter_and_within_two_ulps_of_float64() {
        let (mut worst, mut worst_at) = (0.0f64, 0.0f32);
        for x in grid().chain((-2000..=2000).map(|i| i as f32 * 1e-3)) {
            let got = erf(x);
            if x.abs() < 1.25 {
                assert_eq!(got.to_bits(), libm::erff(x).to_bits(), "erf({x})");
            }
            let want = libm::erf(f64::from(x));
            let u = ulps(got, want);
            if u > worst {
                (worst, worst_at) = (u, x);
            }
        }
        assert!(worst <= 2.0, "erf: {worst} ulps at {worst_at}");
        assert_eq!(erf(0.0), 0.0);
        assert_eq!(erf(-7.0), -1.0);
        assert_eq!(erf(f32::INFINITY), 1.0);
        assert_eq!(erf(f32::NEG_INFINITY), -1.0);
        assert!(erf(f32::NAN).is_nan());
    }
}
