//! Batch norm through the engine: running statistics after training steps (Keras' update, the
//! biased variance), evaluation with them, checkpoints that carry them, and frozen layers.

use std::sync::Arc;

use super::*;
use crate::check::error::CheckError;
use crate::check::plan::{DataSource, Labels};
use crate::check::sources::{DataFiles, Described};
use crate::data::Batch;
use crate::lower::UpdateHooks;
use crate::source::Span;

/// A flat batch of 4 examples of 3 features, a batch norm, a dense layer to 2 classes.
fn engine(batchnorm: &str, dense: &str) -> Engine {
    engine_of(&format!("model m {{\n  {batchnorm}\n  {dense}\n}}"))
}

/// The experiment of [`engine`] with the model `m` declared as `model` (a graph model's
/// input is a row of 3 features).
pub(in crate::lower) fn engine_of(model: &str) -> Engine {
    let text = format!(
        "experiment t {{ seed = 3 }}
data train = csv(path = \"t.csv\", target = \"y\") | batch(4)
{model}
loss xent = sparse_categorical_crossentropy(from_logits = true)
optimizer opt = sgd(lr = 0.1)
train {{ model = m
  data = train
  loss = xent
  optimizer = opt
  epochs = 1 }}"
    );
    let file = crate::syntax::parse_file(&text).expect("parses");
    let exp = crate::check::check_with(&file, &Table).unwrap_or_else(|e| panic!("{e:?}"));
    Engine::new(Arc::new(exp))
}

/// Describes the table as 3 feature columns and 2 classes, without reading it.
struct Table;

impl DataFiles for Table {
    fn describe(&self, _: &DataSource, _: Span) -> Result<Described, Box<CheckError>> {
        Ok(Described {
            element_shape: vec![3],
            labels: Labels::Classes {
                classes: 2,
                one_hot: false,
            },
        })
    }
}

struct NoHooks;

impl UpdateHooks for NoHooks {
    fn before_update(&mut self, _: usize, _: &mut [f64], _: &mut [Vec<f32>]) {}
}

/// The flat batches of bench/reference/norm.py: `x1`, and `x1 * 0.5 + 1`.
fn batch(second: bool) -> Batch {
    let x: Vec<f32> = (0..12)
        .map(|i| ((i * 5 % 12) as f32 - 5.5) / 3.0)
        .map(|v| if second { v * 0.5 + 1.0 } else { v })
        .collect();
    Batch {
        x,
        shape: vec![4, 3],
        labels: vec![0, 1, 1, 0],
        dense_y: None,
    }
}

fn state<'a>(e: &'a Engine, name: &str) -> &'a [f32] {
    let s = e.models[0].state.iter().find(|s| s.name == name);
    &s.unwrap_or_else(|| panic!("no {name}")).value
}

#[test]
fn two_training_steps_move_the_running_statistics_as_keras_does() {
    let mut e = engine("batchnorm()", "dense(units = 2)");
    assert_eq!(state(&e, "batch_normalization.running_var"), [1.0; 3]);
    for second in [false, true] {
        e.run_step(0, &batch(second), &[], &mut NoHooks);
    }
    // Keras 3's BatchNormalization() after the same two calls (bench/reference/norm.py).
    let (mean, var) = ([0.005_033_3, 0.014_966_7, 0.01], [0.995_600_1; 3]);
    let got_mean = state(&e, "batch_normalization.running_mean");
    let got_var = state(&e, "batch_normalization.running_var");
    for c in 0..3 {
        assert!((got_mean[c] - mean[c]).abs() < 1e-6, "{got_mean:?}");
        assert!((got_var[c] - var[c]).abs() < 1e-6, "{got_var:?}");
    }
    assert_eq!(state(&e, "batch_normalization.num_batches_tracked"), [2.0]);
}

#[test]
fn inference_normalises_with_the_running_statistics() {
    let mut e = engine(
        "batchnorm(center = false, scale = false)",
        "dense(units = 2)",
    );
    e.run_step(0, &batch(false), &[], &mut NoHooks);
    // Running statistics now differ from the batch's; inference must use them, which a
    // model whose dense layer is read back can check: y = dense((x - rm) / sqrt(rv + eps)).
    let x = batch(true).x;
    let got = e.infer(0, x.clone(), &[4, 3]);
    let tensors = e.model_tensors(0);
    let find = |n: &str| &tensors.iter().find(|t| t.name == n).expect(n).data;
    let (rm, rv) = (
        find("batch_normalization.running_mean"),
        find("batch_normalization.running_var"),
    );
    let (w, b) = (find("dense.weight"), find("dense.bias"));
    for n in 0..4 {
        for o in 0..2 {
            let mut y = f64::from(b[o]);
            for c in 0..3 {
                let xn =
                    (f64::from(x[n * 3 + c]) - f64::from(rm[c])) / (f64::from(rv[c]) + 1e-3).sqrt();
                y += f64::from(w[o * 3 + c]) * xn;
            }
            assert!((f64::from(got[n * 2 + o]) - y).abs() < 1e-5, "{got:?}");
        }
    }
}

#[test]
fn a_snapshot_carries_the_running_statistics() {
    let mut a = engine("batchnorm()", "dense(units = 2)");
    a.run_step(0, &batch(false), &[], &mut NoHooks);
    let saved = a.snapshot();
    let names: Vec<&str> = saved.tensors.iter().map(|t| t.name.as_str()).collect();
    for s in ["running_mean", "running_var", "num_batches_tracked"] {
        assert!(
            names.contains(&format!("model.m.batch_normalization.{s}").as_str()),
            "{names:?}"
        );
    }
    let mut b = engine("batchnorm()", "dense(units = 2)");
    b.restore(&saved).expect("same model");
    for (sa, sb) in a.models[0].state.iter().zip(&b.models[0].state) {
        assert_eq!(sa.value, sb.value, "{}", sa.name);
    }
    a.run_step(0, &batch(true), &[], &mut NoHooks);
    b.run_step(0, &batch(true), &[], &mut NoHooks);
    assert_eq!(
        a.snapshot(),
        b.snapshot(),
        "the resumed run goes on bit for bit"
    );
}

#[test]
fn frozen_layers_keep_their_parameters_and_statistics() {
    let mut e = engine("batchnorm(trainable = false)", "dense(units = 2)");
    let before = e.model_tensors(0);
    e.run_step(0, &batch(false), &[], &mut NoHooks);
    let after = e.model_tensors(0);
    for (b, a) in before.iter().zip(&after) {
        if b.name.starts_with("batch_normalization") {
            assert_eq!(a.data, b.data, "{} changed", b.name);
        } else {
            assert_ne!(a.data, b.data, "{} was not trained", b.name);
        }
    }
    // The dense layer frozen instead: the batch norm trains and moves its statistics.
    let mut e = engine("batchnorm()", "dense(units = 2, trainable = false)");
    let before = e.model_tensors(0);
    e.run_step(0, &batch(false), &[], &mut NoHooks);
    let after = e.model_tensors(0);
    for (b, a) in before.iter().zip(&after) {
        let frozen = b.name.starts_with("dense");
        assert_eq!(a.data == b.data, frozen, "{}", b.name);
    }
}

#[test]
fn frozen_layers_of_a_graph_model_keep_their_parameters() {
    let mut e = engine_of(
        "model m (x) {\n  h = x | dense(units = 3, trainable = false)\n  return (h + x) | dense(units = 2)\n}",
    );
    let before = e.model_tensors(0);
    e.run_step(0, &batch(false), &[], &mut NoHooks);
    let after = e.model_tensors(0);
    for (b, a) in before.iter().zip(&after) {
        let frozen = b.name == "dense.weight" || b.name == "dense.bias";
        assert_eq!(a.data == b.data, frozen, "{}", b.name);
    }
}
