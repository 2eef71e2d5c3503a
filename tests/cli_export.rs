//! `expr export RUN_DIR --format onnx`: a trained run's model as an ONNX file that tract
//! runs with the outputs `expr predict` prints, and the command's misuses (exit 2).
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use std::path::{Path, PathBuf};

use tract_onnx::prelude::*;

/// The small MLP trained for one epoch, saving `net.safetensors`: its run directory.
fn trained(dir: &Path) -> PathBuf {
    common::train_small_mlp(dir, &[]).1
}

/// `expr predict`'s raw outputs (`--probabilities none`) on the test set, one row per
/// example, in the data's order.
fn predicted(dir: &Path, run: &Path) -> Vec<Vec<f32>> {
    let out = common::expr_in(
        dir,
        &[
            "predict",
            "small.exp",
            "--model",
            run.to_str().unwrap(),
            "--probabilities",
            "none",
        ],
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let first = header.iter().position(|h| *h == "p0").unwrap();
    lines
        .map(|l| {
            l.split(',')
                .skip(first)
                .map(|v| v.parse().unwrap())
                .collect()
        })
        .collect()
}

#[test]
fn an_exported_run_runs_in_tract_as_expr_predicts() {
    let dir = tempfile::tempdir().unwrap();
    let run = trained(dir.path());
    let out = common::expr_in(
        dir.path(),
        &["export", run.to_str().unwrap(), "--format", "onnx"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let file = run.join("net.onnx");
    let bytes = std::fs::read(&file).unwrap();
    // The test images, read back from the idx file the fixture wrote (8x8 after a 16-byte
    // header), scaled to [0, 1] as the experiment's pipeline does.
    let want = predicted(dir.path(), &run);
    let images = std::fs::read(dir.path().join("test-images-idx3-ubyte")).unwrap();
    let n = want.len();
    let x: Vec<f32> = images[16..16 + n * 64]
        .iter()
        .map(|&p| f32::from(p) / 255.0)
        .collect();
    let model = tract_onnx::onnx()
        .model_for_read(&mut &bytes[..])
        .unwrap()
        .with_input_fact(0, f32::fact([n, 8, 8]).into())
        .unwrap()
        .into_optimized()
        .unwrap()
        .into_runnable()
        .unwrap();
    let input: Tensor = tract_ndarray::Array3::from_shape_vec((n, 8, 8), x)
        .unwrap()
        .into();
    let got = model.run(tvec!(input.into())).unwrap();
    let got = got[0].to_plain_array_view::<f32>().unwrap();
    for (i, row) in want.iter().enumerate() {
        for (k, w) in row.iter().enumerate() {
            let g = got[[i, k]];
            // The CSV has six decimals.
            assert!(
                (g - w).abs() < 2e-6,
                "example {i}, output {k}: tract {g}, expr {w}"
            );
        }
    }
}

#[test]
fn misuse_is_an_error_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let run = trained(dir.path());
    let run_s = run.to_str().unwrap();
    let fails = |args: &[&str], says: &str| {
        let out = common::expr_in(dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let err = common::stderr(&out);
        assert!(err.contains(says), "{args:?}: {err}");
    };
    fails(
        &["export", run_s, "--format", "tflite"],
        "invalid value 'tflite'",
    );
    fails(&["export", run_s], "--format");
    fails(
        &["export", run_s, "--model", "nope", "--format", "onnx"],
        "no model `nope`",
    );
    // A directory that is not a run.
    fails(&["export", ".", "--format", "onnx"], "run.yaml");
    // A run's record without any model file or checkpoint.
    let bare = dir.path().join("bare");
    std::fs::create_dir(&bare).unwrap();
    std::fs::copy(run.join("run.yaml"), bare.join("run.yaml")).unwrap();
    fails(
        &["export", bare.to_str().unwrap(), "--format", "onnx"],
        "has no model file for `net`",
    );
    assert!(!bare.join("net.onnx").exists());
    let help =
        String::from_utf8(common::expr_in(dir.path(), &["export", "--help"]).stdout).unwrap();
    assert!(help.contains("Examples:\n  expr export runs/"), "{help}");
}
