//! Twins: an experiment trained a few steps in expr and the same steps in PyTorch (a
//! script under `bench/reference/` prints the numbers), compared through the loss and
//! each tensor of the final model file.

use std::path::{Path, PathBuf};

/// Float32 values as `.npy` data bytes.
pub fn f32_bytes(values: impl IntoIterator<Item = f32>) -> Vec<u8> {
    values.into_iter().flat_map(f32::to_le_bytes).collect()
}

/// Class labels as int64 `.npy` data bytes.
pub fn i64_bytes(values: &[i64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// How many tokens each of the padded sequences of [`write_padded_sequences`] has.
pub const PADDED_LENGTHS: [usize; 8] = [6, 1, 3, 5, 2, 6, 4, 3];

/// The token sequences of the recurrent twins (`bench/reference/twin.py`'s
/// `padded_ids`), `x.npy`: ids `1 + (n*5 + t*3) % 6`, then the padding id 0, 6 steps; and
/// their labels, `y.npy`.
pub fn write_padded_sequences(dir: &Path) {
    let mut ids = vec![0i64; 8 * 6];
    for (n, &length) in PADDED_LENGTHS.iter().enumerate() {
        for t in 0..length {
            ids[n * 6 + t] = 1 + i64::try_from((n * 5 + t * 3) % 6).unwrap_or(0);
        }
    }
    super::write_npy(&dir.join("x.npy"), "<i8", &[8, 6], &i64_bytes(&ids));
    let labels = i64_bytes(&[0, 2, 1, 1, 2, 0, 0, 1]);
    super::write_npy(&dir.join("y.npy"), "<i8", &[8], &labels);
}

/// A twin's experiment template (`bench/reference/*_twin.exp.in`) filled in: `EPOCHS`, the
/// `METRICS` (the training loss when it trains, and the loss on `again`), and `SAVE`, the
/// model file's name.
pub fn from_template(template: &str, epochs: usize, name: &str) -> String {
    let mut metrics = String::new();
    if epochs > 0 {
        metrics.push_str("  train_loss = mean(loss) on train\n");
    }
    metrics.push_str("  again_loss = mean(loss) on again\n");
    template
        .replace("EPOCHS", &epochs.to_string())
        .replace("METRICS", &metrics)
        .replace("SAVE", name)
}

/// Runs experiment `text` as `dir/NAME.exp` through the binary: its run directory.
pub fn run(dir: &Path, text: &str, name: &str) -> PathBuf {
    let file = dir.join(format!("{name}.exp"));
    std::fs::write(&file, text).unwrap();
    let runs = dir.join(format!("runs-{name}"));
    let out = super::expr_in(
        dir,
        &[
            "run",
            file.to_str().unwrap(),
            "--runs-dir",
            runs.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", super::stderr(&out));
    let experiment = std::fs::read_dir(&runs).unwrap().next().unwrap().unwrap();
    let run = std::fs::read_dir(experiment.path())
        .unwrap()
        .next()
        .unwrap();
    run.unwrap().path()
}

/// A metric's value after the first epoch, from the run's metrics.csv.
pub fn first_epoch(run: &Path, name: &str) -> f64 {
    let text = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at = header.iter().position(|h| *h == name).unwrap();
    row[at].parse().unwrap()
}

/// What a twin's script prints: the initial model's loss (`again_loss` of a run of no
/// epochs), the mean loss of the steps of one epoch (`train_loss`), and each tensor of the
/// final model (name, sum, sum of squares).
pub struct Twin<'a> {
    pub initial_loss: f64,
    pub train_loss: f64,
    pub tensors: &'a [(&'a str, f64, f64)],
}

/// Runs `template` (see [`from_template`]) in `dir`, where its data already is, for no
/// epochs and for one, and checks both losses (to 1e-5) and the final model's tensors
/// against the twin's.
pub fn assert_trains_as(dir: &Path, template: &str, twin: &Twin<'_>) {
    let initial = run(dir, &from_template(template, 0, "initial"), "initial");
    let loss = first_epoch(&initial, "again_loss");
    assert!(
        (loss - twin.initial_loss).abs() < 1e-5,
        "initial loss {loss}, the twin's {}",
        twin.initial_loss
    );
    let trained = run(dir, &from_template(template, 1, "final"), "final");
    let loss = first_epoch(&trained, "train_loss");
    assert!(
        (loss - twin.train_loss).abs() < 1e-5,
        "loss of the steps {loss}, the twin's {}",
        twin.train_loss
    );
    assert_tensors(&trained.join("final.safetensors"), twin.tensors);
}

/// Each tensor of the model file `path` against the twin's (name, sum, sum of squares),
/// to 1e-4 of what each could differ by; and no tensor more or less.
pub fn assert_tensors(path: &Path, twin: &[(&str, f64, f64)]) {
    let bytes = std::fs::read(path).unwrap();
    let model = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(model.len(), twin.len(), "tensors in the model file");
    for &(name, sum, squares) in twin {
        let t = model
            .tensor(name)
            .unwrap_or_else(|_| panic!("{name} is saved"));
        let values: Vec<f64> = t
            .data()
            .chunks_exact(4)
            .map(|b| f64::from(f32::from_le_bytes(b.try_into().unwrap())))
            .collect();
        let got_sum: f64 = values.iter().sum();
        let got_squares: f64 = values.iter().map(|v| v * v).sum();
        // The sum may cancel to near 0: its tolerance scales with what could cancel.
        let sum_tolerance = 1e-4 * (squares * values.len() as f64).sqrt().max(1e-3);
        assert!(
            (got_sum - sum).abs() < sum_tolerance,
            "{name}: sum {got_sum} against the twin's {sum}"
        );
        assert!(
            (got_squares - squares).abs() < 1e-4 * squares.max(1e-6),
            "{name}: sum of squares {got_squares} against the twin's {squares}"
        );
    }
}
