//! Parameters: a host copy that the optimizer updates in place, and the dfdx
//! tensor the forward pass reads, kept in sync after each update.

use std::sync::Arc;

use dfdx::prelude::*;

use crate::check::plan::Regularizer;

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
    /// Shared with the backward passes of ops that read it on the host (the dense op), which
    /// must see the values their forward pass saw: an update while one still holds it
    /// copies on write ([`Param::value_mut`]). None does in a training step, whose backward
    /// pass runs before its update.
    pub value: Arc<Vec<f32>>,
    pub tensor: ParamTensor,
    /// Whether the forward pass reads `value` itself (the dense op does), so that `tensor`
    /// is an empty token that only names the gradient and [`Param::sync`] need not copy
    /// 1.4 MB into it every step ([`Param::read_on_host`]).
    pub host_read: bool,
    /// The order of the rows (a dense weight's input features) in `value`.
    pub rows: RowOrder,
    /// Whether `value` is the transpose of the canonical (PyTorch) layout: a dense weight is
    /// stored (in, out) for the matmul, and PyTorch's `nn.Linear` holds (out, in).
    pub transposed: bool,
    /// What the parameter is to its layer: a kernel is what the step functions `l1(model)`
    /// and `l2(model)` sum over, and what a `kernel_regularizer` penalises.
    pub role: Role,
    /// False for a frozen layer's parameter (`trainable = false`), which no optimizer
    /// updates (the engine leaves it out of every optimizer's bindings).
    pub trainable: bool,
}

/// What a parameter is to its layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Role {
    /// A layer's weight (its kernel), with the layer's `kernel_regularizer`, whose gradient
    /// is added to the weight's before every update that trains it.
    Kernel(Option<Regularizer>),
    /// A bias, a batch norm's scale or offset: no penalty reads it.
    Other,
}

/// A layer's state that is not trained (batch norm's running mean and variance): model files
/// and checkpoints carry it under `<layer>.<name>`, no optimizer updates it. Held in the
/// canonical layout.
#[derive(Clone, Debug)]
pub struct StateBuffer {
    pub name: String,
    pub shape: Vec<usize>,
    pub value: Vec<f32>,
}

/// The order of a dense weight's rows in memory. Model files always hold the canonical order;
/// checkpoints and the optimizer's state hold the stored one, which depends only on the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowOrder {
    /// One row per input feature as the layer receives it: NCHW order after a flatten
    /// (PyTorch's `nn.Flatten`).
    Canonical,
    /// After a conv that hands its output over channels-last
    /// ([`crate::ops::conv2d_flat_channels_last`]): stored row `q * channels + c` holds
    /// canonical row `c * positions + q`, for position `q` of the image plane.
    ChannelsLast { channels: usize, positions: usize },
}

impl RowOrder {
    /// `value` (rows of `cols` elements) reordered from canonical to this order, or back
    /// when `to_canonical`.
    ///
    /// # Panics
    /// If `value` is not `channels * positions` rows of `cols`: a bug of the caller.
    pub fn apply(self, value: &[f32], cols: usize, to_canonical: bool) -> Vec<f32> {
        let RowOrder::ChannelsLast {
            channels,
            positions,
        } = self
        else {
            return value.to_vec();
        };
        assert_eq!(value.len(), channels * positions * cols);
        let mut out = vec![0.0; value.len()];
        for c in 0..channels {
            for q in 0..positions {
                let (canonical, stored) = (c * positions + q, q * channels + c);
                let (from, to) = if to_canonical {
                    (stored, canonical)
                } else {
                    (canonical, stored)
                };
                out[to * cols..][..cols].copy_from_slice(&value[from * cols..][..cols]);
            }
        }
        out
    }
}

impl Param {
    pub fn new(dev: &Cpu, name: String, shape: Vec<usize>, value: Vec<f32>) -> Self {
        let tensor = match shape.as_slice() {
            [a] => ParamTensor::R1(dev.tensor_from_vec(value.clone(), (*a,))),
            [a, b] => ParamTensor::R2(dev.tensor_from_vec(value.clone(), (*a, *b))),
            // A 1-D conv's weight (out, in, k) is the 2-D conv's (out, in, 1, k) it runs as.
            [a, b, k] => ParamTensor::R4(dev.tensor_from_vec(value.clone(), (*a, *b, 1, *k))),
            [a, b, c, d] => ParamTensor::R4(dev.tensor_from_vec(value.clone(), (*a, *b, *c, *d))),
            other => unreachable!("parameters are of rank 1 to 4, not {other:?}"),
        };
        Param {
            name,
            shape,
            value: Arc::new(value),
            tensor,
            host_read: false,
            rows: RowOrder::Canonical,
            transposed: false,
            role: Role::Other,
            trainable: true,
        }
    }

    /// Marks a dense weight, stored (in, out), as the transpose of its canonical layout.
    #[must_use]
    pub fn transposed(mut self) -> Self {
        self.transposed = true;
        self
    }

    /// The shape in the canonical layout (PyTorch's).
    pub fn canonical_shape(&self) -> Vec<usize> {
        match (self.transposed, self.shape.as_slice()) {
            (true, [rows, cols]) => vec![*cols, *rows],
            _ => self.shape.clone(),
        }
    }

    /// `values` (this parameter's, or a buffer of its shape such as an optimizer slot) from the
    /// stored layout to the canonical one: rows in canonical order, a dense weight transposed.
    pub fn to_canonical(&self, values: &[f32]) -> Vec<f32> {
        let rows = self.rows.apply(values, self.cols(), true);
        match (self.transposed, self.shape.as_slice()) {
            (true, [r, c]) => transpose(&rows, *r, *c),
            _ => rows,
        }
    }

    /// The inverse of [`Self::to_canonical`].
    pub fn from_canonical(&self, values: &[f32]) -> Vec<f32> {
        let rows = match (self.transposed, self.shape.as_slice()) {
            (true, [r, c]) => transpose(values, *c, *r),
            _ => values.to_vec(),
        };
        self.rows.apply(&rows, self.cols(), false)
    }

    /// The values to update in place (copied first if a backward pass still holds them).
    pub fn value_mut(&mut self) -> &mut Vec<f32> {
        Arc::make_mut(&mut self.value)
    }

    /// The values in the canonical layout, as model files and checkpoints hold them.
    pub fn canonical_value(&self) -> Vec<f32> {
        self.to_canonical(&self.value)
    }

    /// Sets the values from the canonical layout (see [`Self::canonical_value`]).
    pub fn set_canonical_value(&mut self, canonical: &[f32]) {
        self.value = Arc::new(self.from_canonical(canonical));
        self.sync();
    }

    /// Stores the rows in `order` from now on (the values are reordered to it).
    pub fn reorder_rows(&mut self, order: RowOrder) {
        let canonical = self.canonical_value();
        self.rows = order;
        self.set_canonical_value(&canonical);
    }

    /// Elements per row: all but the first axis.
    fn cols(&self) -> usize {
        self.shape.iter().skip(1).product()
    }

    /// Marks the parameter as read from `value` by its op (the dense op), which makes
    /// `tensor` an empty token that only names the gradient: dfdx then allocates an empty
    /// gradient slot, which the op fills with a buffer it writes whole, instead of a
    /// zero-filled one it adds into (1.4 MB zero-filled per step on the main thread in the
    /// tutorial).
    pub fn read_on_host(&mut self, dev: &Cpu) {
        self.host_read = true;
        self.tensor = match &self.tensor {
            ParamTensor::R1(_) => ParamTensor::R1(dev.tensor_from_vec(Vec::new(), (0,))),
            ParamTensor::R2(_) => ParamTensor::R2(dev.tensor_from_vec(Vec::new(), (0, 0))),
            ParamTensor::R4(_) => ParamTensor::R4(dev.tensor_from_vec(Vec::new(), (0, 0, 0, 0))),
        };
    }

    /// Moves this parameter's gradient out of `grads` (zeros if it got none).
    pub fn take_grad(&self, grads: &mut Gradients<f32, Cpu>) -> Vec<f32> {
        let slot = match &self.tensor {
            ParamTensor::R1(t) => grads.get_or_alloc_mut(t),
            ParamTensor::R2(t) => grads.get_or_alloc_mut(t),
            ParamTensor::R4(t) => grads.get_or_alloc_mut(t),
        };
        match slot {
            // A token's slot is empty where the parameter was not used in the pass.
            Ok(v) if v.len() == self.value.len() => std::mem::take(&mut **v),
            // Allocation on the CPU device only fails when out of memory.
            _ => vec![0.0; self.value.len()],
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

/// `v` (`rows` x `cols`, row-major) transposed.
fn transpose(v: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; v.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = v[r * cols + c];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_last_rows_move_whole_and_back() {
        // 2 channels x 3 positions, rows of 2: canonical row c * 3 + q holds [10r, 10r + 1].
        let canonical: Vec<f32> = (0..6)
            .flat_map(|r| [10.0 * r as f32, 10.0 * r as f32 + 1.0])
            .collect();
        let order = RowOrder::ChannelsLast {
            channels: 2,
            positions: 3,
        };
        let stored = order.apply(&canonical, 2, false);
        // Stored row q * 2 + c: (q0 c0) (q0 c1) (q1 c0) ... = canonical rows 0 3 1 4 2 5.
        let rows: Vec<f32> = stored.chunks(2).map(|r| r[0] / 10.0).collect();
        assert_eq!(rows, [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        assert!(stored.chunks(2).all(|r| r[1] == r[0] + 1.0));
        assert_eq!(order.apply(&stored, 2, true), canonical);
        assert_eq!(RowOrder::Canonical.apply(&canonical, 2, false), canonical);
    }

    #[test]
    fn a_reordered_transposed_weight_goes_to_pytorch_layout_and_back() {
        let dev = Cpu::default();
        // A dense weight (in 6, out 2) after a conv of 2 channels x 3 positions.
        let stored_canonical: Vec<f32> = (0..12).map(|v| v as f32).collect();
        let mut p = Param::new(
            &dev,
            "dense.weight".into(),
            vec![6, 2],
            stored_canonical.clone(),
        )
        .transposed();
        assert_eq!(p.canonical_shape(), [2, 6]);
        // Canonical (PyTorch) is (out, in): row o holds input features 0..6 of output o.
        let pytorch: Vec<f32> = (0..2)
            .flat_map(|o| (0..6).map(move |i| (i * 2 + o) as f32))
            .collect();
        assert_eq!(p.canonical_value(), pytorch);
        p.reorder_rows(RowOrder::ChannelsLast {
            channels: 2,
            positions: 3,
        });
        assert_ne!(p.value.to_vec(), stored_canonical);
        assert_eq!(p.canonical_value(), pytorch);
        let slot: Vec<f32> = (100..112).map(|v| v as f32).collect();
        assert_eq!(p.from_canonical(&p.to_canonical(&slot)), slot);
    }
}
