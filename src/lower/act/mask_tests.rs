//! The padding mask of `embedding(mask_zero = true)` read by the global 1-D pools: the
//! lookup then the masked mean against Keras' `Embedding(mask_zero=True)` +
//! `GlobalAveragePooling1D`, the masked max against PyTorch's `masked_fill(-inf)` + `max`
//! (Keras' `GlobalMaxPooling1D` ignores masks), both with the table's gradient
//! (`bench/reference/mask_zero.py`), and each pool's gradient against finite differences.

use dfdx::prelude::*;

use super::{embedding, masked_channel_max, masked_channel_mean, padding_mask, Act, Flat, Image};
use crate::lower::params::Param;

/// A masked global pool.
type Pool = fn(Image<OwnedTape<f32, Cpu>>, &[f32]) -> Flat<OwnedTape<f32, Cpu>>;

const IDS: [f32; 10] = [3.0, 1.0, 0.0, 4.0, 0.0, 2.0, 5.0, 4.0, 0.0, 0.0];
const UPSTREAM: [f32; 6] = [0.5, -1.0, 0.25, 1.5, 0.75, -0.5];

fn table() -> Vec<f32> {
    (0..18).map(|i| ((i * 7 % 11) as f32 - 5.0) / 4.0).collect()
}

/// Output and table gradient of lookup then `pool`, for the loss `sum(y * UPSTREAM)`.
fn lookup_then(pool: Pool) -> (Vec<f32>, Vec<f32>) {
    let dev = Cpu::default();
    let mut table = Param::new(&dev, "embedding.weight".into(), vec![6, 3], table());
    table.read_on_host(&dev);
    let ids = dev.tensor_from_vec(IDS.to_vec(), (2, 5)).leaky_trace();
    let mask = padding_mask(&ids);
    assert_eq!(mask, [1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0]);
    let Act::Image(x) = embedding(ids, &table, 3) else {
        unreachable!("a lookup gives a sequence")
    };
    let y = pool(x, &mask);
    let out = y.as_vec();
    let mut grads = (y * dev.tensor_from_vec(UPSTREAM.to_vec(), (2, 3)))
        .sum()
        .backward();
    (out, table.take_grad(&mut grads))
}

fn assert_close(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= 1e-6, "{what}[{i}]: {g} against {w}");
    }
}

#[test]
fn masked_mean_matches_keras_global_average_pooling_with_mask_zero() {
    let (y, dw) = lookup_then(masked_channel_mean);
    assert_close(
        "mean",
        &y,
        &[
            0.833_333_3,
            -0.166_666_7,
            -0.25,
            0.583_333_3,
            -0.416_666_7,
            0.416_666_7,
        ],
    );
    #[rustfmt::skip]
    let want = [
        0.0, 0.0, 0.0, 0.166_666_7, -0.333_333_3, 0.083_333_34, 0.5, 0.25, -0.166_666_7,
        0.166_666_7, -0.333_333_3, 0.083_333_34, 0.666_666_7, -0.083_333_34, -0.083_333_34,
        0.5, 0.25, -0.166_666_7,
    ];
    // Row 0, the padding's, gets no gradient: it never reaches the mean.
    assert_close("mean table gradient", &dw, &want);
}

#[test]
fn masked_max_matches_pytorch_masked_fill_then_max() {
    let (y, dw) = lookup_then(masked_channel_max);
    assert_close("max", &y, &[1.25, 0.25, 1.25, 1.0, 0.0, 1.25]);
    #[rustfmt::skip]
    let want = [
        0.0, 0.0, 0.0, 0.5, -1.0, 0.0, 1.5, 0.75, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -0.25, 0.0,
        0.0, 0.0,
    ];
    assert_close("max table gradient", &dw, &want);
}

/// `sum(pool(x, mask) * UPSTREAM)` and its gradient with respect to `x` (2, 3, 1, 5).
fn loss_and_grad(pool: Pool, x: &[f32], mask: &[f32]) -> (f32, Vec<f32>) {
    let dev = Cpu::default();
    let xt = dev.tensor_from_vec(x.to_vec(), (2, 3, 1, 5));
    let loss =
        (pool(xt.leaky_trace(), mask) * dev.tensor_from_vec(UPSTREAM.to_vec(), (2, 3))).sum();
    let value = loss.array();
    let grads = loss.backward();
    (value, grads.get(&xt).as_vec())
}

#[test]
fn masked_pools_gradients_match_finite_differences_and_an_all_padding_example_gives_zeros() {
    // Distinct values, so that each channel's maximum is one position's.
    let x: Vec<f32> = (0..30)
        .map(|i| ((i * 13 % 30) as f32 - 14.5) / 8.0)
        .collect();
    let mask = [0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0];
    for pool in [masked_channel_mean as Pool, masked_channel_max] {
        let (_, grad) = loss_and_grad(pool, &x, &mask);
        let h = 1e-2;
        for i in 0..x.len() {
            let mut up = x.clone();
            up[i] += h;
            let mut down = x.clone();
            down[i] -= h;
            let numeric = (loss_and_grad(pool, &up, &mask).0 - loss_and_grad(pool, &down, &mask).0)
                / (2.0 * h);
            assert!(
                (numeric - grad[i]).abs() < 1e-3,
                "x[{i}]: {} against finite differences {numeric}",
                grad[i]
            );
            // Padding positions and the all-padding example get no gradient.
            if mask[i % 5 + 5 * (i / 15)] == 0.0 {
                assert_eq!(grad[i], 0.0, "x[{i}]");
            }
        }
        let dev = Cpu::default();
        let y = pool(
            dev.tensor_from_vec(x.clone(), (2, 3, 1, 5)).leaky_trace(),
            &mask,
        );
        assert_eq!(&y.as_vec()[3..], [0.0; 3], "the all-padding example");
    }
}
