//! Random augmentation in a pipeline (`random_flip`, `random_translate`, `random_crop`,
//! `random_rotation`, `cutout`, `random_noise`): each example's draws depend on the seed,
//! the epoch and the example only, so runs are reproducible bit for bit and a resumed run
//! augments exactly as an uninterrupted one.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use std::path::Path;

const AUGMENTED: &str = "scale(1 / 255) | random_flip() | random_translate(0.25) | random_crop(padding = 1) | random_rotation(15) | cutout(size = 2) | random_noise(std = 0.05) | shuffle(buffer = 100) | batch(32)";

/// The small MLP with `train`'s transforms replaced by `pipeline`.
fn experiment(dir: &Path, pipeline: &str) -> String {
    let text = common::mlp_experiment(dir, false, "");
    let start = text.find("data train = ").unwrap();
    let source_end = start + text[start..].find(")\n").unwrap() + 1;
    let end = start + text[start..].find("\n\ndata test").unwrap();
    format!("{} | {pipeline}{}", &text[..source_end], &text[end..])
}

fn check_errors(text: &str) -> Vec<expr::check::CheckError> {
    let file = expr::syntax::parse_file(text).unwrap();
    expr::check::check(&file).err().unwrap_or_default()
}

#[test]
fn augmented_runs_are_reproducible_and_differ_from_plain_ones() {
    let dir = tempfile::tempdir().unwrap();
    let augmented = experiment(dir.path(), AUGMENTED);
    let a = common::run_text(dir.path(), &augmented);
    let b = common::run_text(dir.path(), &augmented);
    assert_eq!(a.history, b.history);
    assert_eq!(a.parameters, b.parameters);
    let plain = common::run_text(
        dir.path(),
        &experiment(
            dir.path(),
            "scale(1 / 255) | shuffle(buffer = 100) | batch(32)",
        ),
    );
    assert_ne!(
        a.parameters, plain.parameters,
        "the augmentation changed nothing"
    );
    let accuracy = common::metric(&a, "test_accuracy");
    assert!(accuracy[2] > 0.5, "still learnable: {accuracy:?}");
}

#[test]
fn a_resumed_run_augments_exactly_as_an_uninterrupted_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("aug.exp");
    std::fs::write(&file, experiment(dir.path(), AUGMENTED)).unwrap();
    let run = |args: &[&str], runs: &str| {
        let mut all = vec!["run", "--no-progress", "--runs-dir", runs];
        all.extend_from_slice(args);
        let out = common::expr_in(dir.path(), &all);
        assert!(out.status.success(), "{}", common::stderr(&out));
    };
    let file = file.to_str().unwrap();
    run(&[file], "whole");
    // One epoch, then continued to the file's three from its checkpoint.
    run(&["--epochs", "1", file], "parts");
    let parts = expr::record::find_all(&dir.path().join("parts"));
    let parts_dir = parts[0].0.to_str().unwrap().to_string();
    run(&["--resume", &parts_dir, "--epochs", "3"], "parts");
    let whole = expr::record::find_all(&dir.path().join("whole"))
        .remove(0)
        .1
        .unwrap();
    let parts = expr::record::find_all(&dir.path().join("parts"))
        .remove(0)
        .1
        .unwrap();
    assert_eq!(whole.history, parts.history);
    assert_eq!(whole.weights_sha256, parts.weights_sha256);
}

#[test]
fn moving_pixels_of_flat_elements_is_a_diagnostic() {
    // (The test data keeps its 8x8 images, so the model's input shapes clash too: only the
    // augmentation's own diagnostic is looked at.)
    let dir = tempfile::tempdir().unwrap();
    let about = |pipeline: &str, op: &str| -> Vec<String> {
        check_errors(&experiment(dir.path(), pipeline))
            .into_iter()
            .map(|e| e.title)
            .filter(|t| t.contains(op))
            .collect()
    };
    assert_eq!(
        about(
            "reshape(64) | random_translate(0.1) | batch(32)",
            "random_translate"
        ),
        ["`random_translate` moves pixels of images, but data `train`'s elements are [64]"]
    );
    for op in [
        "random_flip()",
        "random_crop(padding = 2)",
        "random_rotation(degrees = 10)",
        "cutout(size = 2)",
    ] {
        let name = &op[..op.find('(').unwrap()];
        let pipeline = format!("reshape(64) | {op} | batch(32)");
        assert_eq!(about(&pipeline, name).len(), 1, "{op}");
    }
    // Noise needs no image.
    assert!(about(
        "reshape(64) | random_noise(std = 0.1) | batch(32)",
        "random_noise"
    )
    .is_empty());
}

#[test]
fn rescaling_after_an_augmentation_is_a_diagnostic() {
    let dir = tempfile::tempdir().unwrap();
    let errors = check_errors(&experiment(
        dir.path(),
        "random_noise(std = 0.1) | scale(1 / 255) | batch(32)",
    ));
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].title, "`scale` comes after a random augmentation");
}
