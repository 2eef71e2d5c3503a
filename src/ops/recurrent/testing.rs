//! What the recurrent ops' tests share: the fixed inputs of `bench/reference/{lstm,gru}.py`,
//! a call on the tape, and the checks against PyTorch's numbers and finite differences.

use std::sync::Arc;

use dfdx::prelude::*;

use super::{Reading, RecurrentParams};
use crate::ops::reference::{assert_close, assert_gradient, finite_differences};
use crate::ops::T4;

/// A recurrent op.
pub(crate) type Op =
    fn(T4<OwnedTape<f32, Cpu>>, RecurrentParams<'_>, bool, Reading<'_>) -> T4<OwnedTape<f32, Cpu>>;

pub(crate) const B: usize = 2;
pub(crate) const F: usize = 3;
pub(crate) const U: usize = 4;
pub(crate) const T: usize = 5;

/// `((i * mul % modulus) - shift) / scale` for `i` in `0..n`, as the reference script builds
/// its tensors.
pub(crate) fn values(n: usize, mul: usize, modulus: usize, shift: f64, scale: f64) -> Vec<f64> {
    (0..n)
        .map(|i| ((i * mul % modulus) as f64 - shift) / scale)
        .collect()
}

pub(crate) fn narrow(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&v| v as f32).collect()
}

/// The input (B, F, T) and the parameters `w_ih, w_hh, b_ih, b_hh` of `gates` gates.
pub(crate) fn fixed(gates: usize) -> (Vec<f64>, [Vec<f64>; 4]) {
    (
        values(B * F * T, 7, 17, 8.0, 6.0),
        [
            values(gates * U * F, 5, 13, 6.0, 10.0),
            values(gates * U * U, 11, 19, 9.0, 20.0),
            values(gates * U, 3, 7, 3.0, 10.0),
            values(gates * U, 2, 5, 2.0, 10.0),
        ],
    )
}

/// The output's gradient: the loss is `sum(y * upstream)`.
pub(crate) fn upstream(n: usize) -> Vec<f32> {
    (0..n).map(|i| (i % 5) as f32 * 0.3 - 0.5).collect()
}

/// The padding of `bench/reference/recurrent_reading.py`: the second example's last two
/// steps.
pub(crate) const PADDED_END: [f32; B * T] = [1., 1., 1., 1., 1., 1., 1., 1., 0., 0.];

/// Steps skipped at the start, in the middle and at the end.
pub(crate) const GAPS: [f32; B * T] = [1., 0., 1., 1., 0., 0., 1., 0., 1., 1.];

/// The output, then the gradients of the input and of `w_ih, w_hh, b_ih, b_hh`.
fn run(
    op: Op,
    x: &[f32],
    p: &[Vec<f32>; 4],
    sequences: bool,
    reading: Reading<'_>,
) -> (Vec<f32>, [Vec<f32>; 5]) {
    let gates = p[2].len() / U;
    let dev = Cpu::default();
    let xt = dev.tensor_from_vec(x.to_vec(), (B, F, 1, T));
    let w_ih = dev.tensor_from_vec(p[0].clone(), (gates * U, F));
    let w_hh = dev.tensor_from_vec(p[1].clone(), (gates * U, U));
    let b_ih = dev.tensor_from_vec(p[2].clone(), (gates * U,));
    let b_hh = dev.tensor_from_vec(p[3].clone(), (gates * U,));
    let host = p.clone().map(Arc::new);
    let params = RecurrentParams {
        w_ih: (&w_ih, &host[0]),
        w_hh: (&w_hh, &host[1]),
        b_ih: (&b_ih, &host[2]),
        b_hh: (&b_hh, &host[3]),
    };
    let y = op(xt.leaky_trace(), params, sequences, reading);
    let shape = *y.shape();
    let y_host = y.as_vec();
    let r = dev.tensor_from_vec(upstream(y_host.len()), shape);
    let grads = (y * r).sum().backward();
    let g = [
        grads.get(&xt).as_vec(),
        grads.get(&w_ih).as_vec(),
        grads.get(&w_hh).as_vec(),
        grads.get(&b_ih).as_vec(),
        grads.get(&b_hh).as_vec(),
    ];
    (y_host, g)
}

pub(crate) fn sigmoid(v: f64) -> f64 {
    1.0 / (1.0 + (-v).exp())
}

/// PyTorch's output and gradients (input, `w_ih`, `w_hh`, `b_ih`, `b_hh`), with every
/// step's output and with the last one.
pub(crate) type Reference = [[&'static [f64]; 6]; 2];

/// `op` on the fixed inputs gives PyTorch's numbers, with and without sequences.
pub(crate) fn assert_matches_pytorch(op: Op, gates: usize, want: Reference) {
    let (x, p) = fixed(gates);
    let p32 = p.map(|v| narrow(&v));
    for (sequences, want) in [(true, want[0]), (false, want[1])] {
        let (y, g) = run(op, &narrow(&x), &p32, sequences, Reading::default());
        assert_close(&format!("y ({sequences})"), &y, want[0], 1e-5);
        for (name, (got, want)) in ["dx", "dw_ih", "dw_hh", "db_ih", "db_hh"]
            .iter()
            .zip(g.iter().zip(&want[1..]))
        {
            assert_close(&format!("{name} ({sequences})"), got, want, 1e-5);
        }
    }
}

/// Forward and backward, padded at the end (`PADDED_END`): PyTorch's output and gradients
/// (input, then the parameters of the direction) with every step's output and with the last
/// state.
pub(crate) type ReadingReference = [Reference; 2];

/// `op` on the fixed inputs, the second example padded at the end, gives PyTorch's numbers
/// for packed sequences, forward and backward (the `_reverse` half of a bidirectional
/// module), with and without sequences.
pub(crate) fn assert_reading_matches_pytorch(op: Op, gates: usize, want: &ReadingReference) {
    let (x, p) = fixed(gates);
    let p32 = p.map(|v| narrow(&v));
    for (reverse, want) in [(false, want[0]), (true, want[1])] {
        let reading = Reading {
            mask: Some(&PADDED_END),
            reverse,
        };
        for (sequences, want) in [(true, want[0]), (false, want[1])] {
            let (y, g) = run(op, &narrow(&x), &p32, sequences, reading);
            let case = format!("reverse {reverse}, sequences {sequences}");
            assert_close(&format!("y ({case})"), &y, want[0], 1e-5);
            for (name, (got, want)) in ["dx", "dw_ih", "dw_hh", "db_ih", "db_hh"]
                .iter()
                .zip(g.iter().zip(&want[1..]))
            {
                assert_close(&format!("{name} ({case})"), got, want, 1e-5);
            }
        }
    }
}

/// How the f64 references read the steps: the mask (B, T) and the direction.
pub(crate) struct Order<'a> {
    pub mask: Option<&'a [f32]>,
    pub reverse: bool,
}

impl Order<'_> {
    /// The steps example `b` reads, in the order it reads them.
    pub(crate) fn steps(&self, b: usize) -> Vec<usize> {
        let mut steps: Vec<usize> = (0..T)
            .filter(|&t| self.mask.is_none_or(|m| m[b * T + t] != 0.0))
            .collect();
        if self.reverse {
            steps.reverse();
        }
        steps
    }
}

/// A naive f64 cell: `sum(y * upstream)` for the input and parameters concatenated, with
/// sequences or not, reading the steps in an order.
pub(crate) type ReferenceLoss = fn(&[f64], bool, &Order<'_>) -> f64;

/// Every gradient of `op` against central differences of `loss`, forward and backward,
/// with no mask and with gaps (`GAPS`), with and without sequences.
pub(crate) fn assert_gradients(op: Op, gates: usize, loss: ReferenceLoss) {
    let (x, p) = fixed(gates);
    let p32 = p.clone().map(|v| narrow(&v));
    let all: Vec<f64> = x.iter().chain(p.iter().flatten()).copied().collect();
    for mask in [None, Some(&GAPS[..])] {
        for reverse in [false, true] {
            let reading = Reading { mask, reverse };
            let order = Order { mask, reverse };
            for sequences in [true, false] {
                let (_, g) = run(op, &narrow(&x), &p32, sequences, reading);
                let fd = finite_differences(&all, 1e-6, |a| loss(a, sequences, &order));
                let mut at = 0;
                for (name, got) in ["dx", "dw_ih", "dw_hh", "db_ih", "db_hh"].iter().zip(&g) {
                    let case = format!("{name} ({reading:?}, sequences {sequences})");
                    assert_gradient(&case, got, &fd[at..at + got.len()], 1e-4);
                    at += got.len();
                }
            }
        }
    }
}

/// Without sequences, `op` gives the last step of its sequences.
pub(crate) fn assert_last_is_last_step(op: Op, gates: usize) {
    let (x, p) = fixed(gates);
    let p32 = p.map(|v| narrow(&v));
    let (seq, _) = run(op, &narrow(&x), &p32, true, Reading::default());
    let (last, _) = run(op, &narrow(&x), &p32, false, Reading::default());
    let want: Vec<f32> = seq.chunks_exact(T).map(|s| s[T - 1]).collect();
    assert_eq!(last, want);
}
