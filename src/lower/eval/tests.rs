//! Gradients of step expressions against central finite differences, through
//! the evaluator as a step runs it: a one-layer model `g` on fixed noise, the
//! expression under test as the loss, the gradient of `g`'s weight compared.

use super::test_scope::{engine_of, scope, step_defs};
use super::*;
use crate::lower::params::Param;

fn engine(loss: &str) -> Engine {
    let text = format!(
        "experiment t {{ seed = 3 }}
data train = idx(images = \"i\", labels = \"l\", shape = (2, 2), classes = 2) | batch(3)
model g {{ dense(units = 3, activation = tanh) }}
loss sq = mse()
optimizer opt = sgd(lr = 0.1) for g
train {{ epochs = 1 }}
step on train (x, y) {{
  z = normal(4)
  h = g(z, training = true)
  loss = {loss}
  update opt minimizing loss
}}"
    );
    engine_of(&text)
}

fn batch() -> Batch {
    Batch {
        x: vec![0.0; 12],
        shape: vec![3, 2, 2],
        labels: vec![0, 1, 0],
        dense_y: None,
    }
}

fn loss_expr(engine: &Engine) -> TensorExpr {
    match engine.exp.steps[0].stmts.last() {
        Some(crate::check::plan::StepStmt::Update { loss, .. }) => loss.clone(),
        _ => unreachable!("the step ends with its update"),
    }
}

fn value<T: StepTape>(engine: &Engine, state: &mut StepState) -> Value<T> {
    let batch = batch();
    let defs = step_defs(engine);
    let mut scope = scope::<T>(engine, &batch, &defs, state, None);
    scope.eval(&loss_expr(engine), true)
}

/// The analytic gradient of the loss for `g`'s weight, and the noise it used.
fn gradient(engine: &Engine, state: &mut StepState) -> Vec<f32> {
    let Value::Scalar(l) = value::<OwnedTape<f32, Cpu>>(engine, state) else {
        unreachable!("losses are scalars")
    };
    let mut grads = l.backward();
    engine.models[0].params[0].take_grad(&mut grads)
}

fn loss_at(engine: &mut Engine, state: &mut StepState, k: usize, delta: f32) -> f64 {
    let p: &mut Param = &mut engine.models[0].params[0];
    p.value_mut()[k] += delta;
    p.sync();
    let Value::Scalar(l) = value::<NoneTape>(engine, state) else {
        unreachable!("losses are scalars")
    };
    let p = &mut engine.models[0].params[0];
    p.value_mut()[k] -= delta;
    p.sync();
    f64::from(l.array())
}

fn assert_gradient(loss: &str) {
    let mut engine = engine(loss);
    let mut state = StepState::default();
    let analytic = gradient(&engine, &mut state);
    let eps = 1e-2f32;
    for (k, &a) in analytic.iter().enumerate() {
        let plus = loss_at(&mut engine, &mut state, k, eps);
        let minus = loss_at(&mut engine, &mut state, k, -eps);
        let numeric = (plus - minus) / (2.0 * f64::from(eps));
        let a = f64::from(a);
        assert!(
            (a - numeric).abs() <= 2e-3 + 1e-2 * numeric.abs(),
            "{loss}: weight {k}: analytic {a}, finite differences {numeric}"
        );
    }
}

#[test]
fn elementwise_functions_match_finite_differences() {
    for loss in [
        "mean(exp(h))",
        "mean(log(h * h + 1))",
        "mean(sqrt(h * h + 1))",
        "mean(abs(h))",
        "mean(relu(h))",
        "mean(sigmoid(h))",
        "mean(tanh(h))",
        "mean(square(h))",
        "mean(-h)",
        "mean(elu(h))",
        "mean(selu(h))",
        "mean(swish(h))",
        "mean(silu(h))",
        "mean(softplus(h))",
        "mean(hard_sigmoid(h))",
    ] {
        assert_gradient(loss);
    }
}

#[test]
fn arithmetic_matches_finite_differences() {
    for loss in [
        "sum(h * h / 2 - 3 * h + 1)",
        "mean(1 / (h * h + 2))",
        "mean(2 - h)",
        "mean((h - 0.5) ** 3)",
        "mean((h * h + 1) ** 1.5)",
        "mean(h * mean(h))",
        "mean(h) * mean(h) + 0.1 * sum(h)",
        "mean(h / (mean(h * h) + 1))",
    ] {
        assert_gradient(loss);
    }
}

#[test]
fn reductions_concat_and_fills_match_finite_differences() {
    for loss in [
        "mean(sum(h, axis = 1) ** 2)",
        "mean(mean(h, axis = -1) * 3)",
        "mean(concat(h, h * 2) ** 2)",
        "mean(h * ones_like(h)) + sum(zeros_like(h))",
        "mean(flatten(h) ** 2)",
    ] {
        assert_gradient(loss);
    }
}

#[test]
fn losses_on_computed_targets_match_finite_differences() {
    assert_gradient("sq(ones_like(h), h)");
}

/// `l1(g)` and `l2(g)` reach the weight of `g` (its kernel, read on the host where our
/// dense op runs, so its gradient slot starts empty) through the tape.
#[test]
fn weight_penalties_match_finite_differences() {
    for loss in [
        "mean(h) + 0.5 * l2(g)",
        "l2(g) * 0.25 + mean(h * h)",
        "0.1 * l1(g) + mean(h)",
        "l1(g) + l2(g)",
    ] {
        assert_gradient(loss);
    }
}

#[test]
fn detach_stops_the_gradient() {
    let grad = |loss: &str| {
        let engine = engine(loss);
        gradient(&engine, &mut StepState::default())
    };
    let half = grad("mean(h * detach(h))");
    let full = grad("mean(h * h)");
    for (a, b) in half.iter().zip(&full) {
        assert!((a * 2.0 - b).abs() < 1e-6, "{a} vs {b}");
    }
    assert!(grad("mean(detach(h)) + 0 * mean(h)")
        .iter()
        .all(|g| *g == 0.0));
}

#[test]
fn noise_is_drawn_once_per_step_and_shared_by_scopes() {
    let engine = engine("mean(h)");
    let mut state = StepState::default();
    let Value::Scalar(a) = value::<NoneTape>(&engine, &mut state) else {
        unreachable!()
    };
    let Value::Scalar(b) = value::<NoneTape>(&engine, &mut state) else {
        unreachable!()
    };
    assert_eq!(a.array(), b.array());
    let Value::Scalar(c) = value::<NoneTape>(&engine, &mut StepState::default()) else {
        unreachable!()
    };
    assert_ne!(a.array(), c.array(), "a new step draws new noise");
}

/// `max` and `min` are checked against finite differences in `nd/tests.rs`, on inputs
/// far from ties: here a step of the weight can change which unit is the largest.
#[test]
fn axis_functions_match_finite_differences() {
    for loss in [
        "mean(h / sum(h * h + 1, axis = 1))",
        "mean((h - mean(h, axis = -1)) * h)",
        "mean(sum(h, axis = 1, keepdims = false) ** 2)",
        "mean(softmax(h, axis = 1) * h)",
        "mean(log_softmax(h) ** 2)",
        "mean(clip_by_value(h, -5, 5) ** 2) + mean(clip_by_value(h, 2, 3))",
    ] {
        assert_gradient(loss);
    }
}

#[test]
fn moving_functions_match_finite_differences() {
    for loss in [
        "mean(reshape(h, (3, 1)) ** 2)",
        "mean(matmul(reshape(h, (3, 1)), reshape(h * h, (1, 3))) ** 2)",
        "mean(transpose(matmul(reshape(h, (3, 1)), reshape(tanh(h), (1, 3))), (0, 2, 1)) * reshape(h, (1, 3)))",
        "mean(matmul(h, reshape(h + 1, (3, 1)))) + mean(matmul(h, h))",
        "mean(h[:, 1:3] ** 2) + mean(h[:, -1]) + mean(reshape(h, (3, 1))[:, 0:2, 0])",
        "mean(h * h[:, 0:1])",
    ] {
        assert_gradient(loss);
    }
}

/// `argmax` and `equal` give values without gradients: a loss of theirs plus `mean(h)`
/// has exactly `mean(h)`'s gradient.
#[test]
fn argmax_and_equal_pass_no_gradient() {
    let grad = |loss: &str| gradient(&engine(loss), &mut StepState::default());
    let plain = grad("mean(h)");
    let with =
        grad("mean(h) + sum(equal(argmax(h), y)) + mean(argmax(h, axis = 1, keepdims = true) * h)");
    assert_ne!(plain, with, "argmax times h passes h's gradient");
    let only = grad("mean(h) + sum(equal(argmax(h), y)) + sum(equal(h, 0.5))");
    assert_eq!(plain, only);
}

#[test]
fn max_and_min_pass_the_gradient_to_the_extreme_value() {
    let grad = |loss: &str| gradient(&engine(loss), &mut StepState::default());
    // `min(-h)` is `-max(h)`, through the same element: the gradients cancel exactly.
    assert!(grad("max(h) + min(h * -1)").iter().all(|g| *g == 0.0));
    assert!(grad("max(h)").iter().any(|g| *g != 0.0));
    let rows = grad("sum(max(h, axis = 1)) + sum(min(h * -1, axis = -1, keepdims = false))");
    assert!(rows.iter().all(|g| *g == 0.0));
}
