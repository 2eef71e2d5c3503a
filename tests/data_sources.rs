//! The `npy`, `npz` and `images` sources through the language: `expr check` learns the
//! element shape and classes from the files (and refuses files that do not fit), a run
//! trains on them, and the shipped `experiments/digits_npz.exp` learns its digits.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use std::path::Path;
use std::sync::Arc;

/// A training experiment over `source` (with `| batch(4)` after it), an MLP of `outputs`
/// units and `loss`.
fn experiment(source: &str, outputs: usize, loss: &str) -> String {
    format!(
        "experiment t {{ seed = 1 }}
data train = {source} | batch(4)
model m {{
  flatten()
  dense(units = {outputs})
}}
loss l = {loss}
optimizer o = sgd()
train {{ model = m  data = train  loss = l  optimizer = o  epochs = 1 }}
"
    )
}

fn check_in(dir: &Path, text: &str) -> (i32, String) {
    std::fs::write(dir.join("t.exp"), text).unwrap();
    let out = common::expr_in(dir, &["check", "t.exp"]);
    (out.status.code().unwrap(), common::stderr(&out))
}

fn f32s(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

#[test]
fn npy_files_give_the_shape_and_classes_and_train() {
    let dir = tempfile::tempdir().unwrap();
    // 8 examples of 2x3 bytes, classes 0..=2.
    common::write_npy(&dir.path().join("x.npy"), "|u1", &[8, 2, 3], &[7u8; 48]);
    let y: Vec<u8> = (0..8i64).flat_map(|i| (i % 3).to_le_bytes()).collect();
    common::write_npy(&dir.path().join("y.npy"), "<i8", &[8], &y);
    let source = "npy(x = \"x.npy\", y = \"y.npy\")";
    let loss = "sparse_categorical_crossentropy(from_logits = true)";
    let (code, err) = check_in(dir.path(), &experiment(source, 3, loss));
    assert_eq!(code, 0, "{err}");
    // The model's width is checked against the classes the targets hold.
    let (code, err) = check_in(dir.path(), &experiment(source, 10, loss));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("3 classes"), "{err}");
    let out = common::expr_in(dir.path(), &["run", "--no-progress", "t.exp"]);
    assert_eq!(out.status.code(), Some(2), "the 10-unit file still fails");
    std::fs::write(dir.path().join("t.exp"), experiment(source, 3, loss)).unwrap();
    let out = common::expr_in(dir.path(), &["run", "--no-progress", "t.exp"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
}

#[test]
fn npy_regression_targets_are_values() {
    let dir = tempfile::tempdir().unwrap();
    let x: Vec<f32> = (0..16).map(|i| i as f32 / 16.0).collect();
    common::write_npy(&dir.path().join("x.npy"), "<f4", &[8, 2], &f32s(&x));
    let y: Vec<f32> = (0..8).map(|i| 2.0 * i as f32).collect();
    common::write_npy(&dir.path().join("y.npy"), "<f4", &[8, 1], &f32s(&y));
    let source = "npy(x = \"x.npy\", y = \"y.npy\", task = regression)";
    let text = experiment(source, 1, "mse()");
    let (code, err) = check_in(dir.path(), &text);
    assert_eq!(code, 0, "{err}");
    let file = expr::syntax::parse_file(&text).unwrap();
    let mut exp = expr::frontend::check_at(&file, dir.path()).unwrap();
    exp.resolve_paths(dir.path());
    let examples = expr::run::examples::load(&exp).unwrap();
    assert_eq!(
        examples[0].targets,
        expr::data::Targets::Values(ndarray::Array2::from_shape_vec((8, 1), y).unwrap())
    );
}

#[test]
fn arrays_that_do_not_fit_are_diagnostics() {
    let dir = tempfile::tempdir().unwrap();
    common::write_npy(&dir.path().join("x.npy"), "|u1", &[8, 4], &[1u8; 32]);
    common::write_npy(&dir.path().join("y5.npy"), "|u1", &[5], &[0u8; 5]);
    common::write_npy(&dir.path().join("y3d.npy"), "|u1", &[8, 2, 2], &[0u8; 32]);
    common::write_npy(&dir.path().join("yfrac.npy"), "<f4", &[8], &f32s(&[0.5; 8]));
    let loss = "sparse_categorical_crossentropy(from_logits = true)";
    let cases = [
        ("y5.npy", "hold 8 examples"),
        ("y3d.npy", "or one per position"),
        ("yfrac.npy", "yfrac.npy"),
        ("missing.npy", "missing.npy"),
    ];
    for (y, want) in cases {
        let source = format!("npy(x = \"x.npy\", y = \"{y}\")");
        let (code, err) = check_in(dir.path(), &experiment(&source, 2, loss));
        assert_eq!(code, 2, "{y}: {err}");
        assert!(err.contains(want) && err.contains("t.exp:2:"), "{y}: {err}");
    }
}

#[test]
fn targets_of_a_class_per_position_are_tokens_scored_at_every_position() {
    let dir = tempfile::tempdir().unwrap();
    // 8 sequences of 5 token ids; the targets a class (0..=3) per position.
    let x: Vec<u8> = (0..40u8).map(|i| 1 + i % 7).collect();
    common::write_npy(&dir.path().join("x.npy"), "|u1", &[8, 5], &x);
    let y: Vec<u8> = (0..40u8).map(|i| i % 4).collect();
    common::write_npy(&dir.path().join("y.npy"), "|u1", &[8, 5], &y);
    let text = |classes: usize| {
        format!(
            "experiment t {{ seed = 1 }}
data train = npy(x = \"x.npy\", y = \"y.npy\") | batch(4)
model m {{
  embedding(input_dim = 8, output_dim = 6)
  lstm(units = 6, return_sequences = true)
  dense(units = {classes})
}}
loss l = sparse_categorical_crossentropy(from_logits = true)
optimizer o = sgd()
train {{ model = m  data = train  loss = l  optimizer = o  epochs = 1 }}
"
        )
    };
    let (code, err) = check_in(dir.path(), &text(4));
    assert_eq!(code, 0, "{err}");
    // The model's scores at each position are checked against the targets' classes.
    let (code, err) = check_in(dir.path(), &text(3));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("a class of 4 at each of 5 positions"), "{err}");
    let file = expr::syntax::parse_file(&text(4)).unwrap();
    let mut exp = expr::frontend::check_at(&file, dir.path()).unwrap();
    exp.resolve_paths(dir.path());
    let examples = expr::run::examples::load(&exp).unwrap();
    let want: Vec<u32> = y.iter().map(|&c| u32::from(c)).collect();
    assert_eq!(
        examples[0].targets,
        expr::data::Targets::Tokens(ndarray::Array2::from_shape_vec((8, 5), want).unwrap())
    );
    std::fs::write(dir.path().join("t.exp"), text(4)).unwrap();
    let out = common::expr_in(dir.path(), &["run", "--no-progress", "t.exp"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
}

/// A run of `experiment` in a temporary folder, its lines left unprinted.
fn run_quietly(experiment: expr::check::plan::Experiment) -> expr::run::RunResult {
    let dir = tempfile::tempdir().unwrap();
    let mut out = |_: &str| {};
    expr::run::run(
        &Arc::new(experiment),
        &dir.path().join("runs"),
        &expr::run::RunOptions::default(),
        &mut out,
    )
    .unwrap()
}

#[test]
fn the_seq2seq_experiment_learns_to_reverse_digits() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/seq2seq_reverse.exp");
    let epochs = expr::overrides::Override::parse("train.epochs=2").unwrap();
    let loaded = expr::overrides::load_file(&path, &[epochs]).unwrap_or_else(|_| panic!("loads"));
    let examples = expr::run::examples::load(&loaded.experiment).unwrap();
    assert_eq!(examples[0].element_shape, [17]);
    let result = run_quietly(loaded.experiment);
    // 87% of the test sequences come out right after 2 epochs; a decoder that does not
    // get the encoder's state (or an encoder that gets no gradient through it) stays
    // under 1%.
    let sequences = *common::metric(&result, "test_sequences").last().unwrap();
    println!("whole test sequences right {sequences:.4}");
    assert!(sequences > 0.5, "{sequences}");
}

#[test]
fn the_digits_npz_experiment_learns_its_digits() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/digits_npz.exp");
    let loaded = expr::overrides::load_file(&path, &[]).unwrap_or_else(|_| panic!("loads"));
    let examples = expr::run::examples::load(&loaded.experiment).unwrap();
    assert_eq!(examples[0].element_shape, [8, 8]);
    assert_eq!((examples[0].len(), examples[1].len()), (1438, 359));
    let result = run_quietly(loaded.experiment);
    let accuracy = *common::metric(&result, "test_accuracy").last().unwrap();
    println!("held-out accuracy {accuracy:.4}");
    assert!(accuracy > 0.93, "{accuracy}");
}

/// `dir/<class>/<i>.png`: `count` 4x4 gray images per class, class `c` of value `25 * c`.
fn png_folder(dir: &Path, classes: &[&str], count: usize) {
    for (c, class) in classes.iter().enumerate() {
        std::fs::create_dir_all(dir.join(class)).unwrap();
        for i in 0..count {
            let value = u8::try_from(25 * c).unwrap();
            image::GrayImage::from_pixel(4, 4, image::Luma([value]))
                .save(dir.join(class).join(format!("{i}.png")))
                .unwrap();
        }
    }
}

#[test]
fn an_image_folder_gives_channels_first_images_and_its_classes() {
    let dir = tempfile::tempdir().unwrap();
    png_folder(&dir.path().join("pics"), &["cat", "dog", "eel"], 4);
    let loss = "sparse_categorical_crossentropy(from_logits = true)";
    let source = "images(\"pics\", size = (4, 4), color = gray)";
    let (code, err) = check_in(dir.path(), &experiment(source, 3, loss));
    assert_eq!(code, 0, "{err}");
    let file = expr::syntax::parse_file(&experiment(source, 3, loss)).unwrap();
    let mut exp = expr::frontend::check_at(&file, dir.path()).unwrap();
    assert_eq!(exp.datasets[0].element_shape, [1, 4, 4]);
    exp.resolve_paths(dir.path());
    let examples = expr::run::examples::load(&exp).unwrap();
    let classes = examples[0].targets.classes().unwrap().to_vec();
    assert_eq!(classes, [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
    assert_eq!(examples[0].inputs.as_u8().unwrap()[[4, 0]], 25);
    // RGB: three channels.
    let rgb = "images(\"pics\", size = (2, 2))";
    let file = expr::syntax::parse_file(&experiment(rgb, 3, loss)).unwrap();
    let exp = expr::frontend::check_at(&file, dir.path()).unwrap();
    assert_eq!(exp.datasets[0].element_shape, [3, 2, 2]);

    // An empty class folder, a missing folder: diagnostics naming them.
    std::fs::create_dir_all(dir.path().join("pics/fox")).unwrap();
    let (code, err) = check_in(dir.path(), &experiment(source, 4, loss));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("fox"), "{err}");
    let (code, err) = check_in(
        dir.path(),
        &experiment("images(\"nowhere\", size = (4, 4))", 4, loss),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("nowhere") && err.contains("t.exp:2:"), "{err}");
}

#[test]
fn a_bad_image_stops_the_run_or_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    png_folder(&dir.path().join("pics"), &["a", "b"], 3);
    std::fs::write(dir.path().join("pics/b/broken.png"), b"not a png").unwrap();
    let loss = "sparse_categorical_crossentropy(from_logits = true)";
    std::fs::write(
        dir.path().join("t.exp"),
        experiment("images(\"pics\", size = (4, 4), color = gray)", 2, loss),
    )
    .unwrap();
    let out = common::expr_in(dir.path(), &["run", "--no-progress", "t.exp"]);
    let err = common::stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("broken.png"), "{err}");
    assert!(!dir.path().join("runs").exists(), "nothing is created");
    std::fs::write(
        dir.path().join("t.exp"),
        experiment(
            "images(\"pics\", size = (4, 4), color = gray, on_error = skip)",
            2,
            loss,
        ),
    )
    .unwrap();
    let out = common::expr_in(dir.path(), &["run", "--no-progress", "t.exp"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
}

#[test]
fn the_mnist_folder_experiment_checks_and_runs_on_a_folder_of_pngs() {
    let dir = tempfile::tempdir().unwrap();
    let digits: Vec<String> = (0..10).map(|d| d.to_string()).collect();
    let names: Vec<&str> = digits.iter().map(String::as_str).collect();
    for split in ["train", "test"] {
        png_folder(&dir.path().join("mnist_png").join(split), &names, 2);
    }
    // 4x4 images read at the experiment's 28x28: resized as they are read.
    let exp = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/mnist_folder.exp");
    std::fs::copy(exp, dir.path().join("mnist_folder.exp")).unwrap();
    let out = common::expr_in(dir.path(), &["check", "mnist_folder.exp"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let out = common::expr_in(
        dir.path(),
        &["run", "--no-progress", "--epochs", "1", "mnist_folder.exp"],
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
}
