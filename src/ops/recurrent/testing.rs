//! What the recurrent ops' tests share: the fixed inputs of `bench/reference/{lstm,gru}.py`,
//! a call on the tape, and the checks against PyTorch's numbers and finite differences.

use std::sync::Arc;

use dfdx::prelude::*;

use super::{Reading, RecurrentParams};
use crate::ops::reference::{assert_close, assert_gradient, finite_differences};
use crate::ops::{T2, T4};

type Taped = OwnedTape<f32, Cpu>;

/// A recurrent op.
pub(crate) type Op = fn(T4<Taped>, RecurrentParams<'_>, bool, Reading<'_>) -> T4<Taped>;

/// A recurrent op with a state (`lstm_with_state`, `gru_with_state`).
pub(crate) type StateOp = fn(
    T4<Taped>,
    RecurrentParams<'_>,
    bool,
    Reading<'_>,
    Option<Vec<T2<Taped>>>,
    bool,
) -> (T4<Taped>, Vec<T2<Taped>>);

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

/// The initial state of `states` tensors, `[h_0, c_0]` or `[h_0]`, (B, U) each, concatenated.
pub(crate) fn fixed_state(states: usize) -> Vec<f64> {
    let h_0 = values(B * U, 3, 11, 5.0, 10.0);
    let c_0 = values(B * U, 5, 7, 3.0, 5.0);
    [h_0, c_0][..states].concat()
}

/// The gradient of the last state's tensor `i` (`h_T`, then `c_T`), (B, U): the loss also
/// reads `sum(state_i * state_upstream(i))`.
pub(crate) fn state_upstream(i: usize) -> Vec<f64> {
    match i {
        0 => values(B * U, 3, 7, 3.0, 5.0),
        _ => values(B * U, 2, 9, 4.0, 5.0),
    }
}

/// The padding of `bench/reference/recurrent_reading.py`: the second example's last two
/// steps.
pub(crate) const PADDED_END: [f32; B * T] = [1., 1., 1., 1., 1., 1., 1., 1., 0., 0.];

/// Steps skipped at the start, in the middle and at the end.
pub(crate) const GAPS: [f32; B * T] = [1., 0., 1., 1., 0., 0., 1., 0., 1., 1.];

/// The tensors of a call: the input (B, F, 1, T) and the parameters, which name their
/// gradients.
struct Fixture {
    dev: Cpu,
    x: Tensor<(usize, usize, usize, usize), f32, Cpu>,
    w: [Tensor<(usize, usize), f32, Cpu>; 2],
    b: [Tensor<(usize,), f32, Cpu>; 2],
    host: [Arc<Vec<f32>>; 4],
}

impl Fixture {
    fn new(x: &[f32], p: &[Vec<f32>; 4]) -> Self {
        let gates = p[2].len() / U;
        let dev = Cpu::default();
        Self {
            x: dev.tensor_from_vec(x.to_vec(), (B, F, 1, T)),
            w: [
                dev.tensor_from_vec(p[0].clone(), (gates * U, F)),
                dev.tensor_from_vec(p[1].clone(), (gates * U, U)),
            ],
            b: [
                dev.tensor_from_vec(p[2].clone(), (gates * U,)),
                dev.tensor_from_vec(p[3].clone(), (gates * U,)),
            ],
            host: p.clone().map(Arc::new),
            dev,
        }
    }

    fn params(&self) -> RecurrentParams<'_> {
        RecurrentParams {
            w_ih: (&self.w[0], &self.host[0]),
            w_hh: (&self.w[1], &self.host[1]),
            b_ih: (&self.b[0], &self.host[2]),
            b_hh: (&self.b[1], &self.host[3]),
        }
    }

    /// The gradients of the input and of `w_ih, w_hh, b_ih, b_hh`.
    fn gradients(&self, grads: &Gradients<f32, Cpu>) -> [Vec<f32>; 5] {
        [
            grads.get(&self.x).as_vec(),
            grads.get(&self.w[0]).as_vec(),
            grads.get(&self.w[1]).as_vec(),
            grads.get(&self.b[0]).as_vec(),
            grads.get(&self.b[1]).as_vec(),
        ]
    }
}

/// The output, then the gradients of the input and of `w_ih, w_hh, b_ih, b_hh`.
fn run(
    op: Op,
    x: &[f32],
    p: &[Vec<f32>; 4],
    sequences: bool,
    reading: Reading<'_>,
) -> (Vec<f32>, [Vec<f32>; 5]) {
    let f = Fixture::new(x, p);
    let y = op(f.x.leaky_trace(), f.params(), sequences, reading);
    let shape = *y.shape();
    let y_host = y.as_vec();
    let r = f.dev.tensor_from_vec(upstream(y_host.len()), shape);
    let grads = (y * r).sum().backward();
    (y_host, f.gradients(&grads))
}

/// What a call from the initial state `fixed_state` gives, the loss reading its last state
/// too: the output, the last state's tensors, the loss, and the gradients of the input, of
/// `w_ih, w_hh, b_ih, b_hh` and of the initial state's tensors.
struct StateRun {
    y: Vec<f32>,
    last: Vec<Vec<f32>>,
    loss: f64,
    grads: [Vec<f32>; 5],
    initial: Vec<Vec<f32>>,
}

/// `op` from the initial state `fixed_state` of `states` tensors, the loss `sum(y * upstream)`
/// plus each last state's `sum(state_i * state_upstream(i))`.
fn run_with_state(
    op: StateOp,
    (x, p): (&[f32], &[Vec<f32>; 4]),
    states: usize,
    sequences: bool,
    reading: Reading<'_>,
) -> StateRun {
    let f = Fixture::new(x, p);
    let initial: Vec<_> = narrow(&fixed_state(states))
        .chunks_exact(B * U)
        .map(|s| f.dev.tensor_from_vec(s.to_vec(), (B, U)))
        .collect();
    let traced = initial.iter().map(Trace::leaky_trace).collect();
    let (y, last) = op(
        f.x.leaky_trace(),
        f.params(),
        sequences,
        reading,
        Some(traced),
        true,
    );
    let shape = *y.shape();
    let y_host = y.as_vec();
    let up = upstream(y_host.len());
    let mut loss = dot(&y_host, up.iter().copied().map(f64::from));
    let r = f.dev.tensor_from_vec(up, shape);
    let mut total = (y * r).sum();
    let mut last_host = Vec::new();
    for (i, state) in last.into_iter().enumerate() {
        let up = state_upstream(i);
        let host = state.as_vec();
        loss += dot(&host, up.iter().copied());
        last_host.push(host);
        total = total + (state * f.dev.tensor_from_vec(narrow(&up), (B, U))).sum();
    }
    let grads = total.backward();
    StateRun {
        y: y_host,
        last: last_host,
        loss,
        grads: f.gradients(&grads),
        initial: initial.iter().map(|s| grads.get(s).as_vec()).collect(),
    }
}

/// `sum(a * b)` in f64.
fn dot(a: &[f32], b: impl IntoIterator<Item = f64>) -> f64 {
    a.iter().zip(b).map(|(&a, b)| f64::from(a) * b).sum()
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

/// How the f64 references read the steps: the mask (B, T) and the direction; and whether
/// with a state: from the initial state that ends `all` (`[h_0, c_0]` or `[h_0]`), the loss
/// also reading the last one (`sum(state_i * state_upstream(i))`), or from zeros.
pub(crate) struct Order<'a> {
    pub mask: Option<&'a [f32]>,
    pub reverse: bool,
    pub state: bool,
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

/// A naive f64 cell: `sum(y * upstream)` for the input and parameters concatenated (then
/// the initial state, with `Order::state`), with sequences or not, reading the steps in an
/// order.
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
            let order = Order {
                mask,
                reverse,
                state: false,
            };
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

/// PyTorch's numbers from the initial state `fixed_state`, the loss reading the last state
/// too (`bench/reference/lstm.py`'s `state_*`).
pub(crate) struct StateReference {
    pub y: &'static [f64],
    /// `h_n` (then `c_n`).
    pub last: &'static [&'static [f64]],
    /// The gradients of the input, `w_ih`, `w_hh`, `b_ih`, `b_hh`.
    pub grads: [&'static [f64]; 5],
    /// The gradients of `h_0` (then `c_0`).
    pub initial: &'static [&'static [f64]],
}

/// `op` from the initial state `fixed_state`, the loss reading its last state too, gives
/// PyTorch's output, last state and gradients, with sequences (`want[0]`) and without.
pub(crate) fn assert_state_matches_pytorch(op: StateOp, gates: usize, want: &[StateReference; 2]) {
    let (x, p) = fixed(gates);
    let p32 = p.map(|v| narrow(&v));
    for (sequences, want) in [(true, &want[0]), (false, &want[1])] {
        let states = want.initial.len();
        let reading = Reading::default();
        let got = run_with_state(op, (&narrow(&x), &p32), states, sequences, reading);
        assert_close(&format!("y ({sequences})"), &got.y, want.y, 1e-5);
        assert_eq!(got.last.len(), states, "last state");
        for (i, (got, want)) in got.last.iter().zip(want.last).enumerate() {
            assert_close(&format!("last state {i} ({sequences})"), got, want, 1e-5);
        }
        for (name, (got, want)) in ["dx", "dw_ih", "dw_hh", "db_ih", "db_hh"]
            .iter()
            .zip(got.grads.iter().zip(&want.grads))
        {
            assert_close(&format!("{name} ({sequences})"), got, want, 1e-5);
        }
        assert_eq!(got.initial.len(), states, "initial state's gradients");
        for (name, (got, want)) in ["dh_0", "dc_0"]
            .iter()
            .zip(got.initial.iter().zip(want.initial))
        {
            assert_close(&format!("{name} ({sequences})"), got, want, 1e-5);
        }
    }
}

/// From the initial state `fixed_state` (of `states` tensors), the loss reading the last
/// state too: the loss against `loss` (`Order::state` set), and every gradient, the initial
/// state's included, against its central differences; forward and backward, with no mask
/// and with gaps (`GAPS`, the last step skipped included), with and without sequences.
pub(crate) fn assert_state_gradients(
    op: StateOp,
    gates: usize,
    states: usize,
    loss: ReferenceLoss,
) {
    let (x, p) = fixed(gates);
    let p32 = p.clone().map(|v| narrow(&v));
    let all: Vec<f64> = x
        .iter()
        .chain(p.iter().flatten())
        .chain(&fixed_state(states))
        .copied()
        .collect();
    for mask in [None, Some(&GAPS[..])] {
        for reverse in [false, true] {
            let reading = Reading { mask, reverse };
            let order = Order {
                mask,
                reverse,
                state: true,
            };
            for sequences in [true, false] {
                let got = run_with_state(op, (&narrow(&x), &p32), states, sequences, reading);
                let case = format!("{reading:?}, sequences {sequences}");
                let want = loss(&all, sequences, &order);
                assert!(
                    (got.loss - want).abs() <= 1e-5 * want.abs().max(1.0),
                    "loss ({case}): got {}, want {want}",
                    got.loss
                );
                let fd = finite_differences(&all, 1e-6, |a| loss(a, sequences, &order));
                let names = ["dx", "dw_ih", "dw_hh", "db_ih", "db_hh", "dh_0", "dc_0"];
                let mut at = 0;
                for (name, got) in names.iter().zip(got.grads.iter().chain(&got.initial)) {
                    let what = format!("{name} ({case})");
                    assert_gradient(&what, got, &fd[at..at + got.len()], 1e-4);
                    at += got.len();
                }
                assert_eq!(at, all.len(), "every gradient checked ({case})");
            }
        }
    }
}
