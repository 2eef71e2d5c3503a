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

#[test]
fn an_encoder_and_a_decoder_as_two_models_train_as_one() {
    // Keras' inference models of lstm_seq2seq: the encoder returns its state, the decoder
    // takes it as inputs beside its sequence. The gradients flow from the decoder's initial
    // state back into the encoder through the step, as within one model.
    let dir = tempfile::tempdir().unwrap();
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/data");
    let text = |models: &str, step: &str| {
        format!(
            "experiment t {{
  seed = 5
}}

data train = npz(\"{}\", x = \"x\", y = \"y\") | take(640) | batch(32)
{models}
loss xent = sparse_categorical_crossentropy(from_logits = true)

optimizer opt = adam(lr = 1e-2)

train {{
  epochs = 2
}}

step on train (x, y) {{
{step}
  loss = xent(y, logits)
  update opt minimizing loss
}}

metrics {{
  train_loss = mean(loss) on train
}}
",
            data.join("reverse_digits_train.npz").display()
        )
    };
    let one = common::run_text(
        dir.path(),
        &text(
            "model seq2seq (source, target) {
  s = source | embedding(input_dim = 10, output_dim = 8, mask_zero = true)
  _, h, c = s | lstm(units = 16, return_state = true)
  t = target | embedding(input_dim = 12, output_dim = 8)
  d = t | lstm(units = 16, return_sequences = true, initial_state = (h, c))
  return d | dense(units = 12)
}",
            "  logits = seq2seq(x[:, 0:8], x[:, 8:17], training = true)",
        ),
    );
    let two = common::run_text(
        dir.path(),
        &text(
            "model encoder (source) {
  s = source | embedding(input_dim = 10, output_dim = 8, mask_zero = true)
  _, h, c = s | lstm(units = 16, return_state = true)
  return h, c
}

model decoder (target, h, c) {
  t = target | embedding(input_dim = 12, output_dim = 8)
  d, last_h, last_c = t
    | lstm(units = 16, return_sequences = true, return_state = true, initial_state = (h, c))
  return d | dense(units = 12), last_h, last_c
}",
            "  h, c = encoder(x[:, 0:8], training = true)
  logits, last_h, last_c = decoder(x[:, 8:17], h, c, training = true)",
        ),
    );
    let loss = common::metric(&one, "train_loss");
    assert!(
        loss[1] < loss[0] * 0.9,
        "the encoder–decoder learns: {loss:?}"
    );
    assert_eq!(one.history, two.history);
    assert_eq!(one.parameters.concat(), two.parameters.concat());
}
