//! The epoch/step loop: each epoch runs the training steps over their
//! (reshuffled) data, then the evaluation steps, then the epoch-end hooks.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::checkpoint::{Checkpoint, LoopPosition};
use super::grid::Kept;
use super::hooks::{BadLr, OnStep, Position};
use super::metrics::{self, MetricSet};
use super::plateau::PlateauState;
use super::prefetch::{Prefetch, Recipe};
use super::stopping::{Stopper, Verdict};
use crate::check::plan::{Action, DataSet, Labels, NonFinitePolicy};
use crate::data::augment::Draws;
use crate::data::{batches, shuffle_order, Batch, Examples};
use crate::lower::{streams, Engine};
use crate::output::model_file::NamedTensor;
use crate::output::progress::Progress;
use crate::record::schema::StepRow;

/// Why a loop stopped before its last epoch.
#[derive(Debug)]
pub enum Stop {
    Interrupted {
        epoch: usize,
        step: u64,
        signal: &'static str,
    },
    NonFinite {
        epoch: usize,
        step: u64,
        what: String,
    },
    /// A hook set a learning rate that is not a finite number above 0.
    BadLr { epoch: usize, step: u64, bad: BadLr },
    /// `train { max_time }` ran out after global step `step`; a checkpoint holds the place.
    OutOfTime { epoch: usize, step: u64 },
    /// A batch could not be made: a streamed image that cannot be read.
    Data(crate::data::DataError),
}

/// How many times in a row `on_nan = restore_last` goes back to the same weights before
/// the run stops: a step that is non-finite again and again from the same place (a rate
/// too large for the model) would otherwise loop to the last epoch.
pub const MAX_RESTORES: u32 = 3;

/// The weights `on_nan = restore_last` goes back to: the engine as the last checkpoint
/// (or the start of the loop) had it.
struct LastGood {
    state: crate::lower::EngineState,
    /// The global step it was taken after.
    step: u64,
    /// Times the loop has gone back to it.
    restores: u32,
}

/// Timings of one epoch, in seconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct EpochTimes {
    pub train: f64,
    pub eval: f64,
    /// Of `train` and `eval`, the time steps waited for their batches: gathered on the
    /// loop's thread, or not yet made by the prefetch workers (streamed data).
    pub data: f64,
}

/// How a loop reports and where it writes.
pub struct Setup {
    /// A progress bar on the terminal.
    pub show_progress: bool,
    /// Where notices go (a checkpoint not written, an interrupt), if anywhere.
    pub notices: Option<fn(&str)>,
    /// The run directory, for checkpoints (as the experiment's `train { checkpoint_* }`
    /// says) and grids; `None` writes nothing.
    pub dir: Option<std::path::PathBuf>,
}

/// When to write checkpoints, and where.
#[derive(Debug, Clone)]
struct CheckpointPolicy {
    pub dir: std::path::PathBuf,
    /// Every N training steps (0: never).
    pub every_steps: u64,
    /// Every N epochs (0: never).
    pub every_epochs: usize,
    pub keep: usize,
}

pub struct Loop<'a> {
    pub engine: Engine,
    /// Loaded examples, by data set index.
    pub examples: Vec<Arc<Examples>>,
    pub metrics: MetricSet,
    pub global_step: u64,
    pub times: Vec<EpochTimes>,
    /// Metrics at each step an `on every N steps` hook logged, for the run record.
    pub logged_steps: Vec<StepRow>,
    show_progress: bool,
    /// Where `log` lines go.
    pub out: &'a mut dyn FnMut(&str),
    /// Where notices go (a checkpoint not written, an interrupt), if anywhere.
    notices: Option<fn(&str)>,
    checkpoints: Option<CheckpointPolicy>,
    /// Where to pick up, when resuming from a checkpoint.
    resume: Option<LoopPosition>,
    shuffle_rng: ChaCha8Rng,
    /// Shuffle RNG position before the pass in progress drew its order.
    pass_rng_pos: u128,
    /// Where `grid` actions write; `None` draws nothing.
    pub(super) out_dir: Option<std::path::PathBuf>,
    /// Per step that a `grid` reads: its first batch of the epoch, with its values.
    pub kept: HashMap<usize, Kept>,
    /// `train { stop = early_stopping(...) }`, with its state.
    pub stopper: Option<Stopper>,
    /// Per `on improved(metric)` hook: the best value so far.
    improved_best: Vec<f64>,
    /// Per `reduce_on_plateau` rule: its state.
    plateaus: Vec<PlateauState>,
    /// Model files `on improved` hooks wrote since the caller last took them (for the record).
    pub saved: Vec<std::path::PathBuf>,
    /// Grids epoch hooks drew since the caller last took them (for the record), each with
    /// its action's path as written (`{epoch}` unfilled).
    pub drawn: Vec<(String, std::path::PathBuf)>,
    /// Texts epoch hooks sampled since the caller last took them, as `drawn`.
    pub sampled: Vec<(String, std::path::PathBuf)>,
    /// When this process's loop started, and the seconds earlier processes ran it (resumed
    /// runs): `max_time` counts both.
    started: Instant,
    elapsed_before: f64,
    /// With `on_nan = restore_last`: where to go back to.
    last_good: Option<LastGood>,
    /// Seconds the last pass's steps waited for their batches.
    pass_data_wait: f64,
    /// Steps `on_nan` skipped and restores it made, for the record.
    pub non_finite: crate::record::schema::NonFiniteCounts,
    /// Confusion matrices written since the caller last took them (for the record).
    pub matrices: Vec<std::path::PathBuf>,
}

impl<'a> Loop<'a> {
    pub fn new(
        engine: Engine,
        examples: Vec<Arc<Examples>>,
        setup: Setup,
        out: &'a mut dyn FnMut(&str),
    ) -> Self {
        let exp = engine.experiment();
        let metrics = MetricSet::new(&exp.metrics, &exp.matrices);
        let mut shuffle_rng = ChaCha8Rng::seed_from_u64(exp.seed);
        shuffle_rng.set_stream(streams::SHUFFLE);
        let checkpoints = setup.dir.clone().map(|dir| CheckpointPolicy {
            dir,
            every_steps: exp.checkpoints.every_steps,
            every_epochs: exp.checkpoints.every_epochs,
            keep: exp.checkpoints.keep,
        });
        let stopper = exp.stop.map(Stopper::new);
        let improved_best = exp.hooks.improved.iter().map(worst).collect();
        let plateaus = exp.hooks.plateaus.iter().map(PlateauState::new).collect();
        Loop {
            engine,
            examples,
            metrics,
            global_step: 0,
            times: Vec::new(),
            logged_steps: Vec::new(),
            show_progress: setup.show_progress,
            out,
            notices: setup.notices,
            checkpoints,
            resume: None,
            shuffle_rng,
            pass_rng_pos: 0,
            out_dir: setup.dir,
            kept: HashMap::new(),
            stopper,
            improved_best,
            plateaus,
            saved: Vec::new(),
            drawn: Vec::new(),
            sampled: Vec::new(),
            started: Instant::now(),
            elapsed_before: 0.0,
            last_good: None,
            pass_data_wait: 0.0,
            non_finite: crate::record::schema::NonFiniteCounts::default(),
            matrices: Vec::new(),
        }
    }

    /// Seconds the loop has run, in this process and the ones it resumes.
    fn elapsed(&self) -> f64 {
        self.elapsed_before + self.started.elapsed().as_secs_f64()
    }

    /// Keeps the engine as it is now as the weights `on_nan = restore_last` goes back to.
    fn keep_good(&mut self, state: Option<&crate::lower::EngineState>) {
        if self.engine.experiment().on_non_finite != NonFinitePolicy::RestoreLast {
            return;
        }
        let state = state.cloned().unwrap_or_else(|| self.engine.snapshot());
        self.last_good = Some(LastGood {
            state,
            step: self.global_step,
            restores: 0,
        });
    }

    /// Restores the loop's place from a checkpoint (the engine's state is restored by the
    /// caller): the next `run_epoch(position.epoch)` continues it.
    pub fn restore(&mut self, p: &LoopPosition) {
        self.global_step = p.global_step;
        self.shuffle_rng
            .set_word_pos(p.rng_word_pos.parse().unwrap_or(0));
        self.metrics.restore(&p.metrics, &p.history);
        self.times = p
            .times
            .iter()
            .map(|&(train, eval)| EpochTimes {
                train,
                eval,
                data: 0.0,
            })
            .collect();
        if p.improved_best.len() == self.improved_best.len() {
            self.improved_best.clone_from(&p.improved_best);
        }
        if let (Some(s), Some(state)) = (&mut self.stopper, &p.early_stopping) {
            s.state = state.clone();
        }
        if p.plateaus.len() == self.plateaus.len() {
            self.plateaus.clone_from(&p.plateaus);
        }
        self.elapsed_before = p.elapsed;
        self.logged_steps.clone_from(&p.logged_steps);
        self.non_finite = p.non_finite;
        self.resume = Some(p.clone());
    }

    /// Puts back the best weights a checkpoint holds (`best.<model>.<name>`), with the
    /// early-stopping state `restore` read.
    pub fn restore_best_weights(&mut self, tensors: &[NamedTensor]) {
        let exp = self.engine.experiment().clone();
        let Some(s) = &mut self.stopper else {
            return;
        };
        if !s.rule.restore_best {
            return;
        }
        s.best_weights = exp
            .models
            .iter()
            .map(|m| {
                let prefix = format!("{BEST_PREFIX}{}.", m.name);
                tensors
                    .iter()
                    .filter_map(|t| {
                        t.name.strip_prefix(&prefix).map(|name| NamedTensor {
                            name: name.to_string(),
                            ..t.clone()
                        })
                    })
                    .collect()
            })
            .collect();
    }

    /// Early stopping's look at the epoch just ended: keeps the best weights, and says
    /// on the log when it stops the loop.
    fn watch(&mut self, epoch: usize) -> Option<Verdict> {
        let stopper = self.stopper.as_mut()?;
        let metric = stopper.rule.metric;
        let value = self.metrics.history[metric]
            .last()
            .copied()
            .unwrap_or(f64::NAN);
        let engine = &self.engine;
        let verdict = stopper.end_epoch(epoch, value, || weights_of(engine));
        if verdict == Verdict::Stop {
            let s = &stopper.state;
            let line = format!(
                "Epoch {}: early stopping: `{}` has not improved for {} epochs (best {:.4} at epoch {})",
                epoch + 1,
                self.metrics.names[metric],
                s.wait,
                s.best,
                s.best_epoch + 1
            );
            (self.out)(&line);
        }
        Some(verdict)
    }

    /// Each `reduce_on_plateau` rule's look at the epoch just ended, before `on epoch_end`
    /// reads its value; a reduction is said on the log, as Keras' `verbose = 1` does.
    fn plateau_epoch(&mut self, epoch: usize) {
        let exp = self.engine.experiment().clone();
        for (rule, state) in exp.hooks.plateaus.iter().zip(&mut self.plateaus) {
            let value = self.metrics.history[rule.metric]
                .last()
                .copied()
                .unwrap_or(f64::NAN);
            if let Some(before) = state.end_epoch(rule, value) {
                let waited = rule.patience.max(1);
                let line = format!(
                    "Epoch {}: reduce_on_plateau: `{}` has not improved for {waited} epoch{}: {before:.4e} -> {:.4e}",
                    epoch + 1,
                    self.metrics.names[rule.metric],
                    if waited == 1 { "" } else { "s" },
                    state.value
                );
                (self.out)(&line);
            }
        }
    }

    /// The value each `reduce_on_plateau` rule gives now.
    pub(super) fn plateau_values(&self) -> Vec<f64> {
        self.plateaus.iter().map(|p| p.value).collect()
    }

    /// The `on improved(metric)` hooks whose metric beat its best this epoch: their
    /// learning rates, log lines and grids as other hooks', and their `save`s.
    fn improved_hooks(&mut self, epoch: usize) -> Result<(), Stop> {
        let exp = self.engine.experiment().clone();
        for (i, hook) in exp.hooks.improved.iter().enumerate() {
            let value = self.metrics.history[hook.metric]
                .last()
                .copied()
                .unwrap_or(f64::NAN);
            let best = self.improved_best[i];
            // Keras' ModelCheckpoint(save_best_only=True): strictly better; NaN never is.
            let better = if hook.maximize {
                value > best
            } else {
                value < best
            };
            if !better {
                continue;
            }
            self.improved_best[i] = value;
            self.epoch_hooks(&hook.actions, epoch)?;
            for action in &hook.actions {
                if let Action::Save { model, path } = action {
                    let line = match self.save(*model, path) {
                        Ok(target) => {
                            let line = format!("model: {}", target.display());
                            self.saved.push(target);
                            line
                        }
                        Err(e) => format!("model not written: {e}"),
                    };
                    (self.out)(&line);
                }
            }
        }
        Ok(())
    }

    /// Writes model `model` to `path` in the run directory, if there is one.
    fn save(
        &self,
        model: usize,
        path: &std::path::Path,
    ) -> Result<std::path::PathBuf, super::RunError> {
        let Some(dir) = &self.out_dir else {
            return Ok(path.to_path_buf());
        };
        let target = crate::output::confine::in_run_dir(dir, &path.to_string_lossy())?;
        super::model_io::save(&self.engine, model, &target, &self.examples)?;
        Ok(target)
    }

    /// Every model's weights and layer state, as model files hold them.
    fn model_weights(&self) -> Vec<Vec<NamedTensor>> {
        weights_of(&self.engine)
    }

    /// Whether early stopping has ended the loop.
    pub fn stopped(&self) -> bool {
        self.stopper
            .as_ref()
            .is_some_and(|s| s.state.stopped_epoch.is_some())
    }

    fn notice(&self, line: &str) {
        if let Some(f) = self.notices {
            f(line);
        }
    }

    pub(super) fn steps_per_epoch(&self) -> usize {
        let exp = self.engine.experiment();
        exp.steps.iter().find(|s| s.trains()).map_or(0, |s| {
            self.examples[s.data]
                .len()
                .div_ceil(exp.datasets[s.data].batch)
        })
    }

    pub fn run_epoch(&mut self, epoch: usize) -> Result<(), Stop> {
        let exp = self.engine.experiment().clone();
        if self.last_good.is_none() {
            // The engine as the loop starts (fresh, or as the resumed checkpoint left it).
            self.keep_good(None);
        }
        let resume = self.resume.take().filter(|r| r.epoch == epoch);
        if !resume.as_ref().is_some_and(|r| r.epoch_started) {
            self.averaged_hooks(&exp.hooks.epoch_start, epoch)?;
            self.metrics.reset();
        }
        let mut times = EpochTimes::default();
        // Training steps first, then evaluation, like the tutorial's loop; an
        // evaluation-only run (`epochs = 0`) runs its one epoch without the training steps.
        let evaluation_only = exp.epochs == 0;
        let order: Vec<usize> = (0..exp.steps.len())
            .filter(|&i| exp.steps[i].trains() && !evaluation_only)
            .chain((0..exp.steps.len()).filter(|&i| !exp.steps[i].trains()))
            .collect();
        for (pass, &step_index) in order.iter().enumerate() {
            let skip = match &resume {
                Some(r) if pass < r.pass => continue,
                Some(r) if pass == r.pass => {
                    self.shuffle_rng
                        .set_word_pos(r.pass_rng_word_pos.parse().unwrap_or(0));
                    r.next_batch
                }
                _ => 0,
            };
            let started = Instant::now();
            let trains = exp.steps[step_index].trains();
            // Evaluation steps see the models' averages (`train { ema = ... }`), if any.
            self.engine.use_averages(!trains);
            crate::lower::with_workers_awake(|| self.pass(epoch, pass, step_index, skip))?;
            let secs = started.elapsed().as_secs_f64();
            times.data += self.pass_data_wait;
            if trains {
                times.train += secs;
            } else {
                times.eval += secs;
            }
        }
        self.metrics.end_epoch();
        self.write_matrices(&exp);
        self.times.push(times);
        if !evaluation_only {
            self.plateau_epoch(epoch);
        }
        self.averaged_hooks(&exp.hooks.epoch_end, epoch)?;
        if !evaluation_only {
            self.watch(epoch);
            self.improved_hooks(epoch)?;
        }
        // The next pass has not drawn its order yet: a resume from here starts the
        // shuffle RNG where it is now, not where the last pass (a shuffled one, when
        // the experiment has a single step) started.
        self.pass_rng_pos = self.shuffle_rng.get_word_pos();
        let every = self.checkpoints.as_ref().map_or(0, |c| c.every_epochs);
        if every > 0 && (epoch + 1).is_multiple_of(every) && !evaluation_only {
            self.checkpoint(epoch + 1, 0, 0, false);
        }
        Ok(())
    }

    /// Writes each `confusion_matrix` of the epoch into the run directory (a failure is
    /// reported and training goes on, as for grids). Its classes are named as the data's
    /// class list names them, else by index.
    fn write_matrices(&mut self, exp: &crate::check::plan::Experiment) {
        let Some(dir) = self.out_dir.clone() else {
            return;
        };
        for (j, m) in exp.matrices.iter().enumerate() {
            let counts = self.metrics.matrix(j);
            if counts.is_empty() {
                // Its step never ran this epoch (nothing of its `every N steps` block).
                continue;
            }
            let classes = counts.len().isqrt();
            let given = &self.examples[exp.steps[m.step].data].encoding.classes;
            let names: Vec<String> = if given.len() == classes {
                given.clone()
            } else {
                (0..classes).map(|c| c.to_string()).collect()
            };
            match crate::output::confusion::write(&dir, &m.name, counts, &names) {
                Ok(paths) => self.matrices.extend(paths),
                Err(e) => (self.out)(&format!("confusion matrix `{}` not written: {e}", m.name)),
            }
        }
    }

    /// `hooks`, with a bad learning rate as the loop's stop.
    fn epoch_hooks(&mut self, actions: &[Action], epoch: usize) -> Result<(), Stop> {
        self.hooks(actions, epoch).map_err(|bad| Stop::BadLr {
            epoch,
            step: self.global_step,
            bad,
        })
    }

    /// `epoch_hooks` with the models' averages in place of their weights, as everything
    /// that does not train sees them.
    fn averaged_hooks(&mut self, actions: &[Action], epoch: usize) -> Result<(), Stop> {
        self.engine.use_averages(true);
        let done = self.epoch_hooks(actions, epoch);
        self.engine.use_averages(false);
        done
    }

    /// Writes a checkpoint at a position; a failure to write is reported and
    /// training goes on (the previous checkpoints are still there).
    pub fn checkpoint(
        &mut self,
        epoch: usize,
        pass: usize,
        next_batch: usize,
        epoch_started: bool,
    ) {
        let Some(policy) = self.checkpoints.clone() else {
            return;
        };
        let position = LoopPosition {
            epoch,
            pass,
            next_batch,
            global_step: self.global_step,
            pass_rng_word_pos: self.pass_rng_pos.to_string(),
            rng_word_pos: self.shuffle_rng.get_word_pos().to_string(),
            metrics: self.metrics.parts(),
            history: self.metrics.history.clone(),
            times: self.times.iter().map(|t| (t.train, t.eval)).collect(),
            epoch_started,
            early_stopping: self.stopper.as_ref().map(|s| s.state.clone()),
            improved_best: self.improved_best.clone(),
            plateaus: self.plateaus.clone(),
            logged_steps: self.logged_steps.clone(),
            elapsed: self.elapsed(),
            non_finite: self.non_finite,
        };
        let mut engine = self.engine.snapshot();
        self.keep_good(Some(&engine));
        if let Some(s) = self.stopper.as_ref().filter(|s| s.rule.restore_best) {
            // Before the first monitored epoch there are no best weights yet: the current
            // ones stand in, so that every checkpoint of the run holds the same tensors.
            let best = if s.state.has_best_weights {
                s.best_weights.clone()
            } else {
                self.model_weights()
            };
            engine.tensors.extend(best_tensors(&self.engine, best));
        }
        let checkpoint = Checkpoint { position, engine };
        if let Err(e) = super::checkpoint::write(&policy.dir, &checkpoint, policy.keep) {
            self.notice(&format!("warning: could not write a checkpoint: {e}"));
        }
    }

    /// One pass of a step over its data set, skipping the first `skip` batches.
    fn pass(
        &mut self,
        epoch: usize,
        pass: usize,
        step_index: usize,
        skip: usize,
    ) -> Result<(), Stop> {
        let exp = self.engine.experiment().clone();
        let step = &exp.steps[step_index];
        let data: &DataSet = &exp.datasets[step.data];
        let examples = self.examples[step.data].clone();
        let n = examples.len();
        self.pass_rng_pos = self.shuffle_rng.get_word_pos();
        let order: Arc<Vec<usize>> = Arc::new(match data.shuffle {
            Some(buffer) => shuffle_order(n, buffer, &mut self.shuffle_rng),
            None => (0..n).collect(),
        });
        let total = n.div_ceil(data.batch) as u64;
        let progress = if self.show_progress {
            let label = if step.trains() {
                format!("epoch {}", epoch + 1)
            } else {
                data.name.clone()
            };
            Progress::new(&label, total)
        } else {
            Progress::hidden()
        };
        let steps_per_epoch = self.steps_per_epoch();
        let mut loss_sum = 0.0f64;
        let mut loss_count = 0usize;
        let every_steps = self.checkpoints.as_ref().map_or(0, |c| c.every_steps);
        let recipe = Recipe {
            examples: examples.clone(),
            scaling: data.scaling.clone(),
            element_shape: data.element_shape.clone(),
            one_hot_classes: match data.labels {
                Labels::Classes {
                    classes,
                    one_hot: true,
                } => Some(classes),
                _ => None,
            },
            augment: (!data.augment.is_empty()).then(|| {
                let draws = Draws {
                    seed: exp.seed,
                    data: step.data,
                    epoch,
                };
                (data.augment.clone(), draws)
            }),
        };
        // Files are decoded ahead of the step; examples in memory are gathered as it asks.
        let mut prefetch = examples
            .inputs
            .streamed()
            .then(|| Prefetch::start(&recipe, &order, data.batch, skip));
        let mut gathering = Duration::ZERO;
        self.pass_data_wait = 0.0;
        for (k, indices) in batches(&order, data.batch).enumerate().skip(skip) {
            let made = match &mut prefetch {
                Some(ahead) => ahead.next(&recipe, indices),
                None => {
                    let started = Instant::now();
                    let made = Batch::gather(&examples, indices, &recipe.how());
                    gathering += started.elapsed();
                    made
                }
            };
            self.pass_data_wait =
                (gathering + prefetch.as_ref().map_or(Duration::ZERO, |p| p.waited)).as_secs_f64();
            let batch = match made {
                Ok(batch) => batch,
                Err(e) => {
                    progress.finish();
                    return Err(Stop::Data(e));
                }
            };
            let plateaus = self.plateau_values();
            let mut on_step = OnStep {
                exp: &exp,
                position: Position {
                    epoch,
                    global_step: self.global_step,
                    steps_per_epoch,
                },
                metrics: &self.metrics,
                plateaus: &plateaus,
                bad_lr: None,
            };
            // Evaluation steps count no steps of their own: they run as the step after the
            // last training one (and have no `every` blocks, see `check::every`).
            let number = self.global_step + 1;
            let reads = metrics::reads(&exp, step_index, number, &batch);
            let outcome = self
                .engine
                .run_step(step_index, &batch, &reads, &mut on_step);
            if let Some(bad) = on_step.bad_lr {
                // The step ran with the rate as it was; the run stops before the next.
                progress.finish();
                return Err(Stop::BadLr {
                    epoch,
                    step: self.global_step + 1,
                    bad,
                });
            }
            // A training step that went non-finite updated nothing, and its values are not
            // the model's: `on_nan = skip_batch | restore_last` leave them out of the metrics.
            if outcome.non_finite.is_none() || !step.trains() {
                self.metrics
                    .record(&exp, (step_index, number), &batch, &outcome.reads);
            }
            if step.trains() {
                self.global_step += 1;
            }
            if k == 0 && grid_reads(&exp, step_index) {
                self.kept.insert(
                    step_index,
                    Kept {
                        batch: batch.clone(),
                        values: outcome.values,
                    },
                );
            }
            if let Some(what) = outcome.non_finite {
                if let Err(stop) = self.after_non_finite(epoch, step.trains(), what) {
                    progress.finish();
                    return Err(stop);
                }
            }
            if let Some(l) = outcome.loss {
                loss_sum += f64::from(l);
                loss_count += 1;
            }
            progress.step(loss_sum / loss_count.max(1) as f64);
            if step.trains() {
                for (every, actions) in &exp.hooks.every_steps {
                    if self.global_step.is_multiple_of(*every as u64) {
                        self.epoch_hooks(actions, epoch)?;
                        if actions.iter().any(|a| matches!(a, Action::Log(_))) {
                            self.logged_steps.push(StepRow {
                                epoch: epoch + 1,
                                step: self.global_step,
                                values: (0..self.metrics.names.len())
                                    .map(|i| self.metrics.value(i))
                                    .collect(),
                            });
                        }
                    }
                }
                if every_steps > 0 && self.global_step.is_multiple_of(every_steps) {
                    self.checkpoint(epoch, pass, k + 1, true);
                }
            }
            let out_of_time = exp
                .max_time
                .filter(|limit| self.elapsed() >= limit.as_secs_f64());
            if let Some(limit) = out_of_time.filter(|_| step.trains()) {
                progress.finish();
                let line = format!(
                    "Epoch {}, step {}: stopping: `max_time` ({}) has passed",
                    epoch + 1,
                    self.global_step,
                    humantime::format_duration(limit)
                );
                (self.out)(&line);
                if self.checkpoints.is_some() {
                    self.checkpoint(epoch, pass, k + 1, true);
                }
                return Err(Stop::OutOfTime {
                    epoch,
                    step: self.global_step,
                });
            }
            if let Some(signal) = super::interrupt::requested() {
                progress.finish();
                self.notice(&format!("\n{signal}: stopping after this step and writing a checkpoint (press Ctrl-C again to quit now)"));
                // Whatever the policy, an interrupted run keeps its place.
                if self.checkpoints.is_some() {
                    self.checkpoint(epoch, pass, k + 1, true);
                }
                return Err(Stop::Interrupted {
                    epoch,
                    step: self.global_step,
                    signal,
                });
            }
        }
        progress.finish();
        if step.trains() {
            self.apply_accumulated(epoch)?;
        }
        Ok(())
    }

    /// What `train { on_nan }` does after a step whose loss or gradients were not finite
    /// (its updates were skipped): stop, go on (`skip_batch`), or put back the last good
    /// weights and go on (`restore_last`). Evaluation steps update nothing, so only `stop`
    /// stops them.
    fn after_non_finite(&mut self, epoch: usize, trains: bool, what: String) -> Result<(), Stop> {
        let policy = self.engine.experiment().on_non_finite;
        let step = self.global_step;
        let stop = |what| Stop::NonFinite { epoch, step, what };
        if policy == NonFinitePolicy::Stop {
            return Err(stop(what));
        }
        if !trains {
            return Ok(());
        }
        let place = format!("Epoch {}, step {step}", epoch + 1);
        let line = match (policy, self.last_good.as_mut()) {
            (NonFinitePolicy::RestoreLast, Some(good)) => {
                if good.restores == MAX_RESTORES {
                    return Err(stop(format!(
                        "{what}, after going back to the weights of step {} {MAX_RESTORES} times",
                        good.step
                    )));
                }
                good.restores += 1;
                if let Err(e) = self.engine.restore_tensors(&good.state) {
                    return Err(stop(format!(
                        "{what}, and the last good weights do not fit the engine: {e:?}"
                    )));
                }
                self.non_finite.restored += 1;
                format!(
                    "{place}: {what}; restored the weights of step {} ({} of {MAX_RESTORES})",
                    good.step, good.restores
                )
            }
            _ => {
                self.non_finite.skipped += 1;
                format!("{place}: {what}; skipped the update")
            }
        };
        (self.out)(&line);
        Ok(())
    }

    /// Ends a training pass: the optimizers' partial accumulation groups are applied (see
    /// [`crate::lower::Engine::apply_accumulated`]), through the `on step` hooks of the
    /// pass's last step.
    fn apply_accumulated(&mut self, epoch: usize) -> Result<(), Stop> {
        let exp = self.engine.experiment().clone();
        let plateaus = self.plateau_values();
        let mut on_step = OnStep {
            exp: &exp,
            position: Position {
                epoch,
                global_step: self.global_step.saturating_sub(1),
                steps_per_epoch: self.steps_per_epoch(),
            },
            metrics: &self.metrics,
            plateaus: &plateaus,
            bad_lr: None,
        };
        let non_finite = self.engine.apply_accumulated(&mut on_step);
        if let Some(bad) = on_step.bad_lr {
            return Err(Stop::BadLr {
                epoch,
                step: self.global_step,
                bad,
            });
        }
        match non_finite {
            Some(what) => self.after_non_finite(epoch, true, what),
            None => Ok(()),
        }
    }
}

/// What checkpoints call the best weights of early stopping: `best.<model>.<name>`.
pub const BEST_PREFIX: &str = "best.";

/// The value every first epoch beats: `-inf` when larger is better, `inf` otherwise.
fn worst(hook: &crate::check::plan::Improved) -> f64 {
    if hook.maximize {
        f64::NEG_INFINITY
    } else {
        f64::INFINITY
    }
}

/// Every model's weights and layer state, as model files hold them.
fn weights_of(engine: &Engine) -> Vec<Vec<NamedTensor>> {
    (0..engine.experiment().models.len())
        .map(|m| engine.model_tensors(m))
        .collect()
}

/// The best weights as checkpoint tensors, per model in order.
fn best_tensors(engine: &Engine, best: Vec<Vec<NamedTensor>>) -> Vec<NamedTensor> {
    let exp = engine.experiment();
    best.into_iter()
        .zip(&exp.models)
        .flat_map(|(tensors, model)| {
            tensors.into_iter().map(move |t| NamedTensor {
                name: format!("{BEST_PREFIX}{}.{}", model.name, t.name),
                ..t
            })
        })
        .collect()
}

/// Whether a `grid` action reads the values of step `step`.
fn grid_reads(exp: &crate::check::Experiment, step: usize) -> bool {
    exp.hooks
        .epoch_end
        .iter()
        .chain(&exp.hooks.epoch_start)
        .chain(&exp.after)
        .any(|a| matches!(a, Action::Grid { step: Some(s), .. } if *s == step))
}
