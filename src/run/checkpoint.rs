//! Checkpoints: everything the loop needs to continue exactly where it was —
//! parameters, optimizer slots, the shuffle RNG, the dropout RNG position, the
//! place in the epoch, metric accumulators and history. One safetensors file
//! per checkpoint (tensors, plus the scalar state as YAML in its metadata),
//! written atomically (temp file, fsync, rename); the newest `keep` are kept.
//!
//! Resuming reproduces the uninterrupted run bit for bit: the data order of
//! the interrupted pass is redrawn from the RNG state saved before it was
//! drawn, and the batches already done are skipped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::output::model_file::{load_tensors, save_tensors, NamedTensor};
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
    /// Random numbers the device has drawn for dropout masks.
    pub dropout_draws: u64,
    /// Per metric: (sum, count) of the epoch so far.
    pub metrics: Vec<(f64, f64)>,
    /// Per metric: values at the end of each finished epoch.
    pub history: Vec<Vec<f64>>,
    /// Per finished epoch: (train seconds, eval seconds).
    pub times: Vec<(f64, f64)>,
    /// Per optimizer: (updates so far, current learning rate).
    pub optimizers: Vec<(u64, f64)>,
    /// Whether the pass in progress had started its epoch (hooks ran, metrics reset).
    pub epoch_started: bool,
}

/// A whole checkpoint in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub position: LoopPosition,
    /// params[model][param]
    pub params: Vec<Vec<Vec<f32>>>,
    /// slots[optimizer][param] = (first, second)
    pub slots: Vec<Vec<(Vec<f32>, Vec<f32>)>>,
    /// Whether the parameters are in the layout this expr trains in, where a dense layer
    /// after a conv stores its rows channels-last (`crate::lower::params::RowOrder`).
    /// Checkpoints written before that hold them in NCHW order, and lack [`ROWS_KEY`].
    pub rows_stored: bool,
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
    #[error("checkpoint `{path}` was written by an older expr, which stored the weights of a dense layer after a conv in another order")]
    #[diagnostic(
        code(expr::run::old_checkpoint),
        help("this run cannot be resumed with this version of expr; run the experiment again (`expr run`), or resume it with the expr that started it")
    )]
    OldLayout { path: PathBuf },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Output(#[from] OutputError),
}

const STATE_KEY: &str = "expr.loop_state";
/// Present (as "stored") in checkpoints whose dense weights keep their stored row order.
const ROWS_KEY: &str = "expr.dense_rows";

fn file_name(global_step: u64) -> String {
    // Zero-padded so that names sort by step.
    format!("checkpoint-{global_step:012}.safetensors")
}

/// Writes a checkpoint into `dir` and removes all but the newest `keep`.
pub fn write(dir: &Path, checkpoint: &Checkpoint, keep: usize) -> Result<PathBuf, CheckpointError> {
    let mut tensors = Vec::new();
    for (m, params) in checkpoint.params.iter().enumerate() {
        for (p, v) in params.iter().enumerate() {
            tensors.push(NamedTensor {
                name: format!("param.{m}.{p}"),
                shape: vec![v.len()],
                data: v.clone(),
            });
        }
    }
    for (o, slots) in checkpoint.slots.iter().enumerate() {
        for (p, (a, b)) in slots.iter().enumerate() {
            tensors.push(NamedTensor {
                name: format!("slot.{o}.{p}.a"),
                shape: vec![a.len()],
                data: a.clone(),
            });
            tensors.push(NamedTensor {
                name: format!("slot.{o}.{p}.b"),
                shape: vec![b.len()],
                data: b.clone(),
            });
        }
    }
    let state =
        serde_yaml::to_string(&checkpoint.position).map_err(|e| CheckpointError::Damaged {
            path: dir.into(),
            problem: e.to_string(),
        })?;
    let mut metadata = BTreeMap::from([(STATE_KEY.to_string(), state)]);
    if checkpoint.rows_stored {
        metadata.insert(ROWS_KEY.to_string(), "stored".to_string());
    }
    let path = dir.join(file_name(checkpoint.position.global_step));
    save_tensors(&path, &tensors, &metadata)?;
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
    let state = metadata
        .get(STATE_KEY)
        .ok_or_else(|| damaged("no loop state".into()))?;
    let position: LoopPosition = serde_yaml::from_str(state).map_err(|e| damaged(e.to_string()))?;
    let mut params: Vec<Vec<Vec<f32>>> = Vec::new();
    let mut slots: Vec<Vec<(Vec<f32>, Vec<f32>)>> = Vec::new();
    for t in tensors {
        let parts: Vec<&str> = t.name.split('.').collect();
        let index = |s: &str| {
            s.parse::<usize>()
                .map_err(|_| damaged(format!("bad tensor name `{}`", t.name)))
        };
        match parts.as_slice() {
            ["param", m, p] => {
                let (m, p) = (index(m)?, index(p)?);
                grow(&mut params, m + 1);
                grow(&mut params[m], p + 1);
                params[m][p] = t.data;
            }
            ["slot", o, p, which] => {
                let (o, p) = (index(o)?, index(p)?);
                grow(&mut slots, o + 1);
                grow(&mut slots[o], p + 1);
                if *which == "a" {
                    slots[o][p].0 = t.data;
                } else {
                    slots[o][p].1 = t.data;
                }
            }
            _ => return Err(damaged(format!("unexpected tensor `{}`", t.name))),
        }
    }
    Ok(Checkpoint {
        position,
        params,
        slots,
        rows_stored: metadata.get(ROWS_KEY).is_some_and(|v| v == "stored"),
    })
}

fn grow<T: Default>(v: &mut Vec<T>, len: usize) {
    if v.len() < len {
        v.resize_with(len, T::default);
    }
}
