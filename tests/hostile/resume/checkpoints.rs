//! Checkpoints that are damaged, edited or of another experiment: each is refused with the
//! file and the field named, and resume goes on from the previous checkpoint that is whole
//! and valid, ending exactly as the uninterrupted run did.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{assert_same_end, clean_and_interrupted, resume, stderr};
use expr::run::checkpoint::{self, Checkpoint};

/// The newest checkpoint of `run_dir` (after epoch 2, in a copy from
/// `clean_and_interrupted`), rewritten after `edit` with a correct digest: only the range
/// checks can refuse it.
fn edit_newest(run_dir: &Path, edit: impl FnOnce(&mut Checkpoint)) -> PathBuf {
    let path = checkpoint::list(run_dir).pop().unwrap();
    let mut c = checkpoint::read(&path).unwrap();
    edit(&mut c);
    std::fs::remove_file(&path).unwrap();
    checkpoint::write(run_dir, &c, 10).unwrap()
}

/// Resumes `copy`, which must fall back past its newest checkpoint (refused for `words`)
/// and end as `clean`.
fn falls_back(copy: &Path, clean: &Path, newest: &Path, words: &[&str]) {
    let started = Instant::now();
    let out = resume(copy.parent().unwrap(), copy, &[]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(started.elapsed() < Duration::from_mins(1), "took too long");
    assert!(err.contains(&newest.display().to_string()), "{err}");
    for w in words {
        assert!(err.contains(w), "no `{w}` in: {err}");
    }
    assert!(
        err.contains("using the previous checkpoint that is whole and valid"),
        "{err}"
    );
    assert_same_end(copy, clean);
}

#[test]
fn a_flipped_byte_in_tensor_data_fails_the_digest_and_resume_falls_back() {
    let dir = tempfile::tempdir().unwrap();
    let (clean, copy) = clean_and_interrupted(dir.path());
    let newest = checkpoint::list(&copy).pop().unwrap();
    let mut bytes = std::fs::read(&newest).unwrap();
    let header = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    bytes[8 + header + 100] ^= 0x40; // inside the first layer's weights
    std::fs::write(&newest, bytes).unwrap();
    falls_back(&copy, &clean, &newest, &["do not match its digest"]);
}

#[test]
fn an_edited_loop_state_in_the_metadata_fails_the_digest() {
    let dir = tempfile::tempdir().unwrap();
    let (clean, copy) = clean_and_interrupted(dir.path());
    let newest = checkpoint::list(&copy).pop().unwrap();
    let text = std::fs::read(&newest).unwrap();
    // `epoch_started: false` → `epoch_started: true `: same length, the header still parses.
    let from = b"epoch_started: false";
    let at = text
        .windows(from.len())
        .position(|w| w == from)
        .expect("the loop state is in the header");
    let mut edited = text.clone();
    edited[at..at + from.len()].copy_from_slice(b"epoch_started: true ");
    std::fs::write(&newest, edited).unwrap();
    falls_back(&copy, &clean, &newest, &["do not match its digest"]);
}

#[test]
fn a_checkpoint_of_another_model_is_refused_by_name_and_shape() {
    let dir = tempfile::tempdir().unwrap();
    let (_, copy) = clean_and_interrupted(dir.path());
    // The same run with 32 hidden units instead of 16; its checkpoints go into the copy.
    let other = dir.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    let text = std::fs::read_to_string(dir.path().join("small.exp"))
        .unwrap()
        .replace("units = 16", "units = 32");
    std::fs::write(other.join("wide.exp"), text).unwrap();
    let wide = super::run_to_end(&other, &other.join("wide.exp"), &other.join("runs"));
    for c in checkpoint::list(&copy) {
        std::fs::remove_file(c).unwrap();
    }
    for c in checkpoint::list(&wide) {
        std::fs::copy(&c, copy.join(c.file_name().unwrap())).unwrap();
    }
    let before = super::snapshot(&copy);
    let out = resume(dir.path(), &copy, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("does not fit this experiment"), "{err}");
    assert!(
        err.contains("has shape [32], this experiment's is [16]"),
        "{err}"
    );
    assert!(err.contains("trying the previous checkpoint"), "{err}");
    // Refused before anything was written (the lock file aside).
    let after = super::snapshot(&copy);
    let files = |s: &[(PathBuf, Vec<u8>, std::time::SystemTime)]| {
        s.iter()
            .filter(|(p, ..)| !p.ends_with(".lock"))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(files(&after), files(&before));
}

#[test]
fn a_tensor_the_model_does_not_have_is_refused_from_the_header() {
    let dir = tempfile::tempdir().unwrap();
    let (clean, copy) = clean_and_interrupted(dir.path());
    let newest = edit_newest(&copy, |c| {
        c.engine
            .tensors
            .push(expr::output::model_file::NamedTensor {
                name: "param.0.4000000000".into(),
                shape: vec![1],
                data: vec![0.0],
            });
    });
    falls_back(&copy, &clean, &newest, &["`param.0.4000000000`"]);
}

#[test]
fn a_header_claiming_huge_shapes_is_refused_before_reading_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let (clean, copy) = clean_and_interrupted(dir.path());
    let newest = checkpoint::list(&copy).pop().unwrap();
    let text = std::fs::read(&newest).unwrap();
    // The first layer's weight claims 99 x 99 values: the same header length, so the
    // file still parses, but the shape is not the model's. Refused from the header.
    let from = b"\"shape\":[16,64]";
    let at = text.windows(from.len()).position(|w| w == from).unwrap();
    let mut edited = text.clone();
    edited[at..at + from.len()].copy_from_slice(b"\"shape\":[99,99]");
    std::fs::write(&newest, edited).unwrap();
    falls_back(&copy, &clean, &newest, &["has shape [99, 99]"]);
}

#[test]
fn impossible_random_draws_are_refused_at_once_instead_of_spinning() {
    let dir = tempfile::tempdir().unwrap();
    let (clean, copy) = clean_and_interrupted(dir.path());
    let newest = edit_newest(&copy, |c| c.engine.random_draws = 999_999_999_999);
    falls_back(&copy, &clean, &newest, &["impossible `random_draws`"]);
}

#[test]
fn an_epoch_past_the_experiments_epochs_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (clean, copy) = clean_and_interrupted(dir.path());
    let newest = edit_newest(&copy, |c| c.position.epoch = 7);
    falls_back(
        &copy,
        &clean,
        &newest,
        &["impossible `epoch`", "past the experiment's 3 epochs"],
    );
}

#[test]
fn a_next_batch_past_the_pass_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (clean, copy) = clean_and_interrupted(dir.path());
    let newest = edit_newest(&copy, |c| {
        c.position.next_batch = 999;
        c.position.epoch_started = true;
    });
    falls_back(&copy, &clean, &newest, &["impossible `next_batch`"]);
}

#[test]
fn a_history_longer_than_the_epochs_done_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (clean, copy) = clean_and_interrupted(dir.path());
    let newest = edit_newest(&copy, |c| {
        for h in &mut c.position.history {
            h.push(0.5);
        }
    });
    falls_back(&copy, &clean, &newest, &["impossible `history`"]);
}

#[test]
fn a_learning_rate_that_is_not_finite_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (clean, copy) = clean_and_interrupted(dir.path());
    let newest = edit_newest(&copy, |c| c.engine.optimizers[0].1 = f64::NAN);
    falls_back(&copy, &clean, &newest, &["impossible `optimizers`", "NaN"]);
}

#[test]
fn a_global_step_that_does_not_follow_from_the_position_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (clean, copy) = clean_and_interrupted(dir.path());
    let newest = checkpoint::list(&copy).pop().unwrap();
    let mut c = checkpoint::read(&newest).unwrap();
    c.position.global_step += 5;
    std::fs::remove_file(&newest).unwrap();
    let newest = checkpoint::write(&copy, &c, 10).unwrap();
    falls_back(&copy, &clean, &newest, &["impossible `global_step`"]);
}

#[test]
fn a_fifo_as_the_newest_checkpoint_neither_blocks_nor_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let (clean, copy) = clean_and_interrupted(dir.path());
    let fifo = copy.join("checkpoint-999999999999.safetensors");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        eprintln!("skipped: no mkfifo here");
        return;
    }
    // On a blocking open this would hang for ever: run it with a deadline.
    let mut child = std::process::Command::new(crate::common::expr_bin())
        .args(["run", "--no-progress", "--resume"])
        .arg(&copy)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_mins(1);
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if child.try_wait().unwrap().is_none() {
        child.kill().unwrap();
        panic!("resume blocked on a FIFO");
    }
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("FIFO"), "{err}");
    std::fs::remove_file(&fifo).unwrap();
    assert_same_end(&copy, &clean);
}
