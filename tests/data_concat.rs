//! `concat(a, b, ...)`: the examples of other data sets, all of each in turn (tf.data's
//! `concatenate`), as each part's pipeline left them.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use std::path::Path;

use expr::data::{Batch, Gather};

/// The small MLP over generated data in `dir`, its `train` data given by `data` (which may
/// declare more data sets), over the training files `${images}` and `${labels}`.
fn experiment(dir: &Path, data: &str) -> String {
    let text = common::mlp_experiment(dir, false, "");
    let start = text.find("data train = ").unwrap();
    let end = start + text[start..].find("\n\ndata test").unwrap();
    let data = data
        .replace(
            "${images}",
            &dir.join("train-images-idx3-ubyte").display().to_string(),
        )
        .replace(
            "${labels}",
            &dir.join("train-labels-idx1-ubyte").display().to_string(),
        );
    format!("{}{}{}", &text[..start], data, &text[end..])
}

const SOURCE: &str =
    "idx(images = \"${images}\", labels = \"${labels}\", shape = (8, 8), classes = 4)";

fn checked(text: &str) -> expr::check::Experiment {
    let file = expr::syntax::parse_file(text).unwrap();
    expr::check::check(&file).unwrap_or_else(|e| panic!("{e:#?}\n{text}"))
}

fn index(exp: &expr::check::Experiment, name: &str) -> usize {
    exp.datasets.iter().position(|d| d.name == name).unwrap()
}

#[test]
fn the_first_100_then_the_rest_are_the_data_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    // The concatenation is declared before its parts: they are read first all the same.
    let text = experiment(
        dir.path(),
        &format!(
            "data train = concat(head, tail) | scale(1 / 255) | batch(32)\n\n\
             data head = {SOURCE} | take(100)\n\n\
             data tail = {SOURCE} | skip(100)\n\n\
             data whole = {SOURCE} | scale(1 / 255) | batch(32)"
        ),
    );
    let exp = checked(&text);
    let loaded = expr::run::examples::load(&exp).unwrap();
    let (train, whole) = (&loaded[index(&exp, "train")], &loaded[index(&exp, "whole")]);
    assert_eq!((train.len(), whole.len()), (512, 512));
    // Bytes stay bytes, in the file's order: all of `head`, then all of `tail`.
    assert_eq!(train.inputs.as_u8().unwrap(), whole.inputs.as_u8().unwrap());
    assert_eq!(train.targets, whole.targets);
    let (t, w) = (
        &exp.datasets[index(&exp, "train")],
        &exp.datasets[index(&exp, "whole")],
    );
    assert_eq!(
        (t.element_shape.clone(), t.labels),
        (w.element_shape.clone(), w.labels)
    );
    let all: Vec<usize> = (0..512).collect();
    let gather = |e: &expr::data::Examples, d: &expr::check::plan::DataSet| {
        Batch::gather(e, &all, &Gather::plain(&d.scaling, &d.element_shape)).unwrap()
    };
    assert_eq!(gather(train, t).x, gather(whole, w).x);
    // The run record lists the parts' files, under the parts' names.
    let files = expr::record::provenance::data_files(&exp);
    let named: Vec<&str> = files.iter().map(|f| f.data.as_str()).collect();
    assert!(named.contains(&"head"), "{named:?}");
}

#[test]
fn parts_scaled_differently_keep_their_own_scaling() {
    let dir = tempfile::tempdir().unwrap();
    let text = experiment(
        dir.path(),
        &format!(
            "data train = concat(head, tail) | normalize(mean = 1, std = 2) | batch(32)\n\n\
             data head = {SOURCE} | take(3) | scale(1 / 255)\n\n\
             data tail = {SOURCE} | skip(509) | normalize(mean = 128, std = 64)"
        ),
    );
    let exp = checked(&text);
    let loaded = expr::run::examples::load(&exp).unwrap();
    let train = &loaded[index(&exp, "train")];
    assert_eq!(train.len(), 6);
    let d = &exp.datasets[index(&exp, "train")];
    let x = Batch::gather(train, &[0, 5], &Gather::plain(&d.scaling, &[64]))
        .unwrap()
        .x;
    let bytes = expr::data::load_idx_pair(
        &dir.path().join("train-images-idx3-ubyte"),
        &dir.path().join("train-labels-idx1-ubyte"),
    )
    .unwrap();
    let b = bytes.inputs.as_u8().unwrap();
    // Each part as its own pipeline scales it (in f32), then the concatenation's normalize.
    for c in 0..64 {
        let head = f32::from(b[[0, c]]) * (1.0 / 255.0);
        let tail = f32::from(b[[511, c]]) * (1.0 / 64.0) + (-128.0 / 64.0);
        assert!((x[c] - (head - 1.0) / 2.0).abs() < 1e-6, "{c}");
        assert!((x[64 + c] - (tail - 1.0) / 2.0).abs() < 1e-6, "{c}");
    }
}

#[test]
fn a_run_on_train_plus_test_trains() {
    let dir = tempfile::tempdir().unwrap();
    let text = experiment(
        dir.path(),
        &format!(
            "data train = concat(fit, held_out) | scale(1 / 255) | shuffle(buffer = 100) | batch(32)\n\n\
             data fit = {SOURCE} | split(0.5)\n\n\
             data held_out = {SOURCE} | split(0.5, part = right)"
        ),
    );
    let r = common::run_text(dir.path(), &text);
    let acc = common::metric(&r, "train_accuracy");
    assert_eq!(acc.len(), 3);
    assert!(acc[2] > 0.5, "the bands are learnable: {acc:?}");
    assert_eq!(r.history, common::run_text(dir.path(), &text).history);
}
