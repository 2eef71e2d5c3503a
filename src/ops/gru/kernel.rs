//! The GRU's host kernels, as the LSTM's (`ops/lstm/kernel.rs`): time-major inside, one
//! `ops::matmul` per product, single-threaded and summed in a fixed order. Gate columns are
//! PyTorch's order, `r, z, n`, each `units` wide.

use crate::ops::cpu::math::{sigmoid, tanh};
use crate::ops::cpu::simd::avx2_or_portable;
use crate::ops::matmul::{matmul, View};
use crate::ops::recurrent::{
    finish_gradients, skipped, time_major, upstream, ChunkGrads, Dims, GateGrads, Mask, States,
    Upstream, Weights,
};

/// What the forward pass keeps for the backward pass.
pub struct Saved {
    /// The input, time-major (T·B, F).
    pub xs: Vec<f32>,
    /// The activated gates `r, z, n` of each step (T·B, 3U).
    pub gates: Vec<f32>,
    /// `W_hn h + b_hn` of each step, which `r` scales (T·B, U).
    pub hn: Vec<f32>,
    /// The hidden states `h_0, h_1, …, h_T` ((T+1)·B, U).
    pub h: Vec<f32>,
    /// Whether `h_0` was given, so that the backward pass computes its gradient.
    pub initial: bool,
}

/// Runs the GRU over `x`, laid out (B, F, T), from the state `initial` (`[h_0]`, (B, U)) or
/// from zeros (`[]`), skipping the steps `mask` (B, T) zeroes: their state is the step
/// before's.
pub fn forward(
    dims: Dims,
    w: Weights<'_>,
    x: &[f32],
    mask: Mask<'_>,
    initial: States<'_>,
) -> Saved {
    let Dims {
        batch,
        features,
        units,
        steps,
    } = dims;
    assert_eq!(x.len(), batch * features * steps, "gru: input size");
    let mut saved = Saved {
        xs: time_major(dims, x),
        gates: vec![0.0; steps * batch * 3 * units],
        hn: vec![0.0; steps * batch * units],
        h: vec![0.0; (steps + 1) * batch * units],
        initial: false,
    };
    match initial {
        [] => {}
        [h_0] => {
            saved.h[..batch * units].copy_from_slice(h_0);
            saved.initial = true;
        }
        _ => panic!("gru: the state is [h]"),
    }
    forward_steps(dims, w, &mut saved, mask);
    saved
}

avx2_or_portable!(fn forward_steps(dims: Dims, w: Weights<'_>, s: &mut Saved, mask: Mask<'_>) => forward_body);

#[inline(always)]
fn forward_body(dims: Dims, w: Weights<'_>, s: &mut Saved, mask: Mask<'_>) {
    let Dims {
        batch,
        features,
        units,
        steps,
    } = dims;
    let g3 = 3 * units;
    matmul(
        (steps * batch, g3, features),
        &mut s.gates,
        false,
        View::rows(&s.xs, features),
        View::transposed(w.w_ih, features),
    );
    for row in s.gates.chunks_exact_mut(g3) {
        for (v, b) in row.iter_mut().zip(w.b_ih) {
            *v += b;
        }
    }
    let step = batch * units;
    // The hidden state's part of one step's gates, `W_hh h + b_hh` (B, 3U).
    let mut gh = vec![0.0; batch * g3];
    for t in 0..steps {
        let (h_prev, h_next) = s.h[t * step..].split_at_mut(step);
        let h_next = &mut h_next[..step];
        matmul(
            (batch, g3, units),
            &mut gh,
            false,
            View::rows(h_prev, units),
            View::transposed(w.w_hh, units),
        );
        let gates = &mut s.gates[t * batch * g3..][..batch * g3];
        let hn = &mut s.hn[t * step..][..step];
        for b in 0..batch {
            let row = b * units..(b + 1) * units;
            if skipped(mask, steps, b, t) {
                h_next[row.clone()].copy_from_slice(&h_prev[row]);
                continue;
            }
            let (gr, rest) = gates[b * g3..][..g3].split_at_mut(units);
            let (gz, gn) = rest.split_at_mut(units);
            let states = (&h_prev[row.clone()], &mut hn[row.clone()], &mut h_next[row]);
            cell_forward([gr, gz, gn], &gh[b * g3..][..g3], w.b_hh, states);
        }
    }
}

avx2_or_portable!(
    // A kernel of its own, so that the loop over units vectorises (see the LSTM's).
    fn cell_forward(
        gates: [&mut [f32]; 3],
        gh: &[f32],
        b_hh: &[f32],
        states: (&[f32], &mut [f32], &mut [f32]),
    ) => cell_forward_in
);

/// One example's step: from the input's part of its gates `r, z, n` (activated in place)
/// and the hidden state's part `gh` (without `b_hh`), `hn = W_hn h + b_hn` and `h_t`.
#[inline(always)]
fn cell_forward_in(
    [gr, gz, gn]: [&mut [f32]; 3],
    gh: &[f32],
    b_hh: &[f32],
    (h_prev, hn, h_next): (&[f32], &mut [f32], &mut [f32]),
) {
    let units = h_prev.len();
    let (gr, gz, gn) = (&mut gr[..units], &mut gz[..units], &mut gn[..units]);
    let (ar, az, an) = (
        &gh[..units],
        &gh[units..2 * units],
        &gh[2 * units..3 * units],
    );
    let (br, bz, bn) = (
        &b_hh[..units],
        &b_hh[units..2 * units],
        &b_hh[2 * units..3 * units],
    );
    let (hn, h_next) = (&mut hn[..units], &mut h_next[..units]);
    for u in 0..units {
        let r = sigmoid(gr[u] + ar[u] + br[u]);
        let z = sigmoid(gz[u] + az[u] + bz[u]);
        let hn_u = an[u] + bn[u];
        let n = tanh(gn[u] + r * hn_u);
        gr[u] = r;
        gz[u] = z;
        gn[u] = n;
        hn[u] = hn_u;
        h_next[u] = (1.0 - z) * n + z * h_prev[u];
    }
}

avx2_or_portable!(
    // A kernel of its own, so that the loop over units vectorises (see the LSTM's).
    fn cell_backward(
        gates: &[f32],
        states: (&[f32], &[f32], &[f32]),
        d: (&mut [f32], &mut [f32]),
        dh_direct: &mut [f32],
    ) => cell_backward_in
);

/// One example's step backwards: from its activated gates `r, z, n`, `hn = W_hn h + b_hn`,
/// `h_{t-1}` and the gradient `dh` of `h_t`, the gradients of its gates' pre-activations on
/// the input's side (`dx`) and the hidden state's (`dh_g`, where `r` scales `n`'s), and the
/// part of `h_{t-1}`'s gradient that does not go through the gates (`dh · z`).
#[inline(always)]
fn cell_backward_in(
    g: &[f32],
    (hn, h_prev, dh): (&[f32], &[f32], &[f32]),
    (dx, dh_g): (&mut [f32], &mut [f32]),
    dh_direct: &mut [f32],
) {
    let units = hn.len();
    let (gr, gz, gn) = (&g[..units], &g[units..2 * units], &g[2 * units..3 * units]);
    let (dx_r, rest) = dx[..3 * units].split_at_mut(units);
    let (dx_z, dx_n) = rest.split_at_mut(units);
    let (dh_r, rest) = dh_g[..3 * units].split_at_mut(units);
    let (dh_z, dh_n) = rest.split_at_mut(units);
    let (h_prev, dh, dh_direct) = (&h_prev[..units], &dh[..units], &mut dh_direct[..units]);
    for u in 0..units {
        let (r, z, n) = (gr[u], gz[u], gn[u]);
        let da_n = dh[u] * (1.0 - z) * (1.0 - n * n);
        let da_r = da_n * hn[u] * r * (1.0 - r);
        let da_z = dh[u] * (h_prev[u] - n) * z * (1.0 - z);
        dx_r[u] = da_r;
        dx_z[u] = da_z;
        dx_n[u] = da_n;
        dh_r[u] = da_r;
        dh_z[u] = da_z;
        dh_n[u] = da_n * r;
        dh_direct[u] = dh[u] * z;
    }
}

/// Backpropagation through time from `up`: the output's gradient and the last state's,
/// `[dh_T]` or none. The gradients of the input (B, F, T), `w_ih`, `w_hh`, `b_ih` and
/// `b_hh`, and `[dh_0]` when the forward pass was given the initial state (else none). A
/// step `mask` skipped passes the state's gradient through to the step before.
pub fn backward(dims: Dims, w: Weights<'_>, s: &Saved, up: Upstream<'_>) -> ChunkGrads {
    let Dims {
        batch,
        features,
        units,
        steps,
    } = dims;
    let mut grads = [
        vec![0.0; batch * features * steps],
        vec![0.0; 3 * units * features],
        vec![0.0; 3 * units * units],
        vec![0.0; 3 * units],
        vec![0.0; 3 * units],
    ];
    // The gates' pre-activation gradients on the input's side and on the hidden state's
    // (they differ in `n`, where `r` scales the hidden state's part).
    let mut dgx = vec![0.0; steps * batch * 3 * units];
    let mut dgh = vec![0.0; steps * batch * 3 * units];
    // The gradient of `h` flowing into each step from the step after: into the last, the
    // last state's.
    let mut dh_next = match up.last {
        [] => vec![0.0; batch * units],
        [dh] => dh.to_vec(),
        _ => panic!("gru: the state is [h]"),
    };
    backward_steps(
        dims,
        w,
        s,
        up,
        (&mut dgx, &mut dgh),
        &mut grads,
        &mut dh_next,
    );
    // Out of the first step, that of the initial state.
    let initial = if s.initial { vec![dh_next] } else { Vec::new() };
    (grads, initial)
}

avx2_or_portable!(fn backward_steps(
    dims: Dims,
    w: Weights<'_>,
    s: &Saved,
    up: Upstream<'_>,
    d: (&mut [f32], &mut [f32]),
    grads: &mut [Vec<f32>; 5],
    dh_next: &mut [f32],
) => backward_body);

#[inline(always)]
fn backward_body(
    dims: Dims,
    w: Weights<'_>,
    s: &Saved,
    up: Upstream<'_>,
    (dgx, dgh): (&mut [f32], &mut [f32]),
    [dx, dw_ih, dw_hh, db_ih, db_hh]: &mut [Vec<f32>; 5],
    dh_next: &mut [f32],
) {
    let Dims {
        batch,
        units,
        steps,
        ..
    } = dims;
    let g3 = 3 * units;
    let step = batch * units;
    let mask = up.mask;
    let mut dh_direct = vec![0.0; step];
    // The gradient of one example's hidden state at the step, from the step after and from
    // the output.
    let mut dh = vec![0.0; units];
    for t in (0..steps).rev() {
        let gates = &s.gates[t * batch * g3..][..batch * g3];
        let hn = &s.hn[t * step..][..step];
        let h_prev = &s.h[t * step..][..step];
        let dgx_t = &mut dgx[t * batch * g3..][..batch * g3];
        let dgh_t = &mut dgh[t * batch * g3..][..batch * g3];
        for b in 0..batch {
            let row = b * units..(b + 1) * units;
            for (u, dh) in dh.iter_mut().enumerate() {
                let k = b * units + u;
                *dh = dh_next[k] + upstream(dims, up.dy, up.sequences, t, k);
            }
            if skipped(mask, steps, b, t) {
                // No gate gradients (they stay 0); the state's passes through.
                dh_direct[row].copy_from_slice(&dh);
                continue;
            }
            let g = &gates[b * g3..][..g3];
            let d = (&mut dgx_t[b * g3..][..g3], &mut dgh_t[b * g3..][..g3]);
            let states = (&hn[row.clone()], &h_prev[row.clone()], &dh[..]);
            cell_backward(g, states, d, &mut dh_direct[row]);
        }
        if t > 0 || s.initial {
            dh_next.copy_from_slice(&dh_direct);
            matmul(
                (batch, units, g3),
                dh_next,
                true,
                View::rows(dgh_t, g3),
                View::rows(w.w_hh, units),
            );
        }
    }
    let d = GateGrads {
        from_input: dgx,
        from_hidden: dgh,
    };
    finish_gradients(
        dims,
        (d, &s.xs, &s.h, w.w_ih),
        [dx, dw_ih, dw_hh, db_ih, db_hh],
    );
}
