//! A dense layer, `y = relu?(x · W + b)`, as one op on dfdx's tape, on CPUs with AVX-512 or
//! AVX2 and FMA.
//!
//! dfdx's matmul goes through the `gemm` crate, whose AVX-512 kernels need a nightly compiler:
//! on stable it runs 8-wide, and reading its operands costs copies. This op reads the weight
//! from the parameter's host copy, multiplies with our 16-wide register-tiled kernels
//! (`kernel`) where the CPU has AVX-512, and with the blocked product's AVX2 build
//! (`blocked`) where it has AVX2 only, fuses the bias and the ReLU, and registers one
//! backward pass for all of it. Other CPUs keep dfdx's ops ([`supported`] tells which).
//!
//! The weight is stored `(in, out)`, as the model keeps it. Results are bit-identical across
//! runs and thread counts: every gradient element is summed by one task in a fixed order (the
//! inner dimension ascending), and every output of a large product as the sum of two halves
//! of the inner dimension, each ascending; the work is cut by shapes alone, so no sum changes
//! with the thread count.

// The AVX-512 kernels are x86-64 only, but the code that plans and checks their work compiles
// everywhere so that it is type-checked on every target; off x86-64 it is never reached.
#![cfg_attr(
    not(target_arch = "x86_64"),
    allow(dead_code, unused_imports, unused_variables, unreachable_code)
)]

#[cfg(target_arch = "x86_64")]
mod blocked;
#[cfg(target_arch = "x86_64")]
mod kernel;
#[cfg(all(test, target_arch = "x86_64"))]
mod tests;

use dfdx::prelude::{Cpu, HasShape, PutTape, SplitTape, Tape, Tensor};

use std::sync::Arc;

#[cfg(target_arch = "x86_64")]
use super::cpu::scratch::with_scratch;
use super::handoff::Handoff;
use crate::ops::cpu::zeroed::zeroed;

/// A batch of flat rows, carrying tape `T`.
pub type Rows<T> = Tensor<(usize, usize), f32, Cpu, T>;

/// A parameter tensor (whose id names its gradient) with the host values it holds.
pub type HostParam<'a, S> = (&'a Tensor<S, f32, Cpu>, &'a [f32]);

/// A weight tensor with its host values, shared so that the backward pass can read the
/// values the forward pass saw without copying them (`crate::lower::params::Param::value`).
pub type HostWeight<'a> = (&'a Tensor<(usize, usize), f32, Cpu>, &'a Arc<Vec<f32>>);

/// The parameters of a dense layer. Their tensors only name the gradients (the values are
/// read from the host slices), so they may be empty tokens: a gradient slot that is empty
/// when backward reaches it gets a fresh buffer, written whole instead of zero-filled and
/// added to (see `crate::lower::params::Param::read_on_host`).
#[derive(Clone, Copy)]
pub struct DenseParams<'a> {
    /// `(in, out)`.
    pub weight: HostWeight<'a>,
    pub bias: Option<HostParam<'a, (usize,)>>,
    /// `out`: the weight's columns.
    pub units: usize,
    /// Whether the weight's and the bias's gradients are read: false where the update in
    /// progress does not train this layer (a GAN's generator update passing through the
    /// discriminator), so that the backward pass skips them.
    pub grads: bool,
}

/// Whether this CPU runs [`dense`]: it has the blocked product (AVX-512F or AVX2, with FMA),
/// on which the AVX2 path multiplies; the AVX-512 kernels need no more than that.
pub fn supported() -> bool {
    crate::ops::matmul::shifted_products()
}

/// Whether the AVX-512 kernels run rather than the blocked product: each rounds its own way.
#[cfg(target_arch = "x86_64")]
fn wide() -> bool {
    crate::ops::cpu::simd::avx512_kernels()
}

/// `relu?(x · W + b)` for `x` of shape `(batch, in)`. Without `input_grad` nothing reads
/// `x`'s gradient (it is data), and the backward pass does not compute it.
///
/// With a `handoff` (from [`crate::ops::conv2d_flat_channels_last`]), `x` is the empty
/// `(batch, 0)` token that carries the tape, the input is the handoff's data, and its gradient
/// goes back through the handoff's cell (see [`crate::ops::handoff`]).
///
/// # Panics
/// If [`supported`] is false, or the shapes do not fit together (the checker rules that out).
#[cfg(target_arch = "x86_64")]
pub fn dense<T: Tape<f32, Cpu>>(
    x: Rows<T>,
    handoff: Option<Handoff>,
    params: DenseParams<'_>,
    relu: bool,
    input_grad: bool,
) -> Rows<T> {
    use super::host_data;

    assert!(supported(), "the dense op needs AVX-512F or AVX2, with FMA");
    let m = x.shape().0;
    let (w, w_host) = params.weight;
    let n = params.units;
    let k = w_host.len() / n.max(1);
    let b_host = params.bias.map_or(&[][..], |(_, b)| b);
    assert!(b_host.is_empty() || b_host.len() == n);
    let (x, mut tape) = x.split_tape();
    let (x_data, cell) = match handoff {
        Some(Handoff { data, grad }) => (data, Some(grad)),
        None => (host_data(&x), None),
    };
    assert!(
        x_data.len() == m * k && w_host.len() == k * n,
        "dense: input of {} features against a ({k}, {n}) weight",
        x_data.len() / m.max(1)
    );
    let mut y = zeroed(m * n);
    forward(&x_data, w_host, b_host, &mut y, (k, n), relu);
    let y_saved = if T::OWNS_TAPE && relu {
        y.clone()
    } else {
        Vec::new()
    };
    let out = {
        use dfdx::tensor::TensorFromVec;
        x.device()
            .try_tensor_from_vec(y, (m, n))
            .unwrap_or_else(|_| unreachable!("the output buffer is sized from its shape"))
    };
    // The op before a handoff waits for its gradient in the cell, so it always gets one.
    let input_grad = input_grad || cell.is_some();
    if T::OWNS_TAPE && (params.grads || input_grad) {
        let (x_ghost, w_ghost, out_ghost) = (x.ghost(), w.ghost(), out.ghost());
        let b_ghost = params.bias.filter(|_| params.grads).map(|(b, _)| b.ghost());
        let weight_grad = params.grads;
        // The backward pass reads the weight as the forward pass saw it: the optimizer's
        // update, which comes after it, copies on write if it still held it.
        let w_saved = Arc::clone(w_host);
        tape.add_backward_op(move |grads| {
            let mut g = std::mem::take(&mut **grads.get_or_alloc_mut(&out_ghost)?);
            if relu {
                for (g, y) in g.iter_mut().zip(&y_saved) {
                    if *y <= 0.0 {
                        *g = 0.0;
                    }
                }
            }
            if let Some(b_ghost) = &b_ghost {
                let db = grads.get_or_alloc_mut(b_ghost)?;
                if db.is_empty() {
                    // The bias's tensor is a token (see `Param::read_on_host`).
                    db.resize(n, 0.0);
                }
                for row in g.chunks_exact(n) {
                    for (d, v) in db.iter_mut().zip(row) {
                        *d += v;
                    }
                }
            }
            let back = BackwardInputs {
                x: &x_data,
                w: &w_saved,
                g: &g,
                dims: (m, k, n),
            };
            // Fresh buffers are written whole, never zero-filled first: the weight's when its
            // slot is empty (its tensor is a token, see `Param::read_on_host`, and this is
            // its first use in the pass), the input's when it goes back through a handoff.
            let mut dw = if weight_grad {
                std::mem::take(&mut **grads.get_or_alloc_mut(&w_ghost)?)
            } else {
                Vec::new()
            };
            let fresh_dw = weight_grad && dw.is_empty();
            let dw_out = match (weight_grad, fresh_dw) {
                (false, _) => Grad::Skip,
                (true, true) => Grad::Write(uninit(&mut dw, k * n)),
                (true, false) => Grad::Add(&mut dw),
            };
            match &cell {
                Some(cell) => {
                    let mut dx = Vec::new();
                    backward(&back, dw_out, Grad::Write(uninit(&mut dx, m * k)));
                    // SAFETY: `backward` wrote all `m * k` elements.
                    unsafe { dx.set_len(m * k) };
                    cell.put(dx);
                }
                None if input_grad => {
                    let mut dx = std::mem::take(&mut **grads.get_or_alloc_mut(&x_ghost)?);
                    backward(&back, dw_out, Grad::Add(&mut dx));
                    **grads.get_or_alloc_mut(&x_ghost)? = dx;
                }
                None => backward(&back, dw_out, Grad::Skip),
            }
            if fresh_dw {
                // SAFETY: `backward` wrote all `k * n` elements.
                unsafe { dw.set_len(k * n) };
            }
            if weight_grad {
                **grads.get_or_alloc_mut(&w_ghost)? = dw;
            }
            Ok(())
        });
    }
    out.put_tape(tape)
}

/// [`dense`] off x86-64: never called, as [`supported`] is false.
#[cfg(not(target_arch = "x86_64"))]
pub fn dense<T: Tape<f32, Cpu>>(
    _: Rows<T>,
    _: Option<Handoff>,
    _: DenseParams<'_>,
    _: bool,
    _: bool,
) -> Rows<T> {
    panic!("the dense op needs AVX-512F or AVX2, with FMA (see `supported`)")
}

/// Input features per backward task: a multiple of the kernels' tile sizes (6 and 16).
const FEATURES_PER_TASK: usize = 192;
/// Products of fewer multiply-adds than this (a few microseconds) run on the calling thread:
/// handing them to another would cost more in waking it than it saves.
const PARALLEL_MIN_WORK: usize = 1 << 18;

/// How many pieces to cut `work` multiply-adds into, at most `max`.
fn pieces(work: usize, max: usize) -> usize {
    if work < PARALLEL_MIN_WORK {
        1
    } else {
        max.max(1)
    }
}

/// The forward pass on host data.
#[cfg(target_arch = "x86_64")]
pub(crate) fn forward(
    x: &[f32],
    w: &[f32],
    b: &[f32],
    y: &mut [f32],
    (k, n): (usize, usize),
    relu: bool,
) {
    if n == 0 {
        return;
    }
    if wide() {
        wide_forward(x, w, b, y, (k, n), relu);
    } else {
        blocked::forward(x, w, b, y, (k, n), relu);
    }
}

/// [`forward`] on the AVX-512 kernels: in two halves of the inner dimension where it is
/// large.
#[cfg(target_arch = "x86_64")]
fn wide_forward(
    x: &[f32],
    w: &[f32],
    b: &[f32],
    y: &mut [f32],
    (k, n): (usize, usize),
    relu: bool,
) {
    let m = y.len() / n;
    if pieces(m * k * n, 2) == 1 {
        // SAFETY: `dense` and the tests call this only where `supported()` holds; the
        // kernel checks the slice lengths.
        unsafe { kernel::forward(x, w, b, y, (k, n), (0, k), relu) };
        return;
    }
    // Two halves of the inner dimension, one per thread, then their sum: each thread reads
    // half of the input and half of the weight, which fit its L2 together, where a split by
    // rows had each thread stream the whole weight (and evict what Adam reads next). Always
    // two halves, so the sums do not depend on the thread count; cut as the backward pass
    // and the optimizer cut the weight's rows, each on the thread that updates those rows.
    let mut upper = vec![0.0; m * n];
    let halves: Vec<_> = row_blocks(k, 2)
        .into_iter()
        .zip([&mut *y, &mut upper[..]])
        .zip([b, &[][..]])
        .collect();
    crate::ops::cpu::affinity::on_fixed_threads(halves, |_, ((range, out), bias)| {
        // SAFETY: `dense` and the tests call this only where `supported()` holds; the kernel
        // checks the slice lengths.
        unsafe { kernel::forward(x, w, bias, out, (k, n), range, false) }
    });
    for (y, u) in y.iter_mut().zip(&upper) {
        let v = *y + u;
        *y = if relu { v.max(0.0) } else { v };
    }
}

/// `0..k` cut into `threads` contiguous blocks `(first, end)` (fewer when `k` is small).
fn row_blocks(k: usize, threads: usize) -> Vec<(usize, usize)> {
    let per = k.div_ceil(threads.max(1)).max(1);
    (0..k)
        .step_by(per)
        .map(|first| (first, (first + per).min(k)))
        .collect()
}

/// What the backward pass reads: the input, the weight, the output gradient (after the
/// ReLU), and `(batch, in, out)`.
#[cfg(target_arch = "x86_64")]
pub(crate) struct BackwardInputs<'a> {
    pub(crate) x: &'a [f32],
    /// The weight, `(in, out)`.
    pub(crate) w: &'a [f32],
    pub(crate) g: &'a [f32],
    pub(crate) dims: (usize, usize, usize),
}

/// Where a gradient goes.
#[cfg(target_arch = "x86_64")]
pub(crate) enum Grad<'a> {
    /// Added into a gradient slot.
    Add(&'a mut [f32]),
    /// Written into a buffer whose contents are not read.
    Write(&'a mut [std::mem::MaybeUninit<f32>]),
    /// Not computed: nothing reads it.
    Skip,
}

#[cfg(target_arch = "x86_64")]
impl Grad<'_> {
    /// The buffer, its length, and whether it is written rather than added to; `None` when
    /// skipped.
    fn parts(self) -> Option<(SharedMut, usize, bool)> {
        match self {
            Grad::Add(g) => Some((SharedMut(g.as_mut_ptr()), g.len(), false)),
            Grad::Write(g) => Some((SharedMut(g.as_mut_ptr().cast()), g.len(), true)),
            Grad::Skip => None,
        }
    }
}

/// Puts the weight gradient `xᵀ · g` into `dw` and the input gradient `g · Wᵀ` into `dx`
/// (those not skipped).
#[cfg(target_arch = "x86_64")]
pub(crate) fn backward(b: &BackwardInputs<'_>, dw: Grad<'_>, dx: Grad<'_>) {
    if wide() {
        wide_backward(b, dw, dx);
    } else {
        blocked::backward(b, dw, dx);
    }
}

/// [`backward`] on the AVX-512 kernels, in parallel over blocks of input features: a task
/// owns rows of `dw` and columns of `dx`.
#[cfg(target_arch = "x86_64")]
fn wide_backward(b: &BackwardInputs<'_>, dw: Grad<'_>, dx: Grad<'_>) {
    let (m, k, n) = b.dims;
    let (dw, dx) = (dw.parts(), dx.parts());
    assert!(dw.is_none_or(|(_, len, _)| len == k * n));
    assert!(dx.is_none_or(|(_, len, _)| len == m * k) && b.g.len() == m * n);
    if k == 0 || (dw.is_none() && dx.is_none()) {
        return;
    }
    if n == 0 {
        if let Some((dx, _, true)) = dx {
            // SAFETY: `dx` points to `m * k` floats, written here.
            unsafe { std::ptr::write_bytes(dx.get(), 0, m * k) };
        }
        return;
    }
    // One contiguous block of the weight's rows per thread, always on the same thread, cut
    // where the optimizer cuts its pieces (`ops::cpu::affinity`): the optimizer then reads each
    // gradient row in the cache of the core that wrote it.
    let threads = pieces(m * k * n, rayon::current_num_threads());
    crate::ops::cpu::affinity::on_fixed_threads(row_blocks(k, threads), |_, (first, end)| {
        // Within a block, tasks of a few hundred rows keep `x`'s columns and `dx`'s in cache.
        // The input gradient reads the weight by columns: each task's rows are transposed
        // into a scratch block first (48 KiB for the tutorial), read while it is in L1.
        with_scratch([n * FEATURES_PER_TASK], |[wt]| {
            for k0 in (first..end).step_by(FEATURES_PER_TASK) {
                let k1 = (k0 + FEATURES_PER_TASK).min(end);
                // SAFETY (all three): `supported()` holds wherever this runs (see `forward`);
                // the tasks write disjoint rows `k0..k1` of `dw` and columns `k0..k1` of
                // `dx`, both of which outlive them, and nothing else accesses them meanwhile;
                // `wt` holds `n` rows of `k1 - k0`.
                unsafe {
                    if let Some((dw, _, write)) = dw {
                        kernel::weight_grad(b.x, b.g, dw.get(), (m, k, n), (k0, k1), write);
                    }
                    if let Some((dx, _, write)) = dx {
                        kernel::transpose_rows(b.w, n, (k0, k1), wt.as_mut_ptr(), k1 - k0);
                        let wt = (wt.as_ptr(), k1 - k0);
                        kernel::input_grad(b.g, wt, dx.get(), (m, k, n), (k0, k1), write);
                    }
                }
            }
        });
    });
}

/// Room for `len` floats at the start of `v`'s spare capacity, for a kernel to write.
fn uninit(v: &mut Vec<f32>, len: usize) -> &mut [std::mem::MaybeUninit<f32>] {
    v.reserve_exact(len);
    &mut v.spare_capacity_mut()[..len]
}

/// A pointer to a buffer whose parallel tasks write disjoint parts.
#[derive(Clone, Copy)]
struct SharedMut(*mut f32);

impl SharedMut {
    fn get(self) -> *mut f32 {
        self.0
    }
}

// SAFETY: see `backward`: the tasks sharing it write disjoint elements.
unsafe impl Send for SharedMut {}
// SAFETY: as above.
unsafe impl Sync for SharedMut {}
