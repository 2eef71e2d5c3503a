//! The dense op against an f64 reference (forward values, all three gradients), gradients by
//! central differences through the tape, thread-count independence, and odd shapes that hit
//! every tile and mask tail.

use dfdx::prelude::*;
use dfdx::tensor_ops::Backward;

use super::{
    blocked, dense, kernel, supported, wide_backward, wide_forward, BackwardInputs, DenseParams,
    Grad, Rows,
};
use crate::ops::handoff::{GradCell, Handoff};
use crate::ops::reference::{assert_close, builds, random};

/// `(batch, in, out)`: the tutorial's two layers, and shapes with every kind of tail (rows not
/// a multiple of 6 or of a task, features not a multiple of 16 or of a task, outputs below
/// and between multiples of 64).
const SHAPES: [(usize, usize, usize); 7] = [
    (64, 5408, 64),
    (64, 64, 10),
    (1, 1, 1),
    (7, 3, 17),
    (13, 200, 65),
    (9, 389, 130),
    (32, 33, 128),
];

fn reference_forward(
    x: &[f32],
    w: &[f32],
    b: &[f32],
    (m, k, n): (usize, usize, usize),
    relu: bool,
) -> Vec<f64> {
    let mut y = vec![0.0f64; m * n];
    for r in 0..m {
        for c in 0..n {
            let mut s = f64::from(b.get(c).copied().unwrap_or(0.0));
            for i in 0..k {
                s += f64::from(x[r * k + i]) * f64::from(w[i * n + c]);
            }
            y[r * n + c] = if relu { s.max(0.0) } else { s };
        }
    }
    y
}

/// `super::forward` on one build: the AVX-512 kernels (`wide`) or the blocked product.
fn forward(
    wide: bool,
    x: &[f32],
    w: &[f32],
    b: &[f32],
    y: &mut [f32],
    kn: (usize, usize),
    relu: bool,
) {
    if wide {
        wide_forward(x, w, b, y, kn, relu);
    } else {
        blocked::forward(x, w, b, y, kn, relu);
    }
}

/// `super::backward` on one build.
fn backward(wide: bool, back: &BackwardInputs<'_>, dw: Grad<'_>, dx: Grad<'_>) {
    if wide {
        wide_backward(back, dw, dx);
    } else {
        blocked::backward(back, dw, dx);
    }
}

fn skip() -> bool {
    if !supported() {
        eprintln!("skipped: this CPU has neither AVX-512F nor AVX2, with FMA");
        return true;
    }
    false
}

#[test]
fn forward_matches_the_definition() {
    if skip() {
        return;
    }
    for (wide, (i, &(m, k, n))) in builds()
        .into_iter()
        .flat_map(|wide| std::iter::repeat(wide).zip(SHAPES.iter().enumerate()))
    {
        let seed = 10 * i as u64;
        let (x, w, b) = (
            random(m * k, seed),
            random(k * n, seed + 1),
            random(n, seed + 2),
        );
        for (relu, bias) in [(false, &b[..]), (true, &b[..]), (true, &[][..])] {
            let mut y = vec![f32::NAN; m * n];
            forward(wide, &x, &w, bias, &mut y, (k, n), relu);
            let want = reference_forward(&x, &w, bias, (m, k, n), relu);
            let what = format!("y {m}x{k}x{n} relu={relu} wide={wide}");
            assert_close(&what, &y, &want, 1e-4);
        }
    }
}

#[test]
fn backward_matches_the_definition() {
    if skip() {
        return;
    }
    for (wide, (i, &(m, k, n))) in builds()
        .into_iter()
        .flat_map(|wide| std::iter::repeat(wide).zip(SHAPES.iter().enumerate()))
    {
        let seed = 100 + 10 * i as u64;
        let (x, w, g) = (
            random(m * k, seed),
            random(k * n, seed + 1),
            random(m * n, seed + 2),
        );
        // Gradients are added to what the slots hold.
        let (dw0, dx0) = (random(k * n, seed + 3), random(m * k, seed + 4));
        let (mut dw, mut dx) = (dw0.clone(), dx0.clone());
        let back = BackwardInputs {
            x: &x,
            w: &w,
            g: &g,
            dims: (m, k, n),
        };
        backward(wide, &back, Grad::Add(&mut dw), Grad::Add(&mut dx));
        // Written instead of added: the same products, over buffers of garbage.
        let mut dw_written = vec![std::mem::MaybeUninit::new(f32::NAN); k * n];
        let mut dx_written = vec![std::mem::MaybeUninit::new(f32::NAN); m * k];
        backward(
            wide,
            &back,
            Grad::Write(&mut dw_written),
            Grad::Write(&mut dx_written),
        );
        // SAFETY: `backward` wrote every element.
        let init = |v: &[std::mem::MaybeUninit<f32>]| -> Vec<f32> {
            v.iter().map(|v| unsafe { v.assume_init() }).collect()
        };
        let (dw_written, dx_written) = (init(&dw_written), init(&dx_written));
        let mut want_dw: Vec<f64> = dw0.iter().map(|&v| f64::from(v)).collect();
        let mut want_dx: Vec<f64> = dx0.iter().map(|&v| f64::from(v)).collect();
        for r in 0..m {
            for i in 0..k {
                for c in 0..n {
                    let gv = f64::from(g[r * n + c]);
                    want_dw[i * n + c] += f64::from(x[r * k + i]) * gv;
                    want_dx[r * k + i] += gv * f64::from(w[i * n + c]);
                }
            }
        }
        assert_close(&format!("dw {m}x{k}x{n} wide={wide}"), &dw, &want_dw, 1e-4);
        assert_close(&format!("dx {m}x{k}x{n} wide={wide}"), &dx, &want_dx, 1e-4);
        let without = |want: &[f64], start: &[f32]| -> Vec<f64> {
            want.iter()
                .zip(start)
                .map(|(w, d)| w - f64::from(*d))
                .collect()
        };
        let what = |t: &str| format!("written {t} {m}x{k}x{n} wide={wide}");
        assert_close(&what("dx"), &dx_written, &without(&want_dx, &dx0), 1e-4);
        assert_close(&what("dw"), &dw_written, &without(&want_dw, &dw0), 1e-4);
        // Either gradient alone: the same bits as with both.
        let (mut dw_alone, mut dx_alone) = (dw0.clone(), dx0.clone());
        backward(wide, &back, Grad::Add(&mut dw_alone), Grad::Skip);
        backward(wide, &back, Grad::Skip, Grad::Add(&mut dx_alone));
        assert!(dw_alone == dw, "dw alone {m}x{k}x{n}");
        assert!(dx_alone == dx, "dx alone {m}x{k}x{n}");
    }
}

/// On the tape, a layer whose weights nobody trains and whose input is data registers
/// nothing to do; with one of the two, only that gradient is computed.
#[test]
fn skipped_gradients_are_not_computed() {
    if skip() {
        return;
    }
    let dev = Cpu::default();
    let (m, k, n) = (5, 40, 24);
    let (x, w, b) = (random(m * k, 51), random(k * n, 52), random(n, 53));
    let w_shared = std::sync::Arc::new(w);
    let (wt, bt) = (
        dev.tensor_from_vec(Vec::new(), (0, 0)),
        dev.tensor_from_vec(b.clone(), (n,)),
    );
    let xt = dev.tensor_from_vec(x, (m, k));
    let run = |grads: bool, input_grad: bool| {
        let params = DenseParams {
            weight: (&wt, &w_shared),
            bias: Some((&bt, &b)),
            units: n,
            grads,
        };
        let y = dense(xt.clone().leaky_traced(), None, params, true, input_grad);
        let mut g = y.sum::<(), _>().backward();
        // A gradient nobody computed reads as zeros (or, for the weight's token, nothing).
        let read = |v: Vec<f32>| v.iter().any(|&v| v != 0.0).then_some(v);
        let dx = read(g.get_or_alloc_mut(&xt).unwrap().to_vec());
        let dw = read(g.get_or_alloc_mut(&wt).unwrap().to_vec());
        (dx, dw, read(g.get_or_alloc_mut(&bt).unwrap().to_vec()))
    };
    let (dx, dw, db) = run(true, true);
    assert!(dx.is_some() && dw.is_some() && db.is_some());
    assert_eq!(run(true, false), (None, dw, db));
    assert_eq!(run(false, true), (dx, None, None));
    assert_eq!(run(false, false), (None, None, None));
}

/// The op on the tape: each of x, W and b perturbed by central differences of
/// `sum(relu(x·W + b) * c)` for fixed random `c`.
#[test]
fn gradients_match_finite_differences() {
    if skip() {
        return;
    }
    let dev = Cpu::default();
    let (m, k, n) = (5, 21, 19);
    let x = random(m * k, 1);
    let w = random(k * n, 2);
    let b = random(n, 3);
    let c = random(m * n, 4);
    let value = |x: &[f32], w: &[f32], b: &[f32]| -> f64 {
        reference_forward(x, w, b, (m, k, n), true)
            .iter()
            .zip(&c)
            .map(|(y, c)| y * f64::from(*c))
            .sum()
    };
    let wt = dev.tensor_from_vec(w.clone(), (k, n));
    let w_shared = std::sync::Arc::new(w.clone());
    let bt = dev.tensor_from_vec(b.clone(), (n,));
    let xt = dev.tensor_from_vec(x.clone(), (m, k));
    let params = DenseParams {
        weight: (&wt, &w_shared),
        bias: Some((&bt, &b)),
        units: n,
        grads: true,
    };
    let y = dense(xt.clone().leaky_traced(), None, params, true, true);
    let ct = dev.tensor_from_vec(c.clone(), (m, n));
    let grads = (y * ct).sum::<(), _>().backward();
    // Central differences of the f64 reference; no ReLU kink lies within a step of 1e-3 for
    // these values (checked by the comparison itself: a kink would miss by far more).
    let h = 1e-3f32;
    let numeric = |which: usize, len: usize| -> Vec<f64> {
        (0..len)
            .map(|i| {
                let at = |delta: f32| {
                    let (mut x, mut w, mut b) = (x.clone(), w.clone(), b.clone());
                    [&mut x, &mut w, &mut b][which][i] += delta;
                    value(&x, &w, &b)
                };
                (at(h) - at(-h)) / (2.0 * f64::from(h))
            })
            .collect()
    };
    assert_close("dx", &grads.get(&xt).as_vec(), &numeric(0, m * k), 1e-3);
    assert_close("dw", &grads.get(&wt).as_vec(), &numeric(1, k * n), 1e-3);
    assert_close("db", &grads.get(&bt).as_vec(), &numeric(2, n), 1e-3);
}

/// One rayon thread and four give the same bits, forward and backward, on each build.
#[test]
fn results_do_not_depend_on_the_thread_count() {
    if skip() {
        return;
    }
    let (m, k, n) = (64, 5408, 64);
    let (x, w, b, g) = (
        random(m * k, 7),
        random(k * n, 8),
        random(n, 9),
        random(m * n, 10),
    );
    let run = |wide: bool, threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a thread pool");
        pool.install(|| {
            let mut y = vec![0.0; m * n];
            forward(wide, &x, &w, &b, &mut y, (k, n), true);
            let (mut dw, mut dx) = (vec![0.0; k * n], vec![0.0; m * k]);
            let back = BackwardInputs {
                x: &x,
                w: &w,
                g: &g,
                dims: (m, k, n),
            };
            backward(wide, &back, Grad::Add(&mut dw), Grad::Add(&mut dx));
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            (bits(&y), bits(&dw), bits(&dx))
        })
    };
    for wide in builds() {
        assert!(
            run(wide, 1) == run(wide, 4),
            "1 and 4 threads differ, wide={wide}"
        );
    }
}

/// Blocks of rows transposed into a buffer with a wider stride, as the backward pass does:
/// every element lands in place, and nothing outside the block is written.
#[test]
fn transposed_rows_match_the_definition() {
    if skip() {
        return;
    }
    for (k, n, (k0, k1)) in [
        (5408, 64, (192, 384)),
        (5408, 64, (5376, 5408)),
        (16, 16, (0, 16)),
        (17, 33, (3, 17)),
        (1, 5, (0, 1)),
        (40, 1, (7, 40)),
        (64, 10, (0, 64)),
    ] {
        let w = random(k * n, 3);
        let stride = k1 - k0 + 5;
        let mut wt = vec![f32::NAN; n * stride];
        // SAFETY: checked AVX-512F (`skip`); `wt` holds `n` rows of `stride`.
        unsafe { kernel::transpose_rows(&w, n, (k0, k1), wt.as_mut_ptr(), stride) };
        for c in 0..n {
            for i in 0..stride {
                let got = wt[c * stride + i];
                if k0 + i < k1 {
                    assert_eq!(got, w[(k0 + i) * n + c], "{k}x{n} at ({}, {c})", k0 + i);
                } else {
                    assert!(got.is_nan(), "{k}x{n}: wrote past the block");
                }
            }
        }
    }
}

/// An input handed over (as a conv does) gives the same bits as reading the tensor, and its
/// gradient comes back through the handoff's cell.
#[test]
fn a_handed_over_input_gives_the_same_result() {
    if skip() {
        return;
    }
    let dev = Cpu::default();
    let (m, k, n) = (8, 300, 64);
    let (x, w, b) = (random(m * k, 21), random(k * n, 22), random(n, 23));
    let wt = dev.tensor_from_vec(w.clone(), (k, n));
    let w_shared = std::sync::Arc::new(w.clone());
    let bt = dev.tensor_from_vec(b.clone(), (n,));
    let xt = dev.tensor_from_vec(x.clone(), (m, k));
    let params = || DenseParams {
        weight: (&wt, &w_shared),
        bias: Some((&bt, &b)),
        units: n,
        grads: true,
    };
    let y = dense(xt.clone().leaky_traced(), None, params(), true, true);
    let want_y = y.as_vec();
    let grads = y.sum::<(), _>().backward();
    let (want_dx, want_dw) = (grads.get(&xt).as_vec(), grads.get(&wt).as_vec());

    let token: Rows<_> = dev.tensor_from_vec(Vec::new(), (m, 0));
    let cell = GradCell::default();
    let handoff = Handoff {
        data: x.clone(),
        grad: cell.clone(),
    };
    let y = dense(token.leaky_traced(), Some(handoff), params(), true, true);
    assert_eq!(y.as_vec(), want_y);
    let grads = y.sum::<(), _>().backward();
    assert_eq!(grads.get(&wt).as_vec(), want_dw);
    assert_eq!(cell.take(m * k), want_dx);
    // Taken once: a pass whose dense output never reached the loss hands back zeros.
    assert_eq!(cell.take(m * k), vec![0.0; m * k]);
}

/// Parameters whose tensors are empty tokens (as the model's are) get the same gradients as
/// real ones, in fresh buffers: used once, and twice in one pass (the second use adds).
#[test]
fn token_parameters_get_the_same_gradients() {
    type W = Tensor<(usize, usize), f32, Cpu>;
    type B = Tensor<(usize,), f32, Cpu>;
    if skip() {
        return;
    }
    let dev = Cpu::default();
    let (m, k, n) = (6, 200, 20);
    let (x, w, b) = (random(m * k, 31), random(k * n, 32), random(n, 33));
    let xt = dev.tensor_from_vec(x.clone(), (m, k));
    let w_shared = std::sync::Arc::new(w.clone());
    let real: (W, B) = (
        dev.tensor_from_vec(w.clone(), (k, n)),
        dev.tensor_from_vec(b.clone(), (n,)),
    );
    let tokens: (W, B) = (
        dev.tensor_from_vec(Vec::new(), (0, 0)),
        dev.tensor_from_vec(Vec::new(), (0,)),
    );
    let grads = |(wt, bt): &(W, B), uses: usize| -> Vec<Vec<f32>> {
        let params = || DenseParams {
            weight: (wt, &w_shared),
            bias: Some((bt, &b)),
            units: n,
            grads: true,
        };
        let mut loss = dense(xt.clone().leaky_traced(), None, params(), true, true).sum::<(), _>();
        for _ in 1..uses {
            let again = dense(xt.clone().leaky_traced(), None, params(), true, true);
            loss = loss + again.sum::<(), _>();
        }
        let mut grads = loss.backward();
        // The slots themselves: `Gradients::get` would shape them as the (empty) token.
        vec![
            grads.get_or_alloc_mut(wt).unwrap().to_vec(),
            grads.get_or_alloc_mut(bt).unwrap().to_vec(),
            grads.get_or_alloc_mut(&xt).unwrap().to_vec(),
        ]
    };
    for uses in [1, 2] {
        let want = grads(&real, uses);
        assert_eq!((want[0].len(), want[1].len()), (k * n, n));
        assert!(
            grads(&tokens, uses) == want,
            "{uses} uses: the gradients differ"
        );
    }
}

/// The backward pass reads the weight its forward pass saw: an update in between (which a
/// training step never makes) copies on write instead of changing it under the tape.
#[test]
fn backward_reads_the_weight_its_forward_pass_saw() {
    if skip() {
        return;
    }
    let dev = Cpu::default();
    let (m, k, n) = (4, 40, 16);
    let (x, w) = (random(m * k, 41), random(k * n, 42));
    let xt = dev.tensor_from_vec(x, (m, k));
    let token = dev.tensor_from_vec(Vec::new(), (0, 0));
    let dx = |update: bool| {
        let mut w_param = std::sync::Arc::new(w.clone());
        let params = DenseParams {
            weight: (&token, &w_param),
            bias: None,
            units: n,
            grads: true,
        };
        let y = dense(xt.clone().leaky_traced(), None, params, false, true);
        if update {
            std::sync::Arc::make_mut(&mut w_param).fill(0.0);
        }
        let grads = y.sum::<(), _>().backward();
        (grads.get(&xt).as_vec(), w_param.iter().all(|&v| v == 0.0))
    };
    let (before, _) = dx(false);
    let (after, updated) = dx(true);
    assert!(updated, "the update took effect on the parameter");
    assert!(before == after, "the backward pass saw the update");
}
