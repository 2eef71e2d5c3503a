//! A value an update computed without training through it (a GAN's fakes, read detached by
//! the discriminator's loss) is carried into the next update instead of computed again,
//! and the parameters an update does not train get no gradient: the weights come out to
//! the bit as when every update computes what it reads afresh.

use super::tests::{lowered, NoHooks};
use super::*;

/// A GAN's step. With `again`, the generator's loss reads fakes of its own name, which its
/// update computes afresh; without, it reads the `fake` the discriminator's update computed.
/// `extra` goes into the generator after its first layer.
fn engine(again: bool, extra: &str) -> Engine {
    let (g_fake, fake2) = if again {
        ("fake2", "fake2 = g(z, training = true)")
    } else {
        // No `fake2` at all: a name no update reads is computed after the updates.
        ("fake", "")
    };
    let text = format!(
        "experiment t {{ seed = 11 }}
data train = idx(images = \"i\", labels = \"l\", shape = (2, 2), classes = 2) | reshape(4) | batch(6)
model g {{
  dense(units = 8, activation = leaky_relu)
  {extra}
  dense(units = 4, activation = tanh)
}}
model d {{
  dense(units = 5, activation = leaky_relu)
  dense(units = 1)
}}
loss bce = binary_crossentropy(from_logits = true)
optimizer d_opt = adam(lr = 0.01) for d
optimizer g_opt = adam(lr = 0.01) for g
train {{ epochs = 1 }}
step on train (x, y) {{
  z = normal(3)
  fake = g(z, training = true)
  {fake2}
  real = x * 2 - 1
  real_logits = d(real, training = true)
  fake_logits = d(detach(fake), training = true)
  d_loss = bce(ones_like(real_logits), real_logits) + bce(zeros_like(fake_logits), fake_logits)
  update d_opt minimizing d_loss
  g_logits = d({g_fake}, training = true)
  g_loss = bce(ones_like(g_logits), g_logits)
  update g_opt minimizing g_loss
}}"
    );
    lowered(&text)
}

/// Every parameter and every state buffer of both models after three steps.
fn after_steps(mut engine: Engine) -> Vec<Vec<f32>> {
    let batch = Batch {
        x: (0..24).map(|i| ((i * 7 % 11) as f32) / 10.0).collect(),
        shape: vec![6, 4],
        labels: vec![0, 1, 0, 1, 1, 0],
        dense_y: None,
    };
    for _ in 0..3 {
        engine.run_step(0, &batch, &[], &mut NoHooks);
    }
    engine
        .models
        .iter()
        .flat_map(|m| {
            let params = m.params.iter().map(|p| p.value.to_vec());
            params.chain(m.state.iter().map(|s| s.value.clone()))
        })
        .collect()
}

#[test]
fn carried_fakes_give_the_bits_of_fakes_computed_again() {
    // Batch norm's running statistics come from both calls of the generator, or from the
    // one carried; dropout draws a new mask per call, so its fakes are never carried.
    for extra in ["", "batchnorm()", "dropout(rate = 0.5)"] {
        let carried = after_steps(engine(false, extra));
        let again = after_steps(engine(true, extra));
        assert_eq!(carried.len(), again.len());
        for (i, (a, b)) in carried.iter().zip(&again).enumerate() {
            assert!(
                a == b,
                "generator with `{extra}`: tensor {i}: {a:?} vs {b:?}"
            );
        }
    }
}

/// The weights of `b` after a step whose first update trains `a` and whose second reads
/// `h = a(x)`; with `peek`, the first update also reads `h`, detached.
fn b_after_step(peek: bool) -> Vec<f32> {
    let peek = if peek { " + 0 * mean(detach(h))" } else { "" };
    let text = format!(
        "experiment t {{ seed = 2 }}
data train = idx(images = \"i\", labels = \"l\", shape = (2, 2), classes = 2) | reshape(4) | batch(3)
model a {{
  dense(units = 3, activation = tanh)
}}
model b {{
  dense(units = 2)
}}
optimizer a_opt = sgd(lr = 0.5) for a
optimizer b_opt = sgd(lr = 0.5) for b
train {{ epochs = 1 }}
step on train (x, y) {{
  h = a(x, training = true)
  loss_a = mean(a(x, training = true) ** 2){peek}
  update a_opt minimizing loss_a
  loss_b = mean(b(h, training = true) ** 2)
  update b_opt minimizing loss_b
}}"
    );
    let mut engine = lowered(&text);
    let batch = Batch {
        x: (0..12).map(|i| (i as f32 - 5.0) / 6.0).collect(),
        shape: vec![3, 4],
        labels: vec![0, 1, 0],
        dense_y: None,
    };
    engine.run_step(0, &batch, &[], &mut NoHooks);
    engine.models[1].params[0].value.to_vec()
}

#[test]
fn a_value_of_a_model_trained_in_between_is_computed_again() {
    // The second update must see `h` from `a` as the first update left it, not the `h`
    // the first update computed before training `a`.
    assert_eq!(b_after_step(true), b_after_step(false));
}
