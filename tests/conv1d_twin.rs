//! The 1-D layers (`conv1d` with strides and `same` padding, with and without a bias,
//! `maxpool1d`, `avgpool1d` with `same` padding, `global_maxpool1d`) against a PyTorch
//! twin: a small sequence model trains 2 SGD steps of 4 generated (4, 20) sequences from its
//! seeded initial weights, and both losses and every tensor of the final model must equal
//! what `bench/reference/conv1d_twin.py` computes in PyTorch (float64) from the same
//! initial weights (its largest difference on any value: 2.1e-7 of the tensor's scale).
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use std::path::Path;

use common::twin::{assert_trains_as, f32_bytes, i64_bytes, Twin};
use common::write_npy;

/// The script's sequences: `((n*5 + c*7 + t*3) % 13) / 13 - 0.5`, in float32.
fn write_data(dir: &Path) {
    let x = (0..8 * 4 * 20usize).map(|i| {
        let (n, c, t) = (i / 80, i / 20 % 4, i % 20);
        let k = (n * 5 + c * 7 + t * 3) % 13;
        f32::from(u8::try_from(k).unwrap()) / 13.0 - 0.5
    });
    write_npy(&dir.join("x.npy"), "<f4", &[8, 4, 20], &f32_bytes(x));
    let labels = i64_bytes(&[0, 2, 1, 1, 2, 0, 0, 1]);
    write_npy(&dir.join("y.npy"), "<i8", &[8], &labels);
}

#[allow(clippy::unreadable_literal)]
#[test]
fn one_dimensional_layers_train_as_their_pytorch_twin() {
    let dir = tempfile::tempdir().unwrap();
    write_data(dir.path());
    let twin = Twin {
        initial_loss: 1.136078882,
        train_loss: 1.138153483,
        tensors: TWIN,
    };
    assert_trains_as(dir.path(), EXPERIMENT, &twin);
}

/// The experiment both sides train, with `EPOCHS`, `METRICS` and `SAVE` to fill in.
const EXPERIMENT: &str = include_str!("../bench/reference/conv1d_twin.exp.in");

/// Each tensor of the final model in PyTorch: name, sum, sum of squares (as the script
/// prints them).
#[allow(clippy::unreadable_literal)]
#[rustfmt::skip]
const TWIN: &[(&str, f64, f64)] = &[
    ("conv1d.bias", -1.984892545e-02, 4.039452986e-04),
    ("conv1d.weight", 2.734217471e+00, 4.839950107e+00),
    ("conv1d_1.bias", -4.560966402e-02, 7.434253840e-04),
    ("conv1d_1.weight", 1.118762601e-01, 5.664862842e+00),
    ("conv1d_2.weight", -5.311607745e-01, 3.687979476e+00),
    ("dense.bias", -6.938893904e-18, 4.342604836e-04),
    ("dense.weight", -2.392744124e-01, 4.666649467e+00),
];
