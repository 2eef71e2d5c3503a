//! The dense layer's three products where the CPU has AVX2 and FMA but no AVX-512: on the
//! blocked product (`matmul::blocked`, whose AVX2 build the convolutions already use), in
//! place of dfdx's matmul, which copied the operands in and out of its tensors and ran the
//! bias and the activation as passes of their own.
//!
//! The forward product is cut into two fixed halves of its inner dimension, the gradients'
//! into blocks of their results' rows. The blocked product sums every element in one order
//! that depends on the inner dimension alone, so the cuts by rows change no bit, and results
//! are the same at every thread count.

use super::{pieces, row_blocks, BackwardInputs, Grad};
use crate::ops::cpu::affinity::on_fixed_threads;
use crate::ops::matmul::{blocked_view, View};

/// `y = relu?(x · w + b)`: `y`'s rows start from the bias, and the product adds to them. A
/// large product is cut, as the AVX-512 kernels cut it, into two halves of the inner
/// dimension, one per thread, then summed: each thread reads half of the input and half of
/// the weight, where a cut by rows had each pack the whole weight (the tutorial's epoch
/// 1.05x). Always two halves, whatever the thread count, so the sums do not depend on it.
pub(super) fn forward(
    x: &[f32],
    w: &[f32],
    b: &[f32],
    y: &mut [f32],
    (k, n): (usize, usize),
    relu: bool,
) {
    let m = y.len() / n;
    for row in y.chunks_exact_mut(n) {
        if b.is_empty() {
            row.fill(0.0);
        } else {
            row.copy_from_slice(b);
        }
    }
    let half = |(first, end): (usize, usize), out: &mut [f32]| {
        let lhs = View {
            data: &x[first..],
            row_stride: k,
            col_stride: 1,
        };
        blocked_view(
            (m, n, end - first),
            out,
            true,
            lhs,
            View::rows(&w[first * n..], n),
        );
    };
    if pieces(m * k * n, 2) == 1 {
        half((0, k), y);
    } else {
        let mut upper = vec![0.0; m * n];
        let halves: Vec<_> = row_blocks(k, 2)
            .into_iter()
            .zip([&mut *y, &mut upper[..]])
            .collect();
        on_fixed_threads(halves, |_, (range, out)| half(range, out));
        for (y, u) in y.iter_mut().zip(&upper) {
            *y += u;
        }
    }
    if relu {
        for v in y {
            *v = v.max(0.0);
        }
    }
}

/// The weight gradient `xᵀ · g` into `dw` (`(in, out)`, cut by the weight's rows as the
/// AVX-512 kernels and the optimizer cut it) and the input gradient `g · wᵀ` into `dx` (cut
/// by the batch's rows), those not skipped.
pub(super) fn backward(b: &BackwardInputs<'_>, dw: Grad<'_>, dx: Grad<'_>) {
    let (m, k, n) = b.dims;
    let (dw, dx) = (target(dw), target(dx));
    assert!(dw.as_ref().is_none_or(|(dw, _)| dw.len() == k * n));
    assert!(dx.as_ref().is_none_or(|(dx, _)| dx.len() == m * k) && b.g.len() == m * n);
    let threads = pieces(m * k * n, rayon::current_num_threads());
    if let Some((dw, accumulate)) = dw.filter(|_| n > 0) {
        let blocks = row_blocks(k, threads);
        let per = blocks.first().map_or(1, |&(first, end)| end - first);
        let tasks: Vec<_> = dw.chunks_mut(per * n).zip(blocks).collect();
        on_fixed_threads(tasks, |_, (out, (first, end))| {
            // Rows `first..end` of `xᵀ`: columns of `x`, `k` floats apart.
            let lhs = View {
                data: &b.x[first..],
                row_stride: 1,
                col_stride: k,
            };
            blocked_view(
                (end - first, n, m),
                out,
                accumulate,
                lhs,
                View::rows(b.g, n),
            );
        });
    }
    if let Some((dx, accumulate)) = dx {
        on_fixed_threads(row_tasks(dx, (m, k), threads), |_, (first, out)| {
            let rows = out.len() / k;
            // `wᵀ`: the weight's rows read as columns.
            let rhs = View {
                data: b.w,
                row_stride: 1,
                col_stride: n,
            };
            let lhs = View::rows(&b.g[first * n..], n);
            blocked_view((rows, k, n), out, accumulate, lhs, rhs);
        });
    }
}

/// `out` (`rows x cols`) cut into `threads` blocks of whole rows, each with its first row.
fn row_tasks(
    out: &mut [f32],
    (rows, cols): (usize, usize),
    threads: usize,
) -> Vec<(usize, &mut [f32])> {
    let per = rows.div_ceil(threads.max(1)).max(1);
    out.chunks_mut(per * cols.max(1))
        .enumerate()
        .map(|(i, block)| (i * per, block))
        .collect()
}

/// A gradient's buffer and whether the product adds to it; `None` when skipped. A buffer to
/// be written is zero-filled first, so that no product reads memory never written.
fn target(grad: Grad<'_>) -> Option<(&mut [f32], bool)> {
    match grad {
        Grad::Add(g) => Some((g, true)),
        Grad::Write(g) => {
            for v in g.iter_mut() {
                v.write(0.0);
            }
            // SAFETY: every element was just written, and `MaybeUninit<f32>` has the layout
            // of `f32`.
            Some((
                unsafe { &mut *(std::ptr::from_mut(g) as *mut [f32]) },
                false,
            ))
        }
        Grad::Skip => None,
    }
}
