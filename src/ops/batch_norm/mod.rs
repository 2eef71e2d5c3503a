//! Batch normalisation over NCHW activations (a flat batch is `(batch, features, 1, 1)`), as
//! one op on dfdx's tape: a forward pass that computes the statistics and the output in two
//! passes over the batch, and a backward pass that computes the input's, `gamma`'s and
//! `beta`'s gradients in two more, where a chain of dfdx ops would take a dozen.

mod kernel;
#[cfg(test)]
mod tests;

use dfdx::prelude::{Cpu, HasShape, PutTape, SplitTape, Tape};

pub use kernel::Layout;

use super::{add_into, storage, tensor_from_output, Bias1, T4};

/// Which statistics normalise the batch.
#[derive(Clone, Copy, Debug)]
pub enum Statistics<'a> {
    /// The batch's own (training): the op returns them for the running averages.
    Batch,
    /// Running averages (evaluation, inference, a frozen layer).
    Running { mean: &'a [f32], var: &'a [f32] },
}

/// A trained per-channel parameter: its tensor (which names its gradient) and host values.
pub type Channelwise<'a> = (&'a Bias1, &'a [f32]);

/// What a call sets besides the input.
#[derive(Clone, Copy, Debug)]
pub struct BatchNormSpec<'a> {
    pub statistics: Statistics<'a>,
    pub epsilon: f32,
    /// The scale, or none for 1 (`scale = false`).
    pub gamma: Option<Channelwise<'a>>,
    /// The offset, or none for 0 (`center = false`).
    pub beta: Option<Channelwise<'a>>,
    /// Whether the input needs a gradient (false for a first layer on data).
    pub input_grad: bool,
    /// A rectifier applied to the output in the same pass: `Some(0.0)` a ReLU, `Some(alpha)`
    /// with `alpha > 0` a leaky ReLU (the layer after the norm, fused: `layers::batchnorm`).
    /// Either's derivative is read off its output's sign, so the backward pass needs no
    /// second copy of the activation.
    pub rectifier: Option<f32>,
}

/// A rectifier with slope `alpha` below 0: dfdx's `relu` (`max(z, 0)`) for 0, the leaky
/// ReLU of `ops::pointwise` otherwise, the same bits as those.
#[inline(always)]
pub(super) fn rectify(z: f32, alpha: f32) -> f32 {
    if alpha == 0.0 {
        z.max(0.0)
    } else if z > 0.0 {
        z
    } else {
        z * alpha
    }
}

/// The batch's mean and biased variance per channel, which a training call normalised with.
pub struct BatchMoments {
    pub mean: Vec<f32>,
    pub var: Vec<f32>,
}

/// The mean and biased variance of each channel of `x`, laid out (batch, channels, positions).
pub fn batch_moments(
    (batch, channels, positions): (usize, usize, usize),
    x: &[f32],
) -> (Vec<f32>, Vec<f32>) {
    let layout = Layout {
        batch,
        channels,
        positions,
    };
    kernel::moments(layout, x)
}

/// `gamma * (x - mean) / sqrt(var + epsilon) + beta` per channel of `x` (N, C, H, W), with the
/// batch's statistics or running ones; in the first case, also the batch's statistics.
pub fn batch_norm<T: Tape<f32, Cpu>>(
    x: T4<T>,
    spec: &BatchNormSpec<'_>,
) -> (T4<T>, Option<BatchMoments>) {
    let (n, c, h, w) = *x.shape();
    let layout = Layout {
        batch: n,
        channels: c,
        positions: h * w,
    };
    let (x, mut tape) = x.split_tape();
    let x_data = storage(&x);
    let (mean, var) = match spec.statistics {
        Statistics::Batch => kernel::moments(layout, x_data),
        Statistics::Running { mean, var } => (mean.to_vec(), var.to_vec()),
    };
    let inv_std = kernel::inverse_std(&var, spec.epsilon);
    let gamma = spec.gamma.map_or_else(|| vec![1.0; c], |g| g.1.to_vec());
    let beta = spec.beta.map_or_else(|| vec![0.0; c], |b| b.1.to_vec());
    // Written whole by `normalize`, so not zeroed first.
    let mut out = Vec::with_capacity(x_data.len());
    kernel::normalize(
        layout,
        x_data,
        (&mean, &inv_std),
        &gamma,
        &beta,
        &mut out.spare_capacity_mut()[..x_data.len()],
        spec.rectifier,
    );
    // SAFETY: `normalize` wrote all `x_data.len()` elements.
    unsafe { out.set_len(x_data.len()) };
    // The rectifier's derivative at each element is 1 where the output is positive, its slope
    // elsewhere.
    let out = tensor_from_output(x.device(), out, (n, c, h, w));
    // Kept for the backward pass as clones, which share the tensors' storage.
    let rectified = match spec.rectifier {
        Some(alpha) if T::OWNS_TAPE => Some((alpha, out.clone())),
        _ => None,
    };

    let batch_stats = matches!(spec.statistics, Statistics::Batch);
    let moments = batch_stats.then(|| BatchMoments {
        mean: mean.clone(),
        var,
    });
    if T::OWNS_TAPE {
        let x_ghost = x.ghost();
        let out_ghost = out.ghost();
        let gamma_ghost = spec.gamma.map(|g| g.0.ghost());
        let beta_ghost = spec.beta.map(|b| b.0.ghost());
        let input_grad = spec.input_grad;
        let x_kept = x.clone();
        tape.add_backward_op(move |grads| {
            let dy = std::mem::take(&mut **grads.get_or_alloc_mut(&out_ghost)?);
            let grad = kernel::OutputGrad {
                dy: &dy,
                rectified: rectified.as_ref().map(|(alpha, y)| (*alpha, storage(y))),
            };
            let dx = if input_grad {
                Some(&mut grads.get_or_alloc_mut(&x_ghost)?[..])
            } else {
                None
            };
            let g = kernel::backward(
                layout,
                storage(&x_kept),
                (&mean, &inv_std),
                &gamma,
                grad,
                batch_stats,
                dx,
            );
            if let Some(ghost) = &gamma_ghost {
                add_into(grads.get_or_alloc_mut(ghost)?, &g.dgamma);
            }
            if let Some(ghost) = &beta_ghost {
                add_into(grads.get_or_alloc_mut(ghost)?, &g.dbeta);
            }
            Ok(())
        });
    }
    (out.put_tape(tape), moments)
}
