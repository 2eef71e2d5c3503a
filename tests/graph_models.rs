//! Graph models end to end on MNIST: a residual MLP with two heads (a block, two outputs
//! unpacked) learns, and runs are bit-for-bit deterministic.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

#[test]
fn a_residual_model_with_two_heads_learns_mnist_deterministically() {
    let dir = tempfile::tempdir().unwrap();
    let text = common::fixture("graph_mnist", &[]);
    let a = common::run_text(dir.path(), &text);
    let loss = common::metric(&a, "train_loss");
    assert_eq!(loss.len(), 3);
    assert!(
        loss[2] < loss[1] && loss[1] < loss[0],
        "loss falls: {loss:?}"
    );
    let acc = common::metric(&a, "test_accuracy");
    assert!(acc[2] > 0.8, "test accuracy after 3 epochs: {acc:?}");
    // The second head trains too: its gradient flows through the shared layers.
    let aux = common::metric(&a, "aux_accuracy");
    assert!(aux[2] > 0.7, "second head: {aux:?}");
    let b = common::run_text(dir.path(), &text);
    assert_eq!(a.history, b.history);
    assert_eq!(a.parameters, b.parameters);
}
