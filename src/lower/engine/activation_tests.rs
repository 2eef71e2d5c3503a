//! A model of the newer layers trained through the engine: selu and swish activations,
//! `spatial_dropout2d` in training, `log_softmax` with `nll_loss` (PyTorch's mnist ending).

use std::sync::Arc;

use super::*;
use crate::data::Batch;
use crate::lower::UpdateHooks;

struct NoHooks;

impl UpdateHooks for NoHooks {
    fn before_update(&mut self, _: usize, _: &mut [f64], _: &mut [Vec<f32>]) {}
}

fn engine(seed: u64) -> Engine {
    let text = format!(
        "experiment t {{ seed = {seed} }}
data train = idx(images = \"i\", labels = \"l\", shape = (6, 6), classes = 3) | channel_axis() | batch(4)
model m {{
  conv2d(filters = 8, kernel = 3, activation = selu)
  spatial_dropout2d(rate = 0.25)
  hard_sigmoid()
  flatten()
  dense(units = 16, activation = swish)
  elu(alpha = 0.5)
  dense(units = 3, activation = softplus)
  log_softmax()
}}
loss nll = nll_loss()
optimizer opt = sgd(lr = 0.2)
train {{ model = m
  data = train
  loss = nll
  optimizer = opt
  epochs = 1 }}"
    );
    let file = crate::syntax::parse_file(&text).expect("parses");
    let exp = crate::check::check(&file).unwrap_or_else(|e| panic!("{e:?}"));
    Engine::new(Arc::new(exp))
}

fn batch() -> Batch {
    Batch {
        x: (0..4 * 36)
            .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
            .collect(),
        shape: vec![4, 1, 6, 6],
        labels: vec![0, 2, 1, 2],
        dense_y: None,
    }
}

fn losses(seed: u64, steps: usize) -> Vec<f32> {
    let mut e = engine(seed);
    (0..steps)
        .map(|_| {
            let out = e.run_step(0, &batch(), &[], &mut NoHooks);
            assert!(out.non_finite.is_none(), "{:?}", out.non_finite);
            out.loss.expect("the step binds its loss")
        })
        .collect()
}

#[test]
fn the_newer_layers_train_and_repeat_bit_for_bit_with_the_seed() {
    let a = losses(5, 40);
    assert_eq!(
        a,
        losses(5, 40),
        "same seed, same bits (dropout masks included)"
    );
    // The first loss is about ln 3, the log-likelihood of a near-uniform guess.
    assert!((a[0] - 3f32.ln()).abs() < 0.5, "{a:?}");
    let first: f32 = a[..5].iter().sum();
    let last: f32 = a[35..].iter().sum();
    assert!(last < first, "the loss falls: {a:?}");
}
