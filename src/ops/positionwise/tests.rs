//! `positionwise` against an f64 reference written from the definition, its gradients
//! against finite differences of that reference, in both weight layouts, and across thread
//! counts bit for bit.

use std::sync::Arc;

use dfdx::prelude::*;

use super::{positionwise, HostTensor, PositionwiseSpec, WeightLayout};
use crate::ops::reference::{
    assert_close, assert_gradient, backward_of_functional, finite_differences, functional, random,
    widen,
};

/// `y[b, u, t] = Σ_f W[u, f] x[b, f, t] + bias[u]`, `w` canonical (out, in).
fn reference(
    x: &[f64],
    w: &[f64],
    b: &[f64],
    (batch, f, u, t): (usize, usize, usize, usize),
) -> Vec<f64> {
    let mut y = vec![0.0; batch * u * t];
    for n in 0..batch {
        for o in 0..u {
            for p in 0..t {
                let dot: f64 = (0..f).map(|i| w[o * f + i] * x[(n * f + i) * t + p]).sum();
                y[(n * u + o) * t + p] = dot + b.get(o).copied().unwrap_or(0.0);
            }
        }
    }
    y
}

/// `(out, in)` values `w` in `layout`.
fn stored(w: &[f32], (u, f): (usize, usize), layout: WeightLayout) -> Vec<f32> {
    match layout {
        WeightLayout::OutIn => w.to_vec(),
        WeightLayout::InOut => (0..f * u).map(|i| w[(i % u) * f + i / u]).collect(),
    }
}

struct Outcome {
    y: Vec<f32>,
    dx: Vec<f32>,
    /// In the canonical (out, in) layout.
    dw: Vec<f32>,
    db: Vec<f32>,
}

const DIMS: (usize, usize, usize, usize) = (3, 5, 4, 7);
/// Enough features (16+) that the products go to the blocked product where the CPU has it,
/// with the weight packed once per call for every example.
const WIDE: (usize, usize, usize, usize) = (2, 20, 70, 9);

fn run(
    dims: (usize, usize, usize, usize),
    (x, w, b, r): (&[f32], &[f32], &[f32], &[f32]),
    layout: WeightLayout,
) -> Outcome {
    let (batch, f, u, t) = dims;
    let dev = Cpu::default();
    let xt = dev.tensor_from_vec(x.to_vec(), (batch, f, 1, t));
    let value = Arc::new(stored(w, (u, f), layout));
    // The parameters are tokens, as the engine holds them (`Param::read_on_host`).
    let (wt, bt) = (dev.zeros_like(&(0, 0)), dev.zeros_like(&(0,)));
    let bias = Arc::new(b.to_vec());
    let spec = PositionwiseSpec {
        weight: HostTensor {
            tensor: &wt,
            value: &value,
        },
        layout,
        bias: Some(HostTensor {
            tensor: &bt,
            value: &bias,
        }),
        units: u,
        first_unit: 0,
        input_grad: true,
    };
    let y = positionwise(xt.leaky_trace(), &spec);
    let y_host = y.as_vec();
    let mut grads = backward_of_functional(y, r);
    let dw = std::mem::take(&mut **grads.get_or_alloc_mut(&wt).unwrap());
    let dw = match layout {
        WeightLayout::OutIn => dw,
        WeightLayout::InOut => (0..u * f).map(|i| dw[(i % f) * u + i / f]).collect(),
    };
    Outcome {
        y: y_host,
        dx: grads.get(&xt).as_vec(),
        dw,
        db: std::mem::take(&mut **grads.get_or_alloc_mut(&bt).unwrap()),
    }
}

#[test]
fn output_and_gradients_match_the_definition_in_both_layouts() {
    for dims in [DIMS, WIDE] {
        let (batch, f, u, t) = dims;
        let (x, w, b, r) = (
            random(batch * f * t, 1),
            random(u * f, 2),
            random(u, 3),
            random(batch * u * t, 4),
        );
        for layout in [WeightLayout::OutIn, WeightLayout::InOut] {
            let got = run(dims, (&x, &w, &b, &r), layout);
            let (xd, wd, bd) = (widen(&x), widen(&w), widen(&b));
            assert_close("y", &got.y, &reference(&xd, &wd, &bd, dims), 1e-5);
            let fd = |point: &[f64], which: usize| {
                finite_differences(point, 1e-6, |p| {
                    let y = match which {
                        0 => reference(p, &wd, &bd, dims),
                        1 => reference(&xd, p, &bd, dims),
                        _ => reference(&xd, &wd, p, dims),
                    };
                    functional(&y, &r)
                })
            };
            assert_gradient("dx", &got.dx, &fd(&xd, 0), 1e-4);
            assert_gradient("dw", &got.dw, &fd(&wd, 1), 1e-4);
            assert_gradient("db", &got.db, &fd(&bd, 2), 1e-4);
        }
    }
}

/// Wide enough that the weight's gradient is cut into several pieces and the products reach
/// `gemm`: 1 and 3 threads give the same bits.
#[test]
fn results_do_not_depend_on_the_thread_count() {
    let (batch, f, u, t) = (5, 70, 40, 33);
    let (x, w, b, r) = (
        random(batch * f * t, 5),
        random(u * f, 6),
        random(u, 7),
        random(batch * u * t, 8),
    );
    let go = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a thread pool");
        pool.install(|| {
            let dev = Cpu::default();
            let xt = dev.tensor_from_vec(x.clone(), (batch, f, 1, t));
            let value = Arc::new(w.clone());
            let bias = Arc::new(b.clone());
            let (wt, bt) = (dev.zeros_like(&(0, 0)), dev.zeros_like(&(0,)));
            let spec = PositionwiseSpec {
                weight: HostTensor {
                    tensor: &wt,
                    value: &value,
                },
                layout: WeightLayout::InOut,
                bias: Some(HostTensor {
                    tensor: &bt,
                    value: &bias,
                }),
                units: u,
                first_unit: 0,
                input_grad: true,
            };
            let y = positionwise(xt.leaky_trace(), &spec);
            let y_host = y.as_vec();
            let mut grads = backward_of_functional(y, &r);
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            (
                bits(&y_host),
                bits(&grads.get(&xt).as_vec()),
                bits(grads.get_or_alloc_mut(&wt).unwrap()),
                bits(grads.get_or_alloc_mut(&bt).unwrap()),
            )
        })
    };
    assert!(go(1) == go(3), "1 and 3 threads differ");
}

/// Units `first_unit..` of a larger `(out, in)` weight (cross-attention's projections): the
/// same bits as the rows on their own, and gradients only in those rows.
#[test]
fn some_rows_of_a_weight_act_as_a_weight_of_their_own() {
    let (batch, f, u, t) = DIMS;
    let (extra, first) = (5, 3);
    let (x, w, b, r) = (
        random(batch * f * t, 6),
        random((u + extra) * f, 7),
        random(u + extra, 8),
        random(batch * u * t, 9),
    );
    let rows = first * f..(first + u) * f;
    let alone = run(
        DIMS,
        (&x, &w[rows.clone()], &b[first..first + u], &r),
        WeightLayout::OutIn,
    );
    let dev = Cpu::default();
    let xt = dev.tensor_from_vec(x.clone(), (batch, f, 1, t));
    let (value, bias) = (Arc::new(w.clone()), Arc::new(b.clone()));
    let (wt, bt) = (dev.zeros_like(&(0, 0)), dev.zeros_like(&(0,)));
    let spec = PositionwiseSpec {
        weight: HostTensor {
            tensor: &wt,
            value: &value,
        },
        layout: WeightLayout::OutIn,
        bias: Some(HostTensor {
            tensor: &bt,
            value: &bias,
        }),
        units: u,
        first_unit: first,
        input_grad: true,
    };
    let y = positionwise(xt.leaky_trace(), &spec);
    assert_eq!(y.as_vec(), alone.y);
    let mut grads = backward_of_functional(y, &r);
    assert_eq!(grads.get(&xt).as_vec(), alone.dx);
    let dw = std::mem::take(&mut **grads.get_or_alloc_mut(&wt).unwrap());
    assert_eq!(dw.len(), w.len());
    assert_eq!(dw[rows.clone()], alone.dw[..]);
    assert!(dw[..rows.start]
        .iter()
        .chain(&dw[rows.end..])
        .all(|&v| v == 0.0));
    let db = std::mem::take(&mut **grads.get_or_alloc_mut(&bt).unwrap());
    assert_eq!(db[first..first + u], alone.db[..]);
    assert!(db[..first]
        .iter()
        .chain(&db[first + u..])
        .all(|&v| v == 0.0));
}
