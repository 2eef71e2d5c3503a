//! A model's average against PyTorch's `AveragedModel` with `get_ema_multi_avg_fn`
//! (bench/reference/ema.py), and where the loop finds it: in the model while evaluating,
//! beside the trained weights in checkpoints.

use std::sync::Arc;

use crate::data::Batch;
use crate::lower::{Engine, UpdateHooks};
use crate::output::model_file::NamedTensor;

/// bench/reference/ema.py: the average after steps 1 and 3 (decay 0.9, SGD at 0.1).
const EMA_WEIGHT_1: [f32; 12] = [
    -0.499_473_9,
    0.200_175_37,
    -0.200_175_37,
    0.499_473_9,
    0.099_276_93,
    -0.300_797_8,
    0.399_127_5,
    -0.000_947_201_16,
    -0.398_286_37,
    0.301_707_54,
    -0.098_298_57,
    -0.498_304_67,
];
const EMA_BIAS_1: [f32; 3] = [-0.101_402_96, -0.000_298_835_9, 0.099_975_6];
const EMA_WEIGHT_3: [f32; 12] = [
    -0.497_195_1,
    0.200_934_98,
    -0.200_934_98,
    0.497_195_1,
    0.096_403_69,
    -0.304_000_9,
    0.395_594_57,
    -0.004_809_981,
    -0.390_400_53,
    0.309_560_36,
    -0.090_478_79,
    -0.490_517_9,
];
const EMA_BIAS_3: [f32; 3] = [-0.107_479_78, -0.001_618_217, 0.099_843_45];
/// The trained weight after step 3, which the average must not replace.
const WEIGHT_3: [f32; 12] = [
    -0.485_340_33,
    0.204_886_57,
    -0.204_886_57,
    0.485_340_33,
    0.081_811_65,
    -0.320_316_1,
    0.377_556_23,
    -0.024_571_488,
    -0.348_776_16,
    0.351_002_84,
    -0.049_218_204,
    -0.449_439_23,
];

fn engine() -> Engine {
    let text = "experiment t { seed = 5 }
data train = idx(images = \"i\", labels = \"l\", shape = (2, 2), classes = 2) | batch(3)
model g {
  flatten()
  dense(units = 3, activation = tanh)
}
optimizer opt = sgd(lr = 0.1)
train { epochs = 1
  ema = ema(g, decay = 0.9) }
step on train (x, y) {
  h = g(x, training = true)
  loss = mean(h * h)
  update opt minimizing loss
}";
    let file = crate::syntax::parse_file(text).expect("parses");
    let exp = crate::check::check(&file).unwrap_or_else(|e| panic!("{e:?}"));
    let mut engine = Engine::new(Arc::new(exp));
    // The reference's initial weights; loading starts the average from them.
    let weight = (0..12)
        .map(|k| ((k * 7 % 11) as f32) / 10.0 - 0.5)
        .collect();
    let bias = (0..3).map(|o| 0.1 * o as f32 - 0.1).collect();
    let tensors = [
        NamedTensor {
            name: "dense.weight".into(),
            shape: vec![3, 4],
            data: weight,
        },
        NamedTensor {
            name: "dense.bias".into(),
            shape: vec![3],
            data: bias,
        },
    ];
    engine.load_model(0, &tensors).expect("fits");
    engine
}

struct NoHooks;

impl UpdateHooks for NoHooks {
    fn before_update(&mut self, _: usize, _: &mut [f64], _: &mut [Vec<f32>]) {}
}

fn step(engine: &mut Engine) {
    let batch = Batch {
        x: (0..12).map(|i| (i as f32 - 5.5) / 4.0).collect(),
        shape: vec![3, 2, 2],
        labels: vec![0, 1, 0],
        dense_y: None,
    };
    engine.run_step(0, &batch, &[], &mut NoHooks);
}

/// The model's tensors with the averages in (weight, bias), then without.
fn averaged(engine: &mut Engine) -> (Vec<f32>, Vec<f32>) {
    engine.use_averages(true);
    let t = engine.model_tensors(0);
    engine.use_averages(false);
    (t[0].data.clone(), t[1].data.clone())
}

fn assert_close(got: &[f32], expected: &[f32], what: &str) {
    assert_eq!(got.len(), expected.len(), "{what}");
    for (k, (g, e)) in got.iter().zip(expected).enumerate() {
        assert!((g - e).abs() < 1e-6, "{what}[{k}]: {g} vs {e}");
    }
}

#[test]
fn the_average_follows_pytorch_averaged_model() {
    let mut engine = engine();
    step(&mut engine);
    let (w, b) = averaged(&mut engine);
    assert_close(&w, &EMA_WEIGHT_1, "average of the weight after 1 step");
    assert_close(&b, &EMA_BIAS_1, "average of the bias after 1 step");
    step(&mut engine);
    step(&mut engine);
    let (w, b) = averaged(&mut engine);
    assert_close(&w, &EMA_WEIGHT_3, "average of the weight after 3 steps");
    assert_close(&b, &EMA_BIAS_3, "average of the bias after 3 steps");
    assert_close(
        &engine.model_tensors(0)[0].data,
        &WEIGHT_3,
        "trained weight",
    );
}

#[test]
fn the_average_is_the_formula_in_f32_after_each_update() {
    let mut engine = engine();
    let mut hand: Vec<Vec<f32>> = engine
        .model_tensors(0)
        .into_iter()
        .map(|t| t.data)
        .collect();
    for k in 1..=4 {
        step(&mut engine);
        for (a, t) in hand.iter_mut().zip(engine.model_tensors(0)) {
            for (a, w) in a.iter_mut().zip(t.data) {
                *a = *a * 0.9 + 0.1 * w;
            }
        }
        let (w, b) = averaged(&mut engine);
        assert_eq!(w, hand[0], "weight after {k} steps");
        assert_eq!(b, hand[1], "bias after {k} steps");
    }
}

#[test]
fn checkpoints_hold_trained_weights_and_averages_wherever_they_are() {
    let mut a = engine();
    step(&mut a);
    step(&mut a);
    let out = a.snapshot();
    a.use_averages(true);
    let during = a.snapshot();
    assert_eq!(
        out, during,
        "the snapshot does not depend on what is in the model"
    );
    assert!(out.tensors.iter().any(|t| t.name == "ema.g.dense.weight"));
    // A fresh engine restored from the snapshot, with the averages in at the time,
    // continues bit for bit.
    let mut b = engine();
    b.use_averages(true);
    b.restore(&out).expect("restores");
    a.use_averages(false);
    step(&mut a);
    step(&mut b);
    assert_eq!(a.snapshot(), b.snapshot());
    assert_eq!(averaged(&mut a), averaged(&mut b));
}
