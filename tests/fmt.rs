//! `expr fmt`: meaning-preserving (the text parses to the same tree, spans
//! aside), idempotent, and already applied to every file we ship; plus random
//! experiments with comments and odd spacing in every gap.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

use std::path::{Path, PathBuf};
use std::process::Command;

use expr::fmt::format_source;
use expr::syntax::parse_file;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The tree with spans blanked out.
fn shape(text: &str) -> String {
    expr::fmt::tree_shape(&parse_file(text).expect("parses"))
}

fn assert_formats_well(name: &str, text: &str) -> String {
    let once = format_source(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(
        shape(&once),
        shape(text),
        "{name}: formatting changed the meaning:\n{once}"
    );
    let twice = format_source(&once).unwrap_or_else(|e| panic!("{name} after fmt: {e}\n{once}"));
    assert_eq!(twice, once, "{name}: formatting is not idempotent");
    once
}

fn files_under(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "exp") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn shipped_experiments_are_already_canonical() {
    for path in files_under("experiments") {
        let text = std::fs::read_to_string(&path).unwrap();
        let formatted = assert_formats_well(&path.display().to_string(), &text);
        assert_eq!(
            formatted,
            text,
            "{} is not in canonical form: run `expr fmt`",
            path.display()
        );
    }
}

#[test]
fn every_parsing_case_formats_to_the_same_tree_and_is_canonical() {
    let mut parsed = 0;
    for path in files_under("tests/cases") {
        let text = std::fs::read_to_string(&path).unwrap();
        if parse_file(&text).is_err() {
            continue;
        }
        parsed += 1;
        let formatted = assert_formats_well(&path.display().to_string(), &text);
        assert_eq!(
            formatted,
            text,
            "{} is not in canonical form",
            path.display()
        );
    }
    assert!(parsed >= 50, "only {parsed} cases parse");
}

#[test]
fn layout_rules() {
    let text = "experiment   t{seed=1   // s\n// own\n  threads = 2}\nmodel m {}\nloss l = mse() // t\n// before\noptimizer o = adam(lr=-(1+2)*3**-1, beta1 = (0.9)) for m,n\n";
    let want = "experiment t {\n  seed = 1 // s\n  // own\n  threads = 2\n}\n\nmodel m {}\n\nloss l = mse() // t\n// before\n\noptimizer o = adam(lr = -(1 + 2) * 3 ** -1, beta1 = 0.9) for m, n\n";
    assert_eq!(assert_formats_well("layout", text), want);
}

#[test]
fn every_blocks_in_a_step_nest_with_their_comments() {
    let text = "step on train (x, y) {\n  a = m(x)\n  // before\n\n  every   5 steps {\n// first\n    b = m(x)   // trailing\n    update o minimizing b\n\n    // last\n  }\n  c = a\n}\n";
    let want = "step on train (x, y) {\n  a = m(x)\n  // before\n\n  every 5 steps {\n    // first\n    b = m(x) // trailing\n    update o minimizing b\n\n    // last\n  }\n  c = a\n}\n";
    assert_eq!(assert_formats_well("every", text), want);
}

#[test]
fn long_pipelines_break_one_transform_per_line() {
    let text = "data train = mnist(split = \"train\") | scale(1 / 255) | channel_axis() | shuffle(buffer = 10000) | batch(64)\n";
    let want = "data train = mnist(split = \"train\")\n  | scale(1 / 255)\n  | channel_axis()\n  | shuffle(buffer = 10000)\n  | batch(64)\n";
    assert_eq!(assert_formats_well("pipeline", text), want);
    // A short one stays on its line.
    let short = "data t = mnist(split = \"test\") | batch(64)\n";
    assert_eq!(assert_formats_well("short", short), short);
}

#[test]
fn grouping_and_tuples_survive() {
    let text = "experiment t { a = (1, 2)  b = (3,)  c = (min(1, 2))  d = -2 ** 2  e = (2 ** 3) ** 2  f = 1 - (2 - 3)  g = (a + b).lr  h = - -1  i = 2 - --x }\n";
    assert_formats_well("grouping", text);
}

/// A random experiment: every declaration and expression form, with spaces,
/// newlines and comments in the gaps between tokens.
fn random_experiment(rng: &mut ChaCha8Rng) -> String {
    let mut tokens: Vec<String> = Vec::new();
    for _ in 0..rng.gen_range(1..8) {
        random_decl(rng, &mut tokens);
    }
    let mut out = String::new();
    for t in tokens {
        out.push_str(&t);
        out.push_str(match rng.gen_range(0..10) {
            0 => "\n",
            1 => " // note, with (brackets) and \"quotes\"\n",
            2 => "\n\n",
            3 => "  ",
            _ => " ",
        });
    }
    out
}

const NAMES: &[&str] = &["a", "net", "x1", "opt", "lr", "epoch", "data_1", "train"];

fn name(rng: &mut ChaCha8Rng) -> String {
    NAMES[rng.gen_range(0..NAMES.len())].to_string()
}

fn random_decl(rng: &mut ChaCha8Rng, t: &mut Vec<String>) {
    let push = |t: &mut Vec<String>, s: &[&str]| t.extend(s.iter().map(|s| (*s).to_string()));
    match rng.gen_range(0..9) {
        0 | 6 => {
            push(
                t,
                &[if rng.gen_bool(0.5) {
                    "experiment"
                } else {
                    "train"
                }],
            );
            if t.last().is_some_and(|s| s == "experiment") {
                t.push(name(rng));
            }
            t.push("{".into());
            for _ in 0..rng.gen_range(0..3) {
                t.push(name(rng));
                t.push("=".into());
                random_expr(rng, t, 3);
            }
            t.push("}".into());
        }
        1 => {
            push(t, &["data"]);
            t.push(name(rng));
            t.push("=".into());
            random_call(rng, t, 2);
            for _ in 0..rng.gen_range(0..6) {
                t.push("|".into());
                random_call(rng, t, 2);
            }
        }
        2 => {
            push(t, &["model"]);
            t.push(name(rng));
            t.push("{".into());
            for _ in 0..rng.gen_range(0..4) {
                random_call(rng, t, 2);
            }
            t.push("}".into());
        }
        3 => {
            push(
                t,
                &[if rng.gen_bool(0.5) {
                    "loss"
                } else {
                    "optimizer"
                }],
            );
            let opt = t.last().is_some_and(|s| s == "optimizer");
            t.push(name(rng));
            t.push("=".into());
            random_call(rng, t, 2);
            if opt && rng.gen_bool(0.5) {
                push(t, &["for", "a", ",", "net"]);
            }
        }
        4 => {
            push(t, &["metrics", "{"]);
            for _ in 0..rng.gen_range(0..3) {
                t.push(name(rng));
                t.push("=".into());
                random_expr(rng, t, 2);
                t.push("on".into());
                t.push(name(rng));
            }
            t.push("}".into());
        }
        5 => {
            match rng.gen_range(0..4) {
                0 => push(t, &["on", "epoch_end"]),
                1 => push(t, &["on", "every", "10", "steps"]),
                2 => push(t, &["before"]),
                _ => push(t, &["step", "on", "train", "(", "x", ",", "y", ")"]),
            }
            t.push("{".into());
            for _ in 0..rng.gen_range(0..4) {
                match rng.gen_range(0..4) {
                    0 => {
                        push(t, &["update", "opt", "minimizing"]);
                        random_expr(rng, t, 2);
                    }
                    1 => {
                        t.push(if rng.gen_bool(0.5) {
                            "opt.lr".into()
                        } else {
                            name(rng)
                        });
                        t.push("=".into());
                        random_expr(rng, t, 3);
                    }
                    2 => t.push("log \"epoch {epoch + 1}: {a:.4f} // not a comment\"".into()),
                    _ => random_call(rng, t, 2),
                }
            }
            t.push("}".into());
        }
        _ => push(
            t,
            &[
                "after",
                "{",
                "save",
                "(",
                "net",
                ",",
                "to",
                "=",
                "\"n.safetensors\"",
                ")",
                "}",
            ],
        ),
    }
}

fn random_call(rng: &mut ChaCha8Rng, t: &mut Vec<String>, depth: u32) {
    t.push(name(rng));
    t.push("(".into());
    let n = rng.gen_range(0..4);
    for i in 0..n {
        if i > 0 {
            t.push(",".into());
        }
        if rng.gen_bool(0.5) {
            t.push(name(rng));
            t.push("=".into());
        }
        random_expr(rng, t, depth);
    }
    if n > 0 && rng.gen_bool(0.2) {
        t.push(",".into());
    }
    t.push(")".into());
}

fn random_expr(rng: &mut ChaCha8Rng, t: &mut Vec<String>, depth: u32) {
    let leaf = depth == 0 || rng.gen_bool(0.3);
    if leaf {
        const NUMBERS: &[&str] = &["1", "0.5", "1e-3", "2.", "10000", "1E+2", "3.25e2"];
        match rng.gen_range(0..5) {
            0 | 1 => t.push(NUMBERS[rng.gen_range(0..NUMBERS.len())].into()),
            2 => t.push(name(rng)),
            3 => t.push(if rng.gen_bool(0.5) { "true" } else { "false" }.into()),
            _ => t.push("\"s, (t) \\\" // u\"".into()),
        }
        return;
    }
    match rng.gen_range(0..7) {
        0 => random_call(rng, t, depth - 1),
        1 => {
            t.push("(".into());
            let n = rng.gen_range(1..4);
            for i in 0..n {
                if i > 0 {
                    t.push(",".into());
                }
                random_expr(rng, t, depth - 1);
            }
            if n == 1 || rng.gen_bool(0.3) {
                t.push(",".into());
            }
            t.push(")".into());
        }
        2 => {
            t.push("(".into());
            random_expr(rng, t, depth - 1);
            t.push(")".into());
        }
        3 => {
            t.push("-".into());
            random_expr(rng, t, depth - 1);
        }
        4 => {
            t.push(name(rng));
            t.push(".".into());
            t.push(name(rng));
        }
        _ => {
            const OPS: &[&str] = &["+", "-", "*", "/", "**"];
            random_expr(rng, t, depth - 1);
            t.push(OPS[rng.gen_range(0..OPS.len())].into());
            random_expr(rng, t, depth - 1);
        }
    }
}

fn random_round(seed: u64, count: usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for i in 0..count {
        let text = random_experiment(&mut rng);
        // A generated `-` before a leaf may not parse after another token (`a - -1` does; fine).
        if parse_file(&text).is_err() {
            continue;
        }
        assert_formats_well(&format!("random #{i} (seed {seed}):\n{text}"), &text);
    }
}

#[test]
fn random_experiments_format_well() {
    random_round(7, 400);
}

#[test]
#[ignore = "long run: cargo test --release --test fmt -- --ignored"]
fn random_experiments_format_well_long() {
    for seed in 0..200 {
        random_round(1000 + seed, 500);
    }
}

fn expr_bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_expr"))
}

#[test]
fn check_flag_lists_files_that_would_change_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let messy = dir.path().join("messy.exp");
    let tidy = dir.path().join("tidy.exp");
    std::fs::write(&messy, "loss l=mse( )\n").unwrap();
    std::fs::write(&tidy, "loss l = mse()\n").unwrap();
    let out = expr_bin()
        .arg("fmt")
        .arg("--check")
        .arg(&messy)
        .arg(&tidy)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let listed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(listed.trim(), messy.display().to_string());
    assert_eq!(std::fs::read_to_string(&messy).unwrap(), "loss l=mse( )\n");

    let out = expr_bin()
        .arg("fmt")
        .arg(&messy)
        .arg(&tidy)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&messy).unwrap(), "loss l = mse()\n");
    // The temporary file of the atomic write is gone.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    let out = expr_bin()
        .arg("fmt")
        .arg("--check")
        .arg(&messy)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn a_file_with_a_syntax_error_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.exp");
    std::fs::write(&bad, "model m {\n").unwrap();
    let out = expr_bin().arg("fmt").arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&bad).unwrap(), "model m {\n");
}

#[test]
fn a_symlinked_file_is_formatted_through_its_link() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("real")).unwrap();
    let target = dir.path().join("real/messy.exp");
    let link = dir.path().join("link.exp");
    std::fs::write(&target, "loss l=mse( )\n").unwrap();
    std::os::unix::fs::symlink("real/messy.exp", &link).unwrap();
    let out = expr_bin().arg("fmt").arg(&link).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // The link is still a link, and the file it points at has the new text.
    let kind = std::fs::symlink_metadata(&link).unwrap().file_type();
    assert!(kind.is_symlink(), "{kind:?}");
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "loss l = mse()\n"
    );
    // No temporary file left beside the link or the target.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    assert_eq!(
        std::fs::read_dir(dir.path().join("real")).unwrap().count(),
        1
    );
}

#[test]
fn graph_models_blocks_repeats_and_unpacking_format_canonically() {
    let text = "block res(f,s=1)(x){h=x|conv2d(f,kernel=3,stride=s,padding=same,activation=relu)|conv2d(f,kernel=3,padding=same)\nreturn (h+x)|relu()}\nblock cr(f){conv2d(f,kernel=3)  relu()}\nmodel m(a,b){h=a|dense(8)   // c\n g = h*b+a\nreturn concat(h,g)|dense(1),h}\nmodel s{repeat 2{cr(4)}\nflatten() }\nstep on t (x, y) { p,q=m(x,x) }\n";
    let want = "block res(f, s = 1) (x) {\n  h = x | conv2d(f, kernel = 3, stride = s, padding = same, activation = relu)\n        | conv2d(f, kernel = 3, padding = same)\n  return (h + x) | relu()\n}\n\nblock cr(f) {\n  conv2d(f, kernel = 3)\n  relu()\n}\n\nmodel m (a, b) {\n  h = a | dense(8) // c\n  g = h * b + a\n  return concat(h, g) | dense(1), h\n}\n\nmodel s {\n  repeat 2 {\n    cr(4)\n  }\n  flatten()\n}\n\nstep on t (x, y) {\n  p, q = m(x, x)\n}\n";
    assert_eq!(assert_formats_well("graph", text), want);
    // Parentheses the tree needs survive; `(x | a) | b` keeps its grouping.
    let nested = "model m (x) {\n  a = x * (x + x)\n  b = (x | dense(2)) | dense(3)\n  return a + (b + b)\n}\n";
    assert_eq!(assert_formats_well("nested", nested), nested);
}
