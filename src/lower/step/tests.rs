//! A layer's `kernel_regularizer` in an update: the weight moves by the penalty's gradient
//! on top of the loss's, and nothing else changes.

use std::sync::Arc;

use super::*;

fn engine(regularizer: &str) -> Engine {
    let text = format!(
        "experiment t {{ seed = 5 }}
data train = idx(images = \"i\", labels = \"l\", shape = (2, 2), classes = 2) | batch(3)
model g {{
  flatten()
  dense(units = 3, activation = tanh, kernel_regularizer = {regularizer})
}}
optimizer opt = sgd(lr = 0.1)
train {{ epochs = 1 }}
step on train (x, y) {{
  h = g(x, training = true)
  loss = mean(h * h)
  update opt minimizing loss
}}"
    );
    lowered(&text)
}

/// The engine of an experiment's text, which must check.
pub(super) fn lowered(text: &str) -> Engine {
    let file = crate::syntax::parse_file(text).expect("parses");
    let exp = crate::check::check(&file).unwrap_or_else(|e| panic!("{e:?}"));
    Engine::new(Arc::new(exp))
}

/// Hooks that do nothing, for a step run outside the loop.
pub(super) struct NoHooks;

impl UpdateHooks for NoHooks {
    fn before_update(&mut self, _: usize, _: &mut [f64], _: &mut [Vec<f32>]) {}
}

/// The model's weight and bias after one update.
fn one_update(regularizer: &str) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut engine = engine(regularizer);
    let before = engine.models[0].params[0].value.to_vec();
    let batch = Batch {
        x: (0..12).map(|i| (i as f32 - 5.5) / 4.0).collect(),
        shape: vec![3, 2, 2],
        labels: vec![0, 1, 0],
        dense_y: None,
    };
    engine.run_step(0, &batch, &[], &mut NoHooks);
    let params = &engine.models[0].params;
    (before, params[0].value.to_vec(), params[1].value.to_vec())
}

#[test]
fn a_kernel_regularizer_adds_its_gradient_to_every_update() {
    let (w0, plain, plain_bias) = one_update("none");
    for (reg, grad) in [
        // 2 * 0.5 * w
        ("l2(0.5)", w0.clone()),
        // 0.25 * sign(w)
        ("l1(0.25)", w0.iter().map(|w| 0.25 * w.signum()).collect()),
        (
            "l1_l2(l1 = 0.25, l2 = 0.5)",
            w0.iter().map(|w| 0.25 * w.signum() + w).collect(),
        ),
    ] {
        let (same_start, regularized, bias) = one_update(reg);
        assert_eq!(same_start, w0, "{reg}: the regularizer draws nothing");
        assert_eq!(bias, plain_bias, "{reg}: the bias is not regularized");
        for k in 0..w0.len() {
            let moved = regularized[k] - plain[k];
            let expected = -0.1 * grad[k];
            assert!(
                (moved - expected).abs() < 1e-6,
                "{reg}: weight {k}: {moved} vs {expected}"
            );
        }
    }
}
