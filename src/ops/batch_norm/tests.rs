//! `batch_norm` against PyTorch's `F.batch_norm` on fixed inputs (bench/reference/norm.py, with
//! epsilon 1e-3), against finite differences of an f64 reference, and across thread counts.

use dfdx::prelude::*;

use super::{batch_norm, BatchNormSpec, Statistics};
use crate::ops::reference::{assert_close, assert_gradient, finite_differences, widen, Shape4};

const EPS: f32 = 1e-3;
const GAMMA: [f32; 3] = [1.0, 0.5, -1.5];
const BETA: [f32; 3] = [0.1, -0.2, 0.3];
const RUNNING_MEAN: [f32; 3] = [0.2, -0.1, 0.05];
const RUNNING_VAR: [f32; 3] = [1.5, 0.8, 2.0];

/// (2, 3, 2, 2) images, as the reference script builds them.
fn images() -> Vec<f32> {
    (0..24)
        .map(|i| ((i * 7 % 24) as f32 - 11.5) / 4.0)
        .collect()
}

/// A (4, 3) flat batch, as `(4, 3, 1, 1)`.
fn flat() -> Vec<f32> {
    (0..12).map(|i| ((i * 5 % 12) as f32 - 5.5) / 3.0).collect()
}

/// The output's gradient: the loss is `sum(y * upstream)`.
fn upstream(n: usize) -> Vec<f32> {
    (0..n).map(|i| (i % 5) as f32 * 0.3 - 0.5).collect()
}

struct Outcome {
    y: Vec<f32>,
    dx: Vec<f32>,
    dgamma: Vec<f32>,
    dbeta: Vec<f32>,
    moments: Option<(Vec<f32>, Vec<f32>)>,
}

fn run(x: &[f32], shape: Shape4, gamma: &[f32], beta: &[f32], training: bool) -> Outcome {
    run_then(x, shape, (gamma, beta), training, Then::Nothing)
}

/// What follows the norm in [`run_then`].
#[derive(Clone, Copy)]
enum Then {
    Nothing,
    /// The op's fused rectifier of this slope.
    Fused(f32),
    /// A rectifier of this slope as an op of its own (`ops::pointwise`).
    Apart(f32),
}

fn run_then(
    x: &[f32],
    shape: Shape4,
    (gamma, beta): (&[f32], &[f32]),
    training: bool,
    then: Then,
) -> Outcome {
    let dev = Cpu::default();
    let xt = dev.tensor_from_vec(x.to_vec(), shape);
    let g = dev.tensor_from_vec(gamma.to_vec(), (3,));
    let b = dev.tensor_from_vec(beta.to_vec(), (3,));
    let spec = BatchNormSpec {
        statistics: if training {
            Statistics::Batch
        } else {
            Statistics::Running {
                mean: &RUNNING_MEAN,
                var: &RUNNING_VAR,
            }
        },
        epsilon: EPS,
        gamma: Some((&g, gamma)),
        beta: Some((&b, beta)),
        input_grad: true,
        rectifier: match then {
            Then::Fused(alpha) => Some(alpha),
            _ => None,
        },
    };
    let (y, moments) = batch_norm(xt.leaky_trace(), &spec);
    let y = match then {
        Then::Apart(0.0) => crate::ops::pointwise(y, crate::ops::Pointwise::Relu),
        Then::Apart(alpha) => crate::ops::pointwise(y, crate::ops::Pointwise::LeakyRelu { alpha }),
        _ => y,
    };
    let y_host = y.as_vec();
    let w = dev.tensor_from_vec(upstream(x.len()), shape);
    let grads = (y * w).sum().backward();
    Outcome {
        y: y_host,
        dx: grads.get(&xt).as_vec(),
        dgamma: grads.get(&g).as_vec(),
        dbeta: grads.get(&b).as_vec(),
        moments: moments.map(|m| (m.mean, m.var)),
    }
}

/// PyTorch's numbers (`bench/reference/norm.py`): output, dx, dgamma, dbeta.
type Reference = (
    &'static [f64],
    &'static [f64],
    &'static [f64],
    &'static [f64],
);

fn assert_matches(what: &str, got: &Outcome, want: Reference) {
    assert_close(&format!("{what} y"), &got.y, want.0, 1e-5);
    assert_close(&format!("{what} dx"), &got.dx, want.1, 1e-5);
    assert_close(&format!("{what} dgamma"), &got.dgamma, want.2, 1e-5);
    assert_close(&format!("{what} dbeta"), &got.dbeta, want.3, 1e-5);
}

#[test]
fn images_match_pytorch_in_training_and_evaluation() {
    let x = images();
    let train = run(&x, (2, 3, 2, 2), &GAMMA, &BETA, true);
    assert_matches(
        "train",
        &train,
        (
            &[
                -1.395_945_1,
                -0.398_648_4,
                0.598_648_4,
                1.595_945_1,
                -0.734_266_1,
                -0.235_617_7,
                0.263_030_6,
                -0.947_972_5,
                1.326_196_2,
                -0.270_109,
                -1.866_414_2,
                2.010_327,
                0.313_706_4,
                1.311_003_2,
                -1.111_003_2,
                -0.113_706_4,
                0.120_559_7,
                0.619_208,
                -0.591_795_1,
                -0.093_146_8,
                -1.410_327,
                2.466_414_2,
                0.870_109,
                -0.726_196_2,
            ],
            &[
                -0.186_196_1,
                -0.104_806_6,
                -0.023_417_2,
                0.057_972_2,
                0.115_546_2,
                -0.184_632_7,
                -0.057_398_7,
                -0.073_312_4,
                -0.299_372_4,
                -0.639_436,
                0.388_762,
                0.276_394_2,
                0.002_175_8,
                0.083_565_3,
                0.472_071_5,
                -0.301_364_9,
                -0.069_327_7,
                0.057_906_3,
                0.041_992_6,
                0.169_226_6,
                0.407_736_6,
                0.295_368_8,
                -0.044_694_8,
                -0.384_758_3,
            ],
            &[1.260_868, -1.175_385_4, -0.547_304_6],
            &[0.5, 1.1, 0.2],
        ),
    );
    let eval = run(&x, (2, 3, 2, 2), &GAMMA, &BETA, false);
    assert!(eval.moments.is_none());
    assert_matches(
        "eval",
        &eval,
        (
            &[
                -2.409_890_5,
                -0.981_497_5,
                0.446_895_4,
                1.875_288_4,
                -1.191_635_6,
                -0.213_966_7,
                0.763_702_2,
                -1.610_636_5,
                1.280_865_5,
                -0.574_826,
                -2.430_517_4,
                2.076_161_8,
                0.038_783_2,
                1.467_176_1,
                -2.001_778_2,
                -0.573_385_3,
                0.484_368_2,
                1.462_037_1,
                -0.912_301_6,
                0.065_367_3,
                -1.900_319_8,
                2.606_359_4,
                0.750_667_9,
                -1.105_023_5,
            ],
            &[
                -0.408_112_3,
                -0.163_244_9,
                0.081_622_5,
                0.326_489_8,
                0.391_067_6,
                -0.279_334,
                -0.111_733_6,
                0.055_866_8,
                -0.424_158,
                -0.742_276_6,
                0.530_197_6,
                0.212_079,
                0.081_622_5,
                0.326_489_8,
                0.571_357_2,
                -0.408_112_3,
                -0.111_733_6,
                0.055_866_8,
                0.223_467_2,
                0.391_067_6,
                0.530_197_6,
                0.212_079,
                -0.106_039_5,
                -0.424_158,
            ],
            &[1.622_246_3, -2.181_598_3, -0.607_959_9],
            &[0.5, 1.1, 0.2],
        ),
    );
}

#[test]
fn flat_batches_match_pytorch_per_feature() {
    let x = flat();
    let train = run(&x, (4, 3, 1, 1), &GAMMA, &BETA, true);
    assert_matches(
        "train",
        &train,
        (
            &[
                -1.241_104_5,
                -0.423_517_4,
                -1.711_656_7,
                -0.347_034_8,
                0.023_517_4,
                2.311_656_7,
                0.547_034_8,
                0.470_552_2,
                0.970_552_2,
                1.441_104_5,
                -0.870_552_2,
                -0.370_552_2,
            ],
            &[
                -0.134_432_1,
                -0.040_281_4,
                0.040_040_2,
                0.402_224_1,
                0.241_447,
                0.362_291_2,
                -0.402_224_1,
                -0.147_376_8,
                -0.683_898_9,
                0.134_432_1,
                -0.053_788_9,
                0.281_567_6,
            ],
            &[1.341_104_5, 1.206_994, 0.536_441_8],
            &[0.4, 0.1, -0.2],
        ),
    );
    let eval = run(&x, (4, 3, 1, 1), &GAMMA, &BETA, false);
    assert_matches(
        "eval",
        &eval,
        (
            &[
                -1.559_656_6,
                -0.237_244_5,
                -1.237_572_9,
                -0.743_432,
                0.321_423_4,
                1.943_612_4,
                0.072_792_5,
                0.880_091_3,
                0.883_217_3,
                0.889_017_1,
                -0.795_912_5,
                -0.177_177_8,
            ],
            &[
                -0.408_112_3,
                -0.111_733_6,
                -0.106_039_5,
                0.326_489_8,
                0.391_067_6,
                0.530_197_6,
                -0.163_244_9,
                0.055_866_8,
                -0.424_158,
                0.571_357_2,
                -0.279_334,
                0.212_079,
            ],
            &[1.050_208_9, 1.556_821_3, 0.431_227_3],
            &[0.4, 0.1, -0.2],
        ),
    );
}

/// A fused ReLU or leaky ReLU gives the bits of the norm followed by the rectifier's own op,
/// forward and backward, in training and in evaluation.
#[test]
fn a_fused_rectifier_gives_the_bits_of_one_apart() {
    let x = images();
    for training in [true, false] {
        for alpha in [0.0, 0.2] {
            let run = |then| run_then(&x, (2, 3, 2, 2), (&GAMMA, &BETA), training, then);
            let (fused, apart) = (run(Then::Fused(alpha)), run(Then::Apart(alpha)));
            let what = format!("training {training}, slope {alpha}");
            // Some outputs are rectified, so the test sees both sides of the kink.
            assert!(fused.y.iter().any(|&v| v <= 0.0), "{what}: {:?}", fused.y);
            assert_eq!(fused.y, apart.y, "{what}: y");
            assert_eq!(fused.dx, apart.dx, "{what}: dx");
            assert_eq!(fused.dgamma, apart.dgamma, "{what}: dgamma");
            assert_eq!(fused.dbeta, apart.dbeta, "{what}: dbeta");
        }
    }
}

#[test]
fn training_returns_the_batch_mean_and_biased_variance() {
    let x = flat();
    let (mean, var) = run(&x, (4, 3, 1, 1), &GAMMA, &BETA, true)
        .moments
        .expect("training returns the batch's moments");
    for c in 0..3 {
        let v: Vec<f64> = (0..4).map(|n| f64::from(x[n * 3 + c])).collect();
        let m = v.iter().sum::<f64>() / 4.0;
        let biased = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / 4.0;
        assert!((f64::from(mean[c]) - m).abs() < 1e-6);
        assert!((f64::from(var[c]) - biased).abs() < 1e-6, "{var:?}");
    }
}

/// sum(y * upstream) of an f64 batch norm of `x`, gamma then beta appended to `x`.
fn reference_loss(p: &[f64], shape: Shape4, training: bool) -> f64 {
    let (n, c, h, w) = shape;
    let l = h * w;
    let len = n * c * l;
    let (x, gamma, beta) = (&p[..len], &p[len..len + c], &p[len + c..]);
    let up = widen(&upstream(len));
    let mut loss = 0.0;
    for ch in 0..c {
        let idx: Vec<usize> = (0..n)
            .flat_map(|b| (0..l).map(move |q| b * c * l + ch * l + q))
            .collect();
        let (mean, var) = if training {
            let m = idx.iter().map(|&i| x[i]).sum::<f64>() / idx.len() as f64;
            let v = idx.iter().map(|&i| (x[i] - m).powi(2)).sum::<f64>() / idx.len() as f64;
            (m, v)
        } else {
            (f64::from(RUNNING_MEAN[ch]), f64::from(RUNNING_VAR[ch]))
        };
        for &i in &idx {
            let y = gamma[ch] * (x[i] - mean) / (var + f64::from(EPS)).sqrt() + beta[ch];
            loss += y * up[i];
        }
    }
    loss
}

#[test]
fn gradients_match_finite_differences() {
    for (shape, x) in [((2, 3, 2, 2), images()), ((4, 3, 1, 1), flat())] {
        for training in [true, false] {
            let got = run(&x, shape, &GAMMA, &BETA, training);
            let point: Vec<f64> = widen(&x)
                .into_iter()
                .chain(widen(&GAMMA))
                .chain(widen(&BETA))
                .collect();
            let fd = finite_differences(&point, 1e-4, |p| reference_loss(p, shape, training));
            let what = format!("{shape:?} training {training}");
            let len = x.len();
            assert_gradient(&format!("{what} dx"), &got.dx, &fd[..len], 1e-4);
            assert_gradient(
                &format!("{what} dgamma"),
                &got.dgamma,
                &fd[len..len + 3],
                1e-4,
            );
            assert_gradient(&format!("{what} dbeta"), &got.dbeta, &fd[len + 3..], 1e-4);
        }
    }
}

#[test]
fn results_are_bit_identical_across_thread_counts() {
    // Large enough to be cut into several tasks.
    let shape = (16, 3, 24, 24);
    let x = crate::ops::reference::random(16 * 3 * 24 * 24, 7);
    let on = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a pool");
        pool.install(|| {
            let o = run(&x, shape, &GAMMA, &BETA, true);
            (o.y, o.dx, o.dgamma, o.dbeta)
        })
    };
    assert_eq!(on(1), on(4));
}
