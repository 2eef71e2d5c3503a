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

/// A decoder block that cross-attends reads two values: the piped one and `memory`.
const DECODER_BLOCK: &str = "
block decoder(heads, causal = false) (x, memory) {
  h = x | layernorm() | attention(heads = heads, causal = causal, value = memory)
  x = x + h
  return x + (x | dense(units = 16, activation = gelu))
}

model net (x) {
  rows = x | dense(units = 16)
  summary = rows | maxpool1d(pool = 4) | dense(units = 16)
  h = rows | decoder(heads = 2, memory = summary)
  h = h | decoder(2, causal = true, memory = summary)
  return h | global_avgpool1d() | dense(units = 4)
}
";

/// The same model with the block written out at both uses.
const DECODER_INLINE: &str = "
model net (x) {
  rows = x | dense(units = 16)
  summary = rows | maxpool1d(pool = 4) | dense(units = 16)
  a = rows | layernorm() | attention(heads = 2, value = summary)
  a = rows + a
  h = a + (a | dense(units = 16, activation = gelu))
  b = h | layernorm() | attention(heads = 2, causal = true, value = summary)
  b = h + b
  h = b + (b | dense(units = 16, activation = gelu))
  return h | global_avgpool1d() | dense(units = 4)
}
";

/// A block of two inputs is the graph written out where it is used: the same layers,
/// trained to the same bits.
#[test]
fn a_block_of_two_inputs_trains_as_the_graph_written_out() {
    let dir = tempfile::tempdir().unwrap();
    let (images, labels) = common::write_idx_set(dir.path(), "train", 256, 16, 4);
    let text = |model: &str| {
        format!(
            "experiment t {{
  seed = 5
}}

data train = idx(images = \"{}\", labels = \"{}\", shape = (16, 16), classes = 4)
  | scale(1 / 255)
  | batch(32)
{model}
loss xent = sparse_categorical_crossentropy(from_logits = true)

optimizer opt = adam(lr = 1e-3)

train {{
  model = net
  data = train
  loss = xent
  optimizer = opt
  epochs = 2
}}

metrics {{
  train_loss = mean(loss) on train
}}
",
            images.display(),
            labels.display()
        )
    };
    let block = common::run_text(dir.path(), &text(DECODER_BLOCK));
    let inline = common::run_text(dir.path(), &text(DECODER_INLINE));
    let loss = common::metric(&block, "train_loss");
    assert!(loss[1] < loss[0], "the block's model learns: {loss:?}");
    assert_eq!(block.history, inline.history);
    assert_eq!(block.parameters, inline.parameters);
}
