//! What an experiment and the CLI read: regular files only, sized before reading,
//! refused at once (never blocking) otherwise.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{experiment, expr_in, mkfifo, stderr};

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
    // A FIFO or a device is caught by the check before the run (exit 2); a regular file
    // too large for the model, when the run reads it (exit 1). Neither is read.
    let cases = [
        (
            fifo.display().to_string(),
            "FIFO",
            2,
            "expr::check::data_file",
        ),
        (
            "/dev/zero".to_string(),
            "character device",
            2,
            "expr::check::data_file",
        ),
        (
            huge.display().to_string(),
            "25769803776 bytes, more than the",
            1,
            "expr::output::read_refused",
        ),
    ];
    for (from, what, code, diagnostic) in cases {
        let file = experiment(
            dir.path(),
            &format!("before {{\n  load(net, from = \"{from}\")\n}}\n"),
        );
        let out = expr_in(
            dir.path(),
            &["run", "--no-progress", file.to_str().unwrap()],
        );
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(code), "{from}: {err}");
        assert!(err.contains(what) && err.contains(&from), "{from}: {err}");
        assert!(err.contains(diagnostic), "{from}: {err}");
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
        // `expr run` checks the files before anything is created: exit 2, at the string.
        let out = expr_in(
            dir.path(),
            &["run", "--no-progress", file.to_str().unwrap()],
        );
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains(what) && err.contains("train-images-idx3-ubyte"),
            "{err}"
        );
        assert!(err.contains("expr::check::data_file"), "{err}");
        assert!(err.contains("cannot read an IDX image file"), "{err}");
        assert!(!dir.path().join("runs").exists());
        // The reader itself refuses it too, said as what it is, with a fix that fits: not
        // a disk to check.
        let labels = dir.path().join("train-labels-idx1-ubyte");
        let refused = expr::data::load_idx_pair(&images, &labels).unwrap_err();
        assert!(
            matches!(refused, expr::data::DataError::NotAFile { .. }),
            "{refused:?}"
        );
        let shown = expr::report::render(&refused, None, false);
        assert!(shown.contains("expr::data::not_a_data_file"), "{shown}");
        assert!(shown.contains(what), "{shown}");
        assert!(!shown.contains("disk is not full"), "{shown}");
    }
}
