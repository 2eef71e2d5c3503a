//! `model NAME { layer ... }`: layer parameters, then shapes inferred through
//! the layers once the model's input shape is known from the step that calls it.

use super::call::CallArgs;
use super::error::CheckError;
use super::plan::{Activation, Layer, LayerKind, Model, Padding, PoolKind};
use crate::catalog::{self, Catalogued};
use crate::source::Span;
use crate::syntax::ast::Call;

/// A layer whose parameters are read but whose shapes are not yet known.
#[derive(Debug, Clone)]
pub struct LayerDraft {
    pub kind: LayerKind,
    pub span: Span,
}

pub fn read_layers(calls: &[Call], errors: &mut Vec<CheckError>) -> Vec<LayerDraft> {
    calls
        .iter()
        .filter_map(|call| {
            read_layer(call, errors).map(|kind| LayerDraft {
                kind,
                span: call.span,
            })
        })
        .collect()
}

fn read_layer(call: &Call, errors: &mut Vec<CheckError>) -> Option<LayerKind> {
    let name = call.name.name.as_str();
    let Some(layer) = catalog::Layer::named(name) else {
        let known = catalog::Layer::names();
        errors.push(CheckError::unknown("layer", name, call.name.span, &known));
        return None;
    };
    let args = CallArgs::read(call, layer.entry(), errors);
    let kind = match layer {
        catalog::Layer::Dense => LayerKind::Dense {
            units: args.count("units", errors),
            activation: activation(args.activation("activation", errors)),
            use_bias: args.boolean("use_bias", errors),
        },
        catalog::Layer::Conv2d => LayerKind::Conv2d {
            filters: args.count("filters", errors),
            kernel: args.pair("kernel", errors),
            stride: args.pair("stride", errors),
            padding: padding(&args, errors),
            activation: activation(args.activation("activation", errors)),
            use_bias: args.boolean("use_bias", errors),
        },
        catalog::Layer::MaxPool2d | catalog::Layer::AvgPool2d => {
            let size = args.pair("pool", errors);
            LayerKind::Pool2d {
                kind: if layer == catalog::Layer::MaxPool2d {
                    PoolKind::Max
                } else {
                    PoolKind::Avg
                },
                size,
                stride: args.pair_or("stride", size, errors),
                padding: padding(&args, errors),
            }
        }
        catalog::Layer::Flatten => LayerKind::Flatten,
        catalog::Layer::Dropout => LayerKind::Dropout {
            rate: args.number("rate", errors) as f32,
        },
        catalog::Layer::Activation(catalog::Activation::LeakyRelu) => {
            LayerKind::Activation(Activation::LeakyRelu {
                alpha: args.number("alpha", errors) as f32,
            })
        }
        catalog::Layer::Activation(a) => LayerKind::Activation(activation(a)),
    };
    Some(kind)
}

/// The activation a name means, with Keras' default slope for `activation = leaky_relu`.
fn activation(a: catalog::Activation) -> Activation {
    match a {
        catalog::Activation::Linear => Activation::Linear,
        catalog::Activation::Relu => Activation::Relu,
        catalog::Activation::Sigmoid => Activation::Sigmoid,
        catalog::Activation::Tanh => Activation::Tanh,
        catalog::Activation::Softmax => Activation::Softmax,
        catalog::Activation::LeakyRelu => Activation::LeakyRelu { alpha: 0.2 },
        catalog::Activation::Gelu => Activation::Gelu,
    }
}

fn padding(args: &CallArgs<'_>, errors: &mut Vec<CheckError>) -> Padding {
    match args.name("padding", errors) {
        "valid" => Padding::Valid,
        "same" => Padding::Same,
        other => unreachable!("`{other}` is one of the catalogue's paddings"),
    }
}

/// Output length of a window sliding over `len` (Keras/TF semantics); `None` if empty.
pub fn window_output(len: usize, window: usize, stride: usize, padding: Padding) -> Option<usize> {
    match padding {
        Padding::Valid if len >= window => Some((len - window) / stride + 1),
        Padding::Valid => None,
        Padding::Same => Some(len.div_ceil(stride)),
    }
}

/// Infers every layer's shapes from the model's input shape, reporting each layer that cannot take its input.
pub fn infer_shapes(
    name: &str,
    input_shape: &[usize],
    drafts: &[LayerDraft],
    span: Span,
    errors: &mut Vec<CheckError>,
) -> Option<Model> {
    let mut shape = input_shape.to_vec();
    let mut layers = Vec::with_capacity(drafts.len());
    let mut counts = std::collections::HashMap::<&str, usize>::new();
    for draft in drafts {
        let output = output_shape(&draft.kind, &shape, draft.span, errors)?;
        let base = draft.kind.entry().base_name;
        let n = counts.entry(base).or_default();
        let layer_name = if *n == 0 {
            base.to_string()
        } else {
            format!("{base}_{n}")
        };
        *n += 1;
        layers.push(Layer {
            name: layer_name,
            kind: draft.kind.clone(),
            input_shape: shape.clone(),
            output_shape: output.clone(),
            span: draft.span,
        });
        shape = output;
    }
    Some(Model {
        name: name.to_string(),
        input_shape: input_shape.to_vec(),
        layers,
        span,
    })
}

fn output_shape(
    kind: &LayerKind,
    input: &[usize],
    span: Span,
    errors: &mut Vec<CheckError>,
) -> Option<Vec<usize>> {
    match kind {
        LayerKind::Dense { units, .. } => {
            if input.len() != 1 {
                errors.push(CheckError::shape(
                    format!("`dense` needs a flat input, but gets shape {input:?}"),
                    format!("input here has shape {input:?}"),
                    span,
                    if input.len() == 3 {
                        "insert `flatten()` before this layer"
                    } else {
                        "insert `flatten()` or `reshape(...)` before this layer"
                    },
                ));
                return None;
            }
            Some(vec![*units])
        }
        LayerKind::Conv2d {
            filters,
            kernel,
            stride,
            padding,
            ..
        } => {
            let [_, h, w] = image_input("conv2d", input, span, errors)?;
            let out = spatial(
                "conv2d",
                "kernel",
                (h, w),
                Window {
                    size: *kernel,
                    stride: *stride,
                    padding: *padding,
                },
                span,
                errors,
            )?;
            Some(vec![*filters, out.0, out.1])
        }
        LayerKind::Pool2d {
            size,
            stride,
            padding,
            kind,
        } => {
            let layer = if *kind == PoolKind::Max {
                "maxpool2d"
            } else {
                "avgpool2d"
            };
            let [c, h, w] = image_input(layer, input, span, errors)?;
            let out = spatial(
                layer,
                "pool",
                (h, w),
                Window {
                    size: *size,
                    stride: *stride,
                    padding: *padding,
                },
                span,
                errors,
            )?;
            Some(vec![c, out.0, out.1])
        }
        LayerKind::Flatten => Some(vec![input.iter().product()]),
        LayerKind::Dropout { .. } | LayerKind::Activation(_) => Some(input.to_vec()),
    }
}

fn image_input(
    layer: &str,
    input: &[usize],
    span: Span,
    errors: &mut Vec<CheckError>,
) -> Option<[usize; 3]> {
    if let [c, h, w] = *input {
        return Some([c, h, w]);
    }
    let help = if input.len() == 2 {
        "add `channel_axis()` to the data pipeline, so images are (channels, height, width)"
    } else {
        "image layers need (channels, height, width) input; they cannot follow `flatten` or `dense`"
    };
    errors.push(CheckError::shape(
        format!(
            "`{layer}` needs an image input (channels, height, width), but gets shape {input:?}"
        ),
        format!("input here has shape {input:?}"),
        span,
        help,
    ));
    None
}

/// A window sliding over an image, as a conv or pool layer declares it.
#[derive(Clone, Copy)]
struct Window {
    size: (usize, usize),
    stride: (usize, usize),
    padding: Padding,
}

fn spatial(
    layer: &str,
    what: &str,
    (h, w): (usize, usize),
    Window {
        size: window,
        stride,
        padding,
    }: Window,
    span: Span,
    errors: &mut Vec<CheckError>,
) -> Option<(usize, usize)> {
    let out_h = window_output(h, window.0, stride.0, padding);
    let out_w = window_output(w, window.1, stride.1, padding);
    match (out_h, out_w) {
        (Some(a), Some(b)) if a > 0 && b > 0 => Some((a, b)),
        _ => {
            errors.push(CheckError::shape(
                format!(
                    "`{layer}` {what} {}x{} is larger than its {h}x{w} input",
                    window.0, window.1
                ),
                "the output would be empty".into(),
                span,
                format!("use a smaller `{what}`, or `padding = same`"),
            ));
            None
        }
    }
}
