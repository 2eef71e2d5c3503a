//! The recorder: creates the run directory, and rewrites `run.yaml` and `metrics.csv`
//! atomically when the run starts, after every epoch, and when it ends.
//!
//! Ctrl-C is handled by the run loop (`run::interrupt`): it stops after the current step and
//! the run finishes the record as `interrupted`; a killed process leaves the last complete
//! state (`running`), which is still a valid record.

use std::fmt::Write as _; // write! into a String, which cannot fail: hence `let _ =`
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::error::RecordResult;
use super::schema::{Artifact, EpochSeconds, RunRecord, Status, StepRow};
use crate::output::tensorboard::{self, EventsWriter};
use crate::output::write_atomic;

pub const RECORD_FILE: &str = "run.yaml";
pub const METRICS_FILE: &str = "metrics.csv";

struct Live {
    dir: PathBuf,
    record: RunRecord,
    /// The run's TensorBoard events file; `None` once writing it failed (the record says so).
    tensorboard: Option<EventsWriter>,
}

/// A run being recorded. Dropping it without [`Recorder::finish`] leaves the last written
/// state (`running`), which is still a valid record.
pub struct Recorder {
    live: Arc<Mutex<Live>>,
}

impl Recorder {
    /// Writes the initial record (status `running`) into `dir`, which must exist.
    pub fn start(dir: &Path, mut record: RunRecord) -> RecordResult<Self> {
        record.status = Status::Running;
        record.ended = None;
        // A resumed run keeps its record, and its artifacts once.
        if !record.artifacts.iter().any(|a| a.kind == "metrics") {
            record.artifacts.push(Artifact {
                kind: "metrics".into(),
                path: METRICS_FILE.into(),
                written: true,
            });
        }
        let text = record.source.resolved.clone();
        let live = Arc::new(Mutex::new(Live {
            dir: dir.to_path_buf(),
            record,
            tensorboard: None,
        }));
        {
            let mut live = lock(&live);
            match EventsWriter::open(dir) {
                Ok(tb) => live.tensorboard = Some(tb),
                Err(_) => live.record.artifacts.push(Artifact {
                    kind: "tensorboard".into(),
                    path: tensorboard::DIR.into(),
                    written: false,
                }),
            }
            // The experiment as TensorBoard's text tab shows it (a run started from a file).
            if let Some(text) = text {
                live.tensorboard(|tb| tb.text("experiment", 0, &markdown_code(&text)));
            }
            write_all(&live)?;
        }
        Ok(Recorder { live })
    }

    pub fn dir(&self) -> PathBuf {
        lock(&self.live).dir.clone()
    }

    /// A snapshot of the record as last updated.
    pub fn record(&self) -> RunRecord {
        lock(&self.live).record.clone()
    }

    /// Stores the epoch's metric values (history in declaration order) and rewrites the files.
    pub fn epoch_end(
        &self,
        names: &[String],
        history: &[Vec<f64>],
        seconds: &[EpochSeconds],
    ) -> RecordResult<()> {
        let mut live = lock(&self.live);
        let record = &mut live.record;
        for (name, values) in names.iter().zip(history) {
            record.history.insert(name.clone(), values.clone());
            if let Some(last) = values.last() {
                record.final_metrics.insert(name.clone(), *last);
            }
        }
        record.epoch_seconds = seconds.to_vec();
        live.tensorboard(|tb| {
            for (name, values) in names.iter().zip(history) {
                for (epoch, &value) in (1..).zip(values) {
                    tb.scalar(name, epoch, value)?;
                }
            }
            Ok(())
        });
        write_all(&live)
    }

    /// Adds the rows of logged steps (in memory; written with the next update). A resumed run
    /// replays steps after its checkpoint: rows from the first replayed step on are replaced.
    pub fn steps(&self, rows: impl IntoIterator<Item = StepRow>) {
        let mut live = lock(&self.live);
        let names = live.record.metrics.clone();
        let rows: Vec<StepRow> = rows.into_iter().collect();
        live.tensorboard(|tb| {
            for row in &rows {
                let step = i64::try_from(row.step).unwrap_or(i64::MAX);
                // NaN until a metric's first update in the epoch: not a value to draw.
                for (name, value) in names.iter().zip(&row.values) {
                    if !value.is_nan() {
                        tb.scalar(&format!("steps/{name}"), step, *value)?;
                    }
                }
            }
            Ok(())
        });
        let steps = &mut live.record.steps;
        for row in rows {
            steps.retain(|r| r.step < row.step);
            steps.push(row);
        }
    }

    /// Notes an image (a PNG: a grid, a confusion matrix) or a text sample the run wrote at
    /// `path` after epoch `epoch`, and shows it in TensorBoard under `tag` (an action's
    /// path before its `{epoch}` is filled in, so that every epoch's is one series).
    pub fn output(&self, kind: &str, tag: &str, epoch: usize, path: &Path) {
        self.note_artifact(kind, path, true);
        let epoch = i64::try_from(epoch).unwrap_or(i64::MAX);
        let png = path.extension().is_some_and(|e| e == "png");
        lock(&self.live).tensorboard(|tb| {
            if png {
                tb.png(tag, epoch, &std::fs::read(path)?)
            } else {
                let text = std::fs::read_to_string(path)?;
                tb.text(tag, epoch, &markdown_code(&text))
            }
        });
    }

    /// Notes a file the run wrote (in memory; written with the next update).
    pub fn artifact(&self, kind: &str, path: &Path) {
        self.note_artifact(kind, path, true);
    }

    /// Notes an output the run failed to write (in memory; written with the next update).
    pub fn artifact_not_written(&self, kind: &str, path: &Path) {
        self.note_artifact(kind, path, false);
    }

    fn note_artifact(&self, kind: &str, path: &Path, written: bool) {
        let mut live = lock(&self.live);
        let relative = path.strip_prefix(&live.dir).unwrap_or(path);
        let artifact = Artifact {
            kind: kind.to_string(),
            path: relative.display().to_string(),
            written,
        };
        // Once per path: a resumed run's later attempt replaces the earlier one.
        let same = |a: &Artifact| a.kind == artifact.kind && a.path == artifact.path;
        match live.record.artifacts.iter_mut().find(|a| same(a)) {
            Some(existing) => existing.written = written,
            None => live.record.artifacts.push(artifact),
        }
    }

    /// Notes how a run with early stopping ended (in memory; written with the next update).
    pub fn stopped(&self, stopped: super::schema::Stopped) {
        lock(&self.live).record.stopped = Some(stopped);
    }

    /// The steps `on_nan` skipped or restored from, once training has ended.
    pub fn non_finite(&self, counts: super::schema::NonFiniteCounts) {
        lock(&self.live).record.non_finite = counts;
    }

    /// Keeps a `log` line (in memory; written with the next update).
    pub fn log(&self, line: &str) {
        lock(&self.live).record.log.push(line.to_string());
    }

    /// The final update: status, end time and the trained parameters' hash.
    pub fn finish(&self, status: Status, weights_sha256: Option<String>) -> RecordResult<()> {
        let mut live = lock(&self.live);
        live.record.status = status;
        live.record.ended = Some(super::provenance::now());
        if weights_sha256.is_some() {
            live.record.weights_sha256 = weights_sha256;
        }
        write_all(&live)
    }
}

/// A poisoned lock means a panic mid-update of plain data; the record is still worth writing.
impl Live {
    /// Writes to the events file with `write`; the first failure closes it, and the record
    /// says it was not written (TensorBoard is a view: the run goes on without it).
    fn tensorboard(&mut self, write: impl FnOnce(&mut EventsWriter) -> std::io::Result<()>) {
        let Some(tb) = &mut self.tensorboard else {
            return;
        };
        let written = write(tb).is_ok();
        let artifacts = &mut self.record.artifacts;
        match artifacts.iter_mut().find(|a| a.kind == "tensorboard") {
            Some(a) => a.written &= written,
            None => artifacts.push(Artifact {
                kind: "tensorboard".into(),
                path: tensorboard::DIR.into(),
                written,
            }),
        }
        if !written {
            self.tensorboard = None;
        }
    }
}

/// `text` as a Markdown code block (TensorBoard's text tab renders Markdown): indented.
fn markdown_code(text: &str) -> String {
    text.lines().fold(String::new(), |mut out, l| {
        let _ = writeln!(out, "    {l}");
        out
    })
}

fn lock(live: &Mutex<Live>) -> MutexGuard<'_, Live> {
    live.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write_all(live: &Live) -> RecordResult<()> {
    write_record(&live.dir.join(RECORD_FILE), &live.record)?;
    write_atomic(&live.dir.join(METRICS_FILE), |w| {
        w.write_all(metrics_csv(&live.record).as_bytes())
    })?;
    Ok(())
}

/// Writes a record atomically.
pub fn write_record(path: &Path, record: &RunRecord) -> RecordResult<()> {
    let text = serde_yaml::to_string(record).map_err(|e| super::error::RecordError::Invalid {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    write_atomic(path, |w| w.write_all(text.as_bytes()))?;
    Ok(())
}

/// `epoch,<metrics...>,train_seconds,eval_seconds`, one row per finished epoch. Values are
/// written in Rust's shortest round-trip form, so the CSV holds the exact numbers.
pub fn metrics_csv(record: &RunRecord) -> String {
    let history = record.ordered_history();
    // A `step` column only where the experiment logs steps; epoch rows leave it empty.
    let with_steps = !record.steps.is_empty();
    let mut out = String::from(if with_steps { "epoch,step" } else { "epoch" });
    for (name, _) in &history {
        out.push(',');
        out.push_str(name);
    }
    out.push_str(",train_seconds,eval_seconds\n");
    let cell = |out: &mut String, v: Option<f64>| {
        out.push(',');
        if let Some(v) = v.filter(|v| !v.is_nan()) {
            out.push_str(&v.to_string());
        }
    };
    let mut rows = record.steps.iter().peekable();
    for epoch in 0..record.epochs_done() {
        while let Some(row) = rows.next_if(|r| r.epoch <= epoch + 1) {
            let _ = write!(out, "{},{}", row.epoch, row.step);
            let index = |name: &str| record.metrics.iter().position(|m| m == name);
            for (name, _) in &history {
                cell(
                    &mut out,
                    index(name).and_then(|i| row.values.get(i).copied()),
                );
            }
            out.push_str(",,\n");
        }
        out.push_str(&(epoch + 1).to_string());
        if with_steps {
            out.push(',');
        }
        for (_, values) in &history {
            cell(&mut out, values.get(epoch).copied());
        }
        let seconds = record.epoch_seconds.get(epoch);
        for s in [seconds.map(|s| s.train), seconds.map(|s| s.eval)] {
            out.push(',');
            if let Some(s) = s {
                let _ = write!(out, "{s:.3}");
            }
        }
        out.push('\n');
    }
    out
}
