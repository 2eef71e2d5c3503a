//! `batchnorm(momentum, epsilon, center, scale)`: batch normalisation (Keras'
//! `BatchNormalization`, PyTorch's `BatchNorm1d` on a flat batch, per feature, and
//! `BatchNorm2d` on images, per channel).
//!
//! In training each feature or channel is normalised by the batch's mean and biased variance,
//! then scaled by `gamma` and shifted by `beta` (trained, stored as PyTorch's `<layer>.weight`
//! and `<layer>.bias`), and the running averages move towards the batch's statistics as
//! Keras moves them: `running = running * momentum + batch * (1 - momentum)`, with the
//! *biased* batch variance (PyTorch's `running_var` takes the unbiased one, and its
//! `momentum` is Keras' `1 - momentum`). In evaluation, inference, and in a frozen layer
//! (`trainable = false`, as in Keras) the running averages normalise instead, and stay.
//!
//! The running averages are layer state (`<layer>.running_mean`, `<layer>.running_var`, and
//! `<layer>.num_batches_tracked`, the count of training batches, as PyTorch names them), which
//! model files and checkpoints carry. The op is `ops::batch_norm`.

use super::{LayerDef, LayerOp};
use crate::catalog::layers::{layer, param, TRAINABLE};
use crate::catalog::{self, Default, Entry, Type, Value};
use crate::check::call::CallArgs;
use crate::check::error::CheckError;
use crate::check::plan::{Activation, Layer, LayerKind};
use crate::export::graph::float;
use crate::export::{ExportError, Graph};
use crate::lower::act::{batch_norm, Act, AnyTape, Forward};
use crate::lower::model::Lowering;
use crate::lower::params::Param;
use crate::ops::handoff::Handoff;
use crate::ops::{BatchNormSpec, Statistics};
use crate::source::Span;

/// Its catalogue entry.
pub static ENTRY: Entry = layer(
    "batchnorm",
    &[
        param(
            "momentum",
            Type::Fraction,
            Default::Is(Value::Number(0.99)),
        ),
        param(
            "epsilon",
            Type::Positive,
            Default::Is(Value::Number(1e-3)),
        ),
        param("center", Type::Bool, Default::Is(Value::Bool(true))),
        param("scale", Type::Bool, Default::Is(Value::Bool(true))),
        TRAINABLE,
    ],
    "batch_normalization",
    "BatchNormalization",
    "normalises each feature (each channel of images) by the batch's statistics in training, by running averages otherwise; then `* gamma + beta`",
);

#[derive(Debug, Clone, PartialEq)]
pub struct BatchNorm {
    pub momentum: f64,
    pub epsilon: f64,
    /// Whether it has `beta`.
    pub center: bool,
    /// Whether it has `gamma`.
    pub scale: bool,
}

impl LayerDef for BatchNorm {
    type Op = BatchNormOp;

    fn read(_: catalog::Layer, args: &CallArgs<'_>, errors: &mut Vec<CheckError>) -> Self {
        BatchNorm {
            momentum: args.number("momentum", errors),
            epsilon: args.number("epsilon", errors),
            center: args.boolean("center", errors),
            scale: args.boolean("scale", errors),
        }
    }

    fn catalogued(&self) -> catalog::Layer {
        catalog::Layer::of(&ENTRY)
    }

    fn output_shape(
        &self,
        input: &[usize],
        span: Span,
        errors: &mut Vec<CheckError>,
    ) -> Option<Vec<usize>> {
        normalized_input("batchnorm", input, span, errors)
    }

    /// `gamma` (features or channels,), then `beta`.
    fn parameter_shapes(&self, input: &[usize]) -> Vec<Vec<usize>> {
        let c = input[0];
        [self.scale, self.center]
            .into_iter()
            .filter(|&has| has)
            .map(|_| vec![c])
            .collect()
    }

    /// The running mean and variance, which Keras counts as non-trainable parameters
    /// (`num_batches_tracked`, PyTorch's alone, is not counted).
    fn state_count(&self, input: &[usize]) -> usize {
        2 * input[0]
    }

    /// `BatchNormalization` in inference mode, on the running statistics; a layer without
    /// `gamma` or `beta` gets ones or zeros.
    fn export(&self, layer: &Layer, x: String, g: &mut Graph<'_>) -> Result<String, ExportError> {
        let c = layer.input_shape[0];
        let (gamma, beta) = g.gamma_beta(layer, c, self.scale, self.center)?;
        let mean = g.weight(layer, "running_mean")?;
        let var = g.weight(layer, "running_var")?;
        Ok(g.node(
            "BatchNormalization",
            &[&x, &gamma, &beta, &mean, &var],
            vec![float("epsilon", self.epsilon as f32)],
        ))
    }

    /// Fuses `next` when it is a ReLU, or a leaky ReLU of positive slope: the op rectifies its
    /// output in the same pass (`BatchNormSpec::rectifier`).
    fn lower(
        &self,
        layer: &Layer,
        next: Option<&Layer>,
        cx: &mut Lowering<'_>,
    ) -> (BatchNormOp, bool) {
        let rectifier = match next.map(|l| &l.kind) {
            Some(LayerKind::Activation(a)) => match a.activation {
                Activation::Relu => Some(0.0),
                Activation::LeakyRelu { alpha } if alpha > 0.0 => Some(alpha),
                _ => None,
            },
            _ => None,
        };
        let c = layer.input_shape[0];
        let gamma = self.scale.then(|| {
            cx.params.push(Param::new(
                cx.dev,
                format!("{}.weight", layer.name),
                vec![c],
                vec![1.0; c],
            ));
            cx.params.len() - 1
        });
        let beta = self.center.then(|| {
            cx.params.push(Param::new(
                cx.dev,
                format!("{}.bias", layer.name),
                vec![c],
                vec![0.0; c],
            ));
            cx.params.len() - 1
        });
        let op = BatchNormOp {
            momentum: self.momentum,
            epsilon: self.epsilon as f32,
            gamma,
            beta,
            running_mean: cx.add_state(layer, "running_mean", vec![c], vec![0.0; c]),
            running_var: cx.add_state(layer, "running_var", vec![c], vec![1.0; c]),
            // A scalar, as PyTorch's state_dict holds it (int64 there; f32 here, which its
            // `load_state_dict` copies in, exact up to 2^24 batches).
            batches: cx.add_state(layer, "num_batches_tracked", Vec::new(), vec![0.0]),
            trainable: layer.trainable,
            rectifier,
        };
        (op, rectifier.is_some())
    }
}

/// The shape rule of the normalisation layers: a flat input or images, unchanged.
pub(super) fn normalized_input(
    name: &str,
    input: &[usize],
    span: Span,
    errors: &mut Vec<CheckError>,
) -> Option<Vec<usize>> {
    if matches!(input.len(), 1 | 3) {
        return Some(input.to_vec());
    }
    errors.push(CheckError::shape(
        format!("`{name}` needs a flat input or images (channels, height, width), but gets shape {input:?}"),
        format!("input here has shape {input:?}"),
        span,
        "add `channel_axis()` to the data pipeline, so images are (channels, height, width)",
    ));
    None
}

pub struct BatchNormOp {
    momentum: f64,
    epsilon: f32,
    /// Indices of `gamma` and `beta` among the model's parameters.
    gamma: Option<usize>,
    beta: Option<usize>,
    /// Indices of the running statistics in the model's state.
    running_mean: usize,
    running_var: usize,
    batches: usize,
    /// False for a frozen layer, which normalises with its running statistics even in
    /// training (Keras' `trainable = False`).
    trainable: bool,
    /// The fused rectifier's slope below 0 (`BatchNormSpec::rectifier`).
    rectifier: Option<f32>,
}

impl LayerOp for BatchNormOp {
    fn forward<T: AnyTape>(&self, x: Act<T>, _: Option<Handoff>, cx: &mut Forward<'_>) -> Act<T> {
        let training = cx.training && self.trainable;
        let (mean, var) = (
            &cx.state[self.running_mean].value,
            &cx.state[self.running_var].value,
        );
        let channelwise = |p: Option<usize>| {
            p.map(|p| {
                let p = &cx.params[p];
                (p.r1(), &p.value[..])
            })
        };
        let spec = BatchNormSpec {
            statistics: if training {
                Statistics::Batch
            } else {
                Statistics::Running { mean, var }
            },
            epsilon: self.epsilon,
            gamma: channelwise(self.gamma),
            beta: channelwise(self.beta),
            input_grad: cx.input_grad,
            rectifier: self.rectifier,
        };
        let (y, moments) = batch_norm(x, &spec);
        if let Some(batch) = moments {
            let updates = [
                (
                    self.running_mean,
                    moving_average(mean, &batch.mean, self.momentum),
                ),
                (
                    self.running_var,
                    moving_average(var, &batch.var, self.momentum),
                ),
                (self.batches, vec![cx.state[self.batches].value[0] + 1.0]),
            ];
            cx.state_updates.extend(updates);
        }
        y
    }
}

/// Keras' update of a moving statistic, in f32 as Keras computes it:
/// `moving * momentum + batch * (1 - momentum)`.
fn moving_average(moving: &[f32], batch: &[f32], momentum: f64) -> Vec<f32> {
    let (keep, take) = (momentum as f32, (1.0 - momentum) as f32);
    moving
        .iter()
        .zip(batch)
        .map(|(m, b)| m * keep + b * take)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::moving_average;

    /// Keras 3's moving statistics after two training calls of
    /// `BatchNormalization()` on the flat batches of bench/reference/norm.py.
    #[test]
    fn running_statistics_follow_keras_over_two_steps() {
        let x1: Vec<f32> = (0..12).map(|i| ((i * 5 % 12) as f32 - 5.5) / 3.0).collect();
        let x2: Vec<f32> = x1.iter().map(|v| v * 0.5 + 1.0).collect();
        let (mut mean, mut var) = (vec![0.0; 3], vec![1.0; 3]);
        for x in [&x1, &x2] {
            let (m, v) = crate::ops::batch_moments((4, 3, 1), x);
            mean = moving_average(&mean, &m, 0.99);
            var = moving_average(&var, &v, 0.99);
        }
        let keras_mean = [0.005_033_3, 0.014_966_7, 0.01];
        let keras_var = [0.995_600_1; 3];
        for c in 0..3 {
            assert!((mean[c] - keras_mean[c]).abs() < 1e-6, "{mean:?}");
            assert!((var[c] - keras_var[c]).abs() < 1e-6, "{var:?}");
        }
    }
}
