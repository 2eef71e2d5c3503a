//! Where an experiment writes: `to = "..."` refused by `expr check` when it would
//! leave the run directory, and writes that replace only regular files.

use std::path::Path;

use super::{check, experiment, expr_in, files_under, mkfifo, stderr};
use crate::common;

#[test]
fn check_refuses_output_paths_that_leave_the_run_directory_or_name_no_file() {
    let cases = [
        (
            r#"save(net, to = "../../../x")"#,
            "leaves the run directory",
        ),
        (r#"save(net, "a/../../x")"#, "leaves the run directory"),
        (r#"plot(train_loss, to = "/abs/path.png")"#, "is absolute"),
        (r#"save(net, to = "")"#, "the output path is empty"),
        (r#"save(net, to = ".")"#, "does not name a file"),
        (r#"plot(train_loss, to = "plots/")"#, "does not name a file"),
        (r#"save(net, to = "run.yaml")"#, "the run record"),
        (
            r#"plot(train_loss, to = "./metrics.csv")"#,
            "the metrics table",
        ),
        (
            r#"save(net, to = "checkpoint-9.safetensors")"#,
            "a checkpoint",
        ),
        (r#"save(net, to = ".m.1.2.tmp")"#, "hidden name"),
        (
            r#"plot(train_loss, to = "tb/loss.png")"#,
            "the folder of TensorBoard's events",
        ),
        (
            r#"save(net, to = "confusion/net.safetensors")"#,
            "the folder of the confusion matrices",
        ),
    ];
    for (call, title) in cases {
        let (code, err) = check(&format!("after {{\n  {call}\n}}\n"));
        assert_eq!(code, Some(2), "{call}: {err}");
        assert!(err.contains(title), "{call}: {err}");
        assert!(err.contains("expr::check::output_path"), "{call}: {err}");
        assert!(err.contains("help:"), "{call}: {err}");
    }
}

#[test]
fn check_refuses_a_grid_written_outside_the_run_directory() {
    let (code, err) = check(
        "on epoch_end {\n  grid(x, count = 4, on = train, to = \"/tmp/expr-grid-{epoch}.png\")\n}\n",
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("is absolute"), "{err}");
    let (code, err) =
        check("after {\n  grid(x, count = 4, on = train, to = \"g/../../{epoch}.png\")\n}\n");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("leaves the run directory"), "{err}");
}

#[test]
fn two_outputs_with_one_path_are_reported_at_both() {
    let (code, err) = check(
        "after {\n  save(net, to = \"m/net.safetensors\")\n  save(net, to = \"m/./net.safetensors\")\n}\n",
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("two outputs are written to `m/net.safetensors`"),
        "{err}"
    );
    assert!(err.contains("first written here"), "{err}");
    assert!(err.contains("written again here"), "{err}");
    // A grid's `{epoch}` file and a plot of the name it takes at epoch 2.
    let (code, err) = check(
        "on epoch_end {\n  grid(x, count = 4, on = train, to = \"g/e{epoch}.png\")\n}\nafter {\n  plot(train_loss, to = \"g/e2.png\")\n}\n",
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("two outputs are written to `g/e2.png`"),
        "{err}"
    );
    // A grid template and a plot: one is a file, the other needs it as a folder.
    let (code, err) = check(
        "on epoch_end {\n  grid(x, count = 4, on = train, to = \"g.png/{epoch}.png\")\n}\nafter {\n  plot(train_loss, to = \"g.png\")\n}\n",
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("clashes with another output"), "{err}");
}

#[test]
fn twenty_five_thousand_outputs_check_in_linear_time() {
    let mut calls = String::new();
    for i in 0..25_000 {
        calls += "  save(net, to = \"m/";
        calls += &i.to_string();
        calls += ".safetensors\")\n";
    }
    let start = std::time::Instant::now();
    let (code, err) = check(&format!("after {{\n{calls}}}\n"));
    assert_eq!(code, Some(0), "{err}");
    assert!(
        start.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn run_with_an_escaping_output_trains_nothing_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(
        dir.path(),
        "after {\n  save(net, to = \"../../../escaped.safetensors\")\n}\n",
    );
    let out = expr_in(
        dir.path(),
        &["run", "--no-progress", file.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!dir.path().join("runs").exists());
    assert!(!dir.path().join("escaped.safetensors").exists());
}

#[test]
fn the_run_s_own_file_names_are_the_ones_check_reserves() {
    use expr::check::paths::{CHECKPOINT_PREFIX, CHECKPOINT_SUFFIX, RUN_FILES};
    assert!(RUN_FILES.contains(&expr::record::RECORD_FILE));
    assert!(RUN_FILES.contains(&expr::record::METRICS_FILE));
    assert!(RUN_FILES.contains(&expr::output::tensorboard::DIR));
    assert!(RUN_FILES.contains(&expr::output::confusion::DIR));
    let dir = tempfile::tempdir().unwrap();
    let r = common::run_text(dir.path(), &common::mlp_experiment(dir.path(), false, ""));
    for name in files_under(&r.dir) {
        let top = name.split('/').next().unwrap();
        // Hidden names (the `.lock` of the run directory, temporary files) are reserved too.
        let reserved = RUN_FILES.contains(&top)
            || top.starts_with('.')
            || (top.starts_with(CHECKPOINT_PREFIX) && top.ends_with(CHECKPOINT_SUFFIX));
        assert!(
            reserved,
            "the run wrote `{name}`, which check does not reserve"
        );
    }
}

// ---- writes: run time ----

/// `expr compare A B --plot TARGET` with TARGET made by `make`: refused, exit 1, and
/// what sits there is left as it was.
fn compare_into(make: impl Fn(&Path), what: &str) {
    let dir = tempfile::tempdir().unwrap();
    let r = common::run_text(dir.path(), &common::mlp_experiment(dir.path(), false, ""));
    let target = dir.path().join("target");
    make(&target);
    let before = std::fs::symlink_metadata(&target).unwrap().file_type();
    let run = r.dir.to_str().unwrap();
    let out = expr_in(
        dir.path(),
        &["compare", run, run, "--plot", target.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(what) && err.contains("target"), "{err}");
    assert!(err.contains("expr::output::not_a_regular_file"), "{err}");
    assert_eq!(
        std::fs::symlink_metadata(&target).unwrap().file_type(),
        before
    );
    let left: Vec<String> = files_under(dir.path())
        .into_iter()
        .filter(|n| Path::new(n).extension().is_some_and(|e| e == "tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn compare_never_replaces_a_symlink_with_its_plot() {
    compare_into(
        |t| {
            std::fs::write(t.with_extension("real"), b"keep").unwrap();
            std::os::unix::fs::symlink(t.with_extension("real"), t).unwrap();
        },
        "a symbolic link",
    );
}

#[test]
fn compare_never_replaces_a_fifo_or_a_directory_with_its_plot() {
    compare_into(mkfifo, "a FIFO");
    compare_into(|t| std::fs::create_dir(t).unwrap(), "a directory");
}

#[test]
fn a_symlinked_folder_in_a_run_directory_is_not_followed() {
    let run = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), run.path().join("plots")).unwrap();
    let err = expr::output::confine::in_run_dir(run.path(), "plots/loss.png").unwrap_err();
    assert!(
        err.to_string().contains("is a symbolic link, not a folder"),
        "{err}"
    );
    assert!(files_under(elsewhere.path()).is_empty());
}
