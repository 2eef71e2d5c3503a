//! `accumulate = N`: N updates on batches of B move the weights as one update on the batch
//! of N·B made of them (a mean loss), up to the order of the sums; a partial group is
//! applied by [`Engine::apply_accumulated`] as the mean of what it holds.

use super::tests::{lowered, NoHooks};
use super::*;

fn engine(batch: usize, accumulate: usize) -> Engine {
    let text = format!(
        "experiment t {{ seed = 11 }}
data train = idx(images = \"i\", labels = \"l\", shape = (2, 3), classes = 3) | batch({batch})
model m {{
  flatten()
  dense(units = 5, activation = tanh, kernel_regularizer = l2(0.01))
  dense(units = 3)
}}
loss xent = sparse_categorical_crossentropy(from_logits = true)
optimizer opt = adam(lr = 0.05, accumulate = {accumulate})
train {{ model = m
  data = train
  loss = xent
  optimizer = opt
  epochs = 1 }}"
    );
    lowered(&text)
}

/// Examples `from..to` of a fixed pseudo-random set: 6 inputs and a class each.
fn batch(from: usize, to: usize) -> Batch {
    let rows = to - from;
    Batch {
        x: (from * 6..to * 6)
            .map(|i| ((i * 37 % 23) as f32 / 11.0) - 1.0)
            .collect(),
        shape: vec![rows, 2, 3],
        labels: (from..to).map(|i| (i * 7 + 1) % 3).collect(),
        dense_y: None,
    }
}

fn weights(engine: &Engine) -> Vec<f32> {
    engine.parameters().concat().concat()
}

fn assert_close(a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len());
    for (k, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() < 2e-6, "parameter {k}: {x} vs {y}");
    }
}

#[test]
fn accumulating_three_batches_of_four_is_one_batch_of_twelve() {
    let mut small = engine(4, 3);
    let mut large = engine(12, 1);
    let start = weights(&small);
    assert_eq!(start, weights(&large), "the same initial weights");
    for group in 0..2 {
        let group_start = weights(&small);
        for k in 0..3 {
            let from = group * 12 + k * 4;
            small.run_step(0, &batch(from, from + 4), &[], &mut NoHooks);
            if k < 2 {
                assert_eq!(weights(&small), group_start, "nothing applied mid-group");
            }
        }
        large.run_step(0, &batch(group * 12, group * 12 + 12), &[], &mut NoHooks);
        assert_ne!(weights(&large), start);
        assert_close(&weights(&small), &weights(&large));
    }
    // Adam's bias correction counts applied updates, as Keras 3's `iterations` does.
    assert_eq!(small.optimizers[0].iterations, 2);
}

#[test]
fn an_epochs_partial_group_is_applied_as_the_mean_of_its_batches() {
    let mut small = engine(4, 3);
    let mut large = engine(8, 1);
    small.run_step(0, &batch(0, 4), &[], &mut NoHooks);
    small.run_step(0, &batch(4, 8), &[], &mut NoHooks);
    assert_eq!(small.snapshot().accumulated, vec![2]);
    assert!(small.apply_accumulated(&mut NoHooks).is_none());
    large.run_step(0, &batch(0, 8), &[], &mut NoHooks);
    assert_close(&weights(&small), &weights(&large));
    assert_eq!(small.snapshot().accumulated, vec![0]);
    // Nothing held: nothing applied.
    let before = weights(&small);
    small.apply_accumulated(&mut NoHooks);
    assert_eq!(weights(&small), before);
}

#[test]
fn a_group_in_progress_survives_a_snapshot_bit_for_bit() {
    let mut a = engine(4, 3);
    a.run_step(0, &batch(0, 4), &[], &mut NoHooks);
    let state = a.snapshot();
    assert_eq!(state.accumulated, vec![1]);
    assert!(state
        .tensors
        .iter()
        .any(|t| t.name == "accum.opt.m.dense.weight"));
    let mut b = engine(4, 3);
    b.restore(&state).expect("restores");
    for e in [&mut a, &mut b] {
        e.run_step(0, &batch(4, 8), &[], &mut NoHooks);
        e.run_step(0, &batch(8, 12), &[], &mut NoHooks);
    }
    let bits = |e: &Engine| weights(e).iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&a), bits(&b));
    assert_eq!(a.optimizers[0].iterations, 1);
}
