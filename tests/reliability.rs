//! Runs that survive: a run killed with SIGKILL at several points (one of
//! them while a checkpoint is being written) and resumed, again and again,
//! ends with exactly the weights and metrics of an uninterrupted run.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion
#![allow(clippy::case_sensitive_file_extension_comparisons)] // we name the `.tmp` files, lowercase

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use expr::output::model_file::load_tensors;

/// `tests/cases/run/NAME.exp` over generated data, written to `dir/survive.exp`:
/// `train` training images of `side` x `side` pixels, and `test` test images for a
/// fixture with a test set.
fn survive_file(dir: &Path, name: &str, side: usize, train: usize, test: Option<usize>) -> PathBuf {
    let (tri, trl) = common::write_idx_set(dir, "train", train, side, 4);
    let mut paths = vec![("train_images", tri), ("train_labels", trl)];
    if let Some(test) = test {
        let (tei, tel) = common::write_idx_set(dir, "test", test, side, 4);
        paths.extend([("test_images", tei), ("test_labels", tel)]);
    }
    let path = dir.join("survive.exp");
    std::fs::write(&path, common::fixture(name, &paths)).unwrap();
    path
}

/// A run long enough to be killed at different points (a second or two),
/// checkpointing every 10 steps.
fn experiment(dir: &Path) -> PathBuf {
    survive_file(dir, "dense_classifier", 16, 4096, Some(512))
}

/// A GAN-style step (noise, two optimizers, dropout) on the same data. With one
/// step, the last pass of an epoch is a shuffled one; half of the checkpoints
/// (every 32 of 64 steps an epoch) fall on an epoch's end.
fn gan_experiment(dir: &Path) -> PathBuf {
    survive_file(dir, "gan_step", 16, 2048, None)
}

/// Runs `file` to its end in `runs`, uninterrupted: the result the others must match.
fn clean_run(file: &Path, runs: &Path) -> std::process::Output {
    let out = Command::new(common::expr_bin())
        .args(["run", "--no-progress", "--runs-dir"])
        .arg(runs)
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn only_run_dir(runs: &Path) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(runs.join("survive"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.remove(0)
}

fn weights(run_dir: &Path) -> Vec<(String, Vec<u32>)> {
    let (tensors, _) = load_tensors(&run_dir.join("net.safetensors")).expect("the model was saved");
    tensors
        .into_iter()
        .map(|t| (t.name, t.data.iter().map(|v| v.to_bits()).collect()))
        .collect()
}

fn last_line(stdout: &[u8], epoch: usize) -> String {
    String::from_utf8_lossy(stdout)
        .lines()
        .rev()
        .find(|l| l.starts_with(&format!("epoch {epoch} ")))
        .unwrap_or_default()
        .to_string()
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "timing-dependent kills need a release build"
)]
fn killed_and_resumed_runs_end_bit_identical_to_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path());
    survives_kills(dir.path(), &file, 4);
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "timing-dependent kills need a release build"
)]
fn killed_and_resumed_gan_runs_draw_the_same_noise() {
    let dir = tempfile::tempdir().unwrap();
    let file = gan_experiment(dir.path());
    survives_kills(dir.path(), &file, 4);
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "timing-dependent kills need a release build"
)]
fn killed_and_resumed_runs_keep_their_accumulated_gradients() {
    let dir = tempfile::tempdir().unwrap();
    let file = survive_file(dir.path(), "accumulate_classifier", 16, 4096, Some(512));
    survives_kills(dir.path(), &file, 4);
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "timing-dependent kills need a release build"
)]
fn killed_and_resumed_wgan_runs_keep_their_every_blocks_and_clipped_critic() {
    let dir = tempfile::tempdir().unwrap();
    let file = survive_file(dir.path(), "wgan_step", 16, 2048, None);
    survives_kills(dir.path(), &file, 4);
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "timing-dependent kills need a release build"
)]
fn killed_and_resumed_runs_stop_early_at_the_same_epoch_with_the_same_best_weights() {
    let dir = tempfile::tempdir().unwrap();
    let file = survive_file(dir.path(), "early_stopping", 16, 4096, Some(512));
    survives_kills(dir.path(), &file, 3);
    let record = |runs: &str| {
        let r = expr::record::load(&only_run_dir(&dir.path().join(runs))).unwrap();
        (
            r.stopped.unwrap(),
            r.history["train_loss"].len(),
            r.weights_sha256,
        )
    };
    let (clean, killed) = (record("clean"), record("killed"));
    assert_eq!(clean, killed);
    let best = |runs: &str| {
        std::fs::read(only_run_dir(&dir.path().join(runs)).join("best.safetensors")).unwrap()
    };
    assert_eq!(
        best("clean"),
        best("killed"),
        "`on improved` saved the same model"
    );
    // Epoch 1's weights, restored at the end, are what `after` saved.
    assert_eq!(
        best("clean"),
        std::fs::read(only_run_dir(&dir.path().join("clean")).join("net.safetensors")).unwrap()
    );
    let (stopped, epochs, _) = clean;
    assert_eq!(
        (
            stopped.reason.as_str(),
            stopped.epoch,
            stopped.watched.as_ref().unwrap().best_epoch
        ),
        ("early_stopping", 3, 1)
    );
    assert_eq!(epochs, 3);
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "timing-dependent kills need a release build"
)]
fn killed_and_resumed_runs_reduce_on_plateau_at_the_same_epochs() {
    let dir = tempfile::tempdir().unwrap();
    let file = survive_file(dir.path(), "plateau", 16, 4096, Some(512));
    survives_kills(dir.path(), &file, 5);
    let log = |runs: &str| {
        expr::record::load(&only_run_dir(&dir.path().join(runs)))
            .unwrap()
            .log
    };
    let (clean, killed) = (log("clean"), log("killed"));
    let reductions = |log: &[String]| -> Vec<String> {
        log.iter()
            .filter(|l| l.contains("reduce_on_plateau"))
            .cloned()
            .collect()
    };
    // Epoch 1 is the best; epochs 2 and 4 halve the rate, epochs 3 and 5 cool down.
    assert_eq!(reductions(&clean).len(), 2, "{clean:#?}");
    assert_eq!(reductions(&clean), reductions(&killed));
    assert!(
        clean
            .iter()
            .any(|l| l.starts_with("epoch 5 ") && l.ends_with("lr 2.500000e-04")),
        "{clean:#?}"
    );
}

/// A character-level GPT on a text of words drawn from a seeded generator: 26 letters and
/// the space, about 40,000 characters.
/// A folder of PNG files read file by file (`stream = always`), rotated and shifted at
/// random: the kills land while the prefetch workers decode batches ahead of the step, and
/// a resume starts them at its checkpoint's batch.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "timing-dependent kills need a release build"
)]
fn killed_and_resumed_streamed_image_folders_end_bit_identical() {
    let dir = tempfile::tempdir().unwrap();
    let train = common::write_png_set(dir.path(), "train", 4096, 16, 4);
    let test = common::write_png_set(dir.path(), "test", 512, 16, 4);
    let file = dir.path().join("survive.exp");
    let text = common::fixture(
        "streamed_images",
        &[("train_dir", train), ("test_dir", test)],
    );
    std::fs::write(&file, text).unwrap();
    survives_kills(dir.path(), &file, 3);
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "timing-dependent kills need a release build"
)]
fn killed_and_resumed_language_models_end_bit_identical() {
    use rand::{Rng, SeedableRng};
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let words = [
        "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "vim", "zebra",
    ];
    let mut text = String::new();
    while text.len() < 40_000 {
        text.push_str(words[rng.gen_range(0..words.len())]);
        text.push(' ');
    }
    // Every letter once, so that the vocabulary is the 27 the model has rows for.
    text.push_str("abcdefghijklmnopqrstuvwxyz");
    let path = dir.path().join("t.txt");
    std::fs::write(&path, text).unwrap();
    let file = dir.path().join("survive.exp");
    std::fs::write(&file, common::fixture("char_lm", &[("text", path)])).unwrap();
    survives_kills(dir.path(), &file, 4);
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "timing-dependent kills need a release build"
)]
fn killed_and_resumed_runs_restore_the_last_good_weights_at_the_same_steps() {
    let dir = tempfile::tempdir().unwrap();
    let file = survive_file(dir.path(), "nan_restore", 16, 4096, Some(512));
    survives_kills(dir.path(), &file, 4);
    let clean = expr::record::load(&only_run_dir(&dir.path().join("clean"))).unwrap();
    let restores = clean
        .log
        .iter()
        .filter(|l| l.contains("restored the weights of step"))
        .count();
    assert!(restores >= 4, "{:?}", clean.log);
    assert_eq!(clean.non_finite.restored, restores as u64);
    let resumed = expr::record::load(&only_run_dir(&dir.path().join("killed"))).unwrap();
    assert_eq!(resumed.non_finite, clean.non_finite);
    // TensorBoard: every scalar once, as the uninterrupted run wrote it, though the killed
    // processes wrote some of them before their kill and the resumes ran those steps again.
    let scalars = |runs: &str| {
        let tb = only_run_dir(&dir.path().join(runs)).join("tb");
        let events = expr::output::tensorboard::read_dir(&tb).unwrap();
        let mut seen = std::collections::BTreeMap::new();
        for (tag, step, value) in expr::output::tensorboard::scalars(&events) {
            assert!(
                seen.insert((tag.clone(), step), value.to_bits()).is_none(),
                "{runs}: {tag} at step {step} twice"
            );
        }
        seen
    };
    let clean_scalars = scalars("clean");
    assert!(clean_scalars
        .keys()
        .any(|(tag, _)| tag == "steps/train_loss"));
    assert_eq!(scalars("killed"), clean_scalars);
}

/// Runs `file` cleanly, then killed and resumed several times: the two end alike, the
/// last epoch `last_epoch`.
fn survives_kills(dir: &Path, file: &Path, last_epoch: usize) {
    let clean_runs = dir.join("clean");
    let clean = clean_run(file, &clean_runs);
    let clean_dir = only_run_dir(&clean_runs);
    let expected_weights = weights(&clean_dir);
    let expected_line = last_line(&clean.stdout, last_epoch);
    assert!(!expected_line.is_empty());

    // Kill points follow the run's progress, not the clock (a loaded machine would
    // shift a timed schedule): the first early, likely before any checkpoint; each
    // later one once the run has written a checkpoint since it (re)started, a few
    // milliseconds after, at a different phase each time.
    let runs = dir.join("killed");
    let mut child = Command::new(common::expr_bin())
        .args(["run", "--no-progress", "--runs-dir"])
        .arg(&runs)
        .arg(file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut kills = 0;
    let mut resumes = 0;
    let newest = |runs: &Path| {
        std::fs::read_dir(runs.join("survive"))
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| expr::run::checkpoint::list(&e.unwrap().path()).pop())
    };
    for point in 0..6u64 {
        if point == 0 {
            std::thread::sleep(Duration::from_millis(30));
        } else {
            let start = newest(&runs);
            let deadline = Instant::now() + Duration::from_mins(1);
            while newest(&runs) == start
                && Instant::now() < deadline
                && child.try_wait().unwrap().is_none()
            {
                std::thread::sleep(Duration::from_millis(1));
            }
            std::thread::sleep(Duration::from_millis(point * 3));
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            kills += 1;
        }
        // Killed before the run directory exists (reading a large data set) or before
        // the first checkpoint: nothing to resume, start again.
        let started = runs.join("survive").exists();
        let run_dir = started.then(|| only_run_dir(&runs));
        if run_dir
            .as_ref()
            .is_none_or(|d| expr::run::checkpoint::list(d).is_empty())
        {
            if let Some(d) = &run_dir {
                std::fs::remove_dir_all(d).unwrap();
            }
            child = Command::new(common::expr_bin())
                .args(["run", "--no-progress", "--runs-dir"])
                .arg(&runs)
                .arg(file)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            continue;
        }
        let run_dir = run_dir.unwrap_or_else(|| unreachable!("resumed only when it exists"));
        child = Command::new(common::expr_bin())
            .args(["run", "--no-progress", "--resume"])
            .arg(&run_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        resumes += 1;
    }
    assert!(kills >= 4, "only {kills} kills landed");
    child.wait().unwrap();
    // A last resume reports the end state (a finished run resumes to its end at once).
    let run_dir = only_run_dir(&runs);
    let last = Command::new(common::expr_bin())
        .args(["run", "--no-progress", "--resume"])
        .arg(&run_dir)
        .output()
        .unwrap();
    assert!(
        last.status.success(),
        "{}",
        String::from_utf8_lossy(&last.stderr)
    );
    assert!(resumes >= 4, "only {resumes} resumes");
    assert_eq!(
        weights(&run_dir),
        expected_weights,
        "weights after {kills} kills"
    );
    // The metric history, as the final checkpoints hold it, matches bit for bit.
    let history = |d: &Path| {
        let (_, c) = expr::run::checkpoint::read_latest(d).unwrap();
        c.position
            .history
            .iter()
            .map(|h| h.iter().map(|v| v.to_bits()).collect::<Vec<_>>())
            .collect::<Vec<_>>()
    };
    assert_eq!(history(&run_dir), history(&clean_dir));
    assert!(expected_line.starts_with(&format!("epoch {last_epoch} loss ")));
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "timing-dependent signals need a release build"
)]
fn ctrl_c_checkpoints_exits_130_and_resumes_to_the_same_result() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path());
    let clean_runs = dir.path().join("clean");
    clean_run(&file, &clean_runs);

    let runs = dir.path().join("interrupted");
    // Once training is under way (the first checkpoint exists), Ctrl-C.
    let child = start_and_wait_for_a_checkpoint(&file, &runs);
    signal(&child, "INT");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted by SIGINT at epoch"),
        "{stderr}"
    );

    let run_dir = only_run_dir(&runs);
    let resumed = Command::new(common::expr_bin())
        .args(["run", "--no-progress", "--resume"])
        .arg(&run_dir)
        .output()
        .unwrap();
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert_eq!(weights(&run_dir), weights(&only_run_dir(&clean_runs)));
}

/// A small tmpfs mounted for one test, unmounted when dropped. `None` where this
/// machine does not let the test mount one (not root, or a container without the
/// capability): the disk-full tests then say so and check nothing.
struct SmallDisk {
    path: PathBuf,
}

impl SmallDisk {
    fn mount(at: &Path, bytes: u64) -> Option<SmallDisk> {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(at)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        }
        ok.then(|| SmallDisk {
            path: at.to_path_buf(),
        })
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn a_disk_too_small_for_the_run_is_refused_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path());
    let Some(disk) = SmallDisk::mount(&dir.path().join("small"), 2 << 20) else {
        return;
    };
    let out = Command::new(common::expr_bin())
        .args(["run", "--no-progress", "--runs-dir"])
        .arg(&disk.path)
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not enough free space"), "{stderr}");
    assert!(stderr.contains("the run needs about"), "{stderr}");
    assert!(
        String::from_utf8_lossy(&out.stdout).is_empty(),
        "nothing trained"
    );
    assert_eq!(files_under(&disk.path), Vec::<PathBuf>::new());
}

#[test]
#[cfg_attr(debug_assertions, ignore = "timing-dependent: needs a release build")]
fn a_disk_that_fills_up_mid_run_leaves_whole_files_and_resumes_after_cleanup() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path());
    let clean_runs = dir.path().join("clean");
    clean_run(&file, &clean_runs);

    let Some(disk) = SmallDisk::mount(&dir.path().join("small"), 40 << 20) else {
        return;
    };
    let runs = disk.path.join("runs");
    // Once training has written its first checkpoint, something else fills the disk.
    let mut child = start_and_wait_for_a_checkpoint(&file, &runs);
    let filler = disk.path.join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 64 << 10];
        // The disk stays full until the run ends: each failed checkpoint write removes its
        // partial temporary, and a fast run could otherwise save its model in that space.
        let deadline = Instant::now() + Duration::from_mins(1);
        while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
            if f.write_all(&block).is_err() {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        let _ = f.sync_all();
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");

    // No temporary or partial file anywhere: every checkpoint reads back, the record parses.
    let run_dir = only_run_dir(&runs);
    for path in files_under(&run_dir) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(!name.ends_with(".tmp"), "left behind: {name}");
    }
    for checkpoint in expr::run::checkpoint::list(&run_dir) {
        expr::run::checkpoint::read(&checkpoint).expect("every checkpoint is whole");
    }
    expr::record::load(&run_dir.join(expr::record::RECORD_FILE)).expect("the record is whole");

    // With space again, the run resumes to exactly the uninterrupted result.
    std::fs::remove_file(&filler).unwrap();
    let resumed = Command::new(common::expr_bin())
        .args(["run", "--no-progress", "--resume"])
        .arg(&run_dir)
        .output()
        .unwrap();
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert_eq!(weights(&run_dir), weights(&only_run_dir(&clean_runs)));
}

/// Starts the survive experiment and waits until its first checkpoint exists.
fn start_and_wait_for_a_checkpoint(file: &Path, runs: &Path) -> std::process::Child {
    let child = Command::new(common::expr_bin())
        .args(["run", "--no-progress", "--runs-dir"])
        .arg(runs)
        .arg(file)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline
        && std::fs::read_dir(runs.join("survive"))
            .ok()
            .is_none_or(|mut d| {
                d.next()
                    .is_none_or(|e| expr::run::checkpoint::list(&e.unwrap().path()).is_empty())
            })
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    child
}

fn signal(child: &std::process::Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
#[cfg_attr(debug_assertions, ignore = "timing-dependent: needs a release build")]
fn sigterm_stops_like_ctrl_c_and_marks_the_record_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path());
    let runs = dir.path().join("runs");
    let child = start_and_wait_for_a_checkpoint(&file, &runs);
    signal(&child, "TERM");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    let record = expr::record::load(&only_run_dir(&runs).join(expr::record::RECORD_FILE)).unwrap();
    assert_eq!(
        record.status,
        expr::record::schema::Status::Interrupted {
            signal: "SIGTERM".into()
        }
    );
    assert!(
        stderr.contains("interrupted by SIGTERM at epoch"),
        "{stderr}"
    );
}

#[test]
#[cfg_attr(debug_assertions, ignore = "timing-dependent: needs a release build")]
fn a_second_ctrl_c_exits_at_once_and_corrupts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path());
    let runs = dir.path().join("runs");
    let child = start_and_wait_for_a_checkpoint(&file, &runs);
    signal(&child, "INT");
    signal(&child, "INT");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let run_dir = only_run_dir(&runs);
    expr::record::load(&run_dir.join(expr::record::RECORD_FILE)).expect("the record is whole");
    for checkpoint in expr::run::checkpoint::list(&run_dir) {
        expr::run::checkpoint::read(&checkpoint).expect("every checkpoint is whole");
    }
    // And the run can still be resumed to its end.
    let resumed = Command::new(common::expr_bin())
        .args(["run", "--no-progress", "--resume"])
        .arg(&run_dir)
        .output()
        .unwrap();
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
}

/// Hidden temporary files (`.NAME.PID.N.tmp`) in `dir`: a write that was cut off.
fn temporaries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') && n.ends_with(".tmp"))
        .collect()
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "timing-dependent kills need a release build"
)]
fn kills_during_checkpoint_writes_resume_to_the_uninterrupted_result() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path());
    // A checkpoint every step: most of the run is spent writing them, so kills land mid-write.
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("checkpoint_steps = 10", "checkpoint_steps = 1");
    std::fs::write(&file, text).unwrap();
    let clean_runs = dir.path().join("clean");
    clean_run(&file, &clean_runs);

    let runs = dir.path().join("killed");
    let mut child = start_and_wait_for_a_checkpoint(&file, &runs);
    let run_dir = only_run_dir(&runs);
    let mut mid_write = 0;
    let mut kills = 0;
    // Watch the directory; the moment a checkpoint's temporary file appears, the
    // run is inside a write: kill it there. Again and again, until three kills
    // have cut a write short.
    for _ in 0..200 {
        if mid_write >= 3 {
            break;
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while temporaries(&run_dir).is_empty()
            && Instant::now() < deadline
            && child.try_wait().unwrap().is_none()
        {}
        if child.try_wait().unwrap().is_some() {
            break; // finished before enough kills landed
        }
        let pid = child.id();
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
        // Temporaries carry the writer's pid: one of this process's is a cut-off write.
        if temporaries(&run_dir)
            .iter()
            .any(|t| t.contains(&format!(".{pid}.")))
        {
            mid_write += 1;
        }
        child = Command::new(common::expr_bin())
            .args(["run", "--no-progress", "--resume"])
            .arg(&run_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
    }
    child.wait().unwrap();
    assert!(
        mid_write >= 1,
        "none of {kills} kills landed during a write"
    );
    let last = Command::new(common::expr_bin())
        .args(["run", "--no-progress", "--resume"])
        .arg(&run_dir)
        .output()
        .unwrap();
    assert!(
        last.status.success(),
        "{}",
        String::from_utf8_lossy(&last.stderr)
    );
    assert_eq!(
        temporaries(&run_dir),
        Vec::<String>::new(),
        "resume cleans up"
    );
    assert_eq!(
        weights(&run_dir),
        weights(&only_run_dir(&clean_runs)),
        "after {kills} kills, {mid_write} of them during a checkpoint write"
    );
}

/// A conv whose output a dense layer reads: the dense weight's rows are stored
/// channels-last while training, and checkpoints hold them in PyTorch's layout.
fn conv_experiment(dir: &Path) -> PathBuf {
    survive_file(dir, "conv_classifier", 12, 512, None)
}

#[test]
fn conv_runs_resume_from_a_middle_checkpoint_and_refuse_older_formats() {
    let dir = tempfile::tempdir().unwrap();
    let file = conv_experiment(dir.path());
    let runs = dir.path().join("runs");
    clean_run(&file, &runs);
    let run_dir = only_run_dir(&runs);
    let expected = weights(&run_dir);
    // Back to step 10 (of 32): later checkpoints and the saved model removed.
    let checkpoints = expr::run::checkpoint::list(&run_dir);
    assert!(checkpoints.len() >= 3, "{checkpoints:?}");
    for later in &checkpoints[1..] {
        std::fs::remove_file(later).unwrap();
    }
    std::fs::remove_file(run_dir.join("net.safetensors")).unwrap();
    // As a run stopped there would have left it (a completed run is not resumed).
    let mark_interrupted = || {
        let record_path = run_dir.join(expr::record::RECORD_FILE);
        let mut record = expr::record::load(&record_path).unwrap();
        record.status = expr::record::Status::Interrupted {
            signal: "SIGINT".into(),
        };
        expr::record::writer::write_record(&record_path, &record).unwrap();
    };
    mark_interrupted();
    let resume = || {
        Command::new(common::expr_bin())
            .args(["run", "--no-progress", "--resume"])
            .arg(&run_dir)
            .output()
            .unwrap()
    };
    let resumed = resume();
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert!(resumed.status.success(), "{stderr}");
    assert_eq!(weights(&run_dir), expected);

    // The same checkpoint as an older expr wrote it (format 1): no format mark.
    std::fs::remove_file(run_dir.join("net.safetensors")).unwrap();
    let first = &checkpoints[0];
    for later in expr::run::checkpoint::list(&run_dir) {
        if later != *first {
            std::fs::remove_file(later).unwrap();
        }
    }
    let (tensors, mut metadata) = load_tensors(first).unwrap();
    assert!(metadata.remove("expr.checkpoint_format").is_some());
    expr::output::model_file::save_tensors(first, &tensors, &metadata).unwrap();
    mark_interrupted();
    let refused = resume();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("written by an older expr"), "{stderr}");
    assert!(!run_dir.join("net.safetensors").exists());
}

/// The record's history and final metrics, `metrics.csv` without its seconds columns, and
/// the saved weights: what a killed and resumed run must end with, as an uninterrupted one.
/// (history and final metrics as bits, `metrics.csv` rows without seconds, weights)
type EndState = (String, Vec<String>, Vec<(String, Vec<u32>)>);

fn end_state(run_dir: &Path) -> EndState {
    let record = expr::record::load(run_dir).unwrap();
    assert_eq!(record.status, expr::record::Status::Completed);
    let numbers = format!(
        "{:?} {:?}",
        record
            .history
            .iter()
            .map(|(k, v)| (k, v.iter().map(|x| x.to_bits()).collect::<Vec<_>>()))
            .collect::<Vec<_>>(),
        record
            .final_metrics
            .iter()
            .map(|(k, v)| (k, v.to_bits()))
            .collect::<Vec<_>>()
    );
    let csv = std::fs::read_to_string(run_dir.join(expr::record::METRICS_FILE))
        .unwrap()
        .lines()
        .map(|l| l.rsplitn(3, ',').nth(2).unwrap_or_default().to_string())
        .collect();
    (numbers, csv, weights(run_dir))
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "timing-dependent kills need a release build"
)]
fn random_kills_then_resume_end_with_the_uninterrupted_record_csv_and_weights() {
    let dir = tempfile::tempdir().unwrap();
    // 32 steps an epoch, 4 epochs, a checkpoint every 10 steps and at each epoch's end.
    let file = survive_file(dir.path(), "dense_classifier", 16, 1024, Some(256));
    let started = Instant::now();
    let clean_runs = dir.path().join("clean");
    clean_run(&file, &clean_runs);
    let clean_ms = u64::try_from(started.elapsed().as_millis())
        .unwrap()
        .max(20);
    let clean_dir = only_run_dir(&clean_runs);
    let expected = end_state(&clean_dir);
    let last_checkpoint = expr::run::checkpoint::list(&clean_dir)
        .pop()
        .unwrap()
        .file_name()
        .unwrap()
        .to_owned();

    let runs = dir.path().join("killed");
    let start = |resume: Option<&Path>| {
        let mut command = Command::new(common::expr_bin());
        command.args(["run", "--no-progress"]);
        match resume {
            Some(run_dir) => command.arg("--resume").arg(run_dir),
            None => command.arg("--runs-dir").arg(&runs).arg(&file),
        };
        command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let run_dir = || {
        std::fs::read_dir(runs.join("survive"))
            .ok()
            .and_then(|mut d| d.next())
            .map(|e| e.unwrap().path())
    };
    // Seeded: the same kill points on every run of the test (xorshift64).
    let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut child = start(None);
    let mut kills = 0;
    for _ in 0..8 {
        // A resumed run has less left to do than a whole one: kill early enough to land.
        std::thread::sleep(Duration::from_millis(next() % (clean_ms / 3)));
        if child.try_wait().unwrap().is_some() {
            break;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
        child = match run_dir() {
            Some(d) if !expr::run::checkpoint::list(&d).is_empty() => start(Some(&d)),
            other => {
                if let Some(d) = other {
                    std::fs::remove_dir_all(d).unwrap();
                }
                start(None)
            }
        };
    }
    // And the moment the final checkpoint appears: before the record's epoch-end write.
    // The window is a few milliseconds; from a copy of the directory as it is now, tried
    // again until a kill lands in it (or five tries).
    if child.try_wait().unwrap().is_none() {
        child.kill().unwrap();
        kills += 1;
    }
    child.wait().unwrap();
    let Some(run_dir) = run_dir() else {
        panic!("no run directory after {kills} kills")
    };
    let saved = dir.path().join("saved");
    copy_files(&run_dir, &saved);
    let mut in_window = 0;
    for _ in 0..5 {
        copy_files(&saved, &run_dir);
        let mut child = start(Some(&run_dir));
        let deadline = Instant::now() + Duration::from_mins(1);
        while child.try_wait().unwrap().is_none()
            && Instant::now() < deadline
            && !run_dir.join(&last_checkpoint).exists()
        {}
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            kills += 1;
        }
        child.wait().unwrap();
        if expr::record::load(&run_dir).unwrap().epochs_done() < 4 {
            in_window += 1;
            break;
        }
    }
    eprintln!("{in_window} kill(s) between the last checkpoint and the record's write");
    let last = Command::new(common::expr_bin())
        .args(["run", "--no-progress", "--resume"])
        .arg(&run_dir)
        .output()
        .unwrap();
    assert!(
        last.status.success(),
        "{}",
        String::from_utf8_lossy(&last.stderr)
    );
    assert!(kills >= 3, "only {kills} kills landed");
    assert_eq!(end_state(&run_dir), expected, "after {kills} kills");
}

/// Makes `to` hold exactly `from`'s files (no subfolders in a run directory).
fn copy_files(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
        }
    }
}

/// Precision, recall, f1 and a confusion matrix over the training data: their counts span
/// the checkpoints taken mid-epoch, so a resumed run counts on from the checkpoint's and
/// logs, records and writes what the uninterrupted run does.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "timing-dependent kills need a release build"
)]
fn killed_and_resumed_runs_keep_their_classification_counts() {
    let dir = tempfile::tempdir().unwrap();
    let file = survive_file(dir.path(), "classification_kills", 16, 4096, Some(512));
    survives_kills(dir.path(), &file, 4);
    let matrix = |runs: &str| {
        let run = only_run_dir(&dir.path().join(runs));
        std::fs::read_to_string(run.join("confusion/train_confusion.csv")).unwrap()
    };
    let clean = matrix("clean");
    assert_eq!(clean, matrix("killed"));
    // Every training example of the last epoch counted once.
    let total: f64 = clean
        .lines()
        .skip(1)
        .flat_map(|l| l.split(',').skip(1).map(|c| c.parse::<f64>().unwrap()))
        .sum();
    assert_eq!(total, 4096.0);
}
