//! The layers that grow images (`conv2d_transpose`, `reshape`, `upsample2d`, `zeropad2d`) in a
//! small DCGAN without batch norm on generated data (`tests/cases/run/dcgan_small.exp`):
//! it trains, both models move, runs are bit-identical, and the model file holds PyTorch's
//! `ConvTranspose2d` layout.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use std::path::Path;
use std::sync::Arc;

fn experiment(dir: &Path) -> String {
    let (images, labels) = common::write_idx_set(dir, "train", 96, 28, 10);
    common::fixture(
        "dcgan_small",
        &[("train_images", images), ("train_labels", labels)],
    )
}

#[test]
fn a_small_dcgan_trains_both_models_deterministically() {
    let dir = tempfile::tempdir().unwrap();
    let text = experiment(dir.path());
    let exp = Arc::new(expr::check::check(&expr::syntax::parse_file(&text).unwrap()).unwrap());
    let initial = expr::lower::Engine::new(exp.clone()).parameters();
    let a = common::run_text(dir.path(), &text);
    for name in ["discriminator_loss", "generator_loss"] {
        let m = common::metric(&a, name);
        assert!(
            m.len() == 2 && m.iter().all(|v| v.is_finite()),
            "{name}: {m:?}"
        );
    }
    for (m, model) in exp.models.iter().enumerate() {
        for (p, (now, before)) in a.parameters[m].iter().zip(&initial[m]).enumerate() {
            assert_ne!(now, before, "{} parameter {p} moved", model.name);
        }
    }
    let b = common::run_text(dir.path(), &text);
    assert_eq!(a.history, b.history);
    assert_eq!(a.parameters, b.parameters);
}

#[test]
fn the_generator_file_holds_pytorch_layouts() {
    let dir = tempfile::tempdir().unwrap();
    let r = common::run_text(dir.path(), &experiment(dir.path()));
    let bytes = std::fs::read(r.dir.join("generator.safetensors")).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let shape = |name: &str| file.tensor(name).unwrap().shape().to_vec();
    // nn.Linear (out, in); nn.ConvTranspose2d (in, out, kh, kw).
    assert_eq!(shape("dense.weight"), [392, 16]);
    assert_eq!(shape("conv2d_transpose.weight"), [8, 8, 5, 5]);
    assert_eq!(shape("conv2d_transpose_1.weight"), [8, 1, 5, 5]);
    assert_eq!(shape("conv2d_transpose_1.bias"), [1]);
    assert!(
        file.tensor("conv2d_transpose.bias").is_err(),
        "declared without a bias"
    );
}
