//! Checkpoints: everything the loop needs to continue exactly where it was —
//! the engine's state (parameters, layer state, optimizer slots, the device's
//! random draws), the shuffle RNG, the place in the epoch, metric accumulators
//! and history. One safetensors file per checkpoint (the engine's named tensors
//! in PyTorch's layout, plus the scalar state as YAML in its metadata), written
//! atomically (temp file, fsync, rename); the newest `keep` are kept.
//!
//! Resuming reproduces the uninterrupted run bit for bit: the data order of
//! the interrupted pass is redrawn from the RNG state saved before it was
//! drawn, and the batches already done are skipped.
//!
//! A checkpoint is verified before it is used (`file`: its digest; `verify`: its
//! tensors' names and shapes, and every loop-state field's range); resume falls
//! back to the newest checkpoint that passes.

mod file;
pub mod verify;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::lower::EngineState;
use crate::output::OutputError;
pub use verify::Expected;

/// The loop's position and scalar state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LoopPosition {
    /// Epoch in progress (0-based).
    pub epoch: usize,
    /// Index of the pass (step) in the epoch's order that is in progress.
    pub pass: usize,
    /// Batches of that pass already done.
    pub next_batch: usize,
    pub global_step: u64,
    /// Shuffle RNG word position before the pass in progress drew its order.
    pub pass_rng_word_pos: String,
    /// Shuffle RNG word position now.
    pub rng_word_pos: String,
    /// Per metric: the accumulator's state in the epoch so far: (sum, count), then the
    /// sums of an `r2` metric's outputs. Checkpoints from before `r2` hold the pair alone.
    pub metrics: Vec<Vec<f64>>,
    /// Per metric: values at the end of each finished epoch.
    pub history: Vec<Vec<f64>>,
    /// Per finished epoch: (train seconds, eval seconds).
    pub times: Vec<(f64, f64)>,
    /// Whether the pass in progress had started its epoch (hooks ran, metrics reset).
    pub epoch_started: bool,
    /// Early stopping's state (`train { stop = early_stopping(...) }`); its best weights are
    /// tensors of the file, `best.<model>.<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_stopping: Option<super::stopping::StoppingState>,
    /// Per `on improved(metric)` hook: the best value so far.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub improved_best: Vec<f64>,
    /// Per `reduce_on_plateau` rule: its state.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plateaus: Vec<super::plateau::PlateauState>,
    /// Rows of `on every N steps` log lines since the epoch began, which the record takes at
    /// the epoch's end.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logged_steps: Vec<crate::record::schema::StepRow>,
    /// Seconds the loop has run so far, across resumes (`train { max_time }` reads it).
    #[serde(default)]
    pub elapsed: f64,
    /// Training steps whose update a non-finite loss or gradient skipped, and the times
    /// `on_nan = restore_last` went back to the last good weights.
    #[serde(
        default,
        skip_serializing_if = "crate::record::schema::NonFiniteCounts::is_zero"
    )]
    pub non_finite: crate::record::schema::NonFiniteCounts,
}

/// A whole checkpoint in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub position: LoopPosition,
    pub engine: EngineState,
}

/// The engine's scalar state, beside its tensors.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EngineScalars {
    /// Per optimizer: (updates so far, current learning rate).
    pub optimizers: Vec<(u64, f64)>,
    /// Per optimizer: gradients summed in its accumulation group in progress (none in
    /// checkpoints from before `accumulate`).
    #[serde(default)]
    pub accumulated: Vec<u64>,
    /// Random numbers the device has drawn (dropout masks, step noise).
    pub random_draws: u64,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CheckpointError {
    #[error("no checkpoint in `{dir}`")]
    #[diagnostic(code(expr::run::no_checkpoint), help("resume a run directory that has `checkpoint-*.safetensors` files (written every epoch by default)"))]
    None { dir: PathBuf },
    #[error("checkpoint `{path}` is damaged: {problem}")]
    #[diagnostic(
        code(expr::run::bad_checkpoint),
        help("resume uses the newest checkpoint that is whole; delete this one, or run the experiment again if none is left")
    )]
    Damaged { path: PathBuf, problem: String },
    #[error("checkpoint `{path}` was written by an older expr, in checkpoint format {found} (this expr reads format {FORMAT})")]
    #[diagnostic(
        code(expr::run::old_checkpoint),
        help("this run cannot be resumed with this version of expr; run the experiment again (`expr run`), or resume it with the expr that started it")
    )]
    OldFormat { path: PathBuf, found: String },
    #[error("checkpoint `{path}` does not fit this experiment: {problem}")]
    #[diagnostic(
        code(expr::run::checkpoint_mismatch),
        help("resume a run with the experiment that wrote it (`expr run --resume` reads it from the run's `run.yaml`)")
    )]
    Mismatch { path: PathBuf, problem: String },
    #[error("checkpoint `{path}` has an impossible `{field}`: {problem}")]
    #[diagnostic(
        code(expr::run::checkpoint_invalid),
        help("the file was edited or damaged; resume uses the newest checkpoint that is valid, delete this one if none is")
    )]
    Invalid {
        path: PathBuf,
        field: &'static str,
        problem: String,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Output(#[from] OutputError),
}

const STATE_KEY: &str = "expr.loop_state";
const ENGINE_KEY: &str = "expr.engine_state";
/// The layout of a checkpoint. Format 3: format 2 with the file's SHA-256 in its metadata
/// (`file::DIGEST_KEY`). Format 2: named tensors in PyTorch's layout
/// (`crate::lower::EngineState`). Format 1 (no key) held them by index, in the engine's layout.
const FORMAT_KEY: &str = "expr.checkpoint_format";
const FORMAT: &str = "3";
/// The largest checkpoint read without an experiment to size it (`read`, `read_latest`).
const UNSIZED_LIMIT: u64 = 1 << 36;

fn file_name(global_step: u64) -> String {
    // Zero-padded so that names sort by step.
    format!("checkpoint-{global_step:012}.safetensors")
}

/// Writes a checkpoint into `dir` and removes all but the newest `keep`.
pub fn write(dir: &Path, checkpoint: &Checkpoint, keep: usize) -> Result<PathBuf, CheckpointError> {
    let yaml = |value: Result<String, serde_yaml::Error>| {
        value.map_err(|e| CheckpointError::Damaged {
            path: dir.into(),
            problem: e.to_string(),
        })
    };
    let engine = EngineScalars {
        optimizers: checkpoint.engine.optimizers.clone(),
        accumulated: checkpoint.engine.accumulated.clone(),
        random_draws: checkpoint.engine.random_draws,
    };
    let metadata = BTreeMap::from([
        (FORMAT_KEY.to_string(), FORMAT.to_string()),
        (
            STATE_KEY.to_string(),
            yaml(serde_yaml::to_string(&checkpoint.position))?,
        ),
        (
            ENGINE_KEY.to_string(),
            yaml(serde_yaml::to_string(&engine))?,
        ),
    ]);
    let path = dir.join(file_name(checkpoint.position.global_step));
    file::write(&path, &checkpoint.engine.tensors, metadata)?;
    let all = list(dir);
    for old in all.iter().rev().skip(keep.max(1)) {
        let _ = std::fs::remove_file(old);
    }
    Ok(path)
}

/// Checkpoint files in `dir`, oldest first.
pub fn list(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| is_checkpoint(p))
        .collect();
    files.sort();
    files
}

/// Whether `path` is named as a checkpoint (`checkpoint-<step>.safetensors`).
pub fn is_checkpoint(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("checkpoint-") && n.ends_with(".safetensors"))
}

/// Reads the newest checkpoint in `dir` that reads back whole (its digest checked).
pub fn read_latest(dir: &Path) -> Result<(PathBuf, Checkpoint), CheckpointError> {
    newest_that(dir, read, &mut |_| {})
}

/// Reads the newest checkpoint in `dir` that is whole and valid for `expected`; each newer
/// one refused is said in `notice`, with why.
pub fn read_latest_valid(
    dir: &Path,
    expected: &Expected,
    notice: &mut dyn FnMut(&str),
) -> Result<(PathBuf, Checkpoint), CheckpointError> {
    newest_that(dir, |p| read_checked(p, Some(expected)), notice)
}

fn newest_that(
    dir: &Path,
    read: impl Fn(&Path) -> Result<Checkpoint, CheckpointError>,
    notice: &mut dyn FnMut(&str),
) -> Result<(PathBuf, Checkpoint), CheckpointError> {
    let mut first_error = None;
    for path in list(dir).iter().rev() {
        match read(path) {
            Ok(c) => {
                if first_error.is_some() {
                    notice(&format!(
                        "using the previous checkpoint that is whole and valid: {}",
                        path.display()
                    ));
                }
                return Ok((path.clone(), c));
            }
            Err(e) => {
                notice(&format!("warning: {e}; trying the previous checkpoint"));
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or(CheckpointError::None { dir: dir.into() }))
}

/// Reads one checkpoint, checking its digest (not whether it fits an experiment).
pub fn read(path: &Path) -> Result<Checkpoint, CheckpointError> {
    read_checked(path, None)
}

/// Reads one checkpoint, checking its digest and, with `expected`, its tensors (from the
/// header, before any data is read) and every loop-state field.
pub fn read_checked(
    path: &Path,
    expected: Option<&Expected>,
) -> Result<Checkpoint, CheckpointError> {
    let damaged = |problem: String| CheckpointError::Damaged {
        path: path.into(),
        problem,
    };
    let limit = expected.map_or(UNSIZED_LIMIT, Expected::file_limit);
    let opened = file::open(path, limit).map_err(damaged)?;
    let format = opened.meta(FORMAT_KEY).unwrap_or("1");
    if format != FORMAT {
        return Err(CheckpointError::OldFormat {
            path: path.into(),
            found: format.to_string(),
        });
    }
    if let Some(expected) = expected {
        verify::tensors(&opened.metadata, expected).map_err(|problem| {
            CheckpointError::Mismatch {
                path: path.into(),
                problem,
            }
        })?;
    }
    let yaml = |key: &str| {
        opened
            .meta(key)
            .map(str::to_string)
            .ok_or_else(|| damaged(format!("no `{key}` in its metadata")))
    };
    let position: LoopPosition =
        serde_yaml::from_str(&yaml(STATE_KEY)?).map_err(|e| damaged(e.to_string()))?;
    let engine: EngineScalars =
        serde_yaml::from_str(&yaml(ENGINE_KEY)?).map_err(|e| damaged(e.to_string()))?;
    if let Some(expected) = expected {
        verify::state(&position, &engine, expected).map_err(|(field, problem)| {
            CheckpointError::Invalid {
                path: path.into(),
                field,
                problem,
            }
        })?;
    }
    let tensors = opened.read_tensors().map_err(damaged)?;
    Ok(Checkpoint {
        position,
        engine: EngineState {
            tensors,
            optimizers: engine.optimizers,
            accumulated: engine.accumulated,
            random_draws: engine.random_draws,
        },
    })
}
