//! Free space: a run whose outputs cannot fit on the run directory's filesystem is
//! refused before it trains, rather than failing hours later at its first checkpoint.
//!
//! The estimate covers what a run writes at its largest moment: every saved model, the
//! checkpoints kept plus the one being written (each holds the parameters and the
//! optimizers' slots), and a margin for the record, metrics, log and plots. Writes are
//! atomic anyway (`atomic.rs`), so a disk that fills up for other reasons later still
//! leaves no half-written file; this check only turns the predictable case into an
//! early, clear error.

use std::path::Path;

use super::error::{OutputError, OutputResult};
use crate::check::plan::{Action, Experiment};

/// Bytes for the record, metrics.csv, the log and a few plots.
const MARGIN: u64 = 4 << 20;

/// The bytes a run of `exp` writes into its run directory at most, with what they are for.
pub fn run_output_estimate(exp: &Experiment) -> (u64, String) {
    let bytes_of = |model: usize| 4 * exp.models[model].parameter_count() as u64;
    let saved: u64 = exp
        .after
        .iter()
        .chain(&exp.hooks.epoch_end)
        .chain(exp.hooks.improved.iter().flat_map(|h| &h.actions))
        .filter_map(|a| match a {
            Action::Save { model, .. } => Some(bytes_of(*model)),
            _ => None,
        })
        .sum();
    let parameters: u64 = (0..exp.models.len()).map(bytes_of).sum();
    let slots: u64 = exp
        .optimizers
        .iter()
        .map(|o| o.models.iter().map(|&m| bytes_of(m)).sum::<u64>() * o.kind.slots() as u64)
        .sum();
    let checkpoints_on = exp.checkpoints.every_steps > 0 || exp.checkpoints.every_epochs > 0;
    let checkpoint_count = if checkpoints_on {
        exp.checkpoints.keep as u64 + 1
    } else {
        0
    };
    let checkpoints = checkpoint_count * (parameters + slots);
    let what = format!(
        "{} of saved models, {} checkpoints of {} each, and {} for the record and plots",
        human(saved),
        checkpoint_count,
        human(parameters + slots),
        human(MARGIN)
    );
    (saved + checkpoints + MARGIN, what)
}

/// Checks that the filesystem holding `dir` has at least `needed` bytes free.
///
/// # Errors
/// [`OutputError::NoSpace`] naming the directory, the space free and the space needed.
pub fn ensure_space(dir: &Path, needed: u64, what: &str) -> OutputResult<()> {
    // A filesystem that cannot report its free space is not refused: the writes are
    // atomic and will report a full disk themselves.
    let Ok(available) = fs4::available_space(dir) else {
        return Ok(());
    };
    if available >= needed {
        return Ok(());
    }
    Err(OutputError::NoSpace {
        dir: dir.to_path_buf(),
        available: human(available),
        needed: human(needed),
        what: what.to_string(),
    })
}

/// `1.5 MiB`, `312 KiB`, `12 B`.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(human(12), "12 B");
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(3 << 30), "3.0 GiB");
    }

    #[test]
    fn an_ordinary_directory_has_room_for_a_small_run() {
        let dir = tempfile::tempdir().unwrap();
        ensure_space(dir.path(), 1024, "a test").unwrap();
    }

    #[test]
    fn more_than_the_disk_holds_is_refused_with_both_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let err = ensure_space(dir.path(), u64::MAX, "everything").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("free") && text.contains("needs"), "{text}");
        assert!(text.contains(&dir.path().display().to_string()), "{text}");
    }
}
