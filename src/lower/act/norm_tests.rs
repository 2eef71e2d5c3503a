//! `layer_norm` against PyTorch's `F.layer_norm` on fixed inputs (bench/reference/norm.py,
//! epsilon 1e-3; images normalised over channels at each position) and against finite
//! differences of an f64 reference.

use dfdx::prelude::*;

use super::{layer_norm, Act};
use crate::lower::params::Param;

const EPS: f32 = 1e-3;
const GAMMA: [f32; 3] = [1.0, 0.5, -1.5];
const BETA: [f32; 3] = [0.1, -0.2, 0.3];

fn images() -> Vec<f32> {
    (0..24)
        .map(|i| ((i * 7 % 24) as f32 - 11.5) / 4.0)
        .collect()
}

fn flat() -> Vec<f32> {
    (0..12).map(|i| ((i * 5 % 12) as f32 - 5.5) / 3.0).collect()
}

fn upstream(n: usize) -> Vec<f32> {
    (0..n).map(|i| (i % 5) as f32 * 0.3 - 0.5).collect()
}

/// Output, dx, dgamma, dbeta of `layer_norm` on `x` (flat (4, 3) or images (2, 3, 2, 2)) for
/// the loss `sum(y * upstream)`.
fn run(x: &[f32], image: bool, gamma: &[f32], beta: &[f32]) -> [Vec<f32>; 4] {
    let dev = Cpu::default();
    let g = Param::new(&dev, "ln.weight".into(), vec![3], gamma.to_vec());
    let b = Param::new(&dev, "ln.bias".into(), vec![3], beta.to_vec());
    let w = upstream(x.len());
    if image {
        let xt = dev.tensor_from_vec(x.to_vec(), (2, 3, 2, 2));
        let Act::Image(y) = layer_norm(Act::Image(xt.leaky_trace()), EPS, Some(&g), Some(&b))
        else {
            unreachable!("images stay images")
        };
        let out = y.as_vec();
        let grads = (y * dev.tensor_from_vec(w, (2, 3, 2, 2))).sum().backward();
        [
            out,
            grads.get(&xt).as_vec(),
            grads.get(g.r1()).as_vec(),
            grads.get(b.r1()).as_vec(),
        ]
    } else {
        let xt = dev.tensor_from_vec(x.to_vec(), (4, 3));
        let y = layer_norm(Act::Flat(xt.leaky_trace()), EPS, Some(&g), Some(&b)).into_flat();
        let out = y.as_vec();
        let grads = (y * dev.tensor_from_vec(w, (4, 3))).sum().backward();
        [
            out,
            grads.get(&xt).as_vec(),
            grads.get(g.r1()).as_vec(),
            grads.get(b.r1()).as_vec(),
        ]
    }
}

fn assert_close(what: &str, got: &[f32], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (f64::from(*g) - w).abs() <= tol,
            "{what}[{i}]: {g} against {w}"
        );
    }
}

#[test]
fn layer_norm_matches_pytorch_on_flat_batches_and_images() {
    let [y, dx, dg, db] = run(&flat(), false, &GAMMA, &BETA);
    #[rustfmt::skip]
    let want_y = [
        -1.124_414_3, -0.2, -1.536_621_5, -0.239_506_9, 0.479_013_7, 1.827_780_9,
        -0.239_506_9, 0.479_013_7, 1.827_780_9, 1.118_520_6, -0.879_013_7, -0.209_260_3,
    ];
    #[rustfmt::skip]
    let want_dx = [
        -0.055_168, 0.110_197_3, -0.055_029_3, -0.150_768_6, 0.042_888_1, 0.107_880_5,
        0.137_019_1, -0.038_816_3, -0.098_202_9, 0.059_175_3, 0.022_951_6, -0.082_127,
    ];
    assert_close("flat y", &y, &want_y, 1e-5);
    assert_close("flat dx", &dx, &want_dx, 1e-5);
    assert_close(
        "flat dgamma",
        &dg,
        &[1.257_270_2, 1.765_435_7, 0.156_392_1],
        1e-5,
    );
    assert_close("flat dbeta", &db, &[0.4, 0.1, -0.2], 1e-6);

    let [y, dx, dg, db] = run(&images(), true, &GAMMA, &BETA);
    #[rustfmt::skip]
    let want_y = [
        -1.123_827_3, -1.123_827_3, -1.123_827_3, 1.488_581_4, -0.2, -0.2, -0.2, -0.662_860_5,
        -1.535_741, -1.535_741, -1.535_741, 0.994_290_7, -1.123_827_3, 0.562_860_5, -1.123_827_3,
        -1.123_827_3, -0.2, 0.262_860_5, -0.2, -0.2, -1.535_741, 2.382_872_1, -1.535_741,
        -1.535_741,
    ];
    #[rustfmt::skip]
    let want_dx = [
        -0.367_056_6, -0.152_199_4, 0.213_574_1, -0.009_901_4, 0.734_296_4, 0.305_956_8,
        -0.428_339_6, -0.039_685_1, -0.367_239_9, -0.153_757_4, 0.214_765_5, 0.049_586_5,
        0.213_574_1, 0.082_650_8, 0.031_374_7, -0.367_056_6, -0.428_339_6, -0.066_128_6,
        -0.061_191_4, 0.734_296_4, 0.214_765_5, -0.016_522_2, 0.029_816_7, -0.367_239_9,
    ];
    assert_close("image y", &y, &want_y, 1e-5);
    assert_close("image dx", &dx, &want_dx, 1e-5);
    assert_close("image dgamma", &dg, &[1.107_724_9, 0.0, 1.104_584_8], 1e-5);
    assert_close("image dbeta", &db, &[0.5, 1.1, 0.2], 1e-6);
}

/// sum(y * upstream) of an f64 layer norm over the 3 channels of each (example, position).
fn reference_loss(x: &[f64], gamma: &[f64], beta: &[f64], positions: usize) -> f64 {
    let up = upstream(x.len());
    let mut loss = 0.0;
    for n in 0..x.len() / (3 * positions) {
        for q in 0..positions {
            let idx: Vec<usize> = (0..3).map(|c| (n * 3 + c) * positions + q).collect();
            let m = idx.iter().map(|&i| x[i]).sum::<f64>() / 3.0;
            let v = idx.iter().map(|&i| (x[i] - m).powi(2)).sum::<f64>() / 3.0;
            for (c, &i) in idx.iter().enumerate() {
                let y = gamma[c] * (x[i] - m) / (v + f64::from(EPS)).sqrt() + beta[c];
                loss += y * f64::from(up[i]);
            }
        }
    }
    loss
}

#[test]
fn layer_norm_gradients_match_finite_differences() {
    let widen = |v: &[f32]| v.iter().map(|&v| f64::from(v)).collect::<Vec<f64>>();
    for (x, image) in [(flat(), false), (images(), true)] {
        let positions = if image { 4 } else { 1 };
        let [_, dx, dg, db] = run(&x, image, &GAMMA, &BETA);
        let (x, g, b) = (widen(&x), widen(&GAMMA), widen(&BETA));
        let h = 1e-5;
        let fd = |which: usize, k: usize| {
            let mut parts = [x.clone(), g.clone(), b.clone()];
            parts[which][k] += h;
            let up = reference_loss(&parts[0], &parts[1], &parts[2], positions);
            parts[which][k] -= 2.0 * h;
            let down = reference_loss(&parts[0], &parts[1], &parts[2], positions);
            (up - down) / (2.0 * h)
        };
        for (which, got) in [(0, &dx), (1, &dg), (2, &db)] {
            for (k, &v) in got.iter().enumerate() {
                let want = fd(which, k);
                assert!(
                    (f64::from(v) - want).abs() < 1e-4,
                    "image {image}, part {which}[{k}]: {v} against {want}"
                );
            }
        }
    }
}
