//! 2-D convolution over NCHW activations with fused bias, ReLU and pooling, as an op on dfdx's
//! tape.

mod avx512;
mod backward;
mod forward;
mod group;
mod plan;
mod shifted;
#[cfg(test)]
mod tests;
mod transpose;

use dfdx::prelude::{Cpu, HasShape, PutTape, ReshapeTo, SplitTape, Tape};

use super::geometry::Padding;
use super::handoff::{GradCell, Handoff};
use super::pool2d::Pool2dSpec;
use super::{add_into, storage, tensor_from_output, Bias1, OpsError, Weight4, T4};
use plan::ConvPlan;
pub use transpose::{conv2d_transpose, try_conv2d_transpose, Conv2dTransposeSpec};

/// A convolution layer and what is fused after it.
#[derive(Clone, Debug, PartialEq)]
pub struct Conv2dSpec {
    /// `(height, width)` step between windows.
    pub stride: (usize, usize),
    pub padding: Padding,
    /// A ReLU after the bias.
    pub relu: bool,
    /// The ReLU's slope below 0: 0, or a leaky ReLU's `alpha` (positive; such a ReLU fuses
    /// no pooling).
    pub relu_slope: f32,
    /// Whether the input needs a gradient; false for the data batch, which saves the col2im.
    pub input_grad: bool,
    /// Whether the weight and bias need gradients; false where the update in progress trains
    /// neither (a GAN's discriminator in the generator's update), which saves the product
    /// as large as the forward one.
    pub weight_grad: bool,
    /// A pooling after the (activated) convolution.
    pub pool: Option<Pool2dSpec>,
}

/// Convolves `x` (N, C, H, W) with `w` (O, C, KH, KW), adds `b` (O), then applies the fused
/// ReLU and pooling of `spec`, giving (N, O, H', W').
///
/// Gradients for `w` and `b` are added to the tape's `Gradients` under their own ids when
/// `spec.weight_grad` is set, and for `x` when `spec.input_grad` is.
///
/// # Panics
/// If the shapes do not fit together or leave no output; the checker rules this out
/// ([`try_conv2d`] reports it).
pub fn conv2d<T: Tape<f32, Cpu>>(x: T4<T>, w: &Weight4, b: &Bias1, spec: &Conv2dSpec) -> T4<T> {
    try_conv2d(x, w, b, spec).unwrap_or_else(|e| panic!("{e}"))
}

/// [`conv2d`], reporting unusable shapes instead of panicking.
///
/// # Errors
/// [`OpsError::ShapeMismatch`] when the weight's input channels differ from the input's, the
/// bias length from the weight's output channels, or a channel count is zero;
/// [`OpsError::EmptyOutput`] when no window fits; [`OpsError::PlaneTooLarge`] for planes of
/// 2^32 elements or more.
pub fn try_conv2d<T: Tape<f32, Cpu>>(
    x: T4<T>,
    w: &Weight4,
    b: &Bias1,
    spec: &Conv2dSpec,
) -> Result<T4<T>, OpsError> {
    conv2d_with(x, w, b, spec, false, None).map(|(out, _)| out)
}

/// [`conv2d`] for a dense layer to read next: the output flattened channels-last, `(N, H' *
/// W' * O)` with feature `(h * W' + w) * O + o` (Keras' order for `Flatten`).
///
/// This is the order the AVX-512 kernels compute in; NCHW would cost a transpose of every
/// sample forward and of its gradient backward, a twentieth of a training step in the
/// tutorial. The dense layer's weight rows are kept in the same order
/// (`crate::lower::params::RowOrder`).
///
/// With `handoff`, the output goes to the dense op as a [`Handoff`] and the tensor returned is
/// an empty `(N, 0)` token carrying the tape (see [`super::handoff`]); without, it is in the
/// tensor.
///
/// # Panics
/// As [`conv2d`].
pub fn conv2d_flat_channels_last<T: Tape<f32, Cpu>>(
    x: T4<T>,
    w: &Weight4,
    b: &Bias1,
    spec: &Conv2dSpec,
    handoff: bool,
) -> (super::dense::Rows<T>, Option<Handoff>) {
    let cell = handoff.then(GradCell::default);
    let (out, data) =
        conv2d_with(x, w, b, spec, true, cell.clone()).unwrap_or_else(|e| panic!("{e}"));
    let (n, o, h, w) = *out.shape();
    // The 4-d shape was only a label: the data is already `(N, H', W', O)` (or elsewhere,
    // for a token). A contiguous reshape keeps the tensor's id, so the gradient lands where
    // backward reads it.
    let flat = out.reshape_like(&(n, o * h * w));
    (flat, cell.map(|grad| Handoff { data, grad }))
}

fn conv2d_with<T: Tape<f32, Cpu>>(
    x: T4<T>,
    w: &Weight4,
    b: &Bias1,
    spec: &Conv2dSpec,
    channels_last: bool,
    handoff: Option<GradCell>,
) -> Result<(T4<T>, Vec<f32>), OpsError> {
    let mut plan = ConvPlan::new(*x.shape(), *w.shape(), *b.shape(), spec)?;
    plan.channels_last = channels_last;
    let (x, mut tape) = x.split_tape();
    let (out, saved) = forward::forward(&plan, storage(&x), storage(w), storage(b), T::OWNS_TAPE);
    // Handed off, the output leaves as data and the tensor is an empty token.
    let (out, data) = match handoff {
        Some(_) => {
            let token = tensor_from_output(x.device(), Vec::new(), (plan.batch, 0, 1, 1));
            (token, out)
        }
        None => (
            tensor_from_output(x.device(), out, plan.out_shape()),
            Vec::new(),
        ),
    };
    if T::OWNS_TAPE {
        let x_ghost = x.ghost();
        let w_ghost = w.ghost();
        let b_ghost = b.ghost();
        let out_ghost = out.ghost();
        let (input_grad, weight_grad) = (spec.input_grad, spec.weight_grad);
        let out_len = plan.batch * plan.out_ch * plan.out_plane();
        // The backward pass reads the input and weight in place: a clone of a tensor shares
        // its storage.
        let (x_kept, w_kept) = (x.clone(), w.clone());
        tape.add_backward_op(move |grads| {
            let grad_out = match &handoff {
                Some(cell) => cell.take(out_len),
                None => std::mem::take(&mut **grads.get_or_alloc_mut(&out_ghost)?),
            };
            let (mut dw, mut db) = plan.param_grad_buffers(weight_grad);
            let mut no_dx = [];
            let dx = if input_grad {
                &mut grads.get_or_alloc_mut(&x_ghost)?[..]
            } else {
                &mut no_dx[..]
            };
            let params = backward::Params {
                x: storage(&x_kept),
                w: storage(&w_kept),
            };
            backward::backward(&plan, params, &saved, &grad_out, dx, &mut dw, &mut db);
            if weight_grad {
                add_into(grads.get_or_alloc_mut(&w_ghost)?, &dw);
                add_into(grads.get_or_alloc_mut(&b_ghost)?, &db);
            }
            Ok(())
        });
    }
    Ok((out.put_tape(tape), data))
}
