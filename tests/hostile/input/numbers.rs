//! Numbers. Before issue 20: `seed = 99999999999999999999` said "must be at least 0" (and
//! the same for huge `units`, `epochs`, `buffer`, `every`); integers were read as f64, so
//! seeds above 2^53 could not be written; `reshape(0)` gave several diagnostics and
//! `reshape(4294967296, 4294967296)` wrapped to 0 values; `threads = 1000000` passed
//! check and `--threads 2000` ran for minutes.

use expr::check::CheckError;

use super::{code, expr, stderr, write, BASE};

/// `BASE` with `from` replaced by `to` (which must be there).
fn edit(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "{from}");
    BASE.replacen(from, to, 1)
}

fn errors(text: &str) -> Vec<CheckError> {
    let file = expr::syntax::parse_file(text).unwrap();
    expr::check::check(&file).err().unwrap_or_default()
}

/// The single diagnostic `text` gives.
fn one_error(text: &str) -> CheckError {
    let errors = errors(text);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    errors.into_iter().next().unwrap()
}

#[test]
fn values_too_large_say_at_most() {
    let cases = [
        ("seed = 42", "seed = 99999999999999999999", "seed"),
        ("seed = 42", "seed = 18446744073709551616", "seed"),
        ("seed = 42", "seed = 1e300", "seed"),
        ("epochs = 5", "epochs = 99999999999999999999", "epochs"),
        ("units = 64", "units = 1e20", "units"),
        ("buffer = 10000", "buffer = 10000000000000", "buffer"),
        ("| batch(64)\n\ndata", "| batch(1e19)\n\ndata", "size"),
        ("kernel = 3", "kernel = 99999999999999999999", "kernel"),
    ];
    for (from, to, what) in cases {
        let e = one_error(&edit(from, to));
        assert!(
            e.title.starts_with(&format!("`{what}` must be at most")),
            "{to}: {}",
            e.title
        );
    }
    // `every N steps` too.
    let text = format!("{BASE}\non every 99999999999999999999 steps {{\n  log \"x\"\n}}\n");
    let e = one_error(&text);
    assert!(e.title.contains("must be at most"), "{}", e.title);
    // Too small still says "at least".
    let e = one_error(&edit("seed = 42", "seed = -1"));
    assert_eq!(e.title, "`seed` must be at least 0");
}

#[test]
fn seeds_use_all_64_bits_exactly() {
    for seed in [u64::MAX, (1 << 53) + 1, 12_345_678_901_234_567_891] {
        let file = expr::syntax::parse_file(&edit("seed = 42", &format!("seed = {seed}"))).unwrap();
        let exp = expr::check::check(&file).unwrap();
        assert_eq!(exp.seed, seed);
    }
    // The label shows no rounded float.
    let e = one_error(&edit("seed = 42", "seed = 18446744073709551616"));
    assert_eq!(e.label, "too large for any whole-number setting");
    let e = one_error(&edit("seed = 42", "seed = 18446744073709551614 + 2"));
    assert_eq!(e.title, "`seed` must be at most 18446744073709551615");
}

#[test]
fn reshape_mistakes_give_one_diagnostic_each() {
    let with_reshape = |call: &str| {
        edit(
            "| channel_axis()\n  |",
            &format!("| channel_axis()\n  | {call}\n  |"),
        )
    };
    for call in [
        "reshape(0)",
        "reshape(-1)",
        "reshape(0, 784)",
        "reshape(1.5, 784)",
        "reshape(dims = 784)",
    ] {
        let e = one_error(&with_reshape(call));
        assert!(!e.title.contains("dimensions"), "{call}: {}", e.title);
    }
    // Dimensions whose product overflows: a diagnostic, not 0 values.
    for call in [
        "reshape(4294967296, 4294967296)",
        "reshape(65536, 65536, 65536, 65536)",
        "reshape(1000000000000, 1000000000000)",
    ] {
        let e = one_error(&with_reshape(call));
        assert!(
            e.title.starts_with("cannot reshape 784 values"),
            "{call}: {}",
            e.title
        );
        assert!(!e.title.contains("(0 values)"), "{call}: {}", e.title);
    }
    // A sound reshape still checks.
    let text = with_reshape("reshape(1, 28, 28)");
    assert!(errors(&text).is_empty());
}

fn max_threads() -> usize {
    4 * std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

#[test]
fn threads_in_a_file_are_capped_at_four_per_core() {
    let max = max_threads();
    for threads in ["1000000".to_string(), (max + 1).to_string(), "1e12".into()] {
        let text = edit("seed = 42", &format!("seed = 42\n  threads = {threads}"));
        let e = one_error(&text);
        assert_eq!(
            e.title,
            format!("`threads` must be at most {max}"),
            "{threads}"
        );
        assert!(e.help.as_deref().unwrap_or("").contains("cores"));
    }
    let text = edit("seed = 42", &format!("seed = 42\n  threads = {max}"));
    assert!(errors(&text).is_empty());
}

#[test]
fn threads_on_the_command_line_are_capped_too() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "mnist.exp", BASE);
    let file = file.to_str().unwrap();
    let too_many = (max_threads() + 1).to_string();
    for threads in ["2000", too_many.as_str(), "100000000000"] {
        let out = expr(dir.path(), &["run", file, "--threads", threads]);
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{err}");
        assert!(
            err.contains(&format!("must be at most {}", max_threads())),
            "{err}"
        );
        assert!(!dir.path().join("runs").exists(), "nothing ran");
    }
    // The file's setting, through `--set`, is the file's check.
    let out = expr(
        dir.path(),
        &["run", file, "--set", "experiment.threads=1000000"],
    );
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("must be at most"), "{}", stderr(&out));
}
