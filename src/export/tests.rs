//! Exported models run in tract (a Rust ONNX runtime) give expr's own inference outputs,
//! for every layer kind and for graph models. The weights and the batch norm statistics are
//! drawn at random (not left at their initial values, which would hide a transposed weight
//! or a swapped gate), then read back from the engine, as a trained model's are.

use std::sync::Arc;

use tract_onnx::prelude::*;

use crate::lower::Engine;
use crate::output::model_file::NamedTensor;

/// An experiment whose data are elements of `shape` and whose step calls model `m`.
fn engine(shape: &[usize], model: &str, call: &str) -> Engine {
    let total: usize = shape.iter().product();
    let dims = shape
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let text = format!(
        "experiment t {{ seed = 3 }}
data train = idx(images = \"i\", labels = \"l\", shape = (1, {total}), classes = 2) | reshape({dims}) | batch(2)
{model}
optimizer opt = sgd(lr = 0.1) for m
train {{ epochs = 1 }}
step on train (x, y) {{
{call}
  update opt minimizing loss
}}"
    );
    let file = crate::syntax::parse_file(&text).expect("parses");
    let exp = crate::check::check(&file).unwrap_or_else(|e| panic!("{e:?}"));
    Engine::new(Arc::new(exp))
}

/// A fixed pseudo-random value in [-1, 1) for index `i` of stream `seed`.
fn noise(seed: usize, i: usize) -> f32 {
    let h = (i as u64 + 1)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(seed as u64 * 0xBF58_476D_1CE4_E5B9);
    let h = (h ^ (h >> 31)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((h >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
}

/// Every tensor of model 0 drawn anew: weights in [-0.5, 0.5), variances in [0.5, 1.5).
fn randomise(engine: &mut Engine) {
    let tensors: Vec<NamedTensor> = engine
        .model_tensors(0)
        .into_iter()
        .enumerate()
        .map(|(k, t)| {
            let variance = t.name.ends_with("running_var");
            let data = (0..t.data.len())
                .map(|i| {
                    let v = noise(k, i) * 0.5;
                    if variance {
                        v + 1.0
                    } else {
                        v
                    }
                })
                .collect();
            NamedTensor { data, ..t }
        })
        .collect();
    engine.load_model(0, &tensors).expect("same tensors");
}

/// The model exported and run by tract on a batch of two; every output.
fn tract_outputs(bytes: &[u8], shape: &[usize], x: &[f32]) -> Vec<Vec<f32>> {
    let batch: Vec<usize> = std::iter::once(2).chain(shape.iter().copied()).collect();
    let model = tract_onnx::onnx()
        .model_for_read(&mut &bytes[..])
        .expect("tract reads the file")
        .with_input_fact(0, f32::fact(&batch).into())
        .expect("input fact")
        .into_optimized()
        .expect("tract optimises the graph")
        .into_runnable()
        .expect("runnable");
    let input: Tensor = tract_ndarray::ArrayD::from_shape_vec(batch, x.to_vec())
        .expect("shape")
        .into();
    let outputs = model.run(tvec!(input.into())).expect("tract runs it");
    outputs
        .iter()
        .map(|o| {
            o.to_plain_array_view::<f32>()
                .expect("f32")
                .iter()
                .copied()
                .collect()
        })
        .collect()
}

/// Exports `model` (its data elements of `shape`) and checks tract's first output against
/// the engine's inference on the same inputs (`tokens`: integer inputs below that count);
/// returns how many outputs the file has.
fn check_with(shape: &[usize], model: &str, call: &str, tokens: Option<usize>) -> usize {
    let mut engine = engine(shape, model, call);
    randomise(&mut engine);
    let total: usize = shape.iter().product();
    let x: Vec<f32> = (0..2 * total)
        .map(|i| match tokens {
            Some(n) => (i * 7 % n) as f32,
            None => noise(99, i) * 2.0,
        })
        .collect();
    let batch: Vec<usize> = std::iter::once(2).chain(shape.iter().copied()).collect();
    let want = engine.infer(0, x.clone(), &batch);
    let exp = engine.experiment().clone();
    let bytes = super::onnx(&exp.models[0], &engine.model_tensors(0)).expect("exports");
    let outputs = tract_outputs(&bytes, shape, &x);
    let got = &outputs[0];
    assert_eq!(got.len(), want.len(), "{model}");
    for (i, (a, b)) in got.iter().zip(&want).enumerate() {
        assert!(
            (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
            "{model}\noutput {i}: tract {a}, expr {b}"
        );
    }
    outputs.len()
}

fn check(shape: &[usize], layers: &str) {
    let model = format!("model m {{\n{layers}\n}}");
    check_with(
        shape,
        &model,
        "  out = m(x, training = false)\n  loss = mean(out * out)",
        None,
    );
}

#[test]
fn dense_and_every_activation() {
    check(
        &[6],
        "dense(5, activation = relu)\ndense(4, activation = tanh)\ndense(3, activation = softmax)",
    );
    for a in [
        "sigmoid()",
        "softmax()",
        "leaky_relu(alpha = 0.1)",
        "gelu()",
        "elu(alpha = 0.7)",
        "selu()",
        "swish()",
        "softplus()",
        "log_softmax()",
        "hard_sigmoid()",
        "relu()",
        "tanh()",
    ] {
        check(&[6], &format!("dense(4, use_bias = false)\n{a}"));
    }
}

#[test]
fn convolutional_stacks() {
    // mnist.exp's and keras_convnet.exp's layers, with odd sizes and `same` padding.
    check(
        &[2, 9, 8],
        "conv2d(4, kernel = 3, activation = relu)\nmaxpool2d(pool = 2)\nflatten()\ndense(3)",
    );
    check(
        &[3, 7, 7],
        "conv2d(4, kernel = 3, stride = 2, padding = same, activation = elu)
batchnorm()
avgpool2d(pool = 3, stride = 2, padding = same)
dropout(0.5)
spatial_dropout2d(0.3)
conv2d(2, kernel = (2, 3), padding = same, use_bias = false)
maxpool2d(pool = 2, padding = same)
global_avgpool2d()
batchnorm(center = false, scale = false)
dense(2, activation = sigmoid)",
    );
    check(&[2, 5, 5], "conv2d(3, kernel = 3)\nglobal_maxpool2d()");
    check(
        &[2, 6, 6],
        "layernorm()\nconv2d(2, kernel = 1, activation = softmax)\nflatten()",
    );
}

#[test]
fn generator_layers() {
    // The GAN generators' and the autoencoder's: dense, reshape, transposed convs, upsampling.
    check(
        &[4],
        "dense(18)\nbatchnorm()\nleaky_relu()\nreshape(2, 3, 3)
conv2d_transpose(3, kernel = 3, stride = 2, padding = same, activation = relu)
conv2d_transpose(2, kernel = 5, stride = 2, padding = same, output_padding = 1)
conv2d_transpose(2, kernel = 2, stride = 3)
upsample2d(2)\nupsample2d(size = (1, 2), interpolation = bilinear)\nzeropad2d((1, 2))
conv2d(1, kernel = 3, activation = sigmoid)",
    );
}

#[test]
fn sequence_layers() {
    check(
        &[3, 10],
        "conv1d(4, kernel = 3, padding = same, activation = relu)
maxpool1d(pool = 2)
conv1d(4, kernel = 2, stride = 2)
avgpool1d(pool = 2, padding = same)
layernorm()
dense(3, activation = softmax)
global_avgpool1d()",
    );
    check(&[3, 6], "global_maxpool1d()\ndense(2)");
    check(
        &[3, 6],
        "lstm(4, return_sequences = true)\ngru(5)\ndense(2)",
    );
    check(&[2, 5], "gru(3, return_sequences = true)\nlstm(4)");
}

#[test]
fn embeddings_and_attention() {
    let model = "model m {
embedding(11, 8)
positional_embedding(max_length = 9)
attention(heads = 2, causal = true)
layernorm()
sinusoidal_embedding()
attention(heads = 4, use_bias = false, dropout = 0.2)
dense(11)
}";
    check_with(
        &[7],
        model,
        "  out = m(x, training = false)\n  loss = mean(out * out)",
        Some(11),
    );
}

#[test]
fn graph_models() {
    let residual = "model m (z) {
  f = z | conv2d(2, kernel = 3, padding = same, activation = tanh)
  h = f | conv2d(2, kernel = 3, padding = same)
  g = f * h
  return concat(h + f, g) | relu() | flatten() | dense(2)
}";
    check_with(
        &[1, 5, 5],
        residual,
        "  out = m(x, training = false)\n  loss = mean(out * out)",
        None,
    );
    // An input named as the output would be: the output is renamed.
    let named = "model m (output) {\n  return output | dense(2)\n}";
    check_with(
        &[3],
        named,
        "  out = m(x, training = false)\n  loss = mean(out * out)",
        None,
    );
    let two = "model m (z) {
  h = z | dense(3, activation = tanh)
  a = h | dense(2)
  b = concat(h, a) | dense(2, activation = sigmoid)
  return a, b
}";
    let outputs = check_with(
        &[4],
        two,
        "  a, b = m(x, training = false)\n  loss = mean(a * b)",
        None,
    );
    assert_eq!(outputs, 2);
}

#[test]
fn recurrent_states() {
    // An encoder's last state starts a decoder; a bidirectional GRU starts both cells from
    // one value and gives its states, which the output reads.
    let model = "model m (z) {
  _, h, c = z | lstm(4, return_state = true)
  d = z | lstm(4, return_sequences = true, initial_state = (h, c))
  s = h | dense(3, activation = tanh)
  y, f, b = d | gru(3, return_state = true, bidirectional = true, initial_state = (s, s))
  return concat(y, f * b, c) | dense(2)
}";
    check_with(
        &[3, 6],
        model,
        "  out = m(x, training = false)\n  loss = mean(out * out)",
        None,
    );
    let gru = "model m (z) {
  y, h = z | gru(5, return_sequences = true, return_state = true)
  p = y | global_maxpool1d()
  return concat(p, h) | dense(2)
}";
    check_with(
        &[3, 6],
        gru,
        "  out = m(x, training = false)\n  loss = mean(out * out)",
        None,
    );
}
