//! Messages of the command line. Before issue 20: `expr check` with no files exited 0; a
//! `--set` value's diagnostic was shown inside the file as if written there; a label
//! beyond the declared classes named the image file.

use super::{code, expr, stderr, write, BASE};

#[test]
fn check_without_files_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["check"][..],
        &["check", "-q"],
        &["check", "--format", "json"],
    ] {
        let out = expr(dir.path(), args);
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{args:?}: {err}");
        assert!(err.contains("Usage"), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

/// Runs `expr run mnist.exp --set SET` and returns the report; the run must stop at check.
fn run_with_set(set: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "mnist.exp", BASE);
    let out = expr(dir.path(), &["run", file.to_str().unwrap(), "--set", set]);
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{set}: {err}");
    assert!(!dir.path().join("runs").exists(), "{set}: nothing ran");
    err
}

#[test]
fn a_bad_set_value_is_shown_as_the_command_line_s() {
    for (set, source, value) in [
        // A value replacing one the file has.
        ("opt.lr=-1", "[--set opt.lr=:1:1]", "-1"),
        ("train.epochs=-1", "[--set train.epochs=:1:1]", "-1"),
        // A value the file did not have, inserted into it.
        (
            "experiment.threads=0",
            "[--set experiment.threads=:1:1]",
            "0",
        ),
        // A layer argument.
        (
            "classifier.dense.units=1e20",
            "[--set classifier.dense.units=:1:1]",
            "1e20",
        ),
    ] {
        let err = run_with_set(set);
        assert!(err.contains(source), "{set}: {err}");
        assert!(err.contains(&format!("1 │ {value}")), "{set}: {err}");
        // Not shown inside the file as if written there.
        assert!(!err.contains("mnist.exp:"), "{set}: {err}");
    }
}

#[test]
fn a_file_error_beside_a_set_value_stays_the_file_s() {
    let dir = tempfile::tempdir().unwrap();
    let text = BASE.replacen("seed = 42", "seed = -1", 1);
    let file = write(dir.path(), "mnist.exp", text);
    let out = expr(
        dir.path(),
        &["run", file.to_str().unwrap(), "--set", "opt.lr=-1"],
    );
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{err}");
    assert!(err.contains("mnist.exp:6:10]"), "{err}");
    assert!(err.contains("[--set opt.lr=:1:1]"), "{err}");
}

#[test]
fn a_label_beyond_the_classes_names_the_labels_file() {
    let dir = tempfile::tempdir().unwrap();
    // Five classes of labels (0..=4) where the experiment declares four.
    let (tri, trl) = crate::common::write_idx_set(dir.path(), "train", 64, 8, 5);
    let (tei, tel) = crate::common::write_idx_set(dir.path(), "test", 32, 8, 4);
    let text = crate::common::fixture(
        "small_mlp",
        &[
            ("train_images", tri.clone()),
            ("train_labels", trl.clone()),
            ("test_images", tei),
            ("test_labels", tel),
        ],
    );
    let file = write(dir.path(), "five.exp", text);
    let out = expr(dir.path(), &["run", file.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{err}"); // the data is at fault: exit 2, as `expr check`
                                        // The message, unwrapped from miette's 100 columns.
    let message: String = err
        .split_whitespace()
        .filter(|w| *w != "│")
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        message.contains(&format!("{} has labels up to 4", trl.display())),
        "{message}"
    );
    assert!(!message.contains(&tri.display().to_string()), "{message}");
}
