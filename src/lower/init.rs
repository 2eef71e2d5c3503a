//! Initialisation, as Keras does it: Glorot-uniform kernels, zero biases.

use ndarray::Array1;
use ndarray_rand::rand_distr::Uniform;
use ndarray_rand::RandomExt;
use rand_chacha::ChaCha8Rng;

/// Glorot (Xavier) uniform: U(-l, l) with `l = sqrt(6 / (fan_in + fan_out))`.
/// For a conv kernel (out, in, kh, kw), `fan_in = in*kh*kw` and `fan_out = out*kh*kw`.
pub fn glorot_uniform(shape: &[usize], rng: &mut ChaCha8Rng) -> Vec<f32> {
    let (fan_in, fan_out) = match shape {
        [fan_in, fan_out] => (*fan_in, *fan_out),
        [out, inp, kh, kw] => (inp * kh * kw, out * kh * kw),
        other => {
            let n: usize = other.iter().product();
            (n, n)
        }
    };
    let limit = (6.0 / (fan_in + fan_out) as f64).sqrt() as f32;
    let n: usize = shape.iter().product();
    Array1::random_using(n, Uniform::new_inclusive(-limit, limit), rng).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn glorot_stays_within_its_limit_and_is_seeded() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let w = glorot_uniform(&[100, 50], &mut rng);
        let limit = (6.0f32 / 150.0).sqrt();
        assert!(w.iter().all(|v| v.abs() <= limit));
        // Spread over the range, not stuck at zero.
        let mean_abs = w.iter().map(|v| v.abs()).sum::<f32>() / w.len() as f32;
        assert!((mean_abs - limit / 2.0).abs() < limit * 0.05, "{mean_abs}");
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(w, glorot_uniform(&[100, 50], &mut rng));
    }
}
