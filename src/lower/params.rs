//! Parameters: a host copy that the optimizer updates in place, and the dfdx
//! tensor the forward pass reads, kept in sync after each update.

use dfdx::prelude::*;

pub type T1 = Tensor<(usize,), f32, Cpu>;
pub type T2 = Tensor<(usize, usize), f32, Cpu>;
pub type T4 = Tensor<(usize, usize, usize, usize), f32, Cpu>;

/// A parameter tensor of the rank its layer needs.
#[derive(Clone, Debug)]
pub enum ParamTensor {
    R1(T1),
    R2(T2),
    R4(T4),
}

#[derive(Clone, Debug)]
pub struct Param {
    /// `<layer>.weight` or `<layer>.bias`.
    pub name: String,
    /// Storage layout: dense weights (in, out), conv weights (out, in, kh, kw).
    pub shape: Vec<usize>,
    pub value: Vec<f32>,
    pub tensor: ParamTensor,
    /// Whether the forward pass reads `value` itself (the dense op does), so that `tensor`
    /// only names the gradient and [`Param::sync`] need not copy 1.4 MB into it every step.
    pub host_read: bool,
}

impl Param {
    pub fn new(dev: &Cpu, name: String, shape: Vec<usize>, value: Vec<f32>) -> Self {
        let tensor = match shape.as_slice() {
            [a] => ParamTensor::R1(dev.tensor_from_vec(value.clone(), (*a,))),
            [a, b] => ParamTensor::R2(dev.tensor_from_vec(value.clone(), (*a, *b))),
            [a, b, c, d] => ParamTensor::R4(dev.tensor_from_vec(value.clone(), (*a, *b, *c, *d))),
            other => unreachable!("parameters are of rank 1, 2 or 4, not {other:?}"),
        };
        Param {
            name,
            shape,
            value,
            tensor,
            host_read: false,
        }
    }

    /// Moves this parameter's gradient out of `grads` (zeros if it got none).
    pub fn take_grad(&self, grads: &mut Gradients<f32, Cpu>) -> Vec<f32> {
        let slot = match &self.tensor {
            ParamTensor::R1(t) => grads.get_or_alloc_mut(t),
            ParamTensor::R2(t) => grads.get_or_alloc_mut(t),
            ParamTensor::R4(t) => grads.get_or_alloc_mut(t),
        };
        match slot {
            Ok(v) => std::mem::take(&mut **v),
            // Allocation on the CPU device only fails when out of memory.
            Err(_) => vec![0.0; self.value.len()],
        }
    }

    /// Copies the host values into the tensor after an update, unless nothing reads it.
    pub fn sync(&mut self) {
        if self.host_read {
            return;
        }
        match &mut self.tensor {
            ParamTensor::R1(t) => t.copy_from(&self.value),
            ParamTensor::R2(t) => t.copy_from(&self.value),
            ParamTensor::R4(t) => t.copy_from(&self.value),
        }
    }

    pub fn r1(&self) -> &T1 {
        match &self.tensor {
            ParamTensor::R1(t) => t,
            _ => unreachable!("`{}` is not of rank 1", self.name),
        }
    }

    pub fn r2(&self) -> &T2 {
        match &self.tensor {
            ParamTensor::R2(t) => t,
            _ => unreachable!("`{}` is not of rank 2", self.name),
        }
    }

    pub fn r4(&self) -> &T4 {
        match &self.tensor {
            ParamTensor::R4(t) => t,
            _ => unreachable!("`{}` is not of rank 4", self.name),
        }
    }
}
