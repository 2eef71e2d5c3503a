//! Shared helpers for integration tests: small generated IDX data sets and the
//! experiments of `tests/cases/run/` over them, so tests run in seconds without MNIST.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

pub mod mutants;
pub mod serve;
pub mod twin;

/// Writes `n` images of `side`x`side` pixels and their labels as raw IDX files.
/// Class `c` of `classes` lights up a horizontal band at row c, plus
/// deterministic noise, so that a small model can learn it.
pub fn write_idx_set(
    dir: &Path,
    stem: &str,
    n: usize,
    side: usize,
    classes: usize,
) -> (PathBuf, PathBuf) {
    let mut images = Vec::with_capacity(16 + n * side * side);
    images.extend_from_slice(&2051u32.to_be_bytes());
    images.extend_from_slice(&(n as u32).to_be_bytes());
    images.extend_from_slice(&(side as u32).to_be_bytes());
    images.extend_from_slice(&(side as u32).to_be_bytes());
    let mut labels = Vec::with_capacity(8 + n);
    labels.extend_from_slice(&2049u32.to_be_bytes());
    labels.extend_from_slice(&(n as u32).to_be_bytes());
    let mut state = 0x2545_F491_4F6C_DD1D_u64;
    for i in 0..n {
        let class = i % classes;
        labels.push(class as u8);
        for r in 0..side {
            for _ in 0..side {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let noise = (state % 64) as u8;
                let band = if r * classes / side == class { 180 } else { 0 };
                images.push(band + noise);
            }
        }
    }
    let img = dir.join(format!("{stem}-images-idx3-ubyte"));
    let lbl = dir.join(format!("{stem}-labels-idx1-ubyte"));
    std::fs::File::create(&img)
        .and_then(|mut f| f.write_all(&images))
        .expect("write images");
    std::fs::File::create(&lbl)
        .and_then(|mut f| f.write_all(&labels))
        .expect("write labels");
    (img, lbl)
}

/// A small MLP experiment over generated data in `dir` (`tests/cases/run/small_mlp.exp`),
/// with the standard step or, if `explicit_steps`, the same step written out
/// (`small_mlp_steps.exp`); `extra` (hooks, an `after` block) is appended.
/// Writes the images [`write_idx_set`] would as gray PNG files, one sub-folder per class
/// (`dir/stem/<class>/<i>.png`), and returns the folder.
pub fn write_png_set(dir: &Path, stem: &str, n: usize, side: usize, classes: usize) -> PathBuf {
    let (images, labels) = write_idx_set(dir, stem, n, side, classes);
    let pixels = std::fs::read(&images).unwrap();
    let labels = std::fs::read(&labels).unwrap();
    let root = dir.join(stem);
    for i in 0..n {
        let class = root.join(format!("c{}", labels[8 + i]));
        std::fs::create_dir_all(&class).unwrap();
        let start = 16 + i * side * side;
        let image = image::GrayImage::from_raw(
            side as u32,
            side as u32,
            pixels[start..start + side * side].to_vec(),
        )
        .unwrap();
        image
            .save_with_format(class.join(format!("{i:05}.png")), image::ImageFormat::Png)
            .unwrap();
    }
    root
}

/// The `weights_sha256` of the record of the one run in the runs folder `runs`.
pub fn weights_sha256_in(runs: &Path) -> String {
    let experiment = std::fs::read_dir(runs).unwrap().next().unwrap().unwrap();
    let run = std::fs::read_dir(experiment.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let record = expr::record::load(&run.path()).unwrap();
    record.weights_sha256.expect("the run saved weights")
}

pub fn mlp_experiment(dir: &Path, explicit_steps: bool, extra: &str) -> String {
    let (tri, trl) = write_idx_set(dir, "train", 512, 8, 4);
    let (tei, tel) = write_idx_set(dir, "test", 128, 8, 4);
    let name = if explicit_steps {
        "small_mlp_steps"
    } else {
        "small_mlp"
    };
    let text = fixture(
        name,
        &[
            ("train_images", tri),
            ("train_labels", trl),
            ("test_images", tei),
            ("test_labels", tel),
        ],
    );
    format!("{text}{extra}\n")
}

/// The small MLP (`mlp_experiment`) saving `net.safetensors`, written to `dir/small.exp`
/// and trained there for one epoch by `expr run` on two threads, with `set` overrides:
/// the run's standard output and its run directory.
pub fn train_small_mlp(dir: &Path, set: &[&str]) -> (String, PathBuf) {
    let text = mlp_experiment(
        dir,
        false,
        "after {\n  save(net, to = \"net.safetensors\")\n}",
    );
    std::fs::write(dir.join("small.exp"), text).expect("write small.exp");
    let mut args = vec!["run", "small.exp", "--threads", "2", "--no-progress"];
    for s in std::iter::once(&"train.epochs=1").chain(set) {
        args.extend(["--set", s]);
    }
    let out = expr_in(dir, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let run = std::fs::read_dir(dir.join("runs/small"))
        .and_then(|mut entries| entries.next().expect("a run directory"))
        .expect("runs/small")
        .path();
    (String::from_utf8(out.stdout).expect("utf-8"), run)
}

/// The experiment `tests/cases/run/NAME.exp` with each `${key}` replaced by its path.
/// Placeholders sit inside strings, so that a fixture is itself a valid experiment
/// (`tests/fmt.rs` holds it to the canonical layout); each must be there, and none may
/// be left unfilled.
pub fn fixture(name: &str, paths: &[(&str, PathBuf)]) -> String {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cases/run")
        .join(format!("{name}.exp"));
    let mut text =
        std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    for (key, path) in paths {
        let placeholder = format!("${{{key}}}");
        assert!(
            text.contains(&placeholder),
            "{name}.exp has no {placeholder}"
        );
        text = text.replace(&placeholder, &path.display().to_string());
    }
    assert!(
        !text.contains("${"),
        "{name}.exp: a placeholder is left unfilled"
    );
    text
}

/// The reliability tests' long run (`dense_classifier`: `experiment survive`, 4 epochs, a
/// checkpoint every 10 steps, a second or two) over generated data, as `dir/survive.exp`.
pub fn survive_experiment(dir: &Path) -> PathBuf {
    let (tri, trl) = write_idx_set(dir, "train", 4096, 16, 4);
    let (tei, tel) = write_idx_set(dir, "test", 512, 16, 4);
    let text = fixture(
        "dense_classifier",
        &[
            ("train_images", tri),
            ("train_labels", trl),
            ("test_images", tei),
            ("test_labels", tel),
        ],
    );
    let path = dir.join("survive.exp");
    std::fs::write(&path, text).expect("write survive.exp");
    path
}

pub fn expr_bin() -> &'static str {
    env!("CARGO_BIN_EXE_expr")
}

/// Checks and runs experiment `text` in `dir/runs` with default options.
pub fn run_text(dir: &Path, text: &str) -> expr::run::RunResult {
    let file = expr::syntax::parse_file(text).expect("parses");
    let exp = expr::check::check(&file).unwrap_or_else(|e| panic!("checks: {e:?}"));
    let mut out = |_: &str| {};
    expr::run::run(
        &std::sync::Arc::new(exp),
        &dir.join("runs"),
        &expr::run::RunOptions::default(),
        &mut out,
    )
    .expect("runs")
}

/// The per-epoch history of metric `name`.
pub fn metric<'a>(r: &'a expr::run::RunResult, name: &str) -> &'a [f64] {
    let i = r
        .names
        .iter()
        .position(|n| n == name)
        .expect("metric exists");
    &r.history[i]
}

/// `expr ARGS` run in `dir`, without colour, to its end.
pub fn expr_in(dir: &Path, args: &[&str]) -> std::process::Output {
    expr_in_env(dir, args, &[])
}

/// [`expr_in`] with environment variables set (`EXPR_DATA`, `XDG_CACHE_HOME`, ...), or
/// removed where the value is `None`.
pub fn expr_in_env(
    dir: &Path,
    args: &[&str],
    env: &[(&str, Option<&std::ffi::OsStr>)],
) -> std::process::Output {
    let mut command = std::process::Command::new(expr_bin());
    command.args(args).current_dir(dir).env("NO_COLOR", "1");
    for (key, value) in env {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    command.output().expect("expr starts")
}

/// The names in `dir`, sorted; none if it does not exist.
pub fn entries(dir: &Path) -> Vec<String> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = read
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `n` CIFAR-10 records in the official binary layout (a label byte, then 1,024 red,
/// 1,024 green and 1,024 blue bytes, row by row). Class `c` tints the image with a
/// colour of its own, plus deterministic noise, so that a small model can learn it.
pub fn cifar10_records(n: usize, seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(n * 3073);
    let mut state = 0x2545_F491_4F6C_DD1D_u64 ^ seed;
    for i in 0..n {
        let class = i % 10;
        out.push(class as u8);
        for channel in 0..3 {
            let tint = [40, 120, 200][(class + channel) % 3] + 10 * (class / 3);
            for _ in 0..1024 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                out.push((tint + (state % 24) as usize) as u8);
            }
        }
    }
    out
}

/// `dir/cifar10/` with the five training batches of `per_batch` records each and a test
/// batch of `test` records; returns `dir/cifar10`.
pub fn write_cifar10(dir: &Path, per_batch: usize, test: usize) -> PathBuf {
    let folder = dir.join("cifar10");
    std::fs::create_dir_all(&folder).expect("cifar10 folder");
    for (i, name) in expr::data::cifar10::TRAIN_BATCHES.iter().enumerate() {
        std::fs::write(folder.join(name), cifar10_records(per_batch, i as u64)).expect("batch");
    }
    std::fs::write(folder.join("test_batch.bin"), cifar10_records(test, 99)).expect("batch");
    folder
}

/// A command's standard error as text.
pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `.npy` version 1.0 of a little-endian array: `descr` as NumPy spells it (`<f4`, `<i8`).
pub fn write_npy(path: &Path, descr: &str, shape: &[usize], data: &[u8]) {
    let dims: Vec<String> = shape.iter().map(ToString::to_string).collect();
    let shape = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // Magic, version and length take 10 bytes; the header ends in a newline at a multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend(u16::try_from(header.len()).unwrap().to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend(data);
    std::fs::write(path, bytes).unwrap();
}

/// Two recorded runs of the small experiment in `dir/runs` (learning rates 1e-2 and 1e-4,
/// two epochs), each drawing a grid of test images in `after { }`, for `expr report`. The
/// file starts with a comment full of HTML's special characters. Returns the run directories
/// in start order.
pub fn two_runs_with_grids(dir: &Path) -> Vec<PathBuf> {
    let text = format!(
        "// <b>\"tags\" & 'quotes'</b>\n{}",
        mlp_experiment(
            dir,
            false,
            "after {\n  grid(x, count = 4, on = test, to = \"samples.png\")\n}"
        )
    );
    std::fs::write(dir.join("small.exp"), text).expect("write the experiment");
    for extra in [&[][..], &["--set", "opt.lr=1e-4"][..]] {
        let mut args = vec!["run", "small.exp", "--epochs", "2", "--threads", "1"];
        args.extend_from_slice(extra);
        succeeded(&expr_in(dir, &args));
    }
    expr::record::find_all(&dir.join("runs"))
        .into_iter()
        .map(|(p, _)| p)
        .collect()
}

/// The standard output of a command that must have succeeded (else its stderr, as a panic).
pub fn succeeded(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
