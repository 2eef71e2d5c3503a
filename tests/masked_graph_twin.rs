//! Padding masks in a graph model against a PyTorch twin: an embedding whose id 0 is padding;
//! a memory made from it by a per-position dense layer (which carries the mask); attention
//! with its queries from the embedding and its keys and values from the memory; causal
//! self-attention of the embedding; their sum normalised at each position; the mean over the
//! positions that are not padding and a dense classifier. It trains 2 SGD steps of 8 token
//! sequences padded at their ends, starts and middles, from its seeded initial weights, and
//! both losses and every tensor of the final model must equal what
//! `bench/reference/masked_graph_twin.py` computes in PyTorch (float64), where both
//! attentions get the padding as `key_padding_mask`; its largest difference on any value is
//! 2.9e-07 of the tensor's scale. Without the mask, or without it on the cross-attention's
//! keys alone, the difference is 0.8.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use std::path::Path;

use common::twin::{assert_trains_as, i64_bytes, Twin};
use common::write_npy;

/// The script's sequences: ids `1 + (n*5 + t*t + 2*t) % 6`, 6 steps, some set to 0.
fn write_data(dir: &Path) {
    let pads: [&[usize]; 8] = [
        &[4, 5],
        &[],
        &[3],
        &[1, 2, 5],
        &[5],
        &[2, 3, 4, 5],
        &[],
        &[1],
    ];
    let ids: Vec<i64> = (0..8)
        .flat_map(|n| {
            (0..6).map(move |t| {
                if pads[n].contains(&t) {
                    0
                } else {
                    1 + (n as i64 * 5 + (t * t) as i64 + 2 * t as i64) % 6
                }
            })
        })
        .collect();
    write_npy(&dir.join("x.npy"), "<i8", &[8, 6], &i64_bytes(&ids));
    let labels = i64_bytes(&[0, 2, 1, 1, 2, 0, 0, 1]);
    write_npy(&dir.join("y.npy"), "<i8", &[8], &labels);
}

#[allow(clippy::unreadable_literal)]
#[test]
fn masks_in_a_graph_train_as_the_pytorch_twin() {
    let dir = tempfile::tempdir().unwrap();
    write_data(dir.path());
    let twin = Twin {
        initial_loss: 1.235975390,
        train_loss: 1.620349160,
        tensors: TWIN,
    };
    assert_trains_as(dir.path(), EXPERIMENT, &twin);
}

/// The experiment both sides train, with `EPOCHS`, `METRICS` and `SAVE` to fill in.
const EXPERIMENT: &str = include_str!("../bench/reference/masked_graph_twin.exp.in");

/// Each tensor of the final model in PyTorch: name, sum, sum of squares (as the script
/// prints them).
#[allow(clippy::unreadable_literal)]
#[rustfmt::skip]
const TWIN: &[(&str, f64, f64)] = &[
    ("dense.bias", -2.331316321e+00, 1.674140668e+01),
    ("dense.weight", -6.142468767e-01, 6.380744972e+00),
    ("dense_1.bias", 2.775557562e-17, 6.384173606e-02),
    ("dense_1.weight", -3.340580881e+00, 2.306556115e+00),
    ("embedding.weight", -2.670664565e-01, 3.891436955e+01),
    ("layer_normalization.bias", 1.037371973e-01, 4.276653919e-02),
    ("layer_normalization.weight", 5.212867753e+00, 4.607721762e+00),
    ("multi_head_attention.in_proj_bias", 6.458619125e+00, 2.139281586e+01),
    ("multi_head_attention.in_proj_weight", 1.909582206e+00, 1.848651607e+01),
    ("multi_head_attention.out_proj.bias", -1.443289932e-15, 1.063320785e+01),
    ("multi_head_attention.out_proj.weight", -1.568533778e+00, 5.609102746e+00),
    ("multi_head_attention_1.in_proj_bias", 5.947430742e-01, 9.544995641e+00),
    ("multi_head_attention_1.in_proj_weight", -9.469870327e+00, 1.542729116e+01),
    ("multi_head_attention_1.out_proj.bias", -1.443289932e-15, 1.063320785e+01),
    ("multi_head_attention_1.out_proj.weight", 9.271704555e-01, 4.746378335e+00),
];
