//! Test support: naive f64 references written straight from the definitions (independently of
//! `geometry`), random operands, and a finite-difference gradient check.

use dfdx::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{Padding, PoolKind, T4};

pub(crate) type Shape4 = (usize, usize, usize, usize);

/// The x86-64 builds of our products this CPU runs, whatever `EXPR_PORTABLE` says: the
/// AVX-512 one (`true`) where it has AVX-512F, the AVX2 one (`false`) where it has AVX2, both
/// with FMA. Tests of a kernel with both builds run each.
#[cfg(target_arch = "x86_64")]
pub(crate) fn builds() -> Vec<bool> {
    let fma = std::arch::is_x86_feature_detected!("fma");
    let avx512 = fma && std::arch::is_x86_feature_detected!("avx512f");
    let avx2 = fma && std::arch::is_x86_feature_detected!("avx2");
    [(avx512, true), (avx2, false)]
        .into_iter()
        .filter_map(|(has, wide)| has.then_some(wide))
        .collect()
}

/// Uniform values in [-1, 1) from a fixed seed.
pub(crate) fn random(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..len).map(|_| rng.gen_range(-1.0..1.0)).collect()
}

pub(crate) fn tensor4(dev: &Cpu, data: &[f32], shape: Shape4) -> T4<NoneTape> {
    dev.tensor_from_vec(data.to_vec(), shape)
}

/// `(output, pad_before)` along one axis, from the Keras definition.
fn axis(input: usize, k: usize, s: usize, padding: Padding) -> (usize, i64) {
    match padding {
        Padding::Valid => ((input - k) / s + 1, 0),
        Padding::Same => {
            let out = input.div_ceil(s);
            let total = ((out - 1) * s + k).saturating_sub(input);
            (out, (total / 2) as i64)
        }
    }
}

/// Reads `x[n][c][i][j]`, or `None` in the padding.
fn at(x: &[f64], s: Shape4, n: usize, c: usize, i: i64, j: i64) -> Option<f64> {
    let inside = (0..s.2 as i64).contains(&i) && (0..s.3 as i64).contains(&j);
    inside.then(|| x[((n * s.1 + c) * s.2 + i as usize) * s.3 + j as usize])
}

/// Direct convolution with bias: `(output, its shape)`.
pub(crate) fn conv(
    x: &[f64],
    xs: Shape4,
    w: &[f64],
    ws: Shape4,
    b: &[f64],
    stride: (usize, usize),
    padding: Padding,
) -> (Vec<f64>, Shape4) {
    let (oh, ph) = axis(xs.2, ws.2, stride.0, padding);
    let (ow, pw) = axis(xs.3, ws.3, stride.1, padding);
    let mut out = Vec::new();
    for n in 0..xs.0 {
        for o in 0..ws.0 {
            for i in 0..oh {
                for j in 0..ow {
                    let mut acc = b[o];
                    for c in 0..xs.1 {
                        for ki in 0..ws.2 {
                            for kj in 0..ws.3 {
                                let ii = (i * stride.0 + ki) as i64 - ph;
                                let jj = (j * stride.1 + kj) as i64 - pw;
                                let wv = w[((o * ws.1 + c) * ws.2 + ki) * ws.3 + kj];
                                acc += wv * at(x, xs, n, c, ii, jj).unwrap_or(0.0);
                            }
                        }
                    }
                    out.push(acc);
                }
            }
        }
    }
    (out, (xs.0, ws.0, oh, ow))
}

/// Direct pooling over in-bounds window elements: `(output, its shape)`.
pub(crate) fn pool(
    x: &[f64],
    xs: Shape4,
    kind: PoolKind,
    size: (usize, usize),
    stride: (usize, usize),
    padding: Padding,
) -> (Vec<f64>, Shape4) {
    let (oh, ph) = axis(xs.2, size.0, stride.0, padding);
    let (ow, pw) = axis(xs.3, size.1, stride.1, padding);
    let mut out = Vec::new();
    for n in 0..xs.0 {
        for c in 0..xs.1 {
            for i in 0..oh {
                for j in 0..ow {
                    let window: Vec<f64> = (0..size.0)
                        .flat_map(|ki| (0..size.1).map(move |kj| (ki, kj)))
                        .filter_map(|(ki, kj)| {
                            let ii = (i * stride.0 + ki) as i64 - ph;
                            let jj = (j * stride.1 + kj) as i64 - pw;
                            at(x, xs, n, c, ii, jj)
                        })
                        .collect();
                    out.push(match kind {
                        PoolKind::Max => window.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                        PoolKind::Avg => window.iter().sum::<f64>() / window.len() as f64,
                    });
                }
            }
        }
    }
    (out, (xs.0, xs.1, oh, ow))
}

pub(crate) fn relu(v: &mut [f64]) {
    for v in v.iter_mut() {
        *v = v.max(0.0);
    }
}

pub(crate) fn widen(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&v| f64::from(v)).collect()
}

/// Asserts `|got - want| <= tol * max(1, |want|)` elementwise.
pub(crate) fn assert_close(what: &str, got: &[f32], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let err = (f64::from(g) - w).abs();
        assert!(
            err <= tol * w.abs().max(1.0),
            "{what}[{i}]: got {g}, want {w}"
        );
    }
}

/// Central differences of `loss` with respect to each element of `point` (step `eps`), in f64.
pub(crate) fn finite_differences(
    point: &[f64],
    eps: f64,
    mut loss: impl FnMut(&[f64]) -> f64,
) -> Vec<f64> {
    let mut p = point.to_vec();
    (0..p.len())
        .map(|i| {
            let v = p[i];
            p[i] = v + eps;
            let up = loss(&p);
            p[i] = v - eps;
            let down = loss(&p);
            p[i] = v;
            (up - down) / (2.0 * eps)
        })
        .collect()
}

/// Asserts an analytic gradient against finite differences: `|g - fd| <= tol * max(1, max|fd|)`,
/// scaled by the tensor's largest entry since entries near zero carry no relative precision.
pub(crate) fn assert_gradient(what: &str, got: &[f32], fd: &[f64], tol: f64) {
    assert_eq!(got.len(), fd.len(), "{what}: length");
    let scale = fd.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for (i, (&g, &f)) in got.iter().zip(fd).enumerate() {
        let err = (f64::from(g) - f).abs();
        assert!(
            err <= tol * scale,
            "{what}[{i}]: analytic {g}, finite difference {f}"
        );
    }
}

/// `Σ out · r` in f64: the random linear functional whose gradient the tests check.
pub(crate) fn functional(out: &[f64], r: &[f32]) -> f64 {
    out.iter().zip(r).map(|(o, &r)| o * f64::from(r)).sum()
}

/// `(Σ out · r)` through dfdx, then backward: the gradients our ops put on the tape.
pub(crate) fn backward_of_functional(
    out: T4<OwnedTape<f32, Cpu>>,
    r: &[f32],
) -> Gradients<f32, Cpu> {
    let dev = out.device().clone();
    let r = dev.tensor_from_vec(r.to_vec(), *out.shape());
    (out * r).sum::<(), _>().backward()
}
