//! A checked model lowered onto dfdx: its parameters, and a forward pass that
//! works with a tape (training) or without (inference).
//!
//! Convolution and pooling are our ops (`crate::ops`); a conv followed by a
//! pool, with a ReLU or no activation between, becomes one fused op so the
//! conv-sized activation never becomes a dfdx tensor. A conv whose output a
//! dense layer reads (through flattens only) hands it over flat and
//! channels-last, and that dense weight's rows are stored in the same order
//! ([`RowOrder`]); model files keep the canonical order.

use dfdx::prelude::*;
use rand_chacha::ChaCha8Rng;

use super::init::glorot_uniform;
use super::params::{Param, RowOrder, StateBuffer};
use crate::check::plan::{self, Activation, LayerKind, Model};
use crate::ops;

pub type Flat<T> = Tensor<(usize, usize), f32, Cpu, T>;
pub type Image<T> = Tensor<(usize, usize, usize, usize), f32, Cpu, T>;

/// An activation between layers: a batch of flat vectors or of images (NCHW).
pub enum Act<T> {
    Flat(Flat<T>),
    Image(Image<T>),
}

impl<T: Tape<f32, Cpu>> Act<T> {
    /// The batch as (batch, features), flattening images in NCHW order (PyTorch's).
    pub fn into_flat(self) -> Flat<T> {
        match self {
            Act::Flat(t) => t,
            Act::Image(t) => {
                let (b, c, h, w) = *t.shape();
                t.reshape_like(&(b, c * h * w))
            }
        }
    }
}

enum Op {
    Dense {
        weight: usize,
        bias: Option<usize>,
        activation: Activation,
    },
    Conv {
        weight: usize,
        bias: Option<usize>,
        spec: ops::Conv2dSpec,
        /// An activation the fused op does not do itself.
        activation: Activation,
        /// Whether a dense layer reads the output next (after flattens only), so that the
        /// op hands it over flattened channels-last, and the dense weight's rows are stored
        /// in that order ([`RowOrder::ChannelsLast`]).
        feeds_dense: bool,
        /// The output's `(channels, positions)` per sample (after the fused pooling).
        out_image: (usize, usize),
    },
    Pool(ops::Pool2dSpec),
    Flatten,
    Dropout(f32),
    Activation(Activation),
}

pub struct LoweredModel {
    pub name: String,
    pub params: Vec<Param>,
    /// Non-trained layer state (none of today's layers has any; batch norm's running
    /// statistics will), carried by model files and checkpoints.
    pub state: Vec<StateBuffer>,
    ops: Vec<Op>,
    /// Zero biases for convs declared without one (our op always takes a bias).
    zero_biases: Vec<Tensor<(usize,), f32, Cpu>>,
}

impl LoweredModel {
    pub fn new(dev: &Cpu, model: &Model, rng: &mut ChaCha8Rng) -> Self {
        let mut params = Vec::new();
        let mut ops_list = Vec::new();
        let mut zero_biases = Vec::new();
        let mut layers = model.layers.iter().peekable();
        while let Some(layer) = layers.next() {
            let mut add_params = |params: &mut Vec<Param>| {
                let shapes = layer.parameter_shapes();
                let weight = params.len();
                params.push(Param::new(
                    dev,
                    format!("{}.weight", layer.name),
                    shapes[0].clone(),
                    glorot_uniform(&shapes[0], rng),
                ));
                let bias = shapes.get(1).map(|s| {
                    params.push(Param::new(
                        dev,
                        format!("{}.bias", layer.name),
                        s.clone(),
                        vec![0.0; s[0]],
                    ));
                    params.len() - 1
                });
                (weight, bias)
            };
            let op = match &layer.kind {
                LayerKind::Dense { activation, .. } => {
                    let (weight, bias) = add_params(&mut params);
                    params[weight].transposed = true;
                    if ops::dense::supported() {
                        for p in std::iter::once(weight).chain(bias) {
                            params[p].read_on_host(dev);
                        }
                    }
                    Op::Dense {
                        weight,
                        bias,
                        activation: *activation,
                    }
                }
                LayerKind::Conv2d {
                    kernel: _,
                    stride,
                    padding,
                    activation,
                    filters,
                    ..
                } => {
                    let (weight, bias) = add_params(&mut params);
                    if bias.is_none() {
                        zero_biases.push(dev.zeros_like(&(*filters,)));
                    }
                    let fusable = matches!(activation, Activation::Relu | Activation::Linear);
                    let mut out_shape = &layer.output_shape;
                    let pool = match layers.peek().map(|l| (&l.kind, &l.output_shape)) {
                        Some((
                            LayerKind::Pool2d {
                                kind,
                                size,
                                stride,
                                padding,
                            },
                            pooled,
                        )) if fusable => {
                            let spec = pool_spec(*kind, *size, *stride, *padding);
                            out_shape = pooled;
                            layers.next();
                            Some(spec)
                        }
                        _ => None,
                    };
                    Op::Conv {
                        weight,
                        bias,
                        spec: ops::Conv2dSpec {
                            stride: *stride,
                            padding: op_padding(*padding),
                            relu: *activation == Activation::Relu,
                            input_grad: true,
                            pool,
                        },
                        activation: if fusable {
                            Activation::Linear
                        } else {
                            *activation
                        },
                        feeds_dense: false,
                        out_image: (out_shape[0], out_shape[1..].iter().product()),
                    }
                }
                LayerKind::Pool2d {
                    kind,
                    size,
                    stride,
                    padding,
                } => Op::Pool(pool_spec(*kind, *size, *stride, *padding)),
                LayerKind::Flatten => Op::Flatten,
                LayerKind::Dropout { rate } => Op::Dropout(*rate),
                LayerKind::Activation(a) => Op::Activation(*a),
            };
            ops_list.push(op);
        }
        // A conv whose output a dense layer reads next, through flattens only, hands it over
        // channels-last, and the dense weight's rows follow. This depends on the model alone,
        // not on the CPU, so checkpoints resume anywhere.
        for i in 0..ops_list.len() {
            let dense_weight = match ops_list[i + 1..]
                .iter()
                .find(|op| !matches!(op, Op::Flatten))
            {
                Some(Op::Dense { weight, .. }) => Some(*weight),
                _ => None,
            };
            if let Op::Conv {
                activation: Activation::Linear,
                feeds_dense,
                out_image: (channels, positions),
                ..
            } = &mut ops_list[i]
            {
                if let Some(weight) = dense_weight {
                    *feeds_dense = true;
                    params[weight].reorder_rows(RowOrder::ChannelsLast {
                        channels: *channels,
                        positions: *positions,
                    });
                }
            }
        }
        LoweredModel {
            name: model.name.clone(),
            params,
            state: Vec::new(),
            ops: ops_list,
            zero_biases,
        }
    }

    /// Dropout layers that draw a random mask in training mode (one device draw each).
    pub fn dropout_layers(&self) -> u64 {
        self.ops
            .iter()
            .filter(|op| matches!(op, Op::Dropout(rate) if *rate > 0.0))
            .count() as u64
    }

    /// Runs the model. `input_grad` is false when the input is data, so the
    /// first conv can skip computing a gradient nobody reads.
    pub fn forward<T: Tape<f32, Cpu>>(
        &self,
        input: Act<T>,
        training: bool,
        input_grad: bool,
    ) -> Act<T> {
        let mut act = input;
        let mut zero_bias = self.zero_biases.iter();
        // The current activation handed over beside the tape, where a conv did so for the
        // dense op that reads it (see `ops::handoff`).
        let mut handoff: Option<ops::handoff::Handoff> = None;
        for (i, op) in self.ops.iter().enumerate() {
            let act_handoff = handoff.take();
            act = match op {
                Op::Dense {
                    weight,
                    bias,
                    activation,
                } => {
                    let x = act.into_flat();
                    if ops::dense::supported() {
                        Act::Flat(self.dense(x, act_handoff, *weight, *bias, *activation))
                    } else {
                        let y = x.matmul(self.params[*weight].r2().clone());
                        let y = match bias {
                            Some(b) => {
                                let shape = *y.shape();
                                y + self.params[*b]
                                    .r1()
                                    .clone()
                                    .broadcast_like::<(usize, usize), Axis<0>>(&shape)
                            }
                            None => y,
                        };
                        Act::Flat(activate_flat(y, *activation))
                    }
                }
                Op::Conv {
                    weight,
                    bias,
                    spec,
                    activation,
                    feeds_dense,
                    out_image: _,
                } => {
                    let Act::Image(x) = act else {
                        unreachable!("check guarantees conv2d gets images")
                    };
                    let b = match bias {
                        Some(b) => self.params[*b].r1(),
                        None => zero_bias
                            .next()
                            .unwrap_or_else(|| unreachable!("one zero bias per bias-less conv")),
                    };
                    let spec = ops::Conv2dSpec {
                        input_grad: input_grad || i > 0,
                        ..spec.clone()
                    };
                    let w = self.params[*weight].r4();
                    if *feeds_dense {
                        // Our dense op takes the output by hand where it runs; dfdx's matmul
                        // reads it from the tensor.
                        let hand_over = ops::dense::supported();
                        let (y, data) = ops::conv2d_flat_channels_last(x, w, b, &spec, hand_over);
                        handoff = data;
                        Act::Flat(y)
                    } else {
                        let y = ops::conv2d(x, w, b, &spec);
                        Act::Image(activate_image(y, *activation))
                    }
                }
                Op::Pool(spec) => match act {
                    Act::Image(x) => Act::Image(ops::pool2d(x, spec)),
                    Act::Flat(_) => unreachable!("check guarantees pooling gets images"),
                },
                Op::Flatten => {
                    // Flattening NCHW keeps the data's order (and a channels-last conv output
                    // is flat already).
                    handoff = act_handoff;
                    Act::Flat(act.into_flat())
                }
                Op::Dropout(rate) if training && *rate > 0.0 => match act {
                    Act::Flat(t) => Act::Flat(t.dropout(*rate)),
                    Act::Image(t) => Act::Image(t.dropout(*rate)),
                },
                Op::Dropout(_) => act,
                Op::Activation(a) => match act {
                    Act::Flat(t) => Act::Flat(activate_flat(t, *a)),
                    Act::Image(t) => Act::Image(activate_image(t, *a)),
                },
            };
        }
        act
    }
}

impl LoweredModel {
    /// A dense layer through our AVX-512 op, with a ReLU fused into it.
    fn dense<T: Tape<f32, Cpu>>(
        &self,
        x: Flat<T>,
        handoff: Option<ops::handoff::Handoff>,
        weight: usize,
        bias: Option<usize>,
        activation: Activation,
    ) -> Flat<T> {
        let w = &self.params[weight];
        let params = ops::dense::DenseParams {
            weight: (w.r2(), &w.value),
            bias: bias.map(|b| (self.params[b].r1(), &self.params[b].value[..])),
            units: w.shape[1],
        };
        let relu = activation == Activation::Relu;
        let y = ops::dense::dense(x, handoff, params, relu);
        if relu {
            y
        } else {
            activate_flat(y, activation)
        }
    }
}

fn op_padding(p: plan::Padding) -> ops::Padding {
    match p {
        plan::Padding::Valid => ops::Padding::Valid,
        plan::Padding::Same => ops::Padding::Same,
    }
}

fn pool_spec(
    kind: plan::PoolKind,
    size: (usize, usize),
    stride: (usize, usize),
    padding: plan::Padding,
) -> ops::Pool2dSpec {
    ops::Pool2dSpec {
        kind: match kind {
            plan::PoolKind::Max => ops::PoolKind::Max,
            plan::PoolKind::Avg => ops::PoolKind::Avg,
        },
        size,
        stride,
        padding: op_padding(padding),
    }
}

/// Elementwise activations; softmax over the last axis of a flat batch.
fn activate_flat<T: Tape<f32, Cpu>>(t: Flat<T>, a: Activation) -> Flat<T> {
    match a {
        Activation::Softmax => t.softmax::<Axis<1>>(),
        _ => elementwise(t, a),
    }
}

/// On images, softmax runs over channels (Keras' last axis in NHWC).
fn activate_image<T: Tape<f32, Cpu>>(t: Image<T>, a: Activation) -> Image<T> {
    match a {
        Activation::Softmax => t.softmax::<Axis<1>>(),
        _ => elementwise(t, a),
    }
}

fn elementwise<S: Shape, T: Tape<f32, Cpu>>(
    t: Tensor<S, f32, Cpu, T>,
    a: Activation,
) -> Tensor<S, f32, Cpu, T> {
    match a {
        Activation::Linear | Activation::Softmax => t,
        Activation::Relu => t.relu(),
        Activation::Sigmoid => t.sigmoid(),
        Activation::Tanh => t.tanh(),
        Activation::LeakyRelu { alpha } => dfdx::tensor_ops::leakyrelu(t, alpha),
        // Keras' default gelu is the exact (erf) form.
        Activation::Gelu => t.accurate_gelu(),
    }
}
