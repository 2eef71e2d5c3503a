//! The kernels against PyTorch's numbers (`bench/reference/step_tensors.py`, pasted
//! below) and their backward passes against central finite differences.

use super::*;

/// `n` values of `f(i)`, computed in f64 and rounded, as the reference script does.
fn fixed(n: usize, f: impl Fn(f64) -> f64) -> Vec<f32> {
    (0..n).map(|i| f(i as f64) as f32).collect()
}

fn x() -> Vec<f32> {
    fixed(24, |i| 2.0 * (0.7 * i).sin())
}

fn b() -> Vec<f32> {
    fixed(8, |j| 1.5 + j.cos())
}

/// The upstream gradient of the reference: `w[i] = cos(0.3 i)`.
fn w(n: usize) -> Vec<f32> {
    fixed(n, |i| (0.3 * i).cos())
}

fn close(name: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{name}: lengths");
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 2e-6 + 2e-6 * w.abs(),
            "{name}[{k}]: got {g}, PyTorch {w}"
        );
    }
}

/// Central finite differences of `sum(f(x) * w)` against `grad`.
fn finite_differences(name: &str, x: &[f32], grad: &[f32], f: impl Fn(&[f32]) -> Vec<f32>) {
    let wsum = |v: &[f32]| -> f64 {
        let w = w(v.len());
        v.iter().zip(&w).map(|(a, b)| f64::from(a * b)).sum()
    };
    let eps = 1e-2f32;
    for k in 0..x.len() {
        let (mut plus, mut minus) = (x.to_vec(), x.to_vec());
        plus[k] += eps;
        minus[k] -= eps;
        let numeric = (wsum(&f(&plus)) - wsum(&f(&minus))) / (2.0 * f64::from(eps));
        let a = f64::from(grad[k]);
        assert!(
            (a - numeric).abs() <= 2e-3 + 1e-2 * numeric.abs(),
            "{name}: input {k}: analytic {a}, finite differences {numeric}"
        );
    }
}

const XS: [usize; 3] = [2, 3, 4];
const BS: [usize; 3] = [2, 1, 4];

#[test]
fn broadcasting_arithmetic_matches_pytorch() {
    let (x, b) = (x(), b());
    let out = binary_forward(TensorOp::Div, &x, &XS, &b, &BS);
    close(
        "div",
        &out,
        &[
            0.0, 0.631_492, 1.818_419, 3.385_085, 0.267_991, -0.343_854, -1.608_291, -3.852_699,
            -0.505_013, 0.016_482, 1.212_317, 3.875_113, 2.019_478, 0.357_801, -0.297_93,
            -0.780_598, -2.313_866, -0.693_11, 0.027_334, 0.594_143, 2.340_875, 0.948_326,
            0.246_421, -0.339_031,
        ],
    );
    let (gx, gb) = binary_backward(TensorOp::Div, (&x, &XS), (&b, &BS), &w(24));
    close(
        "div grad x",
        &gx,
        &[
            0.4, 0.468_233, 0.761_483, 1.218_825, 0.144_943, 0.034_67, -0.209_624, -0.989_88,
            -0.294_957, -0.443_107, -0.913_401, -1.936_206, -1.059_552, -0.406_99, -0.199_279,
            -0.093_525, 0.103_383, 0.211_911, 0.257_987, 0.370_341, 1.134_475, 0.560_565,
            0.386_247, 0.361_917,
        ],
    );
    close(
        "div grad b",
        &gb,
        &[
            -0.187_801, -0.276_461, -0.614_501, -0.436_519, -0.276_709, -0.239_099, -0.161_602,
            -0.170_34,
        ],
    );
    let (_, gb) = binary_backward(TensorOp::Sub, (&b, &BS), (&x, &XS), &w(24));
    close(
        "sub grad b",
        &gb[..4],
        &[-1.0, -0.955_337, -0.825_336, -0.621_61],
    );
    finite_differences(
        "div by b",
        &b,
        &binary_backward(TensorOp::Div, (&x, &XS), (&b, &BS), &w(24)).1,
        |b| binary_forward(TensorOp::Div, &x, &XS, b, &BS),
    );
    finite_differences(
        "mul",
        &x,
        &binary_backward(TensorOp::Mul, (&x, &XS), (&b, &BS), &w(24)).0,
        |x| binary_forward(TensorOp::Mul, x, &XS, &b, &BS),
    );
}

#[test]
fn reductions_match_pytorch() {
    let x = x();
    let cases: [(&str, Reduce, &[usize], &[f32]); 4] = [
        (
            "sum axis 1",
            Reduce::Sum,
            &[1],
            &[
                -0.592_557, 0.620_497, 1.541_721, 1.737_85, 1.732_057, 1.093_416, -0.059_475,
                -1.184_395,
            ],
        ),
        ("mean axes 1 2", Reduce::Mean, &[1, 2], &[0.275_626, 0.1318]),
        (
            "max axis 2",
            Reduce::Max,
            &[2],
            &[
                1.970_899, 0.669_976, 1.976_336, 1.709_198, 1.339_14, 1.981_215,
            ],
        ),
        (
            "min axis 1",
            Reduce::Min,
            &[1],
            &[
                -1.262_533, -0.701_566, -1.743_152, -1.964_905, -1.958_355, -1.236_274, -0.732_958,
                -1.759_392,
            ],
        ),
    ];
    for (name, op, axes, want) in cases {
        let out = reduce_forward(op, &x, &XS, axes);
        close(name, &out, want);
        let grad = reduce_backward(op, &x, &XS, axes, &out, &w(out.len()));
        finite_differences(name, &x, &grad, |x| reduce_forward(op, x, &XS, axes));
    }
    let out = reduce_forward(Reduce::Max, &x, &XS, &[2]);
    let grad = reduce_backward(Reduce::Max, &x, &XS, &[2], &out, &w(6));
    close(
        "max grad",
        &grad,
        &[
            0.0, 0.0, 1.0, 0.0, 0.955_337, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.825_336, 0.621_61, 0.0,
            0.0, 0.0, 0.0, 0.0, 0.0, 0.362_358, 0.070_737, 0.0, 0.0, 0.0,
        ],
    );
}

#[test]
fn max_shares_its_gradient_between_ties() {
    let x = [1.0, 3.0, 3.0, 2.0];
    let out = reduce_forward(Reduce::Max, &x, &[1, 4], &[1]);
    assert_eq!(out, [3.0]);
    assert_eq!(
        reduce_backward(Reduce::Max, &x, &[1, 4], &[1], &out, &[1.0]),
        [0.0, 0.5, 0.5, 0.0]
    );
}

#[test]
fn softmax_and_log_softmax_match_pytorch() {
    let x = x();
    let s = softmax_forward(&x, &XS, 1, false);
    close(
        "softmax",
        &s,
        &[
            0.308_916, 0.703_321, 0.648_163, 0.433_114, 0.603_681, 0.096_141, 0.015_801, 0.010_801,
            0.087_404, 0.200_538, 0.336_035, 0.556_084, 0.427_689, 0.248_724, 0.142_006, 0.038_654,
            0.010_923, 0.038_163, 0.316_104, 0.856_773, 0.561_388, 0.713_113, 0.541_89, 0.104_574,
        ],
    );
    let gs = softmax_backward(&s, &XS, 1, false, &w(24));
    close(
        "softmax grad",
        &gs,
        &[
            0.165_822, 0.322_071, 0.406_169, 0.392_816, -0.060_885, -0.041_02, -0.006_73,
            -0.002_371, -0.104_937, -0.281_051, -0.399_439, -0.390_445, -0.450_446, -0.316_579,
            -0.161_346, -0.038_774, -0.000_753, -0.006_446, -0.003_552, 0.036_326, 0.451_199,
            0.323_025, 0.164_898, 0.002_448,
        ],
    );
    finite_differences("softmax", &x, &gs, |x| softmax_forward(x, &XS, 1, false));
    let l = softmax_forward(&x, &XS, 2, true);
    close(
        "log_softmax",
        &l,
        &[
            -2.857_89, -1.569_455, -0.886_991, -1.131_471, -0.347_114, -1.718_656, -2.760_242,
            -2.981_995, -3.768_412, -2.472_251, -1.191_905, -0.529_542, -0.378_984, -1.449_985,
            -2.821_14, -3.847_573, -3.629_241, -2.907_159, -1.603_639, -0.331_746, -0.725_393,
            -1.015_114, -2.100_371, -3.470_751,
        ],
    );
    let gl = softmax_backward(&l, &XS, 2, true, &w(24));
    close(
        "log_softmax grad",
        &gl,
        &[
            0.804_744, 0.247_122, -0.576_042, -0.475_824, 0.573_635, 0.124_342, -0.208_285,
            -0.489_692, -0.653_837, -0.598_653, 0.108_87, 1.143_62, 0.693_978, -0.180_842,
            -0.351_909, -0.161_227, 0.036_154, 0.272_274, 0.245_466, -0.553_894, -0.843_707,
            -0.350_294, 0.494_131, 0.699_87,
        ],
    );
    finite_differences("log_softmax", &x, &gl, |x| softmax_forward(x, &XS, 2, true));
}

#[test]
fn softmax_does_not_overflow() {
    let l = softmax_forward(&[1000.0, 0.0], &[1, 2], 1, true);
    assert_eq!(l, [0.0, -1000.0]);
    assert_eq!(
        softmax_forward(&[1000.0, 1000.0], &[1, 2], 1, false),
        [0.5, 0.5]
    );
}

#[test]
fn clip_matches_pytorch() {
    let x = x();
    let out = clip_forward(&x, -0.5, 1.0);
    close(
        "clip",
        &out,
        &[
            0.0, 1.0, 1.0, 1.0, 0.669_976, -0.5, -0.5, -0.5, -0.5, 0.033_628, 1.0, 1.0, 1.0,
            0.638_197, -0.5, -0.5, -0.5, -0.5, 0.067_246, 1.0, 1.0, 1.0, 0.606_237, -0.5,
        ],
    );
    let g = clip_backward(&x, -0.5, 1.0, &w(24));
    close(
        "clip grad",
        &g,
        &[
            1.0, 0.0, 0.0, 0.0, 0.362_358, 0.0, 0.0, 0.0, 0.0, -0.904_072, 0.0, 0.0, 0.0,
            -0.725_932, 0.0, 0.0, 0.0, 0.0, 0.634_693, 0.0, 0.0, 0.0, 0.950_233, 0.0,
        ],
    );
    // TensorFlow's gradient passes at the bounds themselves.
    assert_eq!(
        clip_backward(&[-0.5, 1.0], -0.5, 1.0, &[1.0, 1.0]),
        [1.0, 1.0]
    );
}
