//! Where an experiment's data comes from: relative paths are read from the folder of the
//! `.exp` file, wherever `expr` runs, and `expr check` verifies every file it names as far
//! as the headers (there, a file, the examples counted alike, the declared shape) before
//! anything trains.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use common::{expr_in, stderr};

use std::path::{Path, PathBuf};

/// The small MLP in `dir/exps/small.exp` with its data beside it, named by relative paths
/// (`"train-images-idx3-ubyte"`); `edit` changes the text first.
fn relative_experiment(dir: &Path, edit: impl Fn(String) -> String) -> PathBuf {
    let exps = dir.join("exps");
    std::fs::create_dir_all(&exps).unwrap();
    let text = common::mlp_experiment(&exps, false, "");
    let prefix = format!("{}/", exps.display());
    let path = exps.join("small.exp");
    std::fs::write(&path, edit(text.replace(&prefix, ""))).unwrap();
    path
}

#[test]
fn relative_data_paths_are_read_from_the_experiment_s_folder_wherever_expr_runs() {
    let dir = tempfile::tempdir().unwrap();
    let file = relative_experiment(dir.path(), |t| t);
    assert!(std::fs::read_to_string(&file)
        .unwrap()
        .contains("images = \"train-images-idx3-ubyte\""));
    // From the folder above, and from an unrelated one.
    let elsewhere = tempfile::tempdir().unwrap();
    for cwd in [dir.path(), elsewhere.path()] {
        let check = expr_in(cwd, &["check", file.to_str().unwrap()]);
        assert!(check.status.success(), "{}", stderr(&check));
        let run = expr_in(
            cwd,
            &[
                "run",
                "--no-progress",
                "--epochs",
                "1",
                file.to_str().unwrap(),
            ],
        );
        assert!(run.status.success(), "{}", stderr(&run));
    }
    // The record names the files the run read, absolute, and where relative paths start.
    let records = expr::record::find_all(&elsewhere.path().join("runs"));
    let record = records[0].1.as_ref().unwrap();
    let exps = std::path::absolute(dir.path().join("exps")).unwrap();
    assert_eq!(
        record.data_base.as_deref(),
        Some(exps.display().to_string().as_str())
    );
    let train = record.data.iter().find(|d| d.data == "train").unwrap();
    assert_eq!(Path::new(&train.path), exps.join("train-images-idx3-ubyte"));
}

#[test]
fn a_relative_path_from_a_subfolder_of_the_experiment_works_too() {
    let dir = tempfile::tempdir().unwrap();
    let file = relative_experiment(dir.path(), |t| t.replace("\"test-", "\"data/test-"));
    let exps = file.parent().unwrap();
    std::fs::create_dir(exps.join("data")).unwrap();
    for name in ["test-images-idx3-ubyte", "test-labels-idx1-ubyte"] {
        std::fs::rename(exps.join(name), exps.join("data").join(name)).unwrap();
    }
    let out = expr_in(dir.path(), &["check", "exps/small.exp"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// `expr check` on the experiment after `edit`: exit code and stderr.
fn check_edited(edit: impl Fn(String) -> String, files: impl Fn(&Path)) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = relative_experiment(dir.path(), edit);
    files(file.parent().unwrap());
    let out = expr_in(dir.path(), &["check", file.to_str().unwrap()]);
    (out.status.code(), stderr(&out))
}

#[test]
fn a_missing_data_file_is_a_diagnostic_on_its_string() {
    let (code, err) = check_edited(
        |t| t.replace("\"train-labels-idx1-ubyte\"", "\"train-labels.idx\""),
        |_| {},
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("expr::check::data_file"), "{err}");
    assert!(err.contains("cannot find an IDX label file `/"), "{err}");
    assert!(err.contains("exps/train-labels.idx`"), "{err}");
    // The label sits on the string, line 8.
    assert!(err.contains("small.exp:8:"), "{err}");
    assert!(err.contains("no such file"), "{err}");
    assert!(
        err.contains("read from the folder of the `.exp` file"),
        "{err}"
    );
}

#[test]
fn a_run_with_a_missing_data_file_stops_before_anything_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let file = relative_experiment(dir.path(), |t| {
        t.replace("\"test-images-idx3-ubyte\"", "\"nope\"")
    });
    let out = expr_in(
        dir.path(),
        &["run", "--no-progress", file.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot find an IDX image file"));
    assert!(!dir.path().join("runs").exists());
}

#[test]
fn images_and_labels_of_different_counts_are_a_diagnostic() {
    let (code, err) = check_edited(
        |t| t.replace("\"train-labels-idx1-ubyte\"", "\"test-labels-idx1-ubyte\""),
        |_| {},
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("data `train` has 512 images but 128 labels"),
        "{err}"
    );
    assert!(
        err.contains("512 images") && err.contains("128 labels"),
        "{err}"
    );
}

#[test]
fn a_declared_shape_that_does_not_fit_the_file_is_a_diagnostic_with_the_fix() {
    let (code, err) = check_edited(|t| t.replace("shape = (8, 8)", "shape = (28, 28)"), |_| {});
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("each image in the file has 64 values (8×8), the declaration 784"),
        "{err}"
    );
    assert!(err.contains("declare `shape = (8, 8)`"), "{err}");
}

#[test]
fn a_label_file_given_as_images_says_what_it_found() {
    let (code, err) = check_edited(
        |t| t.replace("\"train-images-idx3-ubyte\"", "\"train-labels-idx1-ubyte\""),
        |_| {},
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("expr::check::data_file"), "{err}");
    assert!(err.contains("2051") && err.contains("2049"), "{err}");
}

#[test]
fn a_truncated_data_file_is_caught_from_its_header() {
    let (code, err) = check_edited(
        |t| t,
        |exps| {
            let path = exps.join("train-images-idx3-ubyte");
            let bytes = std::fs::read(&path).unwrap();
            std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
        },
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("train-images-idx3-ubyte"), "{err}");
    assert!(err.contains("this file"), "{err}");
}

#[test]
fn a_directory_as_a_data_file_is_a_diagnostic() {
    let (code, err) = check_edited(
        |t| t,
        |exps| {
            let path = exps.join("test-labels-idx1-ubyte");
            std::fs::remove_file(&path).unwrap();
            std::fs::create_dir(&path).unwrap();
        },
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("directory"), "{err}");
}

#[test]
fn a_model_to_load_that_does_not_exist_is_a_diagnostic() {
    let (code, err) = check_edited(
        |t| format!("{t}\nbefore {{\n  load(net, from = \"pretrained/net.safetensors\")\n}}\n"),
        |_| {},
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("cannot read the model file `/") && err.contains("pretrained/net.safetensors"),
        "{err}"
    );
    assert!(err.contains("no such file"), "{err}");
}

#[test]
fn several_file_problems_are_reported_together() {
    let (code, err) = check_edited(
        |t| {
            t.replace("\"train-labels-idx1-ubyte\"", "\"a\"")
                .replace("\"test-images-idx3-ubyte\"", "\"b\"")
        },
        |_| {},
    );
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(err.matches("expr::check::data_file").count(), 2, "{err}");
}

#[test]
fn rerun_reads_the_run_s_files_and_an_older_record_reads_them_from_its_workdir() {
    let dir = tempfile::tempdir().unwrap();
    let file = relative_experiment(dir.path(), |t| t);
    let exps = file.parent().unwrap().to_path_buf();
    let out = expr_in(
        &exps,
        &["run", "--no-progress", "--epochs", "1", "small.exp"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let records = expr::record::find_all(&exps.join("runs"));
    let record_path = records[0].0.join("run.yaml");
    let elsewhere = tempfile::tempdir().unwrap();
    let rerun = |what: &str| {
        let out = expr_in(
            elsewhere.path(),
            &[
                "run",
                "--no-progress",
                "--rerun",
                record_path.to_str().unwrap(),
            ],
        );
        assert!(out.status.success(), "{what}: {}", stderr(&out));
    };
    rerun("with data_base");
    // A record from before `data_base`: relative paths were read from `workdir`.
    let text = std::fs::read_to_string(&record_path).unwrap();
    assert!(text.contains("data_base:"), "{text}");
    let mut older = String::new();
    for line in text.lines().filter(|l| !l.starts_with("data_base:")) {
        older.push_str(line);
        older.push('\n');
    }
    std::fs::write(&record_path, older).unwrap();
    rerun("with workdir only");
}
