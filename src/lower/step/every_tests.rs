//! `every N steps { ... }` runs its statements on the steps N divides, and
//! `clip_weights` clamps one model's parameters where the step reaches it: a WGAN's step.

use super::tests::lowered;
use super::*;

fn engine() -> Engine {
    let text = "experiment t { seed = 3 }
data train = idx(images = \"i\", labels = \"l\", shape = (2, 2), classes = 2) | reshape(4) | batch(4)
model g {
  dense(units = 4, activation = tanh)
}
model critic {
  dense(units = 3, activation = relu)
  dense(units = 1)
}
optimizer c_opt = rmsprop(lr = 0.05) for critic
optimizer g_opt = rmsprop(lr = 0.05) for g
train { epochs = 1 }
step on train (x, y) {
  fake = g(normal(4), training = true)
  c_loss = mean(critic(detach(fake), training = true)) - mean(critic(x, training = true))
  update c_opt minimizing c_loss
  clip_weights(critic, min = -0.02, max = 0.03)
  every 3 steps {
    g_loss = -mean(critic(fake, training = true))
    update g_opt minimizing g_loss
  }
}";
    lowered(text)
}

/// Runs the step as training step `number`, with no hooks.
struct StepNumber(u64);

impl UpdateHooks for StepNumber {
    fn before_update(&mut self, _: usize, _: &mut [f64], _: &mut [Vec<f32>]) {}
    fn step_number(&self) -> u64 {
        self.0
    }
}

fn batch() -> Batch {
    Batch {
        x: (0..16).map(|i| (i as f32 - 7.5) / 8.0).collect(),
        shape: vec![4, 4],
        labels: vec![0, 1, 0, 1],
        dense_y: None,
    }
}

#[test]
fn the_block_runs_on_the_steps_its_period_divides() {
    let mut engine = engine();
    let (g, critic) = (0, 1);
    let mut last = engine.parameters();
    for number in 1..=6 {
        let out = engine.run_step(0, &batch(), &[], &mut StepNumber(number));
        let now = engine.parameters();
        let block_ran = number % 3 == 0;
        assert_eq!(
            now[g] != last[g],
            block_ran,
            "step {number}: the generator moved?"
        );
        assert_eq!(
            out.values.contains_key("g_loss"),
            block_ran,
            "step {number}"
        );
        assert_ne!(
            now[critic], last[critic],
            "step {number}: the critic trains on each"
        );
        last = now;
    }
    assert_eq!(engine.optimizers[1].iterations, 2);
    assert_eq!(engine.optimizers[0].iterations, 6);
}

#[test]
fn clip_weights_clamps_one_models_parameters_after_its_update() {
    let mut engine = engine();
    let before = engine.parameters();
    // Glorot-uniform weights of a 3-unit layer reach far past 0.03.
    assert!(before[1][0].iter().any(|v| v.abs() > 0.1));
    engine.run_step(0, &batch(), &[], &mut StepNumber(1));
    let after = engine.parameters();
    let critic: Vec<f32> = after[1].concat();
    assert!(
        critic.iter().all(|v| (-0.02..=0.03).contains(v)),
        "{critic:?}"
    );
    assert!(critic.contains(&-0.02) && critic.contains(&0.03));
    // The generator's parameters are not the critic's: untouched (no update on step 1).
    assert_eq!(after[0], before[0]);
    assert!(after[0][0].iter().any(|v| v.abs() > 0.03));
}
