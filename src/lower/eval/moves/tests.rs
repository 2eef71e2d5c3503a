//! The kernels against NumPy's (and PyTorch's matmul gradients) on fixed inputs:
//! `bench/reference/step_moves.py` prints the numbers.

use super::*;

fn x() -> Vec<f32> {
    (0..24u8).map(|i| f32::from(i) * 0.5 - 3.0).collect()
}

fn assert_eq_f(got: &[f32], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{got:?} against {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((f64::from(*g) - w).abs() < 1e-6, "{got:?} against {want:?}");
    }
}

#[test]
fn transpose_matches_numpy_and_its_inverse_undoes_it() {
    #[rustfmt::skip]
    let want = [-3.0, -1.0, 1.0, -2.5, -0.5, 1.5, -2.0, 0.0, 2.0, -1.5, 0.5, 2.5, 3.0, 5.0, 7.0, 3.5, 5.5, 7.5, 4.0, 6.0, 8.0, 4.5, 6.5, 8.5];
    let t = transpose(&x(), &[2, 3, 4], &[0, 2, 1]);
    assert_eq_f(&t, &want);
    assert_eq!(transpose(&t, &[2, 4, 3], &inverse(&[0, 2, 1])), x());
    let y: Vec<f32> = (0..24u8).map(f32::from).collect();
    #[rustfmt::skip]
    let want = [0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 1.0, 3.0, 5.0, 7.0, 9.0, 11.0, 12.0, 14.0, 16.0, 18.0, 20.0, 22.0, 13.0, 15.0, 17.0, 19.0, 21.0, 23.0];
    let perm = [0, 3, 1, 2];
    let t = transpose(&y, &[2, 2, 3, 2], &perm);
    assert_eq_f(&t, &want);
    assert_eq!(transpose(&t, &[2, 2, 2, 3], &inverse(&perm)), y);
}

#[allow(clippy::unreadable_literal)]
#[test]
fn matmul_and_its_gradients_match_numpy_and_pytorch() {
    let a = [
        1.0f32, -2.0, 0.5, 3.0, 0.0, -1.0, 0.2, 0.4, -0.6, 1.5, -1.5, 2.0,
    ];
    let b = [
        2.0f32, 1.0, 0.0, -1.0, 4.0, 0.5, -1.0, 3.0, 2.0, 2.0, 0.5, -0.5,
    ];
    let g = [1.0f32, -1.0, 0.5, 2.0, -2.0, 0.25, 1.0, 1.0];
    let c = matmul(&a, &[2, 3], &b, &[3, 2], 2);
    assert_eq_f(&c, &[4.0, 3.25, 2.0, 2.5, 0.3, 1.7, -3.5, 0.5]);
    let (ga, gb) = matmul_backward((&a, &[2, 3]), (&b, &[3, 2]), &g, 2);
    assert_eq_f(
        &ga,
        &[
            1.0, 1.0, 3.5, 3.0, -2.0, 3.0, 2.75, -3.5, -1.125, 2.0, 4.0, 0.0,
        ],
    );
    assert_eq_f(
        &gb,
        &[
            2.5, 5.0, -2.0, 2.0, 0.0, -2.5, 1.1, 1.55, -2.3, -1.4, 3.2, 1.85,
        ],
    );
    // Vectors: a row on the left, a column on the right, a dot product of two.
    let v = [1.0f32, 2.0, 3.0, -1.0, 0.5, 2.0];
    assert_eq_f(&matmul(&v, &[3], &b, &[3, 2], 2), &[14.0, 0.5, 3.0, -3.0]);
    assert_eq_f(&matmul(&a, &[2, 3], &v, &[3], 2), &[-1.5, 0.0, -1.2, 1.75]);
    assert_eq_f(&matmul(&v, &[3], &v, &[3], 2), &[14.0, 5.25]);
}

#[test]
fn slices_match_numpy_and_scatter_back() {
    let x = x();
    let s = slice(&x, &[2, 3, 4], 1, 1, 3);
    #[rustfmt::skip]
    assert_eq_f(&s, &[-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 5.0, 5.5, 6.0, 6.5, 7.0, 7.5, 8.0, 8.5]);
    assert_eq_f(
        &slice(&x, &[2, 3, 4], 2, 3, 4),
        &[-1.5, 0.5, 2.5, 4.5, 6.5, 8.5],
    );
    // `x[:, 1:, 1:3]`, the last axis first, as the checker orders them.
    let inner = slice(&x, &[2, 3, 4], 2, 1, 3);
    let both = slice(&inner, &[2, 3, 2], 1, 1, 3);
    assert_eq_f(&both, &[-0.5, 0.0, 1.5, 2.0, 5.5, 6.0, 7.5, 8.0]);
    // The gradient puts each value back where it came from, zeros elsewhere.
    let back = slice_backward(&s, &[2, 3, 4], 1, 1, 3);
    for (i, (&b, &v)) in back.iter().zip(&x).enumerate() {
        let row = (i / 4) % 3;
        assert_eq!(b, if (1..3).contains(&row) { v } else { 0.0 }, "at {i}");
    }
}

#[test]
fn argmax_takes_the_first_of_equal_values_as_numpy() {
    let z = [
        0.1f32, 0.7, 0.7, -1.0, 2.0, -3.0, 0.5, 1.0, 0.0, 0.0, 0.0, 0.0,
    ];
    assert_eq!(argmax(&z, &[3, 4], 1), vec![1.0, 0.0, 0.0]);
    // Along the middle axis of (1, 3, 2): per column.
    let m = [1.0f32, 5.0, 3.0, 2.0, 3.0, 9.0];
    assert_eq!(argmax(&m, &[1, 3, 2], 1), vec![1.0, 2.0]);
    assert_eq!(argmax(&[1.0, f32::NAN, 3.0], &[1, 3], 1), vec![1.0]);
}
