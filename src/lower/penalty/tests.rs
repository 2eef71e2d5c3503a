//! Penalties against Keras 3's (`bench/reference/regularizers.py`): a Dense layer without
//! bias, kernel `W` (in, out) as ours is stored, on inputs `X` with targets `Y` and the mean
//! squared error; Keras' `model.losses` and the gradient of `mse + penalty`.

use super::*;

const W: [f32; 6] = [0.5, -1.25, 0.0, 2.0, -0.75, 0.125];
const X: [[f32; 2]; 2] = [[1.0, -2.0], [0.5, 0.25]];
const Y: [[f32; 3]; 2] = [[0.0, 1.0, -1.0], [1.0, 0.0, 0.5]];

/// The mean squared error of `X · W` against `Y`, and its gradient for `W`.
fn mse_and_gradient(w: &[f32]) -> (f64, Vec<f32>) {
    let mut loss = 0.0f64;
    let mut grad = vec![0.0f32; 6];
    for (x, y) in X.iter().zip(&Y) {
        for j in 0..3 {
            let pred = x[0] * w[j] + x[1] * w[3 + j];
            let err = pred - y[j];
            loss += f64::from(err * err) / 6.0;
            grad[j] += 2.0 * err * x[0] / 6.0;
            grad[3 + j] += 2.0 * err * x[1] / 6.0;
        }
    }
    (loss, grad)
}

/// (regularizer, Keras' penalty, Keras' gradient of mse + penalty).
fn keras_cases() -> [(Regularizer, f64, [f64; 6]); 3] {
    [
        (
            Regularizer { l1: 0.01, l2: 0.0 },
            0.046_250_000_596_046_45,
            [
                -1.198_333_382_606_506_3,
                -0.395_416_676_998_138_4,
                0.171_875,
                2.322_500_228_881_836,
                0.422_291_666_269_302_37,
                -0.529_062_509_536_743_2,
            ],
        ),
        (
            Regularizer { l1: 0.0, l2: 0.01 },
            0.063_906_244_933_605_2,
            [
                -1.198_333_382_606_506_3,
                -0.410_416_692_495_346_07,
                0.171_875,
                2.352_500_200_271_606_4,
                0.417_291_671_037_673_95,
                -0.536_562_502_384_185_8,
            ],
        ),
        (
            Regularizer { l1: 0.01, l2: 0.02 },
            0.174_062_490_463_256_84,
            [
                -1.178_333_401_679_992_7,
                -0.445_416_688_919_067_4,
                0.171_875,
                2.402_500_152_587_890_6,
                0.392_291_665_077_209_5,
                -0.524_062_514_305_114_7,
            ],
        ),
    ]
}

#[test]
fn penalty_and_its_gradient_match_keras() {
    let (mse, mse_grad) = mse_and_gradient(&W);
    // Keras: mse 2.38623046875 for every case.
    assert!((mse - 2.386_230_468_75).abs() < 1e-6, "{mse}");
    for (reg, keras_penalty, keras_grad) in keras_cases() {
        let penalty = value(reg, &W);
        assert!((penalty - keras_penalty).abs() < 1e-7, "{reg:?}: {penalty}");
        let mut grad = mse_grad.clone();
        add_gradient(reg, &W, 1.0, &mut grad);
        for (g, k) in grad.iter().zip(keras_grad) {
            assert!(
                (f64::from(*g) - k).abs() < 1e-6,
                "{reg:?}: {grad:?} vs {keras_grad:?}"
            );
        }
    }
}

#[test]
fn gradient_matches_finite_differences() {
    let reg = Regularizer { l1: 0.3, l2: 0.7 };
    let w = [0.5f32, -1.25, 2.0, -0.75, 0.125, 0.9];
    let mut grad = vec![0.0f32; w.len()];
    add_gradient(reg, &w, 2.0, &mut grad);
    let eps = 1e-3f32;
    for k in 0..w.len() {
        let at = |d: f32| {
            let mut v = w;
            v[k] += d;
            value(reg, &v)
        };
        let numeric = 2.0 * (at(eps) - at(-eps)) / (2.0 * f64::from(eps));
        assert!(
            (f64::from(grad[k]) - numeric).abs() < 1e-3,
            "{k}: {} vs {numeric}",
            grad[k]
        );
    }
}
