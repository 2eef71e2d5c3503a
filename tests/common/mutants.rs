//! The fuzz test's inputs (`tests/fuzz.rs`): the seed corpus (`fuzz/corpus/parse_check_fmt/`)
//! and its mutants, shared with the language server's test (`tests/lsp.rs`), which must
//! survive the same ones.

use std::path::Path;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// The seeds' texts, in file-name order.
pub fn seeds() -> Vec<String> {
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

pub fn mutate(rng: &mut ChaCha8Rng, seeds: &[String]) -> String {
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

/// The mutants CI runs, the same every time: `mutants(CI_SEED, CI_COUNT)`.
pub const CI_SEED: u64 = 2024;
pub const CI_COUNT: usize = 3000;

/// The first `n` mutants drawn with `seed`, in order.
pub fn mutants(seed: u64, n: usize) -> Vec<String> {
    use rand::SeedableRng;
    let seeds = seeds();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| mutate(&mut rng, &seeds)).collect()
}
