//! What a checkpoint must hold to be resumed: exactly the tensors of the experiment's
//! engine (names and shapes, checked from the header before any data is read), and loop
//! state that a run of this experiment can have reached. A checkpoint is a file anyone can
//! edit; these checks keep an edited one from making resume allocate, spin or train on
//! something else.

use std::collections::BTreeMap;

use ::safetensors::tensor::{Dtype, Metadata};

use super::{EngineScalars, LoopPosition};
use crate::data::Examples;
use crate::lower::Engine;

/// What a checkpoint of one experiment can hold, derived from its engine and its data.
#[derive(Debug, Clone)]
pub struct Expected {
    /// Every tensor of the engine's state, by name.
    pub tensors: BTreeMap<String, Vec<usize>>,
    pub epochs: usize,
    /// Per pass of an epoch, in the loop's order (training steps, then evaluation): its
    /// batches, and whether it trains.
    pub passes: Vec<(usize, bool)>,
    pub metrics: usize,
    /// Metrics written to files: accumulators without a history.
    pub matrices: usize,
    pub optimizers: usize,
    /// Per optimizer: updates per applied update (`accumulate`).
    pub accumulate: Vec<usize>,
    pub max_draws_per_step: u64,
}

impl Expected {
    /// The expectations of `engine`'s experiment over `examples` (by data set).
    pub fn of(engine: &Engine, examples: &[std::sync::Arc<Examples>]) -> Self {
        let exp = engine.experiment();
        let mut tensors: BTreeMap<String, Vec<usize>> = engine
            .snapshot()
            .tensors
            .into_iter()
            .map(|t| (t.name, t.shape))
            .collect();
        if exp.stop.is_some_and(|s| s.restore_best) {
            // Early stopping's best weights: `best.<model>.<name>`, as the models' own.
            for (m, model) in exp.models.iter().enumerate() {
                for t in engine.model_tensors(m) {
                    let name = format!(
                        "{}{}.{}",
                        super::super::train_loop::BEST_PREFIX,
                        model.name,
                        t.name
                    );
                    tensors.insert(name, t.shape);
                }
            }
        }
        let order = (0..exp.steps.len())
            .filter(|&i| exp.steps[i].trains())
            .chain((0..exp.steps.len()).filter(|&i| !exp.steps[i].trains()));
        let passes = order
            .map(|i| {
                let s = &exp.steps[i];
                let n = examples.get(s.data).map_or(0, |e| e.len());
                (n.div_ceil(exp.datasets[s.data].batch.max(1)), s.trains())
            })
            .collect();
        Expected {
            tensors,
            epochs: exp.epochs,
            passes,
            metrics: exp.metrics.len(),
            matrices: exp.matrices.len(),
            optimizers: exp.optimizers.len(),
            accumulate: exp.optimizers.iter().map(|o| o.accumulate).collect(),
            max_draws_per_step: engine.max_draws_per_step(),
        }
    }

    /// The largest file a checkpoint of this experiment can be: its tensors, and a header.
    pub fn file_limit(&self) -> u64 {
        let data: u64 = self
            .tensors
            .values()
            .map(|s| s.iter().fold(4u64, |n, &d| n.saturating_mul(d as u64)))
            .fold(0, u64::saturating_add);
        data.saturating_add(8 + super::file::MAX_HEADER)
    }
}

/// The first tensor in the header that the engine does not have, has with another shape or
/// type, or that the header lacks; in words.
pub fn tensors(header: &Metadata, expected: &Expected) -> Result<(), String> {
    let found = header.tensors();
    let mut names: Vec<&String> = found.keys().collect();
    names.sort();
    for name in names {
        let info = found[name];
        let Some(shape) = expected.tensors.get(name) else {
            return Err(format!(
                "it holds a tensor `{name}` that this experiment's models and optimizers do not have"
            ));
        };
        if info.dtype != Dtype::F32 {
            return Err(format!("`{name}` holds {:?}, not F32", info.dtype));
        }
        if &info.shape != shape {
            return Err(format!(
                "`{name}` has shape {:?}, this experiment's is {shape:?}",
                info.shape
            ));
        }
    }
    if let Some(name) = expected.tensors.keys().find(|n| !found.contains_key(*n)) {
        return Err(format!("it has no `{name}`"));
    }
    Ok(())
}

/// A loop-state field out of its possible range: (field, problem).
pub type Invalid = (&'static str, String);

/// Checks every loop-state field against what a run of the experiment can have reached.
pub fn state(p: &LoopPosition, e: &EngineScalars, x: &Expected) -> Result<(), Invalid> {
    let bad = |field: &'static str, problem: String| Err((field, problem));
    if p.epoch > x.epochs {
        return bad(
            "epoch",
            format!("{} is past the experiment's {} epochs", p.epoch, x.epochs),
        );
    }
    let at_end = p.epoch == x.epochs;
    if at_end && (p.pass, p.next_batch, p.epoch_started) != (0, 0, false) {
        return bad(
            "pass",
            "a checkpoint after the last epoch has no pass in progress".into(),
        );
    }
    let Some(&(batches, _)) = x.passes.get(p.pass).or(at_end.then_some(&(0, false))) else {
        return bad(
            "pass",
            format!("{} is past the epoch's {} passes", p.pass, x.passes.len()),
        );
    };
    if p.next_batch > batches {
        return bad(
            "next_batch",
            format!("{} is past the pass's {batches} batches", p.next_batch),
        );
    }
    let train_per_epoch: u64 = x
        .passes
        .iter()
        .filter(|(_, t)| *t)
        .map(|&(b, _)| b as u64)
        .sum();
    let in_epoch: u64 = x
        .passes
        .iter()
        .take(p.pass)
        .filter(|(_, t)| *t)
        .map(|&(b, _)| b as u64)
        .sum::<u64>()
        + x.passes
            .get(p.pass)
            .filter(|(_, t)| *t)
            .map_or(0, |_| p.next_batch as u64);
    let steps = (p.epoch as u64)
        .saturating_mul(train_per_epoch)
        .saturating_add(in_epoch);
    if p.global_step != steps {
        return bad(
            "global_step",
            format!(
                "{} does not follow from epoch {}, pass {}, batch {} ({steps} steps)",
                p.global_step,
                p.epoch + 1,
                p.pass,
                p.next_batch
            ),
        );
    }
    if p.history.len() != x.metrics || p.history.iter().any(|h| h.len() != p.epoch) {
        return bad(
            "history",
            format!(
                "it must hold {} values (one per epoch done) for each of {} metrics",
                p.epoch, x.metrics
            ),
        );
    }
    if p.times.len() != p.epoch {
        return bad(
            "times",
            format!("{} entries for {} epochs done", p.times.len(), p.epoch),
        );
    }
    // `r2`'s sums come in threes; a classification metric's counts in any number.
    if p.metrics.len() != x.metrics + x.matrices
        || p.metrics.iter().any(|m| match m.as_slice() {
            [sum, count, sums @ ..] => {
                sum.is_infinite()
                    || count.is_nan()
                    || *count < 0.0
                    || sums.iter().any(|s| s.is_infinite())
            }
            _ => true,
        })
    {
        return bad(
            "metrics",
            format!(
                "{} accumulators, {} expected",
                p.metrics.len(),
                x.metrics + x.matrices
            ),
        );
    }
    if let Some(s) = &p.early_stopping {
        // Epochs are watched once they are done: nothing can point at the one in progress.
        let done = p.epoch;
        if (s.best_epoch >= done && (s.has_best_weights || s.wait > 0))
            || s.wait > done
            || s.stopped_epoch.is_some_and(|e| e + 1 != done)
        {
            return bad(
                "early_stopping",
                format!(
                    "best epoch {}, wait {}, stopped {:?} cannot follow from {done} epochs done",
                    s.best_epoch, s.wait, s.stopped_epoch
                ),
            );
        }
    }
    if p.logged_steps
        .iter()
        .any(|r| r.step > p.global_step || r.epoch != p.epoch + 1 || r.values.len() != x.metrics)
    {
        return bad(
            "logged_steps",
            format!(
                "rows must be of epoch {} up to step {}, with {} values",
                p.epoch + 1,
                p.global_step,
                x.metrics
            ),
        );
    }
    if !p.elapsed.is_finite() || p.elapsed < 0.0 {
        return bad(
            "elapsed",
            format!("{} is not a number of seconds", p.elapsed),
        );
    }
    // A step is skipped, or restored from, at most once.
    let counts = p.non_finite;
    if counts.skipped.saturating_add(counts.restored) > p.global_step {
        return bad(
            "non_finite",
            format!(
                "{} skipped and {} restored steps cannot follow from {} steps",
                counts.skipped, counts.restored, p.global_step
            ),
        );
    }
    for rule in &p.plateaus {
        // A rule's value only ever shrinks from `initial` by factors in [0, 1), and it waits
        // at most the epochs done.
        if !rule.value.is_finite() || rule.value < 0.0 || rule.best.is_nan() || rule.wait > p.epoch
        {
            return bad(
                "plateaus",
                format!(
                    "value {}, best {}, wait {} cannot follow from {} epochs done",
                    rule.value, rule.best, rule.wait, p.epoch
                ),
            );
        }
    }
    let before = p.pass_rng_word_pos.parse::<u128>();
    let now = p.rng_word_pos.parse::<u128>();
    match (before, now) {
        (Ok(b), Ok(n)) if b <= n => {}
        _ => {
            return bad(
                "rng_word_pos",
                format!(
                    "`{}` and `{}` are not shuffle positions in order",
                    p.pass_rng_word_pos, p.rng_word_pos
                ),
            )
        }
    }
    if e.optimizers.len() != x.optimizers {
        return bad(
            "optimizers",
            format!(
                "{} optimizers, the experiment has {}",
                e.optimizers.len(),
                x.optimizers
            ),
        );
    }
    for &(iterations, lr) in &e.optimizers {
        if iterations > p.global_step {
            return bad(
                "optimizers",
                format!("{iterations} updates in {} steps", p.global_step),
            );
        }
        if !lr.is_finite() || lr < 0.0 {
            return bad(
                "optimizers",
                format!("the learning rate {lr} is not a finite number ≥ 0"),
            );
        }
    }
    // A group in progress holds fewer gradients than it applies at (none without `accumulate`).
    let groups = x.accumulate.iter().map(|&n| n as u64);
    if let Some((held, group)) = e
        .accumulated
        .iter()
        .zip(groups)
        .find(|&(&h, g)| h >= g.max(1))
    {
        return bad(
            "accumulated",
            format!("{held} gradients held towards an update applied every {group}"),
        );
    }
    if e.accumulated.len() > x.optimizers {
        return bad(
            "accumulated",
            format!(
                "{} optimizers, the experiment has {}",
                e.accumulated.len(),
                x.optimizers
            ),
        );
    }
    let batches_per_epoch: u64 = x.passes.iter().map(|&(b, _)| b as u64).sum();
    let most = (p.epoch as u64 + 1)
        .saturating_mul(batches_per_epoch)
        .saturating_mul(x.max_draws_per_step);
    if e.random_draws > most {
        return bad(
            "random_draws",
            format!(
                "{} draws, but the {} steps so far can have drawn at most {most}",
                e.random_draws, p.global_step
            ),
        );
    }
    Ok(())
}
