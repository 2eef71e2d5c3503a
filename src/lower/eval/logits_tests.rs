//! A cross-entropy of a model's sigmoid or softmax output reads the logits under it, as
//! Keras does: the loss and gradient of `binary_crossentropy()` on a layer ending in a
//! sigmoid are those of `binary_crossentropy(from_logits = true)` on the same layer without
//! it, to the bit, saturated outputs included (where the probabilities, clipped at 1e-7,
//! give no gradient); likewise the categorical ones on a softmax.

use super::test_scope::{engine_of, scope, step_defs};
use super::*;

/// One model `g` (`model`, ending in a sigmoid or softmax where `{a}` is one) on fixed
/// noise, and a loss `loss` read by `step`.
fn engine(model: &str, loss: &str, step: &str) -> Engine {
    let text = format!(
        "experiment t {{ seed = 5 }}
data train = idx(images = \"i\", labels = \"l\", shape = (2, 2), classes = 3) | batch(3)
model g {model}
loss xe = {loss}
optimizer opt = sgd(lr = 0.1) for g
train {{ epochs = 1 }}
step on train (x, y) {{
  z = normal(4)
{step}
  update opt minimizing loss
}}"
    );
    let mut engine = engine_of(&text);
    // Weights 40 times their initial values: logits of tens, probabilities that round to
    // 0 or 1.
    for w in &mut engine.models[0].params {
        for v in w.value_mut() {
            *v *= 40.0;
        }
        w.sync();
    }
    engine
}

/// The loss and the gradient of `g`'s first weight.
fn loss_and_gradient(engine: &Engine) -> (f32, Vec<f32>) {
    let batch = Batch {
        x: vec![0.0; 12],
        shape: vec![3, 2, 2],
        labels: vec![0, 2, 1],
        dense_y: None,
    };
    let defs = step_defs(engine);
    let Some(crate::check::plan::StepStmt::Update { loss, .. }) = engine.exp.steps[0].stmts.last()
    else {
        unreachable!("the step ends with its update")
    };
    let mut state = StepState::default();
    let mut scope = scope::<OwnedTape<f32, Cpu>>(engine, &batch, &defs, &mut state, Some(7));
    let Value::Scalar(l) = scope.eval(loss, true) else {
        unreachable!("losses are scalars")
    };
    let value = l.array();
    let mut grads = l.backward();
    (value, engine.models[0].params[0].take_grad(&mut grads))
}

/// The models: `{a}` is the activation, or `linear` for the twin on logits.
const MODELS: [&str; 3] = [
    "{ dense(units = 3, activation = {a}) }",
    "{ dense(units = 3)\n  {a}() }",
    "(x) {\n  h = x | dense(units = 3)\n  p = h | dense(units = 3, activation = {a})\n  \
     q = h | dense(units = 2)\n  return p, q\n}",
];

/// `(activation, loss on probabilities, the same on logits, step)`: each step reads the
/// model's output `p` as a loss's prediction.
const CASES: [(&str, &str, &str, &str); 4] = [
    (
        "sigmoid",
        "binary_crossentropy()",
        "binary_crossentropy(from_logits = true)",
        "  p = g(z, training = true)\n  loss = xe(ones_like(p) * 0.3, p)",
    ),
    (
        "sigmoid",
        "binary_crossentropy(label_smoothing = 0.1)",
        "binary_crossentropy(label_smoothing = 0.1, from_logits = true)",
        "  p = g(z, training = true)\n  loss = xe(zeros_like(p) + 0.8, p)",
    ),
    (
        "softmax",
        "sparse_categorical_crossentropy()",
        "sparse_categorical_crossentropy(from_logits = true)",
        "  p = g(z, training = true)\n  loss = xe(y, p)",
    ),
    (
        "softmax",
        "categorical_crossentropy()",
        "categorical_crossentropy(from_logits = true)",
        "  p = g(z, training = true)\n  loss = xe(ones_like(p) / 3, p)",
    ),
];

/// The step of a graph model binds its two outputs.
fn step_for(model: &str, step: &str) -> String {
    if model.starts_with('(') {
        step.replace("  p = g(", "  p, q = g(")
    } else {
        step.to_string()
    }
}

#[test]
fn cross_entropies_of_sigmoid_and_softmax_outputs_read_their_logits() {
    for model in MODELS {
        for (activation, on_probabilities, on_logits, step) in CASES {
            let step = step_for(model, step);
            let squashed = model.replace("{a}", activation);
            // The standalone activation layer's twin is the dense layer alone.
            let linear = model.replace("\n  {a}()", "").replace("{a}", "linear");
            let of_probabilities = loss_and_gradient(&engine(&squashed, on_probabilities, &step));
            let of_logits = loss_and_gradient(&engine(&linear, on_logits, &step));
            let case = format!("{squashed}, {on_probabilities}: {step}");
            assert_eq!(of_probabilities, of_logits, "{case}");
            assert!(
                of_logits.1.iter().any(|g| g.abs() > 1e-3),
                "{case}: the saturated outputs get gradients"
            );
        }
    }
}

#[test]
fn an_inline_model_call_is_read_from_its_logits_and_a_computed_value_is_not() {
    let model = "{ dense(units = 3, activation = sigmoid) }";
    let linear = "{ dense(units = 3) }";
    let (of, on) = (
        "binary_crossentropy()",
        "binary_crossentropy(from_logits = true)",
    );
    let inline = "  loss = xe(zeros_like(g(z)) + 0.3, g(z, training = true))";
    assert_eq!(
        loss_and_gradient(&engine(model, of, inline)),
        loss_and_gradient(&engine(linear, on, inline))
    );
    // `p * 1` is not the layer's output: its probabilities are clipped at 1e-7, as in
    // Keras, and its loss is not that of `p`.
    let read = "  p = g(z, training = true)\n  loss = xe(ones_like(p) * 0.3, p)";
    let computed = read.replace(", p)", ", p * 1)");
    let (of_logits, _) = loss_and_gradient(&engine(model, of, read));
    let (of_clipped, _) = loss_and_gradient(&engine(model, of, &computed));
    assert_ne!(of_logits, of_clipped);
}
