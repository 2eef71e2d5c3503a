//! A conv + batch norm + layer norm network trained on MNIST for a few steps through the
//! binary: it learns, its model file holds PyTorch's batch norm state, and a resumed run
//! (running statistics from the checkpoint) ends bit-identical to an uninterrupted one.
//! Needs MNIST (`EXPR_DATA=../shared/data`), as the other MNIST tests.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

/// `bench/reference/batchnorm.exp`, which `bench/reference/torch_loads_batchnorm.py` loads
/// into PyTorch: 20 steps of 64 examples an epoch.
const EXPERIMENT: &str = "experiment bn {
  seed = 1
}

data train = mnist(split = \"train\") | take(1280) | scale(1 / 255) | channel_axis() | batch(64)
data test = mnist(split = \"test\") | take(640) | scale(1 / 255) | channel_axis() | batch(64)

model net {
  conv2d(filters = 8, kernel = 3, use_bias = false)
  batchnorm()
  relu()
  maxpool2d(pool = 2)
  flatten()
  dense(units = 32)
  layernorm()
  relu()
  batchnorm(momentum = 0.9)
  dense(units = 10)
}

loss xent = sparse_categorical_crossentropy(from_logits = true)

optimizer opt = adam(lr = 1e-3)

train {
  model = net
  data = train
  validate = test
  loss = xent
  optimizer = opt
  epochs = 2
}

metrics {
  train_loss = mean(loss) on train
  test_accuracy = sparse_categorical_accuracy(y, logits) on test
}

after {
  save(net, to = \"net.safetensors\")
}
";

fn run(dir: &std::path::Path, args: &[&str], runs: &str) {
    let mut all = vec!["run", "--no-progress", "--runs-dir", runs];
    all.extend_from_slice(args);
    let out = common::expr_in(dir, &all);
    assert!(out.status.success(), "{}", common::stderr(&out));
}

#[test]
fn a_batch_norm_network_learns_mnist_and_saves_pytorch_state() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bn.exp"), EXPERIMENT).unwrap();
    run(dir.path(), &["bn.exp"], "runs");
    let (run_dir, record) = expr::record::find_all(&dir.path().join("runs")).remove(0);
    let record = record.unwrap();
    let (loss, accuracy) = (
        &record.history["train_loss"],
        &record.history["test_accuracy"],
    );
    assert!(loss[1] < loss[0], "the loss falls: {loss:?}");
    // About 70% with the running statistics 40 steps in (PyTorch's eval mode on the saved
    // model gives the same figure: bench/reference/torch_loads_batchnorm.py).
    assert!(accuracy[1] > 0.5, "{accuracy:?}");

    let (tensors, _) = expr::output::load_tensors(&run_dir.join("net.safetensors")).unwrap();
    let shape = |name: &str| {
        let t = tensors.iter().find(|t| t.name == name);
        t.unwrap_or_else(|| panic!("{name} is saved")).shape.clone()
    };
    for (bn, c) in [("batch_normalization", 8), ("batch_normalization_1", 32)] {
        for s in ["weight", "bias", "running_mean", "running_var"] {
            assert_eq!(shape(&format!("{bn}.{s}")), [c], "{bn}.{s}");
        }
        let count = tensors
            .iter()
            .find(|t| t.name == format!("{bn}.num_batches_tracked"));
        let count = count.unwrap();
        assert!(
            count.shape.is_empty(),
            "a scalar, as in PyTorch's state_dict"
        );
        assert_eq!(count.data, [40.0], "two epochs of 20 batches");
    }
    assert_eq!(shape("layer_normalization.weight"), [32]);
}

#[test]
fn a_resumed_batch_norm_run_ends_as_an_uninterrupted_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bn.exp"), EXPERIMENT).unwrap();
    run(dir.path(), &["bn.exp"], "whole");
    run(dir.path(), &["--epochs", "1", "bn.exp"], "parts");
    let parts = expr::record::find_all(&dir.path().join("parts"));
    let parts_dir = parts[0].0.to_str().unwrap().to_string();
    run(
        dir.path(),
        &["--resume", &parts_dir, "--epochs", "2"],
        "parts",
    );
    let whole = expr::record::find_all(&dir.path().join("whole"))
        .remove(0)
        .1
        .unwrap();
    let parts = expr::record::find_all(&dir.path().join("parts"))
        .remove(0)
        .1
        .unwrap();
    assert_eq!(whole.history, parts.history);
    assert_eq!(whole.weights_sha256, parts.weights_sha256);
}
