//! A libFuzzer-free fuzz run over parse + check + fmt + diff + rendered diagnostics, for CI
//! (cargo-fuzz needs nightly; its target is `fuzz/fuzz_targets/parse_check_fmt.rs`). Inputs
//! are the seed corpus (`fuzz/corpus/parse_check_fmt/`) mutated at random: bytes flipped,
//! inserted, deleted, lines duplicated and spliced between files, and now and then a token
//! repeated thousands of times (deep chains, long lines). Nothing may panic or overflow the
//! stack (each input runs on a 2 MiB thread); what parses must format idempotently to the
//! same tree.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use common::mutants::{mutants, mutate, seeds, CI_COUNT, CI_SEED};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// `check_text` on a thread with the 2 MiB stack spawned threads get, whatever the
/// harness's `RUST_MIN_STACK`: a deep input must not need more.
fn exercise(text: &str) {
    let owned = text.to_string();
    let run = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || check_text(&owned))
        .unwrap()
        .join();
    if let Err(panic) = run {
        std::panic::resume_unwind(panic);
    }
}

fn check_text(text: &str) {
    let _ = expr::diff::textconv("a.exp", text);
    let _ = expr::diff::diff_texts(("a", text), ("b", text), expr::diff::Format::Yaml);
    let source = expr::source::Source::new("a.exp", text);
    let file = match expr::syntax::parse_file(&source.text) {
        Ok(file) => file,
        Err(e) => {
            let _ = expr::report::render(&e, Some(&source), false);
            return;
        }
    };
    if let Err(errors) = expr::check::check(&file) {
        for e in &errors {
            let _ = expr::report::render(e, Some(&source), false);
        }
    }
    let once = expr::fmt::format_source(text)
        .unwrap_or_else(|e| panic!("parsed but fmt failed: {e}\n{text}"));
    let reparsed = expr::syntax::parse_file(&once).unwrap_or_else(|e| {
        panic!("fmt output does not parse: {e}\n--- input\n{text}\n--- fmt\n{once}")
    });
    assert_eq!(
        expr::fmt::tree_shape(&reparsed),
        expr::fmt::tree_shape(&file),
        "fmt changed the meaning of:\n{text}\n--- fmt\n{once}"
    );
    let twice = expr::fmt::format_source(&once).unwrap_or_else(|e| {
        panic!("fmt output does not parse: {e}\n--- input\n{text}\n--- fmt\n{once}")
    });
    assert_eq!(once, twice, "fmt is not idempotent on:\n{text}");
}

fn run(seed: u64, budget: std::time::Duration) -> usize {
    let seeds = seeds();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let start = std::time::Instant::now();
    let mut n = 0;
    while start.elapsed() < budget {
        let text = mutate(&mut rng, &seeds);
        exercise(&text);
        n += 1;
    }
    n
}

#[test]
fn seeds_survive_parse_check_fmt() {
    for s in seeds() {
        exercise(&s);
    }
}

/// A fixed number of inputs, so CI runs the same ones every time.
#[test]
fn mutated_seeds_do_not_crash() {
    for text in mutants(CI_SEED, CI_COUNT) {
        exercise(&text);
    }
}

#[test]
#[ignore = "long run: EXPR_FUZZ_SECS=600 cargo test --release --test fuzz -- --ignored"]
fn fuzz_long() {
    let secs = std::env::var("EXPR_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let seed = std::env::var("EXPR_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let n = run(seed, std::time::Duration::from_secs(secs));
    eprintln!("{n} inputs in {secs} s");
}
