//! The engine's tensors in and out: PyTorch's layout, whatever layout it trains in.

use std::sync::Arc;

use super::*;
use crate::data::Batch;
use crate::lower::params::{RowOrder, StateBuffer};
use crate::lower::UpdateHooks;
use crate::output::model_file::NamedTensor;

const IMAGE: usize = 8;
const FILTERS: usize = 16;
const POOLED: usize = (IMAGE - 2) / 2;

/// A conv (16 filters, so the AVX-512 path runs where the CPU has it), a 2x2 max pool, a
/// flatten and a dense layer: the dense weight's rows are stored channels-last.
fn engine(seed: u64) -> Engine {
    engine_with(seed, "sgd(lr = 0.1)")
}

fn engine_with(seed: u64, optimizer: &str) -> Engine {
    let text = format!(
        "experiment t {{ seed = {seed} }}
data train = idx(images = \"i\", labels = \"l\", shape = ({IMAGE}, {IMAGE}), classes = 3) | channel_axis() | batch(2)
model m {{
  conv2d(filters = {FILTERS}, kernel = 3, activation = relu)
  maxpool2d(pool = 2)
  flatten()
  dense(units = 3)
}}
loss xent = sparse_categorical_crossentropy(from_logits = true)
optimizer opt = {optimizer}
train {{ model = m
  data = train
  loss = xent
  optimizer = opt
  epochs = 1 }}"
    );
    let file = crate::syntax::parse_file(&text).expect("parses");
    let exp = crate::check::check(&file).unwrap_or_else(|e| panic!("{e:?}"));
    Engine::new(Arc::new(exp))
}

fn input() -> Vec<f32> {
    (0..2 * IMAGE * IMAGE)
        .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
        .collect()
}

fn predict(engine: &Engine) -> Vec<f32> {
    engine.infer(0, input(), &[2, 1, IMAGE, IMAGE])
}

fn tensor<'a>(tensors: &'a [NamedTensor], name: &str) -> &'a NamedTensor {
    tensors.iter().find(|t| t.name == name).expect(name)
}

/// The model as PyTorch computes it from the file: NCHW, flattened channel-major, the
/// dense weight `(out, in)`; in f64.
fn pytorch_forward(tensors: &[NamedTensor]) -> Vec<f64> {
    let (cw, cb) = (
        tensor(tensors, "conv2d.weight"),
        tensor(tensors, "conv2d.bias"),
    );
    let (dw, db) = (
        tensor(tensors, "dense.weight"),
        tensor(tensors, "dense.bias"),
    );
    assert_eq!(cw.shape, [FILTERS, 1, 3, 3]);
    assert_eq!(dw.shape, [3, FILTERS * POOLED * POOLED]);
    let x = input();
    let mut out = Vec::new();
    for n in 0..2 {
        let pixel = |i: usize, j: usize| f64::from(x[n * IMAGE * IMAGE + i * IMAGE + j]);
        let mut flat = Vec::new();
        for c in 0..FILTERS {
            let conv = |i: usize, j: usize| {
                let mut s = f64::from(cb.data[c]);
                for (t, &w) in cw.data[c * 9..][..9].iter().enumerate() {
                    s += f64::from(w) * pixel(i + t / 3, j + t % 3);
                }
                s.max(0.0)
            };
            for i in 0..POOLED {
                for j in 0..POOLED {
                    let (a, b) = (2 * i, 2 * j);
                    let m = conv(a, b)
                        .max(conv(a, b + 1))
                        .max(conv(a + 1, b))
                        .max(conv(a + 1, b + 1));
                    flat.push(m);
                }
            }
        }
        for o in 0..3 {
            let row = &dw.data[o * flat.len()..][..flat.len()];
            let dot: f64 = row.iter().zip(&flat).map(|(&w, f)| f64::from(w) * f).sum();
            out.push(dot + f64::from(db.data[o]));
        }
    }
    out
}

#[test]
fn tensors_are_in_pytorch_layout_whatever_order_the_rows_are_stored_in() {
    let a = engine(1);
    let weight = &a.models[0].params[2];
    assert_eq!(weight.name, "dense.weight");
    assert_eq!(
        weight.rows,
        RowOrder::ChannelsLast {
            channels: FILTERS,
            positions: POOLED * POOLED
        }
    );
    let tensors = a.model_tensors(0);
    let want = pytorch_forward(&tensors);
    let got = predict(&a);
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!(
            (f64::from(*g) - w).abs() < 1e-4,
            "output {k}: {g} against {w}"
        );
    }
    // Loaded into a model initialised otherwise, it predicts the same bits.
    let mut b = engine(2);
    assert_ne!(predict(&b), got);
    b.load_model(0, &tensors).unwrap();
    assert_eq!(predict(&b), got);
    assert_eq!(b.models[0].params[2].value, a.models[0].params[2].value);
}

struct NoHooks;

impl UpdateHooks for NoHooks {
    fn before_update(&mut self, _: usize, _: &mut [f64], _: &mut [Vec<f32>]) {}
}

fn batch() -> Batch {
    Batch {
        x: input(),
        shape: vec![2, 1, IMAGE, IMAGE],
        labels: vec![0, 2],
        dense_y: None,
    }
}

fn train(engine: &mut Engine, steps: usize) {
    for _ in 0..steps {
        engine.run_step(0, &batch(), &[], &mut NoHooks);
    }
}

#[test]
fn a_snapshot_restores_parameters_and_slots_bit_for_bit_in_pytorch_layout() {
    let mut a = engine_with(1, "adam(lr = 1e-2)");
    train(&mut a, 3);
    let snap = a.snapshot();
    let momentum = snap
        .tensors
        .iter()
        .find(|t| t.name == "slot.opt.m.dense.weight.momentum")
        .expect("adam's first moment of the dense weight");
    assert_eq!(momentum.shape, [3, FILTERS * POOLED * POOLED]);
    assert!(momentum.data.iter().any(|&v| v != 0.0));
    assert_eq!(snap.optimizers[0].0, 3);
    let mut b = engine_with(2, "adam(lr = 1e-2)");
    assert_ne!(b.snapshot(), snap);
    b.restore(&snap).unwrap();
    assert_eq!(b.snapshot(), snap);
    // Restored, it trains on to the same bits as the engine it came from.
    train(&mut a, 2);
    train(&mut b, 2);
    assert_eq!(a.snapshot(), b.snapshot());
}

#[test]
fn a_snapshot_that_does_not_fit_is_refused_and_changes_nothing() {
    let mut a = engine_with(1, "adam(lr = 1e-2)");
    train(&mut a, 1);
    let snap = a.snapshot();
    let mut b = engine_with(2, "adam(lr = 1e-2)");
    let before = b.snapshot();
    let mut missing = snap.clone();
    missing
        .tensors
        .retain(|t| t.name != "slot.opt.m.conv2d.bias.velocity");
    assert_eq!(
        b.restore(&missing),
        Err(TensorMismatch::Missing {
            name: "slot.opt.m.conv2d.bias.velocity".into()
        })
    );
    let mut reshaped = snap;
    reshaped.tensors[0].shape = vec![1];
    assert!(matches!(
        b.restore(&reshaped),
        Err(TensorMismatch::Shape { .. })
    ));
    assert_eq!(b.snapshot(), before);
}

#[test]
fn layer_state_travels_with_model_tensors_and_snapshots() {
    let with_state = |seed: u64, value: Vec<f32>| {
        let mut e = engine(seed);
        e.models[0].state.push(StateBuffer {
            name: "dense.running_mean".into(),
            shape: vec![3],
            value,
        });
        e
    };
    let a = with_state(1, vec![1.0, 2.0, 3.0]);
    let tensors = a.model_tensors(0);
    let mut b = with_state(2, vec![0.0; 3]);
    b.load_model(0, &tensors).unwrap();
    assert_eq!(b.models[0].state[0].value, [1.0, 2.0, 3.0]);
    // A file without the state is refused.
    let without: Vec<NamedTensor> = tensors
        .iter()
        .filter(|t| t.name != "dense.running_mean")
        .cloned()
        .collect();
    let mut c = with_state(2, vec![0.0; 3]);
    assert_eq!(
        c.load_model(0, &without),
        Err(TensorMismatch::Missing {
            name: "dense.running_mean".into()
        })
    );
    assert_eq!(c.models[0].state[0].value, [0.0; 3]);
    // Checkpoints carry it too.
    let mut d = with_state(2, vec![0.0; 3]);
    d.restore(&a.snapshot()).unwrap();
    assert_eq!(d.models[0].state[0].value, [1.0, 2.0, 3.0]);
}

#[test]
fn replaying_draws_stops_when_asked_and_otherwise_matches_drawing() {
    // Asked to stop at the first poll: a huge count returns at once, nothing recorded.
    let mut a = engine(3);
    let polls = Cell::new(0);
    let stop = || {
        polls.set(polls.get() + 1);
        true
    };
    assert!(!a.replay_draws(999_999_999_999, &stop));
    assert_eq!(polls.get(), 1);
    assert_eq!(a.random_draws.get(), 0);
    // Not stopped: the generator ends where as many draws leave it.
    let mut b = engine(3);
    let c = engine(3);
    assert!(b.replay_draws(5, &|| false));
    for _ in 0..5 {
        c.dev.random_u64();
    }
    assert_eq!(b.dev.random_u64(), c.dev.random_u64());
    assert_eq!(b.random_draws.get(), 5);
}

#[test]
fn a_step_draws_at_most_one_number_per_dropout_layer_per_call() {
    // No dropout, no noise: nothing to replay.
    assert_eq!(engine(1).max_draws_per_step(), 0);
}
