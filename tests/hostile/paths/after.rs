//! `after` loses nothing: every action runs even when an earlier one failed, every
//! failure is reported, and the run record says which outputs were written.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{experiment, expr_in, stderr};
use crate::common;

#[test]
fn an_after_plot_into_a_missing_subfolder_makes_it_and_the_save_after_it_happens() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(
        dir.path(),
        "after {\n  plot(train_loss, to = \"plots/deep/loss.png\")\n  save(net, to = \"models/net.safetensors\")\n}\n",
    );
    let out = expr_in(
        dir.path(),
        &[
            "run",
            "--no-progress",
            "--epochs",
            "1",
            file.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let record = expr::record::find_all(&dir.path().join("runs"));
    let (run_dir, record) = &record[0];
    let record = record.as_ref().unwrap();
    assert!(run_dir.join("plots/deep/loss.png").is_file());
    assert!(run_dir.join("models/net.safetensors").is_file());
    for path in ["plots/deep/loss.png", "models/net.safetensors"] {
        let a = record.artifacts.iter().find(|a| a.path == path).unwrap();
        assert!(a.written, "{a:?}");
    }
}

/// Checks the small MLP with `after`, then points the actions at `paths` in order
/// (bypassing `check`, as a failing disk or a stranger's run directory would) and runs it.
fn run_after_with_paths(
    dir: &Path,
    after: &str,
    paths: &[&str],
) -> (Result<expr::run::RunResult, expr::run::RunError>, PathBuf) {
    let text = common::mlp_experiment(dir, false, after);
    let file = expr::syntax::parse_file(&text).unwrap();
    let mut exp = expr::check::check(&file).unwrap();
    for (action, new) in exp.after.iter_mut().zip(paths) {
        match action {
            expr::check::plan::Action::Plot { path, .. }
            | expr::check::plan::Action::Save { path, .. } => *path = PathBuf::from(new),
            _ => {}
        }
    }
    let runs = dir.join("runs");
    let mut out = |_: &str| {};
    let result = expr::run::run(
        &Arc::new(exp),
        &runs,
        &expr::run::RunOptions::default(),
        &mut out,
    );
    let run_dir = expr::record::find_all(&runs)[0].0.clone();
    (result, run_dir)
}

fn artifact(run_dir: &Path, path: &str) -> expr::record::schema::Artifact {
    let record = expr::record::load(run_dir).unwrap();
    record
        .artifacts
        .into_iter()
        .find(|a| a.path == path)
        .unwrap_or_else(|| panic!("no artifact `{path}`"))
}

#[test]
fn a_plot_whose_target_is_a_directory_fails_and_the_save_after_it_still_happens() {
    let dir = tempfile::tempdir().unwrap();
    let (result, run_dir) = run_after_with_paths(
        dir.path(),
        "after {\n  save(net, to = \"a.safetensors\")\n  plot(train_loss, to = \"p.png\")\n  save(net, to = \"b.safetensors\")\n}\n",
        // `models/a.safetensors` makes `models/`, which the plot then targets.
        &["models/a.safetensors", "models", "b.safetensors"],
    );
    let err = result.err().expect("the run reports the failed plot");
    assert!(err.to_string().contains("it is a directory"), "{err}");
    assert!(run_dir.join("models/a.safetensors").is_file());
    assert!(
        run_dir.join("b.safetensors").is_file(),
        "the save after the plot"
    );
    assert!(!artifact(&run_dir, "models").written);
    assert!(artifact(&run_dir, "b.safetensors").written);
    let record = expr::record::load(&run_dir).unwrap();
    assert_eq!(record.status.label(), "failed");
}

#[test]
fn several_failed_outputs_are_all_reported_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let (result, run_dir) = run_after_with_paths(
        dir.path(),
        "after {\n  save(net, to = \"a.safetensors\")\n  plot(train_loss, to = \"p.png\")\n  save(net, to = \"b.safetensors\")\n  plot(test_loss, to = \"q.png\")\n}\n",
        &["d/a.safetensors", "d", "d/a.safetensors/x", "q.png"],
    );
    let err = result.err().expect("the run reports the failures");
    let text = err.to_string();
    assert_eq!(text, "2 of the 4 outputs of `after` were not written");
    let related: Vec<String> = miette::Diagnostic::related(&err)
        .unwrap()
        .map(ToString::to_string)
        .collect();
    assert_eq!(related.len(), 2, "{related:?}");
    assert!(related[0].contains("is a directory"), "{related:?}");
    assert!(related[1].contains("not a folder"), "{related:?}");
    // What the CLI prints: the summary, then each failure with its own help.
    let shown = expr::report::render(&err, None, false);
    assert!(shown.contains("expr::run::after_failed"), "{shown}");
    assert!(
        shown.contains("expr::output::not_a_regular_file"),
        "{shown}"
    );
    assert!(shown.contains("expr::output::not_a_folder"), "{shown}");
    assert!(artifact(&run_dir, "d/a.safetensors").written);
    assert!(!artifact(&run_dir, "d").written);
    assert!(!artifact(&run_dir, "d/a.safetensors/x").written);
    assert!(artifact(&run_dir, "q.png").written);
    assert!(run_dir.join("q.png").is_file());
}

#[test]
fn an_absolute_path_that_bypassed_check_is_refused_at_run_time_and_the_rest_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (result, run_dir) = run_after_with_paths(
        dir.path(),
        "after {\n  plot(train_loss, to = \"p.png\")\n  save(net, to = \"n.safetensors\")\n}\n",
        &["/definitely/absolute.png", "n.safetensors"],
    );
    let err = result
        .err()
        .expect("an absolute path is refused at run time too");
    assert!(
        err.to_string()
            .contains("not a path inside the run directory"),
        "{err}"
    );
    assert!(run_dir.join("n.safetensors").is_file());
    assert!(!Path::new("/definitely").exists());
    let record = expr::record::load(&run_dir).unwrap();
    assert!(
        record
            .log
            .iter()
            .any(|l| l.starts_with("plot not written: ")),
        "{:?}",
        record.log
    );
}

#[test]
fn records_from_before_the_written_field_read_as_written() {
    let yaml = "kind: model\npath: net.safetensors\n";
    let a: expr::record::schema::Artifact = serde_yaml::from_str(yaml).unwrap();
    assert!(a.written);
}
