//! The activations against PyTorch's values and gradients at fixed inputs
//! (`bench/reference/activations.py`, which also checks Keras 3 agrees on the values), and
//! against central finite differences of our own forward pass.
// Reference numbers as the script prints them.
#![allow(clippy::unreadable_literal, clippy::excessive_precision)]

use dfdx::prelude::*;

use super::{Act, Activation};

const X: [f32; 13] = [
    -30.0, -5.0, -3.0, -1.5, -0.5, -1e-3, 0.0, 1e-3, 0.5, 1.5, 3.0, 5.0, 30.0,
];

/// Per activation: PyTorch's values at `X`, then d(sum y)/dx (float64).
#[rustfmt::skip]
fn references() -> Vec<(Activation, [f64; 13], [f64; 13])> {
    vec![
        (Activation::Elu { alpha: 0.5 },
         [-5.000000000e-01, -4.966310265e-01, -4.751064658e-01, -3.884349199e-01, -1.967346701e-01, -4.997500833e-04, 0.000000000e+00, 1.000000000e-03, 5.000000000e-01, 1.500000000e+00, 3.000000000e+00, 5.000000000e+00, 3.000000000e+01],
         [4.678811484e-14, 3.368973500e-03, 2.489353418e-02, 1.115650801e-01, 3.032653299e-01, 4.995002499e-01, 5.000000000e-01, 1.000000000e+00, 1.000000000e+00, 1.000000000e+00, 1.000000000e+00, 1.000000000e+00, 1.000000000e+00]),
        (Activation::Elu { alpha: 1.0 },
         [-1.000000000e+00, -9.932620530e-01, -9.502129316e-01, -7.768698399e-01, -3.934693403e-01, -9.995001666e-04, 0.000000000e+00, 1.000000000e-03, 5.000000000e-01, 1.500000000e+00, 3.000000000e+00, 5.000000000e+00, 3.000000000e+01],
         [9.357622969e-14, 6.737946999e-03, 4.978706837e-02, 2.231301601e-01, 6.065306597e-01, 9.990004998e-01, 1.000000000e+00, 1.000000000e+00, 1.000000000e+00, 1.000000000e+00, 1.000000000e+00, 1.000000000e+00, 1.000000000e+00]),
        (Activation::Selu,
         [-1.758099341e+00, -1.746253361e+00, -1.670568729e+00, -1.365814353e+00, -6.917581878e-01, -1.757220584e-03, 0.000000000e+00, 1.050700987e-03, 5.253504937e-01, 1.576051481e+00, 3.152102962e+00, 5.253504937e+00, 3.152102962e+01],
         [1.645163077e-13, 1.184598018e-02, 8.753061208e-02, 3.922849875e-01, 1.066341153e+00, 1.756342120e+00, 1.758099341e+00, 1.050700987e+00, 1.050700987e+00, 1.050700987e+00, 1.050700987e+00, 1.050700987e+00, 1.050700987e+00]),
        (Activation::Swish,
         [-2.807286891e-12, -3.346425462e-02, -1.422776195e-01, -2.736382857e-01, -1.887703344e-01, -4.997500000e-04, 0.000000000e+00, 5.002500000e-04, 3.112296656e-01, 1.226361714e+00, 2.857722380e+00, 4.966535745e+00, 3.000000000e+01],
         [-2.713710661e-12, -2.654743243e-02, -8.810410602e-02, -4.129415430e-02, 2.600388127e-01, 4.995000001e-01, 5.000000000e-01, 5.004999999e-01, 7.399611873e-01, 1.041294154e+00, 1.088104106e+00, 1.026547432e+00, 1.000000000e+00]),
        (Activation::Softplus,
         [9.357622969e-14, 6.715348489e-03, 4.858735157e-02, 2.014132780e-01, 4.740769842e-01, 6.926473056e-01, 6.931471806e-01, 6.936473056e-01, 9.740769842e-01, 1.701413278e+00, 3.048587352e+00, 5.006715348e+00, 3.000000000e+01],
         [9.357622969e-14, 6.692850924e-03, 4.742587318e-02, 1.824255238e-01, 3.775406688e-01, 4.997500000e-01, 5.000000000e-01, 5.002500000e-01, 6.224593312e-01, 8.175744762e-01, 9.525741268e-01, 9.933071491e-01, 1.000000000e+00]),
        (Activation::Gelu,
         [-0.000000000e+00, -1.433257859e-06, -4.049694095e-03, -1.002108019e-01, -1.542687694e-01, -4.996010578e-04, 0.000000000e+00, 5.003989422e-04, 3.457312306e-01, 1.399789198e+00, 2.995950306e+00, 4.999998567e+00, 3.000000000e+01],
         [-4.420938405e-195, -7.146946002e-06, -1.194564720e-02, -1.274691922e-01, 1.325048753e-01, 4.992021157e-01, 5.000000000e-01, 5.007978843e-01, 8.674951247e-01, 1.127469192e+00, 1.011945647e+00, 1.000007147e+00, 1.000000000e+00]),
        (Activation::Relu,
         [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.000000000e-03, 5.000000000e-01, 1.500000000e+00, 3.000000000e+00, 5.000000000e+00, 3.000000000e+01],
         [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]),
        (Activation::LeakyRelu { alpha: 0.3 },
         [-9.000000000e+00, -1.500000000e+00, -9.000000000e-01, -4.500000000e-01, -1.500000000e-01, -3.000000000e-04, 0.000000000e+00, 1.000000000e-03, 5.000000000e-01, 1.500000000e+00, 3.000000000e+00, 5.000000000e+00, 3.000000000e+01],
         [3.000000000e-01, 3.000000000e-01, 3.000000000e-01, 3.000000000e-01, 3.000000000e-01, 3.000000000e-01, 3.000000000e-01, 1.000000000e+00, 1.000000000e+00, 1.000000000e+00, 1.000000000e+00, 1.000000000e+00, 1.000000000e+00]),
        (Activation::HardSigmoid,
         [0.000000000e+00, 0.000000000e+00, 0.000000000e+00, 2.500000000e-01, 4.166666667e-01, 4.998333333e-01, 5.000000000e-01, 5.001666667e-01, 5.833333333e-01, 7.500000000e-01, 1.000000000e+00, 1.000000000e+00, 1.000000000e+00],
         [0.000000000e+00, 0.000000000e+00, 0.000000000e+00, 1.666666716e-01, 1.666666716e-01, 1.666666716e-01, 1.666666716e-01, 1.666666716e-01, 1.666666716e-01, 1.666666716e-01, 0.000000000e+00, 0.000000000e+00, 0.000000000e+00]),
    ]
}

fn close(what: &str, got: &[f32], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let g = f64::from(*g);
        assert!(
            (g - w).abs() <= tol * (1.0 + w.abs()),
            "{what}, element {i}: {g} against {w}"
        );
    }
}

/// `a` on a (rows, cols) flat batch, or on images (1, rows, cols, 1), with the gradient of
/// `sum(y * weights)`.
fn run(
    a: Activation,
    x: &[f32],
    shape: (usize, usize),
    image: bool,
    w: &[f32],
) -> (Vec<f32>, Vec<f32>) {
    let dev = Cpu::default();
    let (r, c) = shape;
    if image {
        let t = dev.tensor_from_vec(x.to_vec(), (1, r, c, 1));
        let Act::Image(y) = Act::Image(t.leaky_trace()).activate(a) else {
            unreachable!()
        };
        let weights = dev.tensor_from_vec(w.to_vec(), (1, r, c, 1));
        let values = y.as_vec();
        let grads = (y * weights).sum().backward();
        (values, grads.get(&t).as_vec())
    } else {
        let t = dev.tensor_from_vec(x.to_vec(), (r, c));
        let Act::Flat(y) = Act::Flat(t.leaky_trace()).activate(a) else {
            unreachable!()
        };
        let weights = dev.tensor_from_vec(w.to_vec(), (r, c));
        let values = y.as_vec();
        let grads = (y * weights).sum().backward();
        (values, grads.get(&t).as_vec())
    }
}

/// d(sum(f(x) * w))/dx by central differences of our forward pass, in f64 sums.
fn finite_differences(
    a: Activation,
    x: &[f32],
    shape: (usize, usize),
    image: bool,
    w: &[f32],
    h: f32,
) -> Vec<f64> {
    let loss = |x: Vec<f32>| -> f64 {
        run(a, &x, shape, image, w)
            .0
            .iter()
            .zip(w)
            .map(|(y, w)| f64::from(*y) * f64::from(*w))
            .sum()
    };
    (0..x.len())
        .map(|k| {
            let mut plus = x.to_vec();
            plus[k] += h;
            let mut minus = x.to_vec();
            minus[k] -= h;
            (loss(plus) - loss(minus)) / (2.0 * f64::from(h))
        })
        .collect()
}

#[test]
fn elementwise_activations_match_pytorch_on_flat_batches_and_images() {
    let ones = [1.0; 13];
    for (a, values, grads) in references() {
        for image in [false, true] {
            let what = format!("{a:?}, image {image}");
            let (y, dx) = run(a, &X, (1, 13), image, &ones);
            close(&what, &y, &values, 2e-6);
            close(&what, &dx, &grads, 2e-6);
        }
    }
}

#[test]
fn elementwise_activations_match_finite_differences_away_from_their_kinks() {
    // Inputs at least 0.05 from the kinks at 0 and ±3, so a step of 1e-2 stays on one side.
    let x: Vec<f32> = (0..24).map(|i| (i as f32 - 11.7) * 0.37).collect();
    let w: Vec<f32> = (0..24).map(|i| ((i * 5 % 7) as f32 - 3.0) * 0.5).collect();
    for (a, _, _) in references() {
        let (_, analytic) = run(a, &x, (2, 12), false, &w);
        let numeric = finite_differences(a, &x, (2, 12), false, &w, 1e-2);
        close(&format!("{a:?}"), &analytic, &numeric, 2e-3);
    }
}

#[test]
fn log_softmax_matches_pytorch_over_rows_and_over_channels() {
    // Flat: a row with values near 1000 as well, where a naive exp overflows.
    let x = [1.0, -2.0, 0.5, 3.0, 1000.0, 999.0, -1000.0, 998.5];
    let w: Vec<f32> = (0..8).map(|i| i as f32 * 0.25 - 1.0).collect();
    let (y, dx) = run(Activation::LogSoftmax, &x, (2, 4), false, &w);
    #[rustfmt::skip]
    close("flat values", &y, &[-2.202253448e+00, -5.202253448e+00, -2.702253448e+00, -2.022534477e-01, -4.643687841e-01, -1.464368784e+00, -2.000464369e+03, -1.964368784e+00], 1e-6);
    #[rustfmt::skip]
    close("flat gradient", &dx, &[-7.236156241e-01, -7.362396322e-01, -3.323644021e-01, 1.792219658e+00, -9.427975788e-01, -9.683584643e-02, 5.000000000e-01, 5.396334253e-01], 1e-6);
    let numeric = finite_differences(
        Activation::LogSoftmax,
        &x[..4],
        (1, 4),
        false,
        &w[..4],
        1e-2,
    );
    close("flat finite differences", &dx[..4], &numeric, 2e-3);

    // Images (1, 3, 2, 2): over the 3 channels of each of the 4 pixels.
    #[rustfmt::skip]
    let x = [-2.75, 0.75, -1.75, 1.75, -0.75, 2.75, 0.25, -2.25, 1.25, -1.25, 2.25, -0.25];
    let w: Vec<f32> = (0..12).map(|i| i as f32 * 0.25 - 1.0).collect();
    // (1, 3, 4, 1) has the same memory order as (1, 3, 2, 2), and the same channels.
    let (y, dx) = run(Activation::LogSoftmax, &x, (3, 4), true, &w);
    #[rustfmt::skip]
    close("image values", &y, &[-4.142931628e+00, -2.142931628e+00, -4.142931628e+00, -1.429316285e-01, -2.142931628e+00, -1.429316285e-01, -2.142931628e+00, -4.142931628e+00, -1.429316285e-01, -4.142931628e+00, -1.429316285e-01, -2.142931628e+00], 1e-6);
    #[rustfmt::skip]
    close("image gradient", &dx, &[-1.000000000e+00, -8.379828209e-01, -5.238143600e-01, -2.200329997e+00, 0.000000000e+00, -4.001099991e-01, 3.240343583e-01, 7.142784601e-01, 1.000000000e+00, 1.238092820e+00, 1.997800017e-01, 1.486051537e+00], 1e-6);
    let numeric = finite_differences(Activation::LogSoftmax, &x, (3, 4), true, &w, 1e-2);
    close("image finite differences", &dx, &numeric, 2e-3);
}

#[test]
fn pointwise_activations_are_the_same_bits_on_one_thread_and_several() {
    let x: Vec<f32> = (0..100_000)
        .map(|i| ((i * 7919 % 2001) as f32 - 1000.0) / 97.0)
        .collect();
    let w = vec![1.0; x.len()];
    for (a, _, _) in references() {
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let many = rayon::ThreadPoolBuilder::new()
            .num_threads(4)
            .build()
            .unwrap();
        let a1 = one.install(|| run(a, &x, (4, 25_000), false, &w));
        let a4 = many.install(|| run(a, &x, (4, 25_000), false, &w));
        assert_eq!(a1, a4, "{a:?}");
    }
}

/// The ReLU op and the sum of two values of one shape (`ops::add`) give the bits of dfdx's
/// own, forward and backward, which they replaced.
#[test]
fn relu_and_sums_give_the_bits_of_dfdx() {
    let dev = Cpu::default();
    let n = 3 * 70_000; // more than one rayon task
    let a: Vec<f32> = (0..n)
        .map(|i| ((i * 7919 % 1000) as f32 - 500.0) * 1e-3)
        .collect();
    let b: Vec<f32> = (0..n)
        .map(|i| ((i * 104_729 % 997) as f32 - 498.0) * 3e-3)
        .collect();
    let w: Vec<f32> = (0..n)
        .map(|i| ((i * 31 % 17) as f32 - 8.0) * 0.25)
        .collect();
    let shape = (3, n / 3);
    let (ta, tb) = (dev.tensor_from_vec(a, shape), dev.tensor_from_vec(b, shape));
    let weights = dev.tensor_from_vec(w, shape);
    let ours = {
        let y = crate::ops::add(ta.leaky_trace(), tb.leaky_trace());
        let y = crate::ops::pointwise(y, crate::ops::Pointwise::Relu);
        let values = y.as_vec();
        let grads = (y * weights.clone()).sum().backward();
        (values, grads.get(&ta).as_vec(), grads.get(&tb).as_vec())
    };
    let dfdx = {
        let y = (ta.leaky_trace() + tb.leaky_trace()).relu();
        let values = y.as_vec();
        let grads = (y * weights.clone()).sum().backward();
        (values, grads.get(&ta).as_vec(), grads.get(&tb).as_vec())
    };
    let fused = {
        let y = crate::ops::add_relu(ta.leaky_trace(), tb.leaky_trace());
        let values = y.as_vec();
        let grads = (y * weights).sum().backward();
        (values, grads.get(&ta).as_vec(), grads.get(&tb).as_vec())
    };
    assert!(ours.0.iter().filter(|&&v| v == 0.0).count() > n / 4);
    for (name, ours) in [("add, relu", ours), ("add_relu", fused)] {
        assert_eq!(ours.0, dfdx.0, "{name}: values");
        assert_eq!(ours.1, dfdx.1, "{name}: first operand's gradient");
        assert_eq!(ours.2, dfdx.2, "{name}: second operand's gradient");
    }
}

/// `tanh` and `sigmoid` as our parallel ops give the bits of dfdx's, forward and backward,
/// which they replaced.
#[test]
fn tanh_and_sigmoid_give_the_bits_of_dfdx() {
    use crate::ops::{pointwise, Pointwise};
    let dev = Cpu::default();
    let n = 3 * 70_000; // more than one rayon task
    let x: Vec<f32> = (0..n)
        .map(|i| ((i * 7919 % 4001) as f32 - 2000.0) * 5e-3)
        .collect();
    let w: Vec<f32> = (0..n)
        .map(|i| ((i * 31 % 17) as f32 - 8.0) * 0.25)
        .collect();
    let shape = (3, n / 3);
    let (tx, weights) = (dev.tensor_from_vec(x, shape), dev.tensor_from_vec(w, shape));
    for f in [Pointwise::Tanh, Pointwise::Sigmoid] {
        let run = |ours: bool| {
            let x = tx.leaky_trace();
            let y = match (ours, f) {
                (true, f) => pointwise(x, f),
                (false, Pointwise::Tanh) => x.tanh(),
                (false, _) => x.sigmoid(),
            };
            let values = y.as_vec();
            let grads = (y * weights.clone()).sum().backward();
            (values, grads.get(&tx).as_vec())
        };
        let (ours, dfdx) = (run(true), run(false));
        assert_eq!(ours.0, dfdx.0, "{f:?}: values");
        assert_eq!(ours.1, dfdx.1, "{f:?}: gradient");
        assert!(
            ours.0.iter().any(|&v| v < 0.9 && v > 0.1),
            "{f:?}: a range worth testing"
        );
    }
}

/// A value read twice (`ops::fork`, which shares the storage) gives the bits of dfdx's
/// `x * 1.0`, which it replaced: the second reader's gradient is added back into the first.
#[test]
fn a_fork_gives_the_bits_of_a_copy() {
    let dev = Cpu::default();
    let n = 2 * 70_000; // more than one rayon task
    let x: Vec<f32> = (0..n)
        .map(|i| ((i * 7919 % 1000) as f32 - 500.0) * 1e-3)
        .collect();
    let w: Vec<f32> = (0..n)
        .map(|i| ((i * 31 % 17) as f32 - 8.0) * 0.25)
        .collect();
    let shape = (2, n / 2);
    let (tx, weights) = (dev.tensor_from_vec(x, shape), dev.tensor_from_vec(w, shape));
    let run = |ours: bool| {
        let x = tx.leaky_trace();
        let second = if ours {
            crate::ops::fork(x.with_empty_tape())
        } else {
            x.with_empty_tape() * 1.0
        };
        let y = x * weights.clone() + second.relu();
        let values = y.as_vec();
        let grads = y.sum().backward();
        (values, grads.get(&tx).as_vec())
    };
    let (ours, dfdx) = (run(true), run(false));
    assert_eq!(ours.0, dfdx.0, "values");
    assert_eq!(ours.1, dfdx.1, "gradient");
    assert!(ours.1.iter().any(|&g| g != 0.0) && ours.1.iter().any(|&g| g != 1.0));
}

/// GELU keeps `Φ(x)` from its forward pass for the backward one (`erff` once per element,
/// not twice): the bits of computing the value and the derivative element by element.
#[test]
fn gelu_keeps_its_cdf_with_the_bits_of_computing_it_again() {
    use crate::ops::Pointwise;
    let dev = Cpu::default();
    let n = 2 * 70_000; // more than one rayon task
    let x: Vec<f32> = (0..n)
        .map(|i| ((i * 7919 % 1000) as f32 - 500.0) * 9e-3)
        .collect();
    let w: Vec<f32> = (0..n)
        .map(|i| ((i * 31 % 17) as f32 - 8.0) * 0.25)
        .collect();
    let shape = (2, n / 2);
    let (tx, weights) = (
        dev.tensor_from_vec(x.clone(), shape),
        dev.tensor_from_vec(w.clone(), shape),
    );
    let y = crate::ops::pointwise(tx.leaky_trace(), Pointwise::Gelu);
    let values = y.as_vec();
    let dx = (y * weights).sum().backward().get(&tx).as_vec();
    for i in 0..n {
        let want = Pointwise::Gelu.value(x[i]);
        assert_eq!(values[i].to_bits(), want.to_bits(), "value at {}", x[i]);
        let grad = 0.0 + w[i] * Pointwise::Gelu.derivative(x[i], want);
        assert_eq!(dx[i].to_bits(), grad.to_bits(), "gradient at {}", x[i]);
    }
}
