//! Each initializer's distribution on a big tensor against Keras' (and PyTorch's) figures
//! from `bench/reference/initializers.py`: mean, standard deviation and largest magnitude.

use super::*;
use rand::SeedableRng;

/// A dense weight stored (in, out) = (400, 500): `fan_in` 400, `fan_out` 500.
const DENSE: [usize; 2] = [400, 500];

fn draw(init: Init, shape: &[usize], seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    initialize(init, shape, fans(shape), &mut rng)
}

struct Stats {
    mean: f64,
    std: f64,
    max: f64,
}

fn stats(w: &[f32]) -> Stats {
    let n = w.len() as f64;
    let mean = w.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = w
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n;
    let max = w.iter().map(|v| f64::from(v.abs())).fold(0.0, f64::max);
    Stats {
        mean,
        std: var.sqrt(),
        max,
    }
}

/// Mean within 5 standard errors of 0, standard deviation within 1% of `std`, and every
/// value within `bound`, which the largest comes within 2% of (a uniform's limit, a
/// truncated normal's two standard deviations).
fn check(name: &str, w: &[f32], std: f64, bound: f64) {
    let s = stats(w);
    let standard_error = std / (w.len() as f64).sqrt();
    assert!(
        s.mean.abs() < 5.0 * standard_error,
        "{name}: mean {}",
        s.mean
    );
    assert!(
        (s.std / std - 1.0).abs() < 0.01,
        "{name}: std {} vs {std}",
        s.std
    );
    assert!(
        s.max <= bound * (1.0 + 1e-6),
        "{name}: max {} vs {bound}",
        s.max
    );
    assert!(s.max > 0.98 * bound, "{name}: max {} vs {bound}", s.max);
}

// Keras 3.15 on (400, 500), seed 1: std, max|w|.
#[test]
fn uniform_initializers_match_keras() {
    // glorot_uniform: 0.04716, 0.08165; he_uniform: 0.07074, 0.12247;
    // lecun_uniform: 0.05002, 0.08660; RandomUniform(±0.05): 0.02888, 0.05000.
    let cases = [
        (Init::GlorotUniform, (6.0f64 / 900.0).sqrt()),
        (Init::HeUniform, (6.0f64 / 400.0).sqrt()),
        (Init::LecunUniform, (3.0f64 / 400.0).sqrt()),
        (Init::Uniform { limit: 0.05 }, 0.05),
    ];
    for (init, limit) in cases {
        check(
            &format!("{init:?}"),
            &draw(init, &DENSE, 1),
            limit / 3f64.sqrt(),
            limit,
        );
    }
    assert!((0.08165 - (6.0f64 / 900.0).sqrt()).abs() < 1e-5);
}

#[test]
fn truncated_normals_match_keras() {
    // glorot_normal: 0.04723, 0.10718; he_normal: 0.07084, 0.16077;
    // lecun_normal: 0.05009, 0.11368: the standard deviation the formula says, and values
    // cut at two of the untruncated normal's standard deviations (std / 0.8796).
    let cases = [
        (Init::GlorotNormal, (2.0f64 / 900.0).sqrt(), 0.10718),
        (Init::HeNormal, (2.0f64 / 400.0).sqrt(), 0.16077),
        (Init::LecunNormal, (1.0f64 / 400.0).sqrt(), 0.11368),
    ];
    for (init, std, keras_max) in cases {
        let bound = 2.0 * std / TRUNCATED_STD;
        assert!(
            (bound - keras_max).abs() < 1e-4,
            "{init:?}: {bound} vs {keras_max}"
        );
        check(&format!("{init:?}"), &draw(init, &DENSE, 2), std, bound);
    }
    // A conv kernel (out, in, kh, kw) = (32, 16, 3, 3): fan_in 144. Keras on (3, 3, 16, 32):
    // std 0.11878, max|w| 0.26778.
    let conv = [32, 16, 3, 3];
    let std = (2.0f64 / 144.0).sqrt();
    check(
        "conv he_normal",
        &draw(Init::HeNormal, &conv, 3),
        std,
        0.26778,
    );
}

#[test]
fn normal_is_not_truncated() {
    // RandomNormal(stddev=0.05): std 0.05005, max|w| 0.22921 over 200,000 values.
    let w = draw(Init::Normal { std: 0.05 }, &DENSE, 4);
    let s = stats(&w);
    assert!((s.std / 0.05 - 1.0).abs() < 0.01, "{}", s.std);
    assert!(s.mean.abs() < 5.0 * 0.05 / (w.len() as f64).sqrt());
    // About 4.55% of a normal lies beyond 2σ.
    let beyond = w.iter().filter(|v| v.abs() > 0.1).count() as f64 / w.len() as f64;
    assert!((beyond - 0.0455).abs() < 0.003, "{beyond}");
}

#[test]
fn constants_are_constant() {
    assert!(draw(Init::Zeros, &[7], 1).iter().all(|&v| v == 0.0));
    assert!(draw(Init::Ones, &[7], 1).iter().all(|&v| v == 1.0));
}

/// PyTorch's nn.Linear(400, 500): weight std 0.02887, max 0.05000; bias max 0.04993 (500
/// values); nn.Conv2d(16, 32, 3): weight std 0.04773, max 0.08327 = 1 / √144.
#[test]
fn torch_bounds_weight_and_bias_by_the_weights_fan_in() {
    let limit = 1.0 / 400f64.sqrt();
    check(
        "torch dense",
        &draw(Init::Torch, &DENSE, 5),
        limit / 3f64.sqrt(),
        limit,
    );
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let bias = initialize(Init::Torch, &[500], fans(&DENSE), &mut rng);
    assert!(bias.iter().all(|v| f64::from(v.abs()) <= limit));
    assert!(stats(&bias).max > 0.95 * limit);
    let conv = [32, 16, 3, 3];
    let limit = 1.0 / 144f64.sqrt();
    check(
        "torch conv",
        &draw(Init::Torch, &conv, 7),
        limit / 3f64.sqrt(),
        limit,
    );
}

#[test]
fn the_seed_decides_every_bit() {
    for &init in &[
        Init::GlorotUniform,
        Init::HeNormal,
        Init::Normal { std: 0.1 },
        Init::Torch,
    ] {
        assert_eq!(
            draw(init, &[50, 40], 9),
            draw(init, &[50, 40], 9),
            "{init:?}"
        );
        assert_ne!(
            draw(init, &[50, 40], 9),
            draw(init, &[50, 40], 10),
            "{init:?}"
        );
    }
}

/// Models made before initializers could be chosen keep their weights: Glorot-uniform
/// draws as the first version did.
#[test]
fn glorot_uniform_draws_as_before() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let limit = (6.0f32 / 150.0).sqrt();
    let old = Array1::random_using(5000, Uniform::new_inclusive(-limit, limit), &mut rng).to_vec();
    assert_eq!(draw(Init::GlorotUniform, &[100, 50], 1), old);
}
