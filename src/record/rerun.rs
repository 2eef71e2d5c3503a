//! Running a recorded experiment again (`--rerun`): the comparison of a rerun with the run it
//! repeats, every metric of every epoch and the trained parameters, bit for bit. (Its text
//! is read back by `overrides::load_recorded`.)

use super::schema::RunRecord;

/// One number that differs between the original and the rerun.
#[derive(Debug, Clone, PartialEq)]
pub enum Mismatch {
    Metric {
        name: String,
        /// 1-based.
        epoch: usize,
        original: Option<f64>,
        rerun: Option<f64>,
    },
    Parameters {
        original: String,
        rerun: String,
    },
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |v: &Option<f64>| v.map_or_else(|| "missing".to_string(), |v| v.to_string());
        match self {
            Mismatch::Metric {
                name,
                epoch,
                original,
                rerun,
            } => write!(
                f,
                "`{name}` after epoch {epoch}: {} → {}",
                show(original),
                show(rerun)
            ),
            Mismatch::Parameters { original, rerun } => write!(
                f,
                "trained parameters: sha256 {} → {}",
                &original[..original.len().min(12)],
                &rerun[..rerun.len().min(12)]
            ),
        }
    }
}

/// Bit-level equality, so NaN equals NaN and 0.0 differs from -0.0.
fn same_bits(a: Option<f64>, b: Option<f64>) -> bool {
    a.map(f64::to_bits) == b.map(f64::to_bits)
}

/// Every difference between the two records' numbers; empty when the rerun matches.
pub fn compare(original: &RunRecord, rerun: &RunRecord) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let mut names: Vec<&String> = original.history.keys().collect();
    names.extend(
        rerun
            .history
            .keys()
            .filter(|k| !original.history.contains_key(*k)),
    );
    for name in names {
        let a = original.history.get(name).map_or(&[][..], Vec::as_slice);
        let b = rerun.history.get(name).map_or(&[][..], Vec::as_slice);
        for epoch in 0..a.len().max(b.len()) {
            let (x, y) = (a.get(epoch).copied(), b.get(epoch).copied());
            if !same_bits(x, y) {
                out.push(Mismatch::Metric {
                    name: name.clone(),
                    epoch: epoch + 1,
                    original: x,
                    rerun: y,
                });
            }
        }
    }
    if let (Some(a), Some(b)) = (&original.weights_sha256, &rerun.weights_sha256) {
        if a != b {
            out.push(Mismatch::Parameters {
                original: a.clone(),
                rerun: b.clone(),
            });
        }
    }
    out
}

/// What differs around the numbers: data files, versions, machine.
pub fn context_changes(original: &RunRecord, rerun: &RunRecord) -> Vec<String> {
    let mut out = Vec::new();
    for (a, b) in original.data.iter().zip(&rerun.data) {
        if a.sha256 != b.sha256 {
            out.push(format!(
                "data `{}` changed: `{}` has another sha256 than `{}` had",
                a.data, b.path, a.path
            ));
        }
    }
    if original.data.len() != rerun.data.len() {
        out.push("the runs read a different number of data files".into());
    }
    if original.versions != rerun.versions {
        out.push(format!(
            "versions differ: expr {} / dfdx {} then, expr {} / dfdx {} now",
            original.versions.expr,
            original.versions.dfdx,
            rerun.versions.expr,
            rerun.versions.dfdx
        ));
    }
    if let (Some(then), Some(now)) = (&original.kernels, &rerun.kernels) {
        if then != now {
            out.push(format!(
                "this run used the {} kernels, the original used {}; results may differ in the last bits",
                kernel_words(now),
                kernel_words(then)
            ));
        }
    }
    if original.machine.arch != rerun.machine.arch {
        out.push(format!(
            "the architecture differs: {} then, {} now",
            original.machine.arch, rerun.machine.arch
        ));
    }
    out
}

/// A kernel path as the notes name it.
pub fn kernel_words(path: &str) -> &str {
    match path {
        "avx512" => "AVX-512",
        "avx2" => "AVX2",
        other => other,
    }
}
