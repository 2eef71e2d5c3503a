//! The thread count never changes a run's numbers: small experiments (a convnet, a leaky-ReLU
//! MLP, a GPT block) trained at 1, 2, 4 and 8 threads save the same weights, bit for bit, on
//! each kernel path (the CPU's fastest, and the portable one `EXPR_PORTABLE` forces). Each op
//! cuts its work by the shapes, never by the thread count, where a cut changes an order of
//! sums (DEVELOPERS.md, "Where the speed comes from"). More threads than cores is fine here:
//! the numbers are what is compared, never the time.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use std::path::{Path, PathBuf};

/// The thread counts compared: up to 8, within `expr run`'s cap of 4 × the cores.
fn thread_counts() -> Vec<usize> {
    let cap = 4 * std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    [1, 2, 4, 8].into_iter().filter(|&t| t <= cap).collect()
}

/// Runs `file` at `threads` into a fresh runs folder under `dir`, with `EXPR_PORTABLE` set if
/// `portable`; returns the record's `weights_sha256`.
fn weights_at(dir: &Path, file: &Path, threads: usize, portable: bool) -> String {
    let runs = dir.join(format!("runs-{threads}-{portable}"));
    let mut command = std::process::Command::new(common::expr_bin());
    command
        .args(["run", "--no-progress", "--threads", &threads.to_string()])
        .arg("--runs-dir")
        .arg(&runs)
        .arg(file);
    if portable {
        command.env("EXPR_PORTABLE", "1");
    } else {
        command.env_remove("EXPR_PORTABLE");
    }
    common::succeeded(&command.output().expect("expr starts"));
    common::weights_sha256_in(&runs)
}

/// Trains `file` at every thread count on both paths; each path's hashes must agree.
fn same_weights_at_every_thread_count(dir: &Path, file: &Path) {
    for portable in [false, true] {
        let hashes: Vec<(usize, String)> = thread_counts()
            .into_iter()
            .map(|t| (t, weights_at(dir, file, t, portable)))
            .collect();
        assert!(hashes.len() >= 2, "too few thread counts to compare");
        let (_, first) = &hashes[0];
        for (threads, hash) in &hashes {
            assert_eq!(
                hash,
                first,
                "{} (portable: {portable}): {threads} threads saved other weights than 1: {hashes:?}",
                file.display()
            );
        }
    }
}

/// `tests/cases/run/NAME.exp` over 16x16 generated images, written into `dir`.
fn image_experiment(dir: &Path, name: &str) -> PathBuf {
    let (images, labels) = common::write_idx_set(dir, "train", 512, 16, 4);
    let text = common::fixture(name, &[("train_images", images), ("train_labels", labels)]);
    let path = dir.join(format!("{name}.exp"));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_convnet_saves_the_same_weights_at_every_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let file = image_experiment(dir.path(), "threads_conv");
    same_weights_at_every_thread_count(dir.path(), &file);
}

#[test]
fn a_leaky_relu_mlp_saves_the_same_weights_at_every_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let file = image_experiment(dir.path(), "threads_mlp");
    same_weights_at_every_thread_count(dir.path(), &file);
}

#[test]
fn an_attention_model_saves_the_same_weights_at_every_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    // Words over every letter, so that the vocabulary is the 27 the model has rows for.
    let words = [
        "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog",
    ];
    let mut text = String::new();
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    while text.len() < 6_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        text.push_str(words[(state % words.len() as u64) as usize]);
        text.push(' ');
    }
    text.push_str("abcdefghijklmnopqrstuvwxyz");
    let path = dir.path().join("t.txt");
    std::fs::write(&path, text).unwrap();
    let file = dir.path().join("threads_gpt.exp");
    std::fs::write(&file, common::fixture("threads_gpt", &[("text", path)])).unwrap();
    same_weights_at_every_thread_count(dir.path(), &file);
}
