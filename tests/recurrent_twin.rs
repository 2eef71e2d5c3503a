//! `attention` and bidirectional `lstm` and `gru` under the padding mask of
//! `embedding(mask_zero = true)` against a PyTorch twin: a small model (embedding,
//! self-attention, a bidirectional LSTM returning sequences, a bidirectional GRU returning
//! its last states, a dense classifier) trains 2 SGD steps of 8 token sequences padded at
//! the end, from its seeded initial weights, and both losses and every tensor of the final
//! model must equal what `bench/reference/recurrent_twin.py` computes in PyTorch (float64).
//! There, expr's initial model file loads into `nn.MultiheadAttention` and
//! `nn.LSTM`/`nn.GRU(bidirectional=True)` with a strict `load_state_dict`, the attention
//! leaves the padded keys out (`key_padding_mask`) and the recurrent layers read the
//! sequences packed (`pack_padded_sequence`); its largest difference on any value is
//! 2.9e-06 of the tensor's scale.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use common::twin::{assert_trains_as, write_padded_sequences, Twin};

#[allow(clippy::unreadable_literal)]
#[test]
fn masked_attention_and_bidirectional_recurrent_layers_train_as_their_pytorch_twin() {
    let dir = tempfile::tempdir().unwrap();
    write_padded_sequences(dir.path());
    let twin = Twin {
        initial_loss: 1.047146589,
        train_loss: 1.066874009,
        tensors: TWIN,
    };
    assert_trains_as(dir.path(), EXPERIMENT, &twin);
}

/// The experiment both sides train, with `EPOCHS`, `METRICS` and `SAVE` to fill in.
const EXPERIMENT: &str = include_str!("../bench/reference/recurrent_twin.exp.in");

/// Each tensor of the final model in PyTorch: name, sum, sum of squares (as the script
/// prints them).
#[allow(clippy::unreadable_literal)]
#[rustfmt::skip]
const TWIN: &[(&str, f64, f64)] = &[
    ("dense.bias", -1.387778781e-17, 5.521926986e-03),
    ("dense.weight", 2.603702575e+00, 2.284861617e+00),
    ("embedding.weight", -3.278198353e-02, 3.273334876e-02),
    ("gru.bias_hh_l0", -6.198559967e-02, 5.857292631e-01),
    ("gru.bias_hh_l0_reverse", 7.141517124e-01, 7.471213701e-01),
    ("gru.bias_ih_l0", -3.130858110e-01, 5.461664734e-01),
    ("gru.bias_ih_l0_reverse", -5.920579535e-01, 1.077265170e+00),
    ("gru.weight_hh_l0", -8.957246703e-01, 2.767227415e+00),
    ("gru.weight_hh_l0_reverse", 9.540441921e-01, 3.501137054e+00),
    ("gru.weight_ih_l0", 1.364054542e+00, 8.513086491e+00),
    ("gru.weight_ih_l0_reverse", -2.418627337e+00, 8.813794997e+00),
    ("lstm.bias_hh_l0", 2.280078583e+00, 1.523315707e+00),
    ("lstm.bias_hh_l0_reverse", 1.087209814e+00, 1.122679484e+00),
    ("lstm.bias_ih_l0", 6.296075512e-01, 1.365425724e+00),
    ("lstm.bias_ih_l0_reverse", 2.429560054e-01, 9.501298420e-01),
    ("lstm.weight_hh_l0", 4.994804607e-01, 3.811782717e+00),
    ("lstm.weight_hh_l0_reverse", -2.237529330e+00, 5.411355171e+00),
    ("lstm.weight_ih_l0", -1.048291115e+00, 7.531775457e+00),
    ("lstm.weight_ih_l0_reverse", -3.108831853e+00, 7.241148945e+00),
    ("multi_head_attention.in_proj_bias", 8.628144444e-04, 3.107498539e-05),
    ("multi_head_attention.in_proj_weight", -1.441537568e+00, 1.831075557e+01),
    ("multi_head_attention.out_proj.bias", -2.720977065e-03, 2.850631690e-05),
    ("multi_head_attention.out_proj.weight", 2.722576078e+00, 5.842917539e+00),
];
