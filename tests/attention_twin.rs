//! `attention` (causal with 2 heads; 3 heads drawn as PyTorch draws them) and `dense` and
//! `layernorm` at each position of a sequence against a PyTorch twin: a small sequence
//! model trains 2 SGD steps of 4 generated (8, 6) sequences from its seeded initial weights,
//! and both losses and every tensor of the final model must equal what
//! `bench/reference/attention_twin.py` computes in PyTorch (float64), where expr's initial
//! model file loads into two `nn.MultiheadAttention` modules with a strict
//! `load_state_dict` (its largest difference on any value: 6.6e-7 of the tensor's scale).
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use std::path::Path;

use common::twin::{assert_trains_as, f32_bytes, i64_bytes, Twin};
use common::write_npy;

/// The script's sequences: `((n*5 + c*7 + t*3) % 13) / 6.5 - 1`, in float32.
fn write_data(dir: &Path) {
    let x = (0..8 * 8 * 6usize).map(|i| {
        let (n, c, t) = (i / 48, i / 6 % 8, i % 6);
        let k = (n * 5 + c * 7 + t * 3) % 13;
        f32::from(u8::try_from(k).unwrap()) / 6.5 - 1.0
    });
    write_npy(&dir.join("x.npy"), "<f4", &[8, 8, 6], &f32_bytes(x));
    let labels = i64_bytes(&[0, 2, 1, 1, 2, 0, 0, 1]);
    write_npy(&dir.join("y.npy"), "<i8", &[8], &labels);
}

#[allow(clippy::unreadable_literal)]
#[test]
fn attention_trains_as_its_pytorch_twin() {
    let dir = tempfile::tempdir().unwrap();
    write_data(dir.path());
    let twin = Twin {
        initial_loss: 1.130542550,
        train_loss: 1.129704292,
        tensors: TWIN,
    };
    assert_trains_as(dir.path(), EXPERIMENT, &twin);
}

/// The experiment both sides train, with `EPOCHS`, `METRICS` and `SAVE` to fill in.
const EXPERIMENT: &str = include_str!("../bench/reference/attention_twin.exp.in");

/// Each tensor of the final model in PyTorch: name, sum, sum of squares (as the script
/// prints them).
#[allow(clippy::unreadable_literal)]
#[rustfmt::skip]
const TWIN: &[(&str, f64, f64)] = &[
    ("dense.bias", 4.872380762e-03, 2.030956376e-05),
    ("dense.weight", -7.249406848e+00, 5.716615373e+00),
    ("dense_1.bias", 1.040834086e-17, 4.076463492e-04),
    ("dense_1.weight", -1.639145419e+00, 5.039345868e+00),
    ("layer_normalization.bias", -1.009364747e-02, 2.824950187e-05),
    ("layer_normalization.weight", 7.994260902e+00, 7.988622827e+00),
    ("multi_head_attention.in_proj_bias", -1.415999392e-03, 8.990613456e-05),
    ("multi_head_attention.in_proj_weight", 9.492323092e-01, 2.559828840e+01),
    ("multi_head_attention.out_proj.bias", 0.000000000e+00, 1.634989547e-04),
    ("multi_head_attention.out_proj.weight", -2.477166951e-01, 6.999490023e+00),
    ("multi_head_attention_1.in_proj_bias", 3.155076937e-03, 6.508058019e-05),
    ("multi_head_attention_1.in_proj_weight", -3.688507210e+00, 7.436881020e+00),
    ("multi_head_attention_1.out_proj.bias", -8.050457083e-03, 1.185466860e-04),
    ("multi_head_attention_1.out_proj.weight", 1.159436968e+00, 2.010521405e+00),
];
