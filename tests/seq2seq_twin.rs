//! Recurrent layers that hand their state on (`return_state`, `initial_state`) against a
//! PyTorch twin: an encoder–decoder of token sequences padded at their ends. An embedding
//! whose id 0 is padding; an encoder LSTM whose last state (h, c) is all it gives (its output
//! is left unread, so its tape travels with the state); a decoder LSTM that starts from that
//! state and returns every step; a dense layer that makes a GRU state of h; a bidirectional
//! GRU whose cells both start from it and which gives its last states; a dense classifier on
//! its output and the sum of its states. It trains 2 SGD steps of 8 sequences from its
//! seeded initial weights, and both losses and every tensor of the final model must equal
//! what `bench/reference/seq2seq_twin.py` computes in PyTorch (float64), where the recurrent
//! layers take and give their states as `h_0`/`h_n` and read the sequences packed; its largest
//! difference on any value is 7.7e-07 of the tensor's scale.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use common::twin::{assert_trains_as, write_padded_sequences, Twin};

#[allow(clippy::unreadable_literal)]
#[test]
fn an_encoder_decoder_of_recurrent_states_trains_as_its_pytorch_twin() {
    let dir = tempfile::tempdir().unwrap();
    write_padded_sequences(dir.path());
    let twin = Twin {
        initial_loss: 1.115122154,
        train_loss: 1.216370108,
        tensors: TWIN,
    };
    assert_trains_as(dir.path(), EXPERIMENT, &twin);
}

/// The experiment both sides train, with `EPOCHS`, `METRICS` and `SAVE` to fill in.
const EXPERIMENT: &str = include_str!("../bench/reference/seq2seq_twin.exp.in");

/// Each tensor of the final model in PyTorch: name, sum, sum of squares (as the script
/// prints them).
#[allow(clippy::unreadable_literal)]
#[rustfmt::skip]
const TWIN: &[(&str, f64, f64)] = &[
    ("dense.bias", 1.799062477e-01, 1.539255051e-02),
    ("dense.weight", 6.245881055e-01, 2.251872858e+00),
    ("dense_1.bias", -6.938893904e-18, 3.505772161e-03),
    ("dense_1.weight", 3.443725854e+00, 4.993357453e+00),
    ("embedding.weight", -1.389838925e-01, 3.784878974e-02),
    ("gru.bias_hh_l0", -6.580068081e-01, 1.242832735e+00),
    ("gru.bias_hh_l0_reverse", -7.545041638e-01, 8.419197658e-01),
    ("gru.bias_ih_l0", -7.423522488e-01, 4.701643731e-01),
    ("gru.bias_ih_l0_reverse", 3.451738711e-01, 1.086481884e+00),
    ("gru.weight_hh_l0", 6.272121318e-01, 3.034716210e+00),
    ("gru.weight_hh_l0_reverse", -1.163511041e+00, 2.365417861e+00),
    ("gru.weight_ih_l0", 1.342557689e+00, 3.468857846e+00),
    ("gru.weight_ih_l0_reverse", -3.367617341e-01, 3.565512546e+00),
    ("lstm.bias_hh_l0", -9.614546985e-01, 1.702281811e+00),
    ("lstm.bias_ih_l0", 8.611597627e-01, 1.143860170e+00),
    ("lstm.weight_hh_l0", -1.069733344e+00, 5.144896843e+00),
    ("lstm.weight_ih_l0", 2.627660953e+00, 7.338976376e+00),
    ("lstm_1.bias_hh_l0", -1.924376533e+00, 1.346168492e+00),
    ("lstm_1.bias_ih_l0", -3.247738639e-01, 9.558173020e-01),
    ("lstm_1.weight_hh_l0", -3.773794033e+00, 4.873928315e+00),
    ("lstm_1.weight_ih_l0", -3.210265017e+00, 5.198821596e+00),
];
