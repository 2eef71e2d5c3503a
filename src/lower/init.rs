//! Initialisation of a layer's weights, with Keras 3's formulas (`keras/src/initializers`),
//! and PyTorch's default for its layers (`torch`).
//!
//! Fans as Keras computes them: a dense weight stored (in, out) has `fan_in = in`; a conv
//! kernel (out, in, kh, kw) has `fan_in = in*kh*kw` and `fan_out = out*kh*kw`; a vector of
//! `n` has both `n`. Keras' normal variants of the variance-scaling family (`glorot_normal`,
//! `he_normal`, `lecun_normal`) draw a normal truncated at two standard deviations, with its
//! standard deviation divided by 0.8796..., the standard deviation of a standard normal
//! truncated at ±2, so that the values drawn have the variance the formula asks for.

use ndarray::Array1;
use ndarray_rand::rand_distr::{Distribution, Normal, StandardNormal, Uniform};
use ndarray_rand::RandomExt;
use rand_chacha::ChaCha8Rng;

use crate::check::plan::Init;

/// The standard deviation of a standard normal truncated at ±2 (Keras' constant).
const TRUNCATED_STD: f64 = 0.879_625_661_034_239_8;

/// `(fan_in, fan_out)` of a parameter of this stored shape.
pub fn fans(shape: &[usize]) -> (usize, usize) {
    match shape {
        [fan_in, fan_out] => (*fan_in, *fan_out),
        [out, inp, k] => (inp * k, out * k),
        [out, inp, kh, kw] => (inp * kh * kw, out * kh * kw),
        other => {
            let n: usize = other.iter().product();
            (n, n)
        }
    }
}

/// Values for a parameter of `shape` drawn as `init` says, `fans` being those its formula
/// reads (a bias's own, or its weight's for `torch`). Draws from `rng` in order, one value
/// after the other (none for the constants), so the same seed gives the same bits.
///
/// # Panics
/// On `Init::Normal` with a standard deviation `check` refuses (not above 0).
pub fn initialize(
    init: Init,
    shape: &[usize],
    (fan_in, fan_out): (usize, usize),
    rng: &mut ChaCha8Rng,
) -> Vec<f32> {
    let n: usize = shape.iter().product();
    let (fan_in, fan_out) = (fan_in.max(1) as f64, fan_out.max(1) as f64);
    match init {
        Init::GlorotUniform => glorot_uniform(n, fan_in, fan_out, rng),
        Init::GlorotNormal => truncated(n, (2.0 / (fan_in + fan_out)).sqrt(), rng),
        Init::HeUniform => uniform(n, (6.0 / fan_in).sqrt(), rng),
        Init::HeNormal => truncated(n, (2.0 / fan_in).sqrt(), rng),
        Init::LecunUniform => uniform(n, (3.0 / fan_in).sqrt(), rng),
        Init::LecunNormal => truncated(n, (1.0 / fan_in).sqrt(), rng),
        Init::Zeros => vec![0.0; n],
        Init::Ones => vec![1.0; n],
        Init::Normal { std } => {
            let normal = Normal::new(0.0, std as f32).expect("check keeps `std` above 0");
            (0..n).map(|_| normal.sample(rng)).collect()
        }
        Init::Uniform { limit } => uniform(n, limit, rng),
        // kaiming_uniform_(a = √5): gain √(2 / (1 + 5)), bound gain * √(3 / fan_in) =
        // 1 / √fan_in; and the bias of nn.Linear and nn.Conv2d the same bound.
        Init::Torch => uniform(n, 1.0 / fan_in.sqrt(), rng),
    }
}

/// Glorot (Xavier) uniform: U(-l, l) with `l = sqrt(6 / (fan_in + fan_out))`, computed as it
/// always was (models trained before initializers could be chosen keep their bits).
fn glorot_uniform(n: usize, fan_in: f64, fan_out: f64, rng: &mut ChaCha8Rng) -> Vec<f32> {
    uniform(n, (6.0 / (fan_in + fan_out)).sqrt(), rng)
}

/// U(-limit, limit).
fn uniform(n: usize, limit: f64, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let limit = limit as f32;
    Array1::random_using(n, Uniform::new_inclusive(-limit, limit), rng).to_vec()
}

/// A normal of standard deviation `std / TRUNCATED_STD`, values beyond two of those
/// standard deviations drawn again (Keras' `truncated_normal`): the values' standard
/// deviation is `std`.
fn truncated(n: usize, std: f64, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let scale = (std / TRUNCATED_STD) as f32;
    (0..n)
        .map(|_| loop {
            let z: f32 = StandardNormal.sample(rng);
            if z.abs() <= 2.0 {
                break z * scale;
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
