//! pool2d against the naive f64 reference: forward values, gradients by central differences,
//! bit-identical reruns, and shape errors.

use dfdx::prelude::*;

use super::{pool2d, try_pool2d, Pool2dSpec, PoolKind};
use crate::ops::reference::{
    assert_close, assert_gradient, backward_of_functional, finite_differences, functional, pool,
    random, tensor4, widen, Shape4,
};
use crate::ops::{OpsError, Padding};

fn spec(
    kind: PoolKind,
    size: (usize, usize),
    stride: (usize, usize),
    padding: Padding,
) -> Pool2dSpec {
    Pool2dSpec {
        kind,
        size,
        stride,
        padding,
    }
}

/// Both kinds over valid and same windows: the common 2 x 2, overlapping 3 x 3 stride 2,
/// non-square windows, stride larger than the window, odd inputs.
fn cases() -> Vec<(Shape4, Pool2dSpec)> {
    let mut cases = Vec::new();
    for kind in [PoolKind::Max, PoolKind::Avg] {
        for padding in [Padding::Valid, Padding::Same] {
            cases.push(((2, 3, 6, 6), spec(kind, (2, 2), (2, 2), padding)));
            cases.push(((1, 2, 7, 5), spec(kind, (3, 3), (2, 2), padding)));
            cases.push(((2, 1, 5, 8), spec(kind, (2, 3), (1, 2), padding)));
            cases.push(((1, 2, 9, 9), spec(kind, (2, 2), (3, 3), padding)));
        }
    }
    cases
}

fn reference(s: Shape4, p: &Pool2dSpec, x: &[f64]) -> Vec<f64> {
    pool(x, s, p.kind, p.size, p.stride, p.padding).0
}

#[test]
fn forward_matches_the_direct_reference() {
    let dev = Cpu::default();
    for (i, (s, p)) in cases().iter().enumerate() {
        let x = random(s.0 * s.1 * s.2 * s.3, i as u64);
        let want = reference(*s, p, &widen(&x));
        let plain = pool2d(tensor4(&dev, &x, *s), p);
        assert_close(&format!("case {i}"), &plain.as_vec(), &want, 1e-5);
        let traced = pool2d(tensor4(&dev, &x, *s).leaky_traced(), p);
        assert_eq!(
            traced.as_vec(),
            plain.as_vec(),
            "case {i}: tape changes the output"
        );
    }
}

#[test]
fn gradients_match_finite_differences() {
    let dev = Cpu::default();
    for (i, (s, p)) in cases().iter().enumerate() {
        let x = random(s.0 * s.1 * s.2 * s.3, 50 + i as u64);
        let x64 = widen(&x);
        let r = random(reference(*s, p, &x64).len(), 90 + i as u64);
        let fd = finite_differences(&x64, 1e-6, |x| functional(&reference(*s, p, x), &r));
        let xt = tensor4(&dev, &x, *s);
        let grads = backward_of_functional(pool2d(xt.clone().leaky_traced(), p), &r);
        assert_gradient(&format!("case {i} dx"), &grads.get(&xt).as_vec(), &fd, 1e-5);
    }
}

#[test]
fn reruns_are_bit_identical() {
    let dev = Cpu::default();
    let s = (9, 5, 12, 12);
    let x = tensor4(&dev, &random(9 * 5 * 144, 1), s);
    for kind in [PoolKind::Max, PoolKind::Avg] {
        let p = spec(kind, (3, 3), (2, 2), Padding::Same);
        let r = random(9 * 5 * 36, 2);
        let run = || {
            let out = pool2d(x.clone().leaky_traced(), &p);
            let values = out.as_vec();
            (values, backward_of_functional(out, &r).get(&x).as_vec())
        };
        assert_eq!(run(), run());
    }
}

#[test]
fn windows_larger_than_a_valid_input_are_reported() {
    let dev = Cpu::default();
    let x = tensor4(&dev, &[0.0; 8], (1, 2, 2, 2));
    let p = spec(PoolKind::Max, (3, 3), (1, 1), Padding::Valid);
    let err = try_pool2d(x.clone(), &p).map(|_| ()).unwrap_err();
    assert!(matches!(err, OpsError::EmptyOutput { .. }), "{err}");
    // The same window with same padding is fine: one output per input.
    let same = spec(PoolKind::Max, (3, 3), (1, 1), Padding::Same);
    assert_eq!(*pool2d(x, &same).shape(), (1, 2, 2, 2));
}
