//! Graph models through the evaluator as a step runs them: every parameter's gradient
//! against central finite differences (a value read three times, `+`, `*`, `concat`, two
//! outputs unpacked), and a residual model's output against the same computation by hand.

use super::test_scope::{engine_of, scope, step_defs};
use super::*;
use crate::lower::act::Act;
use crate::lower::params::Param;

const RESIDUAL: &str = "model net (z) {
  f = z | dense(3, activation = tanh)
  h = f | dense(3, activation = tanh)
  g = f * h
  return concat(h + f, g) | dense(2)
}";

const TWO_OUTPUTS: &str = "model net (z) {
  h = z | dense(3, activation = tanh)
  a = h | dense(2)
  b = h | dense(2, activation = sigmoid)
  return a, b
}";

fn engine(model: &str, step: &str) -> Engine {
    let text = format!(
        "experiment t {{ seed = 5 }}
data train = idx(images = \"i\", labels = \"l\", shape = (3, 3), classes = 2) | channel_axis() | batch(3)
{model}
optimizer opt = sgd(lr = 0.1) for net
train {{ epochs = 1 }}
step on train (x, y) {{
  z = normal(4)
{step}
  update opt minimizing loss
}}"
    );
    engine_of(&text)
}

fn batch() -> Batch {
    Batch {
        x: (0..27)
            .map(|i| ((i * 7 % 27) as f32 - 13.0) / 9.0)
            .collect(),
        shape: vec![3, 1, 3, 3],
        labels: vec![0, 1, 0],
        dense_y: None,
    }
}

fn loss<T: StepTape>(engine: &Engine, state: &mut StepState) -> Value<T> {
    let batch = batch();
    let defs = step_defs(engine);
    let mut scope = scope::<T>(engine, &batch, &defs, state, None);
    scope.eval(&TensorExpr::Var("loss".into()), true)
}

fn scalar(v: Value<NoneTape>) -> f64 {
    match v {
        Value::Scalar(l) => f64::from(l.array()),
        _ => unreachable!("the loss is a scalar"),
    }
}

/// Every parameter of `net`, every element, against central finite differences.
fn assert_gradients(model: &str, step: &str) {
    let mut engine = engine(model, step);
    let mut state = StepState::default();
    let Value::Scalar(l) = loss::<OwnedTape<f32, Cpu>>(&engine, &mut state) else {
        unreachable!("the loss is a scalar")
    };
    let mut grads = l.backward();
    let analytic: Vec<Vec<f32>> = engine.models[0]
        .params
        .iter()
        .map(|p| p.take_grad(&mut grads))
        .collect();
    let eps = 1e-2f32;
    for (p, grad) in analytic.iter().enumerate() {
        for (k, &a) in grad.iter().enumerate() {
            let mut at = |delta: f32| {
                let param = &mut engine.models[0].params[p];
                param.value_mut()[k] += delta;
                param.sync();
                let v = scalar(loss::<NoneTape>(&engine, &mut state));
                let param = &mut engine.models[0].params[p];
                param.value_mut()[k] -= delta;
                param.sync();
                v
            };
            let numeric = (at(eps) - at(-eps)) / (2.0 * f64::from(eps));
            let a = f64::from(a);
            assert!(
                (a - numeric).abs() <= 2e-3 + 1e-2 * numeric.abs(),
                "parameter {p} ({}), element {k}: analytic {a}, finite differences {numeric}",
                engine.models[0].params[p].name
            );
        }
    }
}

#[test]
fn a_residual_graph_matches_finite_differences() {
    assert_gradients(
        RESIDUAL,
        "  out = net(z, training = true)\n  loss = mean(out * out + out)",
    );
}

/// A conv's output read by the next conv and by `+`: both gradients reach it.
#[test]
fn a_residual_conv_graph_matches_finite_differences() {
    assert_gradients(
        "model net (x) {
  f = x | conv2d(2, kernel = 3, padding = same, activation = tanh)
  h = f | conv2d(2, kernel = 3, padding = same)
  return (h + f) | flatten() | dense(2)
}",
        "  out = net(x, training = true)\n  loss = mean(out * out + out)",
    );
}

#[test]
fn two_outputs_unpacked_match_finite_differences() {
    assert_gradients(
        TWO_OUTPUTS,
        "  a, b = net(z, training = true)\n  loss = mean(a * b) + mean(b)",
    );
    // A loss that reads one output still trains the layers before it.
    for loss in ["mean(a * a)", "mean(b * b)"] {
        assert_gradients(
            TWO_OUTPUTS,
            &format!("  a, b = net(z, training = true)\n  loss = {loss}"),
        );
    }
}

/// `y = W x + b`, W as PyTorch stores it (out, in).
fn affine(w: &[f32], b: &[f32], x: &[f64]) -> Vec<f64> {
    b.iter()
        .enumerate()
        .map(|(o, &bo)| {
            let row = &w[o * x.len()..(o + 1) * x.len()];
            f64::from(bo)
                + row
                    .iter()
                    .zip(x)
                    .map(|(&w, &x)| f64::from(w) * x)
                    .sum::<f64>()
        })
        .collect()
}

#[test]
fn a_residual_graph_computes_what_it_says() {
    let engine = engine(
        RESIDUAL,
        "  out = net(z, training = true)\n  loss = mean(out)",
    );
    let model = &engine.models[0];
    let p: Vec<Vec<f32>> = model.params.iter().map(Param::canonical_value).collect();
    assert_eq!(
        model
            .params
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>(),
        [
            "dense.weight",
            "dense.bias",
            "dense_1.weight",
            "dense_1.bias",
            "dense_2.weight",
            "dense_2.bias"
        ],
        "layers are named Keras style over the whole model"
    );
    let rows = [[0.5f32, -1.0, 0.25, 2.0], [-0.75, 0.1, 1.5, -0.3]];
    let x: Vec<f32> = rows.iter().flatten().copied().collect();
    let input = Act::Flat(engine.dev.tensor_from_vec(x, (2, 4)));
    let (out, _) = model.forward_outputs::<NoneTape>(vec![input], false, &[false], None);
    let Some(Act::Flat(out)) = out.into_iter().next() else {
        unreachable!("one flat output")
    };
    let got = out.as_vec();
    for (r, row) in rows.iter().enumerate() {
        let z: Vec<f64> = row.iter().map(|&v| f64::from(v)).collect();
        let f: Vec<f64> = affine(&p[0], &p[1], &z).iter().map(|v| v.tanh()).collect();
        let h: Vec<f64> = affine(&p[2], &p[3], &f).iter().map(|v| v.tanh()).collect();
        let mut joined: Vec<f64> = h.iter().zip(&f).map(|(h, f)| h + f).collect();
        joined.extend(h.iter().zip(&f).map(|(h, f)| h * f));
        let want = affine(&p[4], &p[5], &joined);
        for (o, w) in want.iter().enumerate() {
            let g = f64::from(got[r * 2 + o]);
            assert!((g - w).abs() < 1e-5, "row {r}, output {o}: {g} against {w}");
        }
    }
}
