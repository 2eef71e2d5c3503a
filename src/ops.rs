//! Our own ops on dfdx's tape: 2-D convolution and pooling, which dfdx 0.13 only has on
//! nightly.
//!
//! Tensors are NCHW (PyTorch's layout). Each op computes its forward pass on host data in
//! parallel over the batch and registers its backward pass with [`Tape::add_backward_op`], so
//! it sits in dfdx's graph like a built-in op: parameter gradients land in the tape's
//! `Gradients` under the parameters' own ids, as dfdx's matmul does for a `NoneTape` operand.
//!
//! The convolution fuses bias, ReLU and a following pooling, so that the full-size conv output
//! never becomes a tensor: it lives in a per-thread scratch plane while it is activated and
//! pooled, and only the pooled output, the argmax or ReLU mask, and the input reach backward.
//!
//! One exception to NCHW: a conv whose output a dense layer reads next hands it over
//! flattened channels-last, as its AVX-512 kernels compute it, and on CPUs where our dense op
//! runs, as a buffer beside the tape rather than a tensor ([`handoff`]).
//!
//! Inputs must be contiguous (as every tensor built from a `Vec`, reshaped, or produced by an
//! elementwise op is): the ops read a tensor's storage in memory order.
//!
//! All results are deterministic: the batch is split into tasks by its size alone and partial
//! weight gradients are summed in task order, so outputs and gradients are bit-identical across
//! runs and thread counts. They are not across CPUs, though: on CPUs with AVX-512F and FMA the
//! tutorial's conv2d takes its own kernels (`conv2d/avx512.rs`), which round differently from
//! the portable ones; `EXPR_PORTABLE=1` makes every machine take the portable kernels
//! (`EXPR_CONV_PORTABLE=1` only for the conv).

mod attention;
mod batch_norm;
mod conv2d;
pub mod cpu;
pub mod dense;
mod dropout;
pub mod embedding;
mod error;
mod geometry;
mod gru;
pub mod handoff;
mod layer_norm;
mod lstm;
mod matmul;
mod pointwise;
mod pool2d;
mod positionwise;
mod recurrent;
mod resample2d;

#[cfg(test)]
mod reference;
#[cfg(test)]
mod timing;

use dfdx::prelude::{Cpu, HasShape, Shape, Tensor};

pub use attention::{attention, cross_attention, AttentionSpec};
pub use batch_norm::{batch_moments, batch_norm, BatchMoments, BatchNormSpec, Statistics};
pub use conv2d::{
    conv2d, conv2d_flat_channels_last, conv2d_transpose, try_conv2d, try_conv2d_transpose,
    Conv2dSpec, Conv2dTransposeSpec,
};
pub use dropout::dropout;
pub use error::OpsError;
pub use geometry::{conv2d_output_hw, conv2d_transpose_output_hw, pool2d_output_hw, Padding};
pub use gru::{gru, gru_with_state};
pub use layer_norm::{layer_norm, LayerNormSpec};
pub use lstm::{lstm, lstm_with_state};
pub use pointwise::{add, add_relu, fork, pointwise, Pointwise, SELU_ALPHA, SELU_SCALE};
pub use pool2d::{pool2d, try_pool2d, Pool2dSpec, PoolKind};
pub use positionwise::{positionwise, HostTensor, PositionwiseSpec, WeightLayout};
pub use recurrent::{Reading, RecurrentParams};
pub use resample2d::{upsample2d, zeropad2d};

/// A rank-4 NCHW activation, carrying tape `T`.
pub type T4<T> = Tensor<(usize, usize, usize, usize), f32, Cpu, T>;

/// A (batch, units) matrix, such as a recurrent layer's state, carrying tape `T`.
pub type T2<T> = Tensor<(usize, usize), f32, Cpu, T>;

/// A conv2d weight `(out channels, in channels, kernel height, kernel width)`.
pub type Weight4 = Tensor<(usize, usize, usize, usize), f32, Cpu>;

/// A per-channel bias.
pub type Bias1 = Tensor<(usize,), f32, Cpu>;

/// A copy of a contiguous tensor's elements, for an op that must own them (most read them in
/// place, [`storage`]).
fn host_data<S: Shape, T>(t: &Tensor<S, f32, Cpu, T>) -> Vec<f32> {
    storage(t).to_vec()
}

/// A contiguous tensor's elements in place (dfdx's storage, through the accessor our copy of
/// dfdx adds: `vendor/README.md`).
///
/// # Panics
/// If the tensor is not contiguous (a broadcast view), which no op of ours is given.
fn storage<S: Shape, T>(t: &Tensor<S, f32, Cpu, T>) -> &[f32] {
    let data = t.storage();
    assert_eq!(
        data.len(),
        t.shape().num_elements(),
        "ops read contiguous tensors"
    );
    data
}

/// Wraps an output buffer built to match `shape` in a tensor without copying it.
fn tensor_from_output<S: Shape>(dev: &Cpu, data: Vec<f32>, shape: S) -> Tensor<S, f32, Cpu> {
    use dfdx::tensor::TensorFromVec;
    dev.try_tensor_from_vec(data, shape)
        .unwrap_or_else(|_| unreachable!("output buffers are sized from their shape"))
}

/// Adds `src` into a gradient slot.
fn add_into(dst: &mut [f32], src: &[f32]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d += s;
    }
}
