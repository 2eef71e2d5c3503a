//! A libFuzzer-free fuzz run over parse + check + fmt + diff + rendered diagnostics, for CI
//! (cargo-fuzz needs nightly; its target is `fuzz/fuzz_targets/parse_check_fmt.rs`). Inputs
//! are the seed corpus (`fuzz/corpus/parse_check_fmt/`) mutated at random: bytes flipped,
//! inserted, deleted, lines duplicated and spliced between files, and now and then a token
//! repeated thousands of times (deep chains, long lines). Nothing may panic or overflow the
//! stack (each input runs on a 2 MiB thread); what parses must format idempotently to the
//! same tree.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn seeds() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/parse_check_fmt");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

const SPLICE: &[&str] = &[
    "(", ")", "{", "}", ",", "=", "|", "//", "\"", "\\", "**", "-", ".", "\n", " ", "1e", "on",
    "every", "for", "(,)", "((", "))", "{{", "}}", "log \"{", ":.4f}\"", "true", "9e999", "é",
];

/// Tokens that nest or lengthen a line when repeated.
const DEEP: &[&str] = &[
    " + 0",
    "-",
    " ** 1",
    ".lr",
    "(",
    "f(",
    " ",
    "\u{1b}]0;x\u{7}",
];

fn mutate(rng: &mut ChaCha8Rng, seeds: &[String]) -> String {
    let mut bytes = seeds[rng.gen_range(0..seeds.len())].clone().into_bytes();
    for _ in 0..rng.gen_range(1..6) {
        let at = rng.gen_range(0..=bytes.len());
        match rng.gen_range(0..5) {
            0 if !bytes.is_empty() => {
                let end = (at + rng.gen_range(1..20)).min(bytes.len());
                bytes.drain(at.min(end)..end);
            }
            1 => {
                let s = SPLICE[rng.gen_range(0..SPLICE.len())];
                bytes.splice(at..at, s.bytes());
            }
            2 if !bytes.is_empty() => {
                let i = rng.gen_range(0..bytes.len());
                bytes[i] = rng.gen_range(b' '..=b'~');
            }
            3 => {
                // A slice of another seed.
                let other = seeds[rng.gen_range(0..seeds.len())].as_bytes();
                let a = rng.gen_range(0..other.len());
                let b = (a + rng.gen_range(1..200)).min(other.len());
                bytes.splice(at..at, other[a..b].iter().copied());
            }
            4 if rng.gen_ratio(1, 20) => {
                // Past the depth limit, or a line past miette's 65,535 columns.
                let s = DEEP[rng.gen_range(0..DEEP.len())].repeat(rng.gen_range(200..20_000));
                bytes.splice(at..at, s.bytes());
            }
            _ => {
                let s = SPLICE[rng.gen_range(0..SPLICE.len())].repeat(rng.gen_range(1..80));
                bytes.splice(at..at, s.bytes());
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

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
    let seeds = seeds();
    let mut rng = ChaCha8Rng::seed_from_u64(2024);
    for _ in 0..3000 {
        let text = mutate(&mut rng, &seeds);
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
