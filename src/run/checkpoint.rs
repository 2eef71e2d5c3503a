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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::lower::EngineState;
use crate::output::model_file::{load_tensors, save_tensors};
use crate::output::OutputError;

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
    /// Per metric: (sum, count) of the epoch so far.
    pub metrics: Vec<(f64, f64)>,
    /// Per metric: values at the end of each finished epoch.
    pub history: Vec<Vec<f64>>,
    /// Per finished epoch: (train seconds, eval seconds).
    pub times: Vec<(f64, f64)>,
    /// Whether the pass in progress had started its epoch (hooks ran, metrics reset).
    pub epoch_started: bool,
}

/// A whole checkpoint in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub position: LoopPosition,
    pub engine: EngineState,
}

/// The engine's scalar state, beside its tensors.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct EngineScalars {
    /// Per optimizer: (updates so far, current learning rate).
    optimizers: Vec<(u64, f64)>,
    /// Random numbers the device has drawn (dropout masks, step noise).
    random_draws: u64,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CheckpointError {
    #[error("no checkpoint in `{dir}`")]
    #[diagnostic(code(expr::run::no_checkpoint), help("resume a run directory that has `checkpoint-*.safetensors` files (written every epoch by default)"))]
    None { dir: PathBuf },
    #[error("checkpoint `{path}` is damaged: {problem}")]
    #[diagnostic(
        code(expr::run::bad_checkpoint),
        help("delete it to resume from the previous checkpoint")
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
    #[error(transparent)]
    #[diagnostic(transparent)]
    Output(#[from] OutputError),
}

const STATE_KEY: &str = "expr.loop_state";
const ENGINE_KEY: &str = "expr.engine_state";
/// The layout of a checkpoint's tensors. Format 2: named tensors in PyTorch's layout
/// (`crate::lower::EngineState`). Format 1 (no key) held them by index, in the engine's layout.
const FORMAT_KEY: &str = "expr.checkpoint_format";
const FORMAT: &str = "2";

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
    let tensors = &checkpoint.engine.tensors;
    let path = dir.join(file_name(checkpoint.position.global_step));
    save_tensors(&path, tensors, &metadata)?;
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
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("checkpoint-") && n.ends_with(".safetensors"))
        })
        .collect();
    files.sort();
    files
}

/// Reads the newest checkpoint in `dir` that reads back whole.
pub fn read_latest(dir: &Path) -> Result<(PathBuf, Checkpoint), CheckpointError> {
    let files = list(dir);
    let mut last_error = None;
    for path in files.iter().rev() {
        match read(path) {
            Ok(c) => return Ok((path.clone(), c)),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or(CheckpointError::None { dir: dir.into() }))
}

pub fn read(path: &Path) -> Result<Checkpoint, CheckpointError> {
    let damaged = |problem: String| CheckpointError::Damaged {
        path: path.into(),
        problem,
    };
    let (tensors, metadata) = load_tensors(path)?;
    let format = metadata.get(FORMAT_KEY).map_or("1", String::as_str);
    if format != FORMAT {
        return Err(CheckpointError::OldFormat {
            path: path.into(),
            found: format.to_string(),
        });
    }
    let yaml = |key: &str| {
        metadata
            .get(key)
            .ok_or_else(|| damaged(format!("no `{key}` in its metadata")))
    };
    let position: LoopPosition =
        serde_yaml::from_str(yaml(STATE_KEY)?).map_err(|e| damaged(e.to_string()))?;
    let engine: EngineScalars =
        serde_yaml::from_str(yaml(ENGINE_KEY)?).map_err(|e| damaged(e.to_string()))?;
    Ok(Checkpoint {
        position,
        engine: EngineState {
            tensors,
            optimizers: engine.optimizers,
            random_draws: engine.random_draws,
        },
    })
}
