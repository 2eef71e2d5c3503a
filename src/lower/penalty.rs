//! Weight penalties, Keras' `L1L2`: `l1 * sum(abs(w)) + l2 * sum(w ** 2)` (no 1/2 on the
//! square). A layer's `kernel_regularizer` adds its gradient to its weight's before every
//! update that trains the layer (`lower::step`); the step functions `l1(model)` and
//! `l2(model)` give the sums over a model's weights as a scalar of the step
//! ([`penalty_scalar`]).

use std::sync::Arc;

use dfdx::prelude::*;
use dfdx::tensor::CpuError;

use super::params::{Param, ParamTensor};
use crate::check::plan::Regularizer;

/// `l1 * sum(abs(w)) + l2 * sum(w ** 2)`, summed in f64 in order (the same bits every time).
pub fn value(reg: Regularizer, w: &[f32]) -> f64 {
    let (mut abs, mut squares) = (0.0f64, 0.0f64);
    for &v in w {
        let v = f64::from(v);
        abs += v.abs();
        squares += v * v;
    }
    reg.l1 * abs + reg.l2 * squares
}

/// Adds `scale` times the penalty's gradient, `l1 * sign(w) + 2 * l2 * w`, to `grad` (the
/// gradient of `abs` at 0 is 0, as TensorFlow's).
pub fn add_gradient(reg: Regularizer, w: &[f32], scale: f32, grad: &mut [f32]) {
    let l1 = (reg.l1 as f32) * scale;
    let l2 = (2.0 * reg.l2 as f32) * scale;
    for (g, &v) in grad.iter_mut().zip(w) {
        let sign = if v > 0.0 {
            1.0
        } else if v < 0.0 {
            -1.0
        } else {
            0.0
        };
        *g += l1 * sign + l2 * v;
    }
}

/// The penalty `reg` over `kernels` as a scalar on the tape of `T`, whose backward pass adds
/// the upstream gradient times the penalty's to each kernel's gradient slot. A dense weight's
/// slot may still be empty (its tensor is a token, see `Param::read_on_host`): it is filled
/// with zeros first, and the dense op then adds into it.
pub fn penalty_scalar<T: Tape<f32, Cpu>>(
    dev: &Cpu,
    reg: Regularizer,
    kernels: &[&Param],
    attach: impl FnOnce(Tensor<(), f32, Cpu>) -> Tensor<(), f32, Cpu, T>,
) -> Tensor<(), f32, Cpu, T> {
    let total: f64 = kernels.iter().map(|p| value(reg, &p.value)).sum();
    let out = attach(dev.tensor(total as f32));
    let out_ghost = out.ghost();
    let adders: Vec<Adder> = kernels
        .iter()
        .map(|p| {
            let w = Arc::clone(&p.value);
            match &p.tensor {
                ParamTensor::R1(t) => adder(t, w, reg),
                ParamTensor::R2(t) => adder(t, w, reg),
                ParamTensor::R4(t) => adder(t, w, reg),
            }
        })
        .collect();
    let (out, mut tape) = out.split_tape();
    tape.add_backward_op(move |grads| {
        let upstream = grads.get_or_alloc_mut(&out_ghost)?[0];
        for add in adders {
            add(grads, upstream)?;
        }
        Ok(())
    });
    out.put_tape(tape)
}

/// Adds the upstream gradient times the penalty's to one parameter's gradient slot.
type Adder = Box<dyn FnOnce(&mut Gradients<f32, Cpu>, f32) -> Result<(), CpuError>>;

fn adder<S: Shape>(t: &Tensor<S, f32, Cpu>, w: Arc<Vec<f32>>, reg: Regularizer) -> Adder {
    let ghost = t.ghost();
    Box::new(move |grads, upstream| {
        let slot = &mut **grads.get_or_alloc_mut(&ghost)?;
        if slot.is_empty() {
            slot.resize(w.len(), 0.0);
        }
        add_gradient(reg, &w, upstream, slot);
        Ok(())
    })
}

#[cfg(test)]
mod tests;
