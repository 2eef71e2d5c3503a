//! upsample2d and zeropad2d against Keras' numbers (`bench/reference/resample2d.py`), finite
//! differences and thread counts.

use dfdx::prelude::*;

use super::{upsample2d, zeropad2d};
use crate::ops::reference::{
    assert_close, assert_gradient, backward_of_functional, finite_differences, functional, random,
    tensor4, widen, Shape4,
};

#[path = "resample2d_reference.rs"]
mod reference_numbers;

/// A call of the op, as the reference script names it.
#[derive(Clone, Copy, Debug)]
pub(super) enum Call {
    /// `upsample2d(size, bilinear)`.
    Up((usize, usize), bool),
    /// `zeropad2d(((top, bottom), (left, right)))`.
    Pad(((usize, usize), (usize, usize))),
}

const SHAPE: Shape4 = (2, 2, 3, 4);

fn apply<T: Tape<f32, Cpu>>(call: Call, x: crate::ops::T4<T>) -> crate::ops::T4<T> {
    match call {
        Call::Up(size, bilinear) => upsample2d(x, size, bilinear),
        Call::Pad(pad) => zeropad2d(x, pad),
    }
}

/// The output and the gradient of `Σ y · r` for the input.
fn run(call: Call, x: &[f32], r: impl Fn(usize) -> Vec<f32>) -> (Vec<f32>, Vec<f32>) {
    let dev = Cpu::default();
    let xt = tensor4(&dev, x, SHAPE);
    let y = apply(call, xt.clone().leaky_traced());
    let out = y.as_vec();
    let grads = backward_of_functional(y, &r(out.len()));
    (out, grads.get(&xt).as_vec())
}

fn fill(n: usize, mul: usize, modulus: usize, off: i64, scale: f32) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * mul % modulus) as i64 - off) as f32 / scale)
        .collect()
}

#[test]
fn matches_keras() {
    let x = fill(48, 37, 101, 50, 64.0);
    for &(name, call, y, dx) in reference_numbers::REFERENCES {
        let (got_y, got_dx) = run(call, &x, |n| fill(n, 29, 89, 44, 64.0));
        assert_close(&format!("{name} y"), &got_y, &widen(y), 1e-6);
        assert_close(&format!("{name} dx"), &got_dx, &widen(dx), 1e-6);
    }
}

#[test]
fn gradients_match_finite_differences() {
    let x = random(48, 1);
    for &(name, call, _, _) in reference_numbers::REFERENCES {
        let dev = Cpu::default();
        let forward = |x: &[f64]| -> Vec<f64> {
            let x: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            widen(&apply(call, tensor4(&dev, &x, SHAPE)).as_vec())
        };
        let len = forward(&widen(&x)).len();
        let r = random(len, 2);
        // The op is linear, so the f32 difference quotient with a large step is exact enough.
        let fd = finite_differences(&widen(&x), 0.25, |x| functional(&forward(x), &r));
        let (_, dx) = run(call, &x, |_| r.clone());
        assert_gradient(name, &dx, &fd, 1e-5);
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let x = random(48, 3);
    for &(name, call, _, _) in reference_numbers::REFERENCES {
        let on = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| run(call, &x, |n| random(n, 4)))
        };
        assert_eq!(on(1), on(2), "{name}");
    }
}
