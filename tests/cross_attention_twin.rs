//! Cross-attention (`attention(value = memory)` in a graph model) against a PyTorch twin: a
//! small graph model (an embedding; a memory of half its length made from it by max-pooling
//! and a per-position dense layer; attention with its queries from the embedding and its
//! keys and values from the memory; a second, causal one, 6 queries seeing up to 3 keys; the
//! mean over positions and a dense classifier) trains 2 SGD steps of 8 token sequences from
//! its seeded initial weights, and both losses and every tensor of the final model must
//! equal what `bench/reference/cross_attention_twin.py` computes in PyTorch (float64). There,
//! expr's initial model file loads into two `nn.MultiheadAttention` modules with a strict
//! `load_state_dict`, called as `mha(h, memory, memory)`; its largest difference on any
//! value is 2.3e-07 of the tensor's scale.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use std::path::Path;

use common::twin::{assert_trains_as, i64_bytes, Twin};
use common::write_npy;

/// The script's sequences: ids `1 + (n*5 + t*t + 2*t) % 6`, 6 steps.
fn write_data(dir: &Path) {
    let ids: Vec<i64> = (0..8)
        .flat_map(|n| (0..6).map(move |t| 1 + (n * 5 + t * t + 2 * t) % 6))
        .collect();
    write_npy(&dir.join("x.npy"), "<i8", &[8, 6], &i64_bytes(&ids));
    let labels = i64_bytes(&[0, 2, 1, 1, 2, 0, 0, 1]);
    write_npy(&dir.join("y.npy"), "<i8", &[8], &labels);
}

#[allow(clippy::unreadable_literal)]
#[test]
fn cross_attention_trains_as_its_pytorch_twin() {
    let dir = tempfile::tempdir().unwrap();
    write_data(dir.path());
    let twin = Twin {
        initial_loss: 1.096943657,
        train_loss: 1.097950316,
        tensors: TWIN,
    };
    assert_trains_as(dir.path(), EXPERIMENT, &twin);
}

/// The experiment both sides train, with `EPOCHS`, `METRICS` and `SAVE` to fill in.
const EXPERIMENT: &str = include_str!("../bench/reference/cross_attention_twin.exp.in");

/// Each tensor of the final model in PyTorch: name, sum, sum of squares (as the script
/// prints them).
#[allow(clippy::unreadable_literal)]
#[rustfmt::skip]
const TWIN: &[(&str, f64, f64)] = &[
    ("dense.bias", 5.484528873e-02, 1.127279312e-02),
    ("dense.weight", -4.271059671e-01, 6.470579776e+00),
    ("dense_1.bias", 0.000000000e+00, 6.797833756e-03),
    ("dense_1.weight", -3.340580881e+00, 2.931531317e+00),
    ("embedding.weight", 6.277653994e-02, 1.349964191e-01),
    ("multi_head_attention.in_proj_bias", 2.932507355e-04, 3.375836349e-08),
    ("multi_head_attention.in_proj_weight", 1.503223101e+00, 1.848400431e+01),
    ("multi_head_attention.out_proj.bias", -1.064140577e-04, 5.189896489e-08),
    ("multi_head_attention.out_proj.weight", -1.568519293e+00, 5.635716061e+00),
    ("multi_head_attention_1.in_proj_bias", -1.021145472e-01, 7.151869375e-03),
    ("multi_head_attention_1.in_proj_weight", -9.659793298e+00, 1.543728313e+01),
    ("multi_head_attention_1.out_proj.bias", -9.801392264e-02, 7.056901966e-03),
    ("multi_head_attention_1.out_proj.weight", 9.194928917e-01, 4.755431034e+00),
];
