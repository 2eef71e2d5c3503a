//! What `run.yaml` holds: everything needed to know what ran, on what, and what came out,
//! and to run it again. The field names are the file format; add fields, do not rename them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Bumped when a field changes meaning; readers refuse formats they do not know.
pub const FORMAT: u32 = 1;

/// The whole record of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub format: u32,
    /// `<UTC start time>-<pid>`: sortable by time, unique (see `record::id`).
    pub id: String,
    pub experiment: String,
    pub status: Status,
    /// The run this one re-ran (`expr run --rerun`), by id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerun_of: Option<String>,
    pub source: SourceInfo,
    /// `--set` overrides as given, already applied to `source.resolved`.
    #[serde(default)]
    pub overrides: Vec<String>,
    pub seed: u64,
    pub epochs: usize,
    /// `epochs = 0`: the evaluation steps ran once, nothing was trained.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub evaluation_only: bool,
    pub threads: usize,
    /// The kernel path the run computed with (`avx512`, `avx2` or `portable`), so that a
    /// rerun can tell a difference in the last bits from a real one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernels: Option<String>,
    /// The working directory the run started in, absolute: relative data paths were read
    /// from there, and `--resume` reads them from there too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
    /// The folder the experiment's relative paths were read from, absolute: the `.exp`
    /// file's folder. Records written before it existed read them from `workdir`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_base: Option<String>,
    #[serde(default)]
    pub git: Option<GitInfo>,
    #[serde(default)]
    pub data: Vec<DataFile>,
    /// By data set: how its files became numbers (a table's columns and categories, class
    /// names, `standardize` statistics), where the files alone do not say.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub encoding: BTreeMap<String, crate::data::Encoding>,
    pub versions: Versions,
    pub machine: Machine,
    /// RFC 3339, UTC.
    pub started: String,
    #[serde(default)]
    pub ended: Option<String>,
    /// Metric names in declaration order (the `history` map is sorted by name).
    pub metrics: Vec<String>,
    /// Per-epoch values of each metric; `history[name][e]` is after epoch `e + 1`.
    pub history: BTreeMap<String, Vec<f64>>,
    /// Wall-clock seconds per epoch, training and evaluation (not part of the numbers compared).
    #[serde(default)]
    pub epoch_seconds: Vec<EpochSeconds>,
    /// The last epoch's value of each metric.
    #[serde(default)]
    pub final_metrics: BTreeMap<String, f64>,
    /// SHA-256 of every trained parameter's f32 bits, in model and layer order, each in
    /// PyTorch's layout (as model files hold them).
    #[serde(default)]
    pub weights_sha256: Option<String>,
    /// What records before `weights_sha256` held: the same, in the layout the engine trained
    /// in. Read, never written or compared (the layouts differ).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters_sha256: Option<String>,
    /// Files the run wrote, relative to the run directory.
    #[serde(default)]
    pub artifacts: Vec<Artifact>,
    /// `log` lines the experiment printed.
    #[serde(default)]
    pub log: Vec<String>,
    /// The metrics so far in the epoch at each step where an `on every N steps` hook logs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepRow>,
    /// With `train { stop = early_stopping(...) }` or `max_time`: why training ended, and
    /// early stopping's best epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<Stopped>,
    /// With `train { on_nan = skip_batch | restore_last }`: the steps it skipped and the
    /// times it restored the last good weights.
    #[serde(default, skip_serializing_if = "NonFiniteCounts::is_zero")]
    pub non_finite: NonFiniteCounts,
}

/// What non-finite steps did to a run (`train { on_nan }`), for its record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NonFiniteCounts {
    pub skipped: u64,
    pub restored: u64,
}

impl NonFiniteCounts {
    pub fn is_zero(&self) -> bool {
        self.skipped == 0 && self.restored == 0
    }
}
/// How a run with early stopping or `max_time` ended: `reason` is `early_stopping` when the
/// rule ended it at `epoch`, `max_time` when the time ran out in `epoch` (after `step`),
/// `epochs` when it ran them all. Epochs count from 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stopped {
    pub reason: String,
    pub epoch: usize,
    /// With `max_time`: the global step the run stopped after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<u64>,
    /// With early stopping: what it watched.
    #[serde(flatten, default)]
    pub watched: Option<Watched>,
}

/// Early stopping's metric and best epoch, in a run's `stopped`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Watched {
    /// The metric watched.
    pub monitor: String,
    /// The epoch of the best value (0 when no epoch was watched).
    pub best_epoch: usize,
    pub best: f64,
    /// Whether the best epoch's weights were put back before `after { }`.
    pub restored_best: bool,
}

/// Metric values (in `metrics` order; NaN before a metric's first update in the epoch) at a
/// logged step. `epoch` counts from 1, `step` is the global step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRow {
    pub epoch: usize,
    pub step: u64,
    pub values: Vec<f64>,
}

/// Where a run stands. A record left `running` by a killed process stays valid YAML.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Status {
    Running,
    Completed,
    Failed { error: String },
    Interrupted { signal: String },
}

impl Status {
    pub fn label(&self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Completed => "completed",
            Status::Failed { .. } => "failed",
            Status::Interrupted { .. } => "interrupted",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SourceInfo {
    /// The `.exp` file as given on the command line, if the run came from a file.
    #[serde(default)]
    pub path: Option<String>,
    /// SHA-256 of the file's bytes as read.
    #[serde(default)]
    pub sha256: Option<String>,
    /// The experiment text after `--set` overrides: what actually ran.
    #[serde(default)]
    pub resolved: Option<String>,
    /// SHA-256 of `resolved`, which `--resume` and `--rerun` check it against (without
    /// overrides it equals `sha256`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_sha256: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitInfo {
    pub commit: String,
    /// Uncommitted changes anywhere in the work tree.
    pub dirty: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataFile {
    /// The data set declaration that read it.
    pub data: String,
    pub path: String,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Versions {
    pub expr: String,
    pub dfdx: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machine {
    pub hostname: String,
    pub os: String,
    pub arch: String,
    pub cpus: usize,
    pub pid: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpochSeconds {
    pub train: f64,
    pub eval: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// `metrics`, `plot` or `model`.
    pub kind: String,
    pub path: String,
    /// `false` for an `after` output that failed (the run's error says why); records
    /// from before this field held written files only.
    #[serde(default = "written_default")]
    pub written: bool,
}

fn written_default() -> bool {
    true
}

impl RunRecord {
    /// The history in declaration order, as (name, values) pairs.
    pub fn ordered_history(&self) -> Vec<(&str, &[f64])> {
        self.metrics
            .iter()
            .filter_map(|m| self.history.get(m).map(|h| (m.as_str(), h.as_slice())))
            .collect()
    }

    pub fn epochs_done(&self) -> usize {
        self.history.values().map(Vec::len).max().unwrap_or(0)
    }
}
