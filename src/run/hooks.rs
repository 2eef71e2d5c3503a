//! The hooks of the loop: `on step` between an update's backward pass and the optimizer
//! (learning rates, gradient clipping), and the actions of `on epoch_start`, `on epoch_end`
//! and `on every N steps` (learning rates, log lines, grids).

use super::metrics::MetricSet;
use super::scalar::{self, LoopState};
use super::train_loop::Loop;
use super::{grid, sample};
use crate::check::plan::{Action, Clip, Experiment};
use crate::lower::UpdateHooks;
use crate::source::Span;

/// A learning rate a hook computed that no optimizer can train with: not finite, or below 0
/// (`opt.lr = -1` would train by gradient ascent without a word). It is not applied; the
/// loop stops with the hook's span. 0 is allowed: it freezes a model (a GAN's
/// discriminator), and schedules decay to it (Keras' `CosineDecay` with its default
/// `alpha = 0` ends there).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BadLr {
    pub optimizer: usize,
    pub value: f64,
    pub span: Span,
}

/// The loop's position, for hooks evaluated inside a step.
#[derive(Clone, Copy)]
pub struct Position {
    pub epoch: usize,
    pub global_step: u64,
    pub steps_per_epoch: usize,
}

/// The `on step` hooks of one step, with what their expressions may read.
pub struct OnStep<'a> {
    pub exp: &'a Experiment,
    pub position: Position,
    /// The metrics as they stand before this batch.
    pub metrics: &'a MetricSet,
    /// The value of each `reduce_on_plateau` rule.
    pub plateaus: &'a [f64],
    /// The first learning rate a hook computed that cannot be used, for the loop to stop on.
    pub bad_lr: Option<BadLr>,
}

impl UpdateHooks for OnStep<'_> {
    fn step_number(&self) -> u64 {
        self.position.global_step + 1
    }

    fn before_update(&mut self, optimizer: usize, lrs: &mut [f64], grads: &mut [Vec<f32>]) {
        let metric = |i: usize| self.metrics.value(i);
        let state = LoopState {
            epoch: self.position.epoch,
            epochs: self.exp.epochs,
            global_step: self.position.global_step,
            steps_per_epoch: self.position.steps_per_epoch,
            lrs,
            metrics: &metric,
            plateaus: self.plateaus,
        };
        let actions = &self.exp.hooks.on_step;
        match new_lrs(actions, &state, |o| o == optimizer) {
            Ok(changes) => {
                for (o, lr) in changes {
                    lrs[o] = lr;
                }
            }
            Err(bad) => {
                self.bad_lr.get_or_insert(bad);
            }
        }
        for action in actions {
            if let Action::Clip { clip, optimizers } = action {
                if optimizers.contains(&optimizer) {
                    apply_clip(*clip, grads);
                }
            }
        }
    }
}

/// The learning rates `actions` set for the optimizers `which` selects, each evaluated
/// against the state before any of them changes; the first that cannot be used is an error
/// and none is applied.
fn new_lrs(
    actions: &[Action],
    state: &LoopState<'_>,
    which: impl Fn(usize) -> bool,
) -> Result<Vec<(usize, f64)>, BadLr> {
    let mut changes = Vec::new();
    for action in actions {
        if let Action::SetLr {
            optimizer,
            value,
            span,
        } = action
        {
            if which(*optimizer) {
                let lr = scalar::eval(value, state);
                if !(lr.is_finite() && lr >= 0.0) {
                    return Err(BadLr {
                        optimizer: *optimizer,
                        value: lr,
                        span: *span,
                    });
                }
                changes.push((*optimizer, lr));
            }
        }
    }
    Ok(changes)
}

fn apply_clip(c: Clip, grads: &mut [Vec<f32>]) {
    match c {
        Clip::Norm(max) => grads.iter_mut().for_each(|g| clip::by_norm(g, max)),
        Clip::GlobalNorm(max) => clip::by_global_norm(grads, max),
        Clip::Value(max) => grads.iter_mut().for_each(|g| clip::by_value(g, max)),
    }
}

impl Loop<'_> {
    /// Runs hook actions outside a step: learning rates, log lines and grids. (Plots and
    /// saves are `after` actions, run by the caller.) A learning rate that cannot be used
    /// stops the loop before anything else of these actions happens.
    pub fn hooks(&mut self, actions: &[Action], epoch: usize) -> Result<(), BadLr> {
        let lrs = self.engine.lrs();
        let metrics = &self.metrics;
        let metric = |i: usize| metrics.value(i);
        let plateaus = self.plateau_values();
        let state = LoopState {
            epoch,
            epochs: self.engine.experiment().epochs,
            global_step: self.global_step,
            steps_per_epoch: self.steps_per_epoch(),
            lrs: &lrs,
            metrics: &metric,
            plateaus: &plateaus,
        };
        let changes = new_lrs(actions, &state, |_| true)?;
        let mut lines = Vec::new();
        for action in actions {
            match action {
                Action::Log(format) => lines.push(scalar::render(format, &state)),
                Action::Grid { path: to, .. } => {
                    if let Some(dir) = &self.out_dir {
                        match grid::draw(&self.engine, action, &self.kept, epoch + 1, dir) {
                            Ok(Some(path)) => {
                                lines.push(format!("grid: {}", path.display()));
                                self.drawn.push((to.clone(), path));
                            }
                            Ok(None) => {}
                            Err(e) => lines.push(format!("grid not written: {e}")),
                        }
                    }
                }
                Action::Sample { path: to, .. } => {
                    let (line, path) = self.sample(action, epoch + 1);
                    lines.push(line);
                    self.sampled.extend(path.map(|p| (to.clone(), p)));
                }
                _ => {}
            }
        }
        for (opt, lr) in changes {
            self.engine.set_lr(opt, lr);
        }
        for line in lines {
            (self.out)(&line);
        }
        Ok(())
    }
}

impl Loop<'_> {
    /// Runs a `sample` action after epoch `epoch` (1-based): the text for the log, and the
    /// file it went to (none outside a run directory, or when it could not be written).
    pub fn sample(&self, action: &Action, epoch: usize) -> (String, Option<std::path::PathBuf>) {
        let Action::Sample { data, .. } = action else {
            unreachable!("called on a `sample` action")
        };
        let vocabulary = sample::Vocabulary::of(&self.examples[*data].encoding);
        let text = sample::generate(&self.engine, action, &vocabulary, epoch);
        let Some(dir) = &self.out_dir else {
            return (format!("sample:\n{text}"), None);
        };
        match sample::write(action, &text, epoch, dir) {
            Ok(path) => (format!("sample ({}):\n{text}", path.display()), Some(path)),
            Err(e) => (format!("sample not written: {e}\n{text}"), None),
        }
    }
}

/// Gradient clipping, before the update (TensorFlow's formulas).
pub mod clip {
    /// `tf.clip_by_norm`: scale the tensor down to `max` L2 norm if it is longer.
    pub fn by_norm(grad: &mut [f32], max: f32) {
        let norm = l2(grad);
        if norm > f64::from(max) {
            let scale = (f64::from(max) / norm) as f32;
            for g in grad.iter_mut() {
                *g *= scale;
            }
        }
    }

    /// `tf.clip_by_global_norm`: all tensors scaled by `max / max(global_norm, max)`.
    pub fn by_global_norm(grads: &mut [Vec<f32>], max: f32) {
        let global = grads.iter().map(|g| l2(g).powi(2)).sum::<f64>().sqrt();
        if global > f64::from(max) {
            let scale = (f64::from(max) / global) as f32;
            for g in grads.iter_mut().flat_map(|g| g.iter_mut()) {
                *g *= scale;
            }
        }
    }

    pub fn by_value(grad: &mut [f32], max: f32) {
        for g in grad.iter_mut() {
            *g = g.clamp(-max, max);
        }
    }

    fn l2(v: &[f32]) -> f64 {
        v.iter()
            .map(|x| f64::from(*x) * f64::from(*x))
            .sum::<f64>()
            .sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::{clip, OnStep, Position};
    use crate::lower::UpdateHooks;
    use crate::run::metrics::MetricSet;

    #[test]
    fn each_optimizer_is_clipped_with_its_own_values_only() {
        let text = "experiment t { seed = 1 }
data train = idx(images = \"i\", labels = \"l\", shape = (2, 2), classes = 2) | reshape(4) | batch(2)
model a { dense(units = 1) }
model b { dense(units = 1) }
optimizer a_opt = sgd() for a
optimizer b_opt = sgd() for b
train { epochs = 1 }
step on train (x, y) {
  la = mean(a(x, training = true))
  update a_opt minimizing la
  lb = mean(b(x, training = true))
  update b_opt minimizing lb
}
on step {
  clip(value = 0.5, optimizer = a_opt)
  clip(norm = 1.0, optimizer = b_opt)
}";
        let file = crate::syntax::parse_file(text).expect("parses");
        let exp = crate::check::check(&file).unwrap_or_else(|e| panic!("{e:?}"));
        let metrics = MetricSet::new(&exp.metrics, &exp.matrices);
        let mut hooks = OnStep {
            exp: &exp,
            position: Position {
                epoch: 0,
                global_step: 0,
                steps_per_epoch: 1,
            },
            metrics: &metrics,
            plateaus: &[],
            bad_lr: None,
        };
        let grads = || vec![vec![3.0f32, -4.0, 0.25, 0.0], vec![2.0]];
        let mut lrs = vec![0.01, 0.01];
        // `a_opt`: each value clamped to [-0.5, 0.5]; `b_opt`'s norm leaves it alone.
        let mut ga = grads();
        hooks.before_update(0, &mut lrs, &mut ga);
        assert_eq!(ga, vec![vec![0.5, -0.5, 0.25, 0.0], vec![0.5]]);
        // `b_opt`: each tensor to norm 1 (`[3, -4, 0.25, 0]` has norm 5.0062...).
        let mut gb = grads();
        hooks.before_update(1, &mut lrs, &mut gb);
        let norm = (9.0f64 + 16.0 + 0.0625).sqrt();
        close(&gb[0], &[3.0 / norm, -4.0 / norm, 0.25 / norm, 0.0]);
        close(&gb[1], &[1.0]);
        assert_eq!(lrs, vec![0.01, 0.01]);
    }

    fn close(a: &[f32], b: &[f64]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((f64::from(*x) - y).abs() < 5e-6, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn clipping_matches_tensorflow() {
        let mut g = vec![3.0f32, 4.0];
        clip::by_norm(&mut g, 1.0);
        close(&g, &[0.6, 0.8]);
        let mut small = vec![0.3f32, 0.4];
        clip::by_norm(&mut small, 1.0);
        close(&small, &[0.3, 0.4]);
        let mut all = vec![vec![3.0f32], vec![4.0]];
        clip::by_global_norm(&mut all, 2.5);
        close(&[all[0][0], all[1][0]], &[1.5, 2.0]);
        let mut v = vec![-3.0f32, 0.5];
        clip::by_value(&mut v, 1.0);
        close(&v, &[-1.0, 0.5]);
    }
}
