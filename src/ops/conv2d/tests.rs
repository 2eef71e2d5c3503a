//! conv2d against the naive f64 reference: forward values, gradients by central differences,
//! bit-identical reruns, and shape errors.

use dfdx::prelude::*;

use super::{conv2d, try_conv2d, Conv2dSpec};
use crate::ops::reference::{
    assert_close, assert_gradient, backward_of_functional, conv, finite_differences, functional,
    pool, random, relu, tensor4, widen, Shape4,
};
use crate::ops::{OpsError, Padding, Pool2dSpec, PoolKind};

struct Case {
    x: Shape4,
    w: Shape4,
    spec: Conv2dSpec,
}

fn pool_spec(kind: PoolKind, size: usize, stride: usize, padding: Padding) -> Option<Pool2dSpec> {
    Some(Pool2dSpec {
        kind,
        size: (size, size),
        stride: (stride, stride),
        padding,
    })
}

fn case(x: Shape4, (o, kh, kw): (usize, usize, usize), stride: usize, padding: Padding) -> Case {
    Case {
        x,
        w: (o, x.1, kh, kw),
        spec: Conv2dSpec {
            stride: (stride, stride),
            padding,
            relu: false,
            input_grad: true,
            pool: None,
        },
    }
}

fn with(mut c: Case, relu: bool, pool: Option<Pool2dSpec>) -> Case {
    c.spec.relu = relu;
    c.spec.pool = pool;
    c
}

/// Valid and same padding, non-square inputs and kernels, strides 1 to 3, odd and even
/// padding totals, no/ReLU, no/max/avg pooling with and without overlap and padding.
fn cases() -> Vec<Case> {
    use Padding::{Same, Valid};
    use PoolKind::{Avg, Max};
    vec![
        case((2, 1, 6, 6), (3, 3, 3), 1, Valid),
        with(case((2, 3, 7, 5), (4, 3, 2), 1, Valid), true, None),
        case((1, 2, 9, 8), (3, 3, 3), 2, Valid),
        // Same, kernel 4 x 3: padding totals 3 (odd) and 2 (even).
        with(case((2, 2, 7, 6), (2, 4, 3), 1, Same), true, None),
        // Same, stride 2 on 8 x 7: totals 1 (odd) and 2 (even).
        case((2, 2, 8, 7), (3, 3, 3), 2, Same),
        with(
            case((3, 1, 10, 10), (4, 3, 3), 1, Valid),
            true,
            pool_spec(Max, 2, 2, Valid),
        ),
        with(
            case((2, 2, 9, 7), (3, 3, 3), 1, Same),
            true,
            pool_spec(Avg, 3, 2, Same),
        ),
        with(
            case((2, 3, 8, 8), (2, 1, 1), 1, Valid),
            false,
            pool_spec(Max, 3, 2, Same),
        ),
        // Stride 3 over a 2 x 2 kernel skips inputs; overlapping average windows.
        with(
            case((1, 2, 11, 9), (3, 2, 2), 3, Valid),
            true,
            pool_spec(Avg, 2, 1, Valid),
        ),
        with(
            case((2, 1, 6, 6), (2, 3, 3), 1, Same),
            false,
            pool_spec(Max, 3, 1, Same),
        ),
        with(
            case((2, 2, 7, 7), (3, 3, 3), 1, Valid),
            true,
            pool_spec(Max, 2, 3, Valid),
        ),
        // 72 taps: the products go to gemm instead of our small kernels.
        with(
            case((2, 8, 6, 5), (3, 3, 3), 1, Same),
            true,
            pool_spec(Max, 2, 2, Same),
        ),
        // A 1 x 1 image under a 3 x 3 same kernel, batch 1.
        with(case((1, 2, 1, 1), (2, 3, 3), 1, Same), true, None),
    ]
}

struct Operands {
    x: Vec<f32>,
    w: Vec<f32>,
    b: Vec<f32>,
}

fn operands(c: &Case, seed: u64) -> Operands {
    let len = |s: Shape4| s.0 * s.1 * s.2 * s.3;
    Operands {
        x: random(len(c.x), seed),
        w: random(len(c.w), seed + 1),
        b: random(c.w.0, seed + 2),
    }
}

/// The whole fused layer in f64.
fn reference(c: &Case, x: &[f64], w: &[f64], b: &[f64]) -> Vec<f64> {
    let (mut out, shape) = conv(x, c.x, w, c.w, b, c.spec.stride, c.spec.padding);
    if c.spec.relu {
        relu(&mut out);
    }
    match &c.spec.pool {
        Some(p) => pool(&out, shape, p.kind, p.size, p.stride, p.padding).0,
        None => out,
    }
}

#[test]
fn forward_matches_the_direct_reference() {
    let dev = Cpu::default();
    for (i, c) in cases().iter().enumerate() {
        let v = operands(c, 10 * i as u64);
        let want = reference(c, &widen(&v.x), &widen(&v.w), &widen(&v.b));
        let w = tensor4(&dev, &v.w, c.w);
        let b = dev.tensor_from_vec(v.b.clone(), (c.w.0,));
        let plain = conv2d(tensor4(&dev, &v.x, c.x), &w, &b, &c.spec);
        assert_close(&format!("case {i}"), &plain.as_vec(), &want, 1e-5);
        let traced = conv2d(tensor4(&dev, &v.x, c.x).leaky_traced(), &w, &b, &c.spec);
        assert_eq!(
            traced.as_vec(),
            plain.as_vec(),
            "case {i}: tape changes the output"
        );
    }
}

/// Runs the op on the tape and returns the gradients of `Σ out · r` for x (if asked), w, b.
fn tape_gradients(c: &Case, v: &Operands, r: &[f32]) -> (Option<Vec<f32>>, Vec<f32>, Vec<f32>) {
    let dev = Cpu::default();
    let x = tensor4(&dev, &v.x, c.x);
    let w = tensor4(&dev, &v.w, c.w);
    let b = dev.tensor_from_vec(v.b.clone(), (c.w.0,));
    let out = conv2d(x.clone().leaky_traced(), &w, &b, &c.spec);
    let grads = backward_of_functional(out, r);
    let dx = c.spec.input_grad.then(|| grads.get(&x).as_vec());
    (dx, grads.get(&w).as_vec(), grads.get(&b).as_vec())
}

/// Tolerance on gradients, relative to the largest entry of each: f32 sums of up to a few
/// hundred products against exact f64 differences.
const GRAD_TOL: f64 = 1e-4;
/// Small enough that no ReLU or max switches within the step for these seeds; the functional
/// is piecewise linear, so the difference quotient is exact between switches.
const EPS: f64 = 1e-6;

#[test]
fn gradients_match_finite_differences() {
    for (i, mut c) in cases().into_iter().enumerate() {
        let v = operands(&c, 100 + i as u64);
        let (x, w, b) = (widen(&v.x), widen(&v.w), widen(&v.b));
        let out_len = reference(&c, &x, &w, &b).len();
        let r = random(out_len, 200 + i as u64);
        let fd_x = finite_differences(&x, EPS, |x| functional(&reference(&c, x, &w, &b), &r));
        let fd_w = finite_differences(&w, EPS, |w| functional(&reference(&c, &x, w, &b), &r));
        let fd_b = finite_differences(&b, EPS, |b| functional(&reference(&c, &x, &w, b), &r));
        for input_grad in [true, false] {
            c.spec.input_grad = input_grad;
            let (dx, dw, db) = tape_gradients(&c, &v, &r);
            let what = |t: &str| format!("case {i} input_grad {input_grad} d{t}");
            if let Some(dx) = dx {
                assert_gradient(&what("x"), &dx, &fd_x, GRAD_TOL);
            }
            assert_gradient(&what("w"), &dw, &fd_w, GRAD_TOL);
            assert_gradient(&what("b"), &db, &fd_b, GRAD_TOL);
        }
    }
}

#[test]
fn parameter_gradients_accumulate_over_uses() {
    let c = with(case((2, 2, 6, 6), (3, 3, 3), 1, Padding::Valid), true, None);
    let v = operands(&c, 7);
    let dev = Cpu::default();
    let (w, b) = (
        tensor4(&dev, &v.w, c.w),
        dev.tensor_from_vec(v.b.clone(), (3,)),
    );
    let x = tensor4(&dev, &v.x, c.x);
    let once = conv2d(x.clone().leaky_traced(), &w, &b, &c.spec)
        .sum::<(), _>()
        .backward();
    let twice = conv2d(x.clone().leaky_traced(), &w, &b, &c.spec).sum::<(), _>()
        + conv2d(x.clone().leaky_traced(), &w, &b, &c.spec).sum::<(), _>();
    let twice = twice.backward();
    let doubled: Vec<f32> = once.get(&w).as_vec().iter().map(|g| 2.0 * g).collect();
    assert_eq!(twice.get(&w).as_vec(), doubled);
}

#[test]
fn reruns_are_bit_identical() {
    // The tutorial's layer on a batch large enough to spread over several tasks.
    let spec = Conv2dSpec {
        stride: (1, 1),
        padding: Padding::Valid,
        relu: true,
        input_grad: false,
        pool: pool_spec(PoolKind::Max, 2, 2, Padding::Valid),
    };
    let mut c = Case {
        x: (37, 1, 28, 28),
        w: (32, 1, 3, 3),
        spec,
    };
    let v = operands(&c, 3);
    let r = random(37 * 32 * 13 * 13, 4);
    for input_grad in [false, true] {
        c.spec.input_grad = input_grad;
        let first = tape_gradients(&c, &v, &r);
        let second = tape_gradients(&c, &v, &r);
        assert_eq!(first, second, "input_grad {input_grad}");
    }
}

#[test]
fn shape_errors_are_reported() {
    let dev = Cpu::default();
    let x = tensor4(&dev, &[0.0; 2 * 3 * 5 * 5], (2, 3, 5, 5));
    let b = dev.tensor_from_vec(vec![0.0; 4], (4,));
    let spec = case((2, 3, 5, 5), (4, 3, 3), 1, Padding::Valid).spec;
    let w = tensor4(&dev, &[0.0; 4 * 2 * 3 * 3], (4, 2, 3, 3));
    let err = try_conv2d(x.clone(), &w, &b, &spec)
        .map(|_| ())
        .unwrap_err();
    assert!(
        matches!(err, OpsError::ShapeMismatch { what: "weight", .. }),
        "{err}"
    );
    let w = tensor4(&dev, &[0.0; 4 * 3 * 6 * 3], (4, 3, 6, 3));
    let err = try_conv2d(x, &w, &b, &spec).map(|_| ()).unwrap_err();
    assert!(matches!(err, OpsError::EmptyOutput { .. }), "{err}");
}
