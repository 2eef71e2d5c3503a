//! The run directory as a whole: locked while a run uses it, left alone when the run had
//! completed, its record completed from the checkpoint when a kill fell between the last
//! checkpoint and the record's write, and the kernel path recorded for `--rerun`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{
    assert_same_end, clean_and_interrupted, copy_dir, edit_record, experiment, resume, run_to_end,
    snapshot, stderr,
};
use crate::common;
use expr::record::{self, Status};

#[test]
fn a_resume_while_another_process_holds_the_directory_names_its_pid_and_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_, copy) = clean_and_interrupted(dir.path());
    let held = expr::run::lock::RunLock::acquire(&copy).unwrap();
    let before = snapshot(&copy);
    let out = resume(dir.path(), &copy, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("in use by process {}", std::process::id())),
        "{err}"
    );
    assert_eq!(snapshot(&copy), before, "nothing touched");
    drop(held);
    let out = resume(dir.path(), &copy, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_resume_of_a_directory_a_running_process_uses_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, copy) = clean_and_interrupted(dir.path());
    // A resume that stays in its directory (50 epochs instead of 3), stopped (SIGSTOP)
    // once it holds the lock.
    let mut first = Command::new(common::expr_bin())
        .args(["run", "--no-progress", "--epochs", "50", "--resume"])
        .arg(&copy)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lock = copy.join(expr::run::lock::LOCK_FILE);
    let pid = first.id().to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_to_string(&lock).unwrap_or_default() != pid && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    let stop = |signal| {
        // SAFETY: kill(2) on our own child's pid, which `first` has not reaped.
        unsafe { libc::kill(i32::try_from(first.id()).unwrap(), signal) }
    };
    assert_eq!(stop(libc::SIGSTOP), 0);
    let second = resume(dir.path(), &copy, &["--epochs", "50"]);
    stop(libc::SIGKILL);
    first.wait().unwrap();
    let err = stderr(&second);
    assert_eq!(second.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("in use by process {pid}")), "{err}");
    // The holder was killed: the operating system dropped its lock, resume works again.
    let third = resume(dir.path(), &copy, &["--epochs", "50"]);
    assert!(third.status.success(), "{}", stderr(&third));
}

#[test]
fn resuming_a_completed_run_says_so_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path());
    let run_dir = run_to_end(dir.path(), &file, &dir.path().join("runs"));
    let before = snapshot(&run_dir);
    std::thread::sleep(Duration::from_millis(20)); // a rewrite would show in the mtimes
    for extra in [&[][..], &["--epochs", "3"][..], &["--epochs", "2"][..]] {
        let out = resume(dir.path(), &run_dir, extra);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{err}");
        assert!(err.contains("already completed all 3 epochs"), "{err}");
        assert!(out.stdout.is_empty(), "nothing trained");
        assert_eq!(snapshot(&run_dir), before, "no file rewritten");
    }
}

#[test]
fn a_kill_between_the_last_checkpoint_and_the_record_write_resumes_to_a_complete_record() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path());
    let clean = run_to_end(dir.path(), &file, &dir.path().join("clean"));
    // The state such a kill leaves: every checkpoint written, the record and metrics.csv
    // still as the end of epoch 2 left them, no model, no plot.
    let copy = dir.path().join("copy");
    copy_dir(&clean, &copy);
    std::fs::remove_file(copy.join("net.safetensors")).unwrap();
    std::fs::remove_file(copy.join("loss.png")).unwrap();
    edit_record(&copy, |r| {
        r.status = Status::Running;
        r.ended = None;
        r.weights_sha256 = None;
        for h in r.history.values_mut() {
            h.pop();
        }
        r.final_metrics = r
            .history
            .iter()
            .map(|(k, v)| (k.clone(), *v.last().unwrap()))
            .collect();
        r.epoch_seconds.pop();
        r.log.truncate(2); // the epoch lines of epochs 1 and 2
        r.artifacts.retain(|a| a.kind == "metrics");
    });
    let r = record::load(&copy).unwrap();
    std::fs::write(
        copy.join(record::METRICS_FILE),
        record::writer::metrics_csv(&r),
    )
    .unwrap();

    let out = resume(dir.path(), &copy, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_same_end(&copy, &clean);
    assert!(copy.join("loss.png").is_file());
    let a = record::load(&copy).unwrap();
    let b = record::load(&clean).unwrap();
    let epochs = |log: &[String]| {
        log.iter()
            .filter(|l| l.starts_with("Epoch "))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        epochs(&a.log),
        epochs(&b.log),
        "the lost epoch's line is back"
    );
    assert_eq!(a.epoch_seconds.len(), 3);
    let without_seconds = |d: &std::path::Path| {
        std::fs::read_to_string(d.join(record::METRICS_FILE))
            .unwrap()
            .lines()
            .map(|l| l.rsplitn(3, ',').nth(2).unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(without_seconds(&copy), without_seconds(&clean));
}

#[test]
fn the_record_holds_the_kernel_path_and_a_rerun_on_others_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path());
    let out = Command::new(common::expr_bin())
        .current_dir(dir.path())
        .env("EXPR_PORTABLE", "1")
        .args(["run", "--no-progress", "--runs-dir", "portable"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let (run_dir, portable) = record::find_all(&dir.path().join("portable")).remove(0);
    let portable = portable.unwrap();
    let kernels = portable.kernels.clone().unwrap();
    assert!(kernels == "avx2" || kernels == "portable", "{kernels}");
    let yaml = run_dir.join(record::RECORD_FILE).display().to_string();
    let rerun = super::expr(
        dir.path(),
        &[
            "run",
            "--no-progress",
            "--runs-dir",
            "reruns",
            "--rerun",
            &yaml,
        ],
    );
    let (_, now) = record::find_all(&dir.path().join("reruns")).remove(0);
    let now = now.unwrap().kernels.unwrap();
    let stdout = String::from_utf8_lossy(&rerun.stdout);
    if now == "avx512" {
        assert!(
            stdout.contains(&format!(
                "this run used the AVX-512 kernels, the original used {}; results may differ in the last bits",
                if kernels == "avx2" { "AVX2" } else { "portable" }
            )),
            "{stdout}"
        );
    } else {
        eprintln!("no AVX-512 here: the note cannot be shown");
        assert!(!stdout.contains("kernels"), "{stdout}");
    }
}

#[test]
fn a_resume_on_other_kernels_than_the_run_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (clean, copy) = clean_and_interrupted(dir.path());
    let now = record::load(&clean).unwrap().kernels.unwrap();
    // As if the run had started on a machine with other kernels.
    let then = if now == "portable" {
        "avx512"
    } else {
        "portable"
    };
    edit_record(&copy, |r| r.kernels = Some(then.into()));
    let out = resume(dir.path(), &copy, &[]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("note: the run used the ") && err.contains("kernels, this resume uses the "),
        "{err}"
    );
    assert_same_end(&copy, &clean);
}
