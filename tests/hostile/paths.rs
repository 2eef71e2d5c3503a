//! Where an experiment may write and read (issue 20): outputs confined to the run
//! directory and checked by `expr check`; writes that never replace anything but a
//! regular file; reads of regular files only, sized before reading, never blocking;
//! `after` actions that all run and are all recorded. See `docs/security.md`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common;

/// Runs `expr ARGS` in `dir`, killing it (and failing the test) if it takes more than
/// 60 s: a read that blocks on a FIFO must show up as a failure, not a hung suite.
fn expr_in(dir: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(common::expr_bin())
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(30) {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "`expr {}` blocked; stderr: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo").arg(path).status().unwrap().success();
    assert!(ok, "mkfifo {}", path.display());
}

/// The small MLP over generated data in `dir`, with `extra` appended, written to `dir/e.exp`.
fn experiment(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("e.exp");
    std::fs::write(&path, common::mlp_experiment(dir, false, extra)).unwrap();
    path
}

/// `expr check` on the small MLP with `extra` appended: exit code and stderr.
fn check(extra: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path(), extra);
    let out = expr_in(dir.path(), &["check", file.to_str().unwrap()]);
    (out.status.code(), stderr(&out))
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut names = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                names.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    names.sort();
    names
}

// ---- writes: confinement at check time ----

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
    // A grid template and a plot: one is a file, the other needs it as a folder.
    let (code, err) = check(
        "on epoch_end {\n  grid(x, count = 4, on = train, to = \"g.png/{epoch}.png\")\n}\nafter {\n  plot(train_loss, to = \"g.png\")\n}\n",
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("cannot both be written"), "{err}");
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
    let dir = tempfile::tempdir().unwrap();
    let r = common::run_text(dir.path(), &common::mlp_experiment(dir.path(), false, ""));
    for name in files_under(&r.dir) {
        let top = name.split('/').next().unwrap();
        let reserved = RUN_FILES.contains(&top)
            || (top.starts_with(CHECKPOINT_PREFIX) && top.ends_with(CHECKPOINT_SUFFIX));
        assert!(
            reserved,
            "the run wrote `{name}`, which check does not reserve"
        );
    }
}

// ---- writes: run time ----

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

// ---- reads ----

#[test]
fn an_experiment_that_is_a_fifo_a_device_or_a_directory_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.exp");
    mkfifo(&fifo);
    let fifo = fifo.to_str().unwrap();
    let folder = dir.path().join("folder.exp");
    std::fs::create_dir(&folder).unwrap();
    let folder = folder.to_str().unwrap();
    let cases: [(&[&str], &str); 7] = [
        (&["check", fifo], "FIFO"),
        (&["check", "/dev/zero"], "character device"),
        (&["check", folder], "directory"),
        (&["run", "--no-progress", fifo], "FIFO"),
        (&["fmt", fifo], "FIFO"),
        (&["fmt", "--check", "/dev/zero"], "character device"),
        (&["run", "--rerun", "/dev/zero"], "character device"),
    ];
    for (args, what) in cases {
        let out = expr_in(dir.path(), args);
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            err.contains(what) && err.contains("not a regular file"),
            "{args:?}: {err}"
        );
    }
    for args in [["diff", fifo, folder], ["diff", "/dev/zero", folder]] {
        let out = expr_in(dir.path(), &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&out).contains("not a regular file"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn a_run_record_that_is_a_fifo_is_refused_or_skipped_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("runs/small/1");
    std::fs::create_dir_all(&run_dir).unwrap();
    let record = run_dir.join("run.yaml");
    mkfifo(&record);
    let (run, record) = (run_dir.to_str().unwrap(), record.to_str().unwrap());
    for args in [
        vec!["run", "--rerun", record],
        vec!["run", "--resume", run],
        vec!["compare", run, run],
    ] {
        let out = expr_in(dir.path(), &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains("FIFO"), "{args:?}: {}", stderr(&out));
    }
    // `expr runs` looks only at regular `run.yaml` files: none here, and no wait.
    let out = expr_in(dir.path(), &["runs", "runs"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[test]
fn an_experiment_over_one_mebibyte_is_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.exp");
    // Sparse: 4 GiB of nothing on disk, which a read would still have to go through.
    std::fs::File::create(&big)
        .unwrap()
        .set_len(4 << 30)
        .unwrap();
    for cmd in ["check", "fmt", "diff"] {
        let mut args = vec![cmd, big.to_str().unwrap()];
        if cmd == "diff" {
            args.push("/dev/null");
        }
        let start = Instant::now();
        let out = expr_in(dir.path(), &args);
        let err = stderr(&out);
        assert!(!out.status.success(), "{cmd}");
        assert!(
            err.contains("4294967296 bytes, more than the 1048576"),
            "{cmd}: {err}"
        );
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{cmd} read the file"
        );
    }
}

#[test]
fn a_model_loaded_from_a_fifo_a_device_or_a_huge_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.safetensors");
    mkfifo(&fifo);
    let huge = dir.path().join("huge.safetensors");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(24 << 30)
        .unwrap();
    let cases = [
        (fifo.display().to_string(), "FIFO"),
        ("/dev/zero".to_string(), "character device"),
        (
            huge.display().to_string(),
            "25769803776 bytes, more than the",
        ),
    ];
    for (from, what) in cases {
        let file = experiment(
            dir.path(),
            &format!("before {{\n  load(net, from = \"{from}\")\n}}\n"),
        );
        let out = expr_in(
            dir.path(),
            &["run", "--no-progress", file.to_str().unwrap()],
        );
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{from}: {err}");
        assert!(err.contains(what) && err.contains(&from), "{from}: {err}");
        assert!(err.contains("expr::output::read_refused"), "{from}: {err}");
    }
}

#[test]
fn idx_data_that_is_a_fifo_or_a_directory_is_refused_at_once() {
    for (make, what) in [
        (mkfifo as fn(&Path), "FIFO"),
        (|p: &Path| std::fs::create_dir(p).unwrap(), "directory"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let file = experiment(dir.path(), "");
        let images = dir.path().join("train-images-idx3-ubyte");
        std::fs::remove_file(&images).unwrap();
        make(&images);
        let out = expr_in(
            dir.path(),
            &["run", "--no-progress", file.to_str().unwrap()],
        );
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains(what) && err.contains("train-images-idx3-ubyte"),
            "{err}"
        );
    }
}

// ---- `after` loses nothing ----

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
