//! The LSTM's host kernels: the forward pass over all steps, keeping what backpropagation
//! through time needs, and that backward pass. Single-threaded and summed in a fixed order,
//! so outputs and gradients are the same bits whatever the thread count.
//!
//! Everything is time-major inside: step `t` of example `b` is row `t * batch + b`, so a
//! step's rows are contiguous and each product is one `ops::matmul` call. Gate columns are
//! PyTorch's order, `i, f, g, o`, each `units` wide.

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
    /// The activated gates `i, f, g, o` of each step (T·B, 4U).
    pub gates: Vec<f32>,
    /// The cell states `c_0, c_1, …, c_T` ((T+1)·B, U).
    pub c: Vec<f32>,
    /// The hidden states `h_0, h_1, …, h_T` ((T+1)·B, U).
    pub h: Vec<f32>,
    /// Whether `h_0` and `c_0` were given. From zeros, the first step's recurrent product
    /// is 0, so neither pass computes it (nor the state's gradient that would flow out of it).
    pub initial: bool,
}

/// Runs the LSTM over `x`, laid out (B, F, T) as the engine holds a sequence, from the state
/// `initial` (`[h_0, c_0]`, (B, U) each) or from zeros (`[]`), skipping the steps `mask`
/// (B, T) zeroes: their states are the step before's.
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
    assert_eq!(x.len(), batch * features * steps, "lstm: input size");
    let mut saved = Saved {
        xs: time_major(dims, x),
        gates: vec![0.0; steps * batch * 4 * units],
        c: vec![0.0; (steps + 1) * batch * units],
        h: vec![0.0; (steps + 1) * batch * units],
        initial: false,
    };
    match initial {
        [] => {}
        [h_0, c_0] => {
            let step = batch * units;
            saved.h[..step].copy_from_slice(h_0);
            saved.c[..step].copy_from_slice(c_0);
            saved.initial = true;
        }
        _ => panic!("lstm: the state is [h, c]"),
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
    let g4 = 4 * units;
    // The inputs' part of every step's gates at once, then the biases.
    matmul(
        (steps * batch, g4, features),
        &mut s.gates,
        false,
        View::rows(&s.xs, features),
        View::transposed(w.w_ih, features),
    );
    for row in s.gates.chunks_exact_mut(g4) {
        for ((v, bi), bh) in row.iter_mut().zip(w.b_ih).zip(w.b_hh) {
            *v += bi + bh;
        }
    }
    let w_hh_t = View::transposed(w.w_hh, units);
    let step = batch * units;
    for t in 0..steps {
        let gates = &mut s.gates[t * batch * g4..][..batch * g4];
        if t > 0 || s.initial {
            let h_prev = &s.h[t * step..][..step];
            matmul(
                (batch, g4, units),
                gates,
                true,
                View::rows(h_prev, units),
                w_hh_t,
            );
        }
        let (c_prev, c_next) = s.c[t * step..].split_at_mut(step);
        let (h_prev, h_next) = s.h[t * step..].split_at_mut(step);
        for b in 0..batch {
            if skipped(mask, steps, b, t) {
                // The state goes on unchanged; the gates stay 0, which the backward pass
                // reads as no gradient.
                let row = b * units..(b + 1) * units;
                c_next[row.clone()].copy_from_slice(&c_prev[row.clone()]);
                h_next[row.clone()].copy_from_slice(&h_prev[row]);
                gates[b * g4..][..g4].fill(0.0);
                continue;
            }
            // The four gates as slices of their own, so that the loop over units vectorises.
            let (gi, rest) = gates[b * g4..][..g4].split_at_mut(units);
            let (gf, rest) = rest.split_at_mut(units);
            let (gn, go) = rest.split_at_mut(units);
            let c_prev = &c_prev[b * units..][..units];
            let c_next = &mut c_next[b * units..][..units];
            let h_next = &mut h_next[b * units..][..units];
            cell_forward([gi, gf, gn, go], c_prev, c_next, h_next);
        }
    }
}

avx2_or_portable!(
    // A kernel of its own: inlined into the step loop, the loop over units stayed scalar
    // (the compiler could not tell that the seven slices do not overlap).
    fn cell_forward(
        gates: [&mut [f32]; 4],
        c_prev: &[f32],
        c_next: &mut [f32],
        h_next: &mut [f32],
    ) => cell_forward_in
);

/// One example's step: activates its gates in place, writes its cell and hidden states.
#[inline(always)]
fn cell_forward_in(
    [gi, gf, gn, go]: [&mut [f32]; 4],
    c_prev: &[f32],
    c_next: &mut [f32],
    h_next: &mut [f32],
) {
    let units = c_prev.len();
    let (gi, gf, gn, go) = (
        &mut gi[..units],
        &mut gf[..units],
        &mut gn[..units],
        &mut go[..units],
    );
    let (c_next, h_next) = (&mut c_next[..units], &mut h_next[..units]);
    for u in 0..units {
        let i = sigmoid(gi[u]);
        let f = sigmoid(gf[u]);
        let n = tanh(gn[u]);
        let o = sigmoid(go[u]);
        gi[u] = i;
        gf[u] = f;
        gn[u] = n;
        go[u] = o;
        let c = f * c_prev[u] + i * n;
        c_next[u] = c;
        h_next[u] = o * tanh(c);
    }
}

avx2_or_portable!(
    // A kernel of its own, as `cell_forward`.
    fn cell_backward(
        gates: &[f32],
        d: [&mut [f32]; 4],
        states: (&[f32], &[f32], &[f32]),
        dc_next: &mut [f32],
    ) => cell_backward_in
);

/// One example's step backwards: from its activated gates `i, f, g, o`, its cell states
/// `c_t`, `c_{t-1}` and the gradient `dh` of its hidden state, the gradients of its gates'
/// pre-activations, and `dc_next` from that of `c_t` to that of `c_{t-1}`.
#[inline(always)]
fn cell_backward_in(
    g: &[f32],
    [di, df, dn, d_o]: [&mut [f32]; 4],
    (c, c_prev, dh): (&[f32], &[f32], &[f32]),
    dc_next: &mut [f32],
) {
    let units = c.len();
    let (gi, gf, gn, go) = (
        &g[..units],
        &g[units..2 * units],
        &g[2 * units..3 * units],
        &g[3 * units..4 * units],
    );
    let (di, df, dn, d_o) = (
        &mut di[..units],
        &mut df[..units],
        &mut dn[..units],
        &mut d_o[..units],
    );
    let (c_prev, dh, dc_next) = (&c_prev[..units], &dh[..units], &mut dc_next[..units]);
    for u in 0..units {
        let (i, f, n, o) = (gi[u], gf[u], gn[u], go[u]);
        let tc = tanh(c[u]);
        let dc = dc_next[u] + dh[u] * o * (1.0 - tc * tc);
        di[u] = dc * n * i * (1.0 - i);
        df[u] = dc * c_prev[u] * f * (1.0 - f);
        dn[u] = dc * i * (1.0 - n * n);
        d_o[u] = dh[u] * tc * o * (1.0 - o);
        dc_next[u] = dc * f;
    }
}

/// Backpropagation through time from `up`: the output's gradient in [`output`]'s layout
/// and the last state's, `[dh_T, dc_T]` or none. The gradients of the input (B, F, T),
/// `w_ih`, `w_hh`, `b_ih` and `b_hh` (the same for both biases, which enter every gate as
/// one sum), and `[dh_0, dc_0]` when the forward pass was given the initial state (else
/// none). A step `mask` skipped passes the state's gradients through to the step before.
pub fn backward(dims: Dims, w: Weights<'_>, s: &Saved, up: Upstream<'_>) -> ChunkGrads {
    let Dims {
        batch,
        features,
        units,
        steps,
    } = dims;
    let mut grads = [
        vec![0.0; batch * features * steps],
        vec![0.0; 4 * units * features],
        vec![0.0; 4 * units * units],
        vec![0.0; 4 * units],
    ];
    let mut da = vec![0.0; steps * batch * 4 * units];
    // The gradients of `h` and `c` flowing into each step from the step after: into the
    // last, the last state's.
    let mut d_state = match up.last {
        [] => [vec![0.0; batch * units], vec![0.0; batch * units]],
        [dh, dc] => [dh.to_vec(), dc.to_vec()],
        _ => panic!("lstm: the state is [h, c]"),
    };
    backward_steps(dims, w, s, up, &mut da, &mut grads, &mut d_state);
    let [dx, dw_ih, dw_hh, db] = grads;
    // Out of the first step, those of the initial state.
    let initial = if s.initial {
        d_state.into()
    } else {
        Vec::new()
    };
    ([dx, dw_ih, dw_hh, db.clone(), db], initial)
}

avx2_or_portable!(fn backward_steps(
    dims: Dims,
    w: Weights<'_>,
    s: &Saved,
    up: Upstream<'_>,
    da: &mut [f32],
    grads: &mut [Vec<f32>; 4],
    d_state: &mut [Vec<f32>; 2],
) => backward_body);

#[inline(always)]
fn backward_body(
    dims: Dims,
    w: Weights<'_>,
    s: &Saved,
    up: Upstream<'_>,
    da: &mut [f32],
    [dx, dw_ih, dw_hh, db]: &mut [Vec<f32>; 4],
    [dh_next, dc_next]: &mut [Vec<f32>; 2],
) {
    let Dims {
        batch,
        units,
        steps,
        ..
    } = dims;
    let g4 = 4 * units;
    let step = batch * units;
    let mask = up.mask;
    for t in (0..steps).rev() {
        let gates = &s.gates[t * batch * g4..][..batch * g4];
        let c_prev = &s.c[t * step..][..step];
        let c = &s.c[(t + 1) * step..][..step];
        let da_t = &mut da[t * batch * g4..][..batch * g4];
        for (k, dh) in dh_next.iter_mut().enumerate() {
            *dh += upstream(dims, up.dy, up.sequences, t, k);
        }
        for b in 0..batch {
            if skipped(mask, steps, b, t) {
                // No gate gradient (`da` stays 0); `dc` and `dh` pass through below.
                continue;
            }
            let row = b * units..(b + 1) * units;
            let g = &gates[b * g4..][..g4];
            let (di, rest) = da_t[b * g4..][..g4].split_at_mut(units);
            let (df, rest) = rest.split_at_mut(units);
            let (dn, d_o) = rest.split_at_mut(units);
            let states = (&c[row.clone()], &c_prev[row.clone()], &dh_next[row.clone()]);
            cell_backward(g, [di, df, dn, d_o], states, &mut dc_next[row]);
        }
        if t > 0 || s.initial {
            let carried = mask.map(|_| dh_next.clone());
            matmul(
                (batch, units, g4),
                dh_next,
                false,
                View::rows(da_t, g4),
                View::rows(w.w_hh, units),
            );
            if let Some(carried) = carried {
                for b in (0..batch).filter(|&b| skipped(mask, steps, b, t)) {
                    let row = b * units..(b + 1) * units;
                    dh_next[row.clone()].copy_from_slice(&carried[row]);
                }
            }
        }
    }
    // Both biases enter every gate as one sum: the same gradient for each.
    let mut db_hh = vec![0.0; db.len()];
    let d = GateGrads {
        from_input: da,
        from_hidden: da,
    };
    finish_gradients(
        dims,
        (d, &s.xs, &s.h, w.w_ih),
        [dx, dw_ih, dw_hh, db, &mut db_hh],
    );
}
