//! Selecting and normalising examples in a pipeline: `take`, `skip`, `split` (a validation
//! split as `keras.utils.split_dataset` makes it) and `normalize(mean, std)` (as PyTorch's
//! `transforms.Normalize`).
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use std::path::Path;

use expr::data::{Batch, Gather};

/// The small MLP over generated data in `dir` (512 training examples of 8x8), with
/// `train`'s pipeline given by `pipeline`, validated on `test`, which here reads the
/// training files too, through `val_pipeline`.
fn experiment(dir: &Path, pipeline: &str, val_pipeline: &str) -> String {
    let text = common::mlp_experiment(dir, false, "");
    let source = format!(
        "idx(images = \"{}\", labels = \"{}\", shape = (8, 8), classes = 4)",
        dir.join("train-images-idx3-ubyte").display(),
        dir.join("train-labels-idx1-ubyte").display()
    );
    let start = text.find("data train = ").unwrap();
    let end = start + text[start..].find("\n\nmodel").unwrap();
    let data =
        format!("data train = {source} | {pipeline}\n\ndata test = {source} | {val_pipeline}");
    format!("{}{}{}", &text[..start], data, &text[end..])
}

fn checked(text: &str) -> expr::check::Experiment {
    let file = expr::syntax::parse_file(text).unwrap();
    expr::check::check(&file).unwrap_or_else(|e| panic!("{e:#?}\n{text}"))
}

fn check_errors(text: &str) -> Vec<expr::check::CheckError> {
    let file = expr::syntax::parse_file(text).unwrap();
    expr::check::check(&file).err().unwrap_or_default()
}

/// The rows of `examples`' images, as byte vectors, sorted.
fn rows(examples: &expr::data::Examples) -> Vec<Vec<u8>> {
    let mut rows: Vec<Vec<u8>> = examples
        .inputs
        .as_u8()
        .unwrap()
        .rows()
        .into_iter()
        .map(|r| r.to_vec())
        .collect();
    rows.sort();
    rows
}

#[test]
fn a_validation_split_keeps_disjoint_parts_that_cover_the_data() {
    for shuffle in ["false", "true"] {
        let dir = tempfile::tempdir().unwrap();
        let text = experiment(
            dir.path(),
            &format!("split(0.75, shuffle = {shuffle}) | scale(1 / 255) | batch(32)"),
            &format!("split(0.75, part = right, shuffle = {shuffle}) | scale(1 / 255) | batch(32)"),
        );
        let exp = checked(&text);
        let loaded = expr::run::examples::load(&exp).unwrap();
        let (train, val) = (&loaded[0], &loaded[1]);
        assert_eq!((train.len(), val.len()), (384, 128), "shuffle = {shuffle}");
        let all = expr::data::load_idx_pair(
            &dir.path().join("train-images-idx3-ubyte"),
            &dir.path().join("train-labels-idx1-ubyte"),
        )
        .unwrap();
        let mut both = rows(train);
        both.extend(rows(val));
        both.sort();
        assert_eq!(
            both,
            rows(&all),
            "the parts are the data, each example once"
        );
        // Without shuffling, the left part is the file's first 384 examples.
        if shuffle == "false" {
            assert_eq!(
                train.inputs.as_u8().unwrap().row(0),
                all.inputs.as_u8().unwrap().row(0)
            );
            assert_eq!(
                val.inputs.as_u8().unwrap().row(0),
                all.inputs.as_u8().unwrap().row(384)
            );
        } else {
            assert_ne!(
                train.inputs.as_u8().unwrap().slice(ndarray::s![..384, ..]),
                all.inputs.as_u8().unwrap().slice(ndarray::s![..384, ..])
            );
        }
    }
}

#[test]
fn take_and_skip_select_from_the_file_order() {
    let dir = tempfile::tempdir().unwrap();
    let text = experiment(
        dir.path(),
        "skip(100) | take(300) | scale(1 / 255) | batch(32)",
        "take(500) | skip(450) | batch(32)",
    );
    let exp = checked(&text);
    let loaded = expr::run::examples::load(&exp).unwrap();
    assert_eq!((loaded[0].len(), loaded[1].len()), (300, 50));
    let source = expr::data::load_idx_pair(
        &dir.path().join("train-images-idx3-ubyte"),
        &dir.path().join("train-labels-idx1-ubyte"),
    )
    .unwrap();
    assert_eq!(
        loaded[0].inputs.as_u8().unwrap().row(0),
        source.inputs.as_u8().unwrap().row(100)
    );
    assert_eq!(
        loaded[1].targets.classes().unwrap()[0],
        source.targets.classes().unwrap()[450]
    );
}

#[test]
fn normalize_matches_pytorch_s_normalize() {
    // torchvision's ToTensor() then Normalize((0.1307,), (0.3081,)) on the bytes 0, 1, 128,
    // 255: `x / 255`, `- mean`, `/ std`, each in float32 (computed with NumPy's float32,
    // which rounds each operation as PyTorch's CPU kernels do).
    let pytorch = [-0.424_212_96_f32, -0.411_484_72, 1.205_001_1, 2.821_486_7];
    let dir = tempfile::tempdir().unwrap();
    let text = experiment(
        dir.path(),
        "scale(1 / 255) | normalize(mean = 0.1307, std = 0.3081) | batch(32)",
        "batch(32)",
    );
    let exp = checked(&text);
    let data = &exp.datasets[0];
    let examples = expr::data::Examples {
        inputs: expr::data::Inputs::U8(
            ndarray::Array2::from_shape_vec((1, 4), vec![0u8, 1, 128, 255]).unwrap(),
        ),
        element_shape: vec![4],
        targets: expr::data::Targets::Classes(ndarray::Array1::from_vec(vec![0])),
        source: "bytes".into(),
        encoding: expr::data::Encoding::default(),
    };
    let batch = Batch::gather(&examples, &[0], &Gather::plain(&data.scaling, &[4])).unwrap();
    for (ours, theirs) in batch.x.iter().zip(pytorch) {
        assert!((ours - theirs).abs() < 2e-6, "{:?} vs {pytorch:?}", batch.x);
    }
    // Without normalize, the values are exactly the scaled bytes, as before.
    let plain = &exp.datasets[1];
    let batch = Batch::gather(&examples, &[0], &Gather::plain(&plain.scaling, &[4])).unwrap();
    assert_eq!(batch.x, [0.0, 1.0, 128.0, 255.0]);
}

#[test]
fn per_channel_normalize_matches_pytorch_s_normalize() {
    // torchvision's ToTensor() then Normalize((0.4914, 0.4822, 0.4465), (0.2470, 0.2435,
    // 0.2616)) on a (3, 2, 2) image of fixed bytes, each operation in float32
    // (bench/reference/normalize_channels.py, which checks PyTorch against NumPy's float32).
    let pytorch = [
        -1.989_473_7_f32,
        -1.973_596_9,
        0.042_756_32,
        2.059_109_4,
        -1.980_287_6,
        -0.949_567_14,
        1.240_713_6,
        2.126_488_7,
        -1.661_832_2,
        -1.451_962_4,
        -0.222_724_41,
        2.040_872_3,
    ];
    let bytes = vec![0u8, 1, 128, 255, 0, 64, 200, 255, 3, 17, 99, 250];
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/cifar10_cnn.exp"),
    )
    .unwrap();
    let exp = checked(&text);
    let data = &exp.datasets[0];
    assert_eq!(data.scaling.scale.len(), 3, "one scaling per channel");
    let examples = expr::data::Examples {
        inputs: expr::data::Inputs::U8(ndarray::Array2::from_shape_vec((1, 12), bytes).unwrap()),
        element_shape: vec![3, 2, 2],
        targets: expr::data::Targets::Classes(ndarray::Array1::from_vec(vec![0])),
        source: "bytes".into(),
        encoding: expr::data::Encoding::default(),
    };
    let batch = Batch::gather(&examples, &[0], &Gather::plain(&data.scaling, &[3, 2, 2])).unwrap();
    for (ours, theirs) in batch.x.iter().zip(pytorch) {
        assert!((ours - theirs).abs() < 2e-6, "{:?} vs {pytorch:?}", batch.x);
    }
    // A single number still scales every channel alike, and a tuple of another count than
    // the channels is a diagnostic.
    let one = text.replace(
        "mean = (0.4914, 0.4822, 0.4465), std = (0.2470, 0.2435, 0.2616)",
        "mean = 0.5, std = 0.25",
    );
    assert_eq!(checked(&one).datasets[0].scaling.scale.len(), 1);
    let two = text.replace("mean = (0.4914, 0.4822, 0.4465)", "mean = (0.49, 0.48)");
    let errors = check_errors(&two);
    assert!(
        errors
            .iter()
            .any(|e| e.title.contains("2 numbers for data `train`'s 3 channels")),
        "{errors:#?}"
    );
}

#[test]
fn a_run_with_a_validation_split_trains_and_validates() {
    let dir = tempfile::tempdir().unwrap();
    let text = experiment(
        dir.path(),
        "split(0.8, shuffle = true) | scale(1 / 255) | normalize(mean = 0.3, std = 0.3) | shuffle(buffer = 100) | batch(32)",
        "split(0.8, part = right, shuffle = true) | scale(1 / 255) | normalize(mean = 0.3, std = 0.3) | batch(32)",
    );
    let r = common::run_text(dir.path(), &text);
    let val = common::metric(&r, "test_accuracy");
    assert_eq!(val.len(), 3);
    assert!(val[2] > 0.5, "the bands are learnable: {val:?}");
    // Deterministic: the same experiment gives the same numbers, bit for bit.
    let again = common::run_text(dir.path(), &text);
    assert_eq!(r.history, again.history);
}

#[test]
fn selecting_after_shuffle_is_a_diagnostic() {
    let dir = tempfile::tempdir().unwrap();
    let text = experiment(
        dir.path(),
        "shuffle(buffer = 100) | take(100) | batch(32)",
        "batch(32)",
    );
    let errors = check_errors(&text);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].title, "`take` comes after `shuffle`");
    assert_eq!(errors[0].related.as_ref().unwrap().1, "shuffled here");
}

#[test]
fn a_split_of_nothing_or_of_everything_and_a_zero_std_are_diagnostics() {
    let dir = tempfile::tempdir().unwrap();
    for (pipeline, title) in [
        (
            "split(0) | batch(32)",
            "`split(0)` leaves no example on the left",
        ),
        ("split(1) | batch(32)", "`fraction` must be"),
        (
            "normalize(mean = 0.5, std = 0) | batch(32)",
            "`std` must be",
        ),
    ] {
        let text = experiment(dir.path(), pipeline, "batch(32)");
        let errors = check_errors(&text);
        assert_eq!(errors.len(), 1, "{pipeline}: {errors:#?}");
        assert!(
            errors[0].title.starts_with(title),
            "{pipeline}: {errors:#?}"
        );
    }
}

#[test]
fn a_selection_that_leaves_nothing_stops_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let text = experiment(dir.path(), "skip(600) | batch(32)", "batch(32)");
    let exp = checked(&text);
    let Err(e) = expr::run::examples::load(&exp) else {
        panic!("skip(600) of 512 examples loaded");
    };
    let shown = e.to_string();
    assert!(
        shown.contains("data `train` does not match its declaration: no example of the 512"),
        "{shown}"
    );
}
