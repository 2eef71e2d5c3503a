//! `model NAME { layer ... }`: layer parameters, then shapes inferred through
//! the layers once the model's input shape is known from the step that calls it.

use super::args::Args;
use super::error::CheckError;
use super::plan::{Activation, Layer, LayerKind, Model, Padding, PoolKind};
use crate::source::Span;
use crate::syntax::ast::Call;

pub const LAYERS: &[&str] = &[
    "dense",
    "conv2d",
    "maxpool2d",
    "avgpool2d",
    "flatten",
    "dropout",
    "relu",
    "sigmoid",
    "tanh",
    "softmax",
    "leaky_relu",
    "gelu",
];
const ACTIVATIONS: &[&str] = &[
    "linear",
    "relu",
    "sigmoid",
    "tanh",
    "softmax",
    "leaky_relu",
    "gelu",
];

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
    let kind = match call.name.name.as_str() {
        "dense" => {
            let args = Args::read(call, &["units", "activation", "use_bias"], errors);
            args.required("units", errors);
            LayerKind::Dense {
                units: args.count("units", 1, 1, errors),
                activation: activation(&args, errors),
                use_bias: args.boolean("use_bias", true, errors),
            }
        }
        "conv2d" => {
            let args = Args::read(
                call,
                &[
                    "filters",
                    "kernel",
                    "stride",
                    "padding",
                    "activation",
                    "use_bias",
                ],
                errors,
            );
            args.required("filters", errors);
            args.required("kernel", errors);
            LayerKind::Conv2d {
                filters: args.count("filters", 1, 1, errors),
                kernel: args.pair("kernel", (1, 1), errors),
                stride: args.pair("stride", (1, 1), errors),
                padding: padding(&args, errors),
                activation: activation(&args, errors),
                use_bias: args.boolean("use_bias", true, errors),
            }
        }
        name @ ("maxpool2d" | "avgpool2d") => {
            let args = Args::read(call, &["pool", "stride", "padding"], errors);
            let size = args.pair("pool", (2, 2), errors);
            LayerKind::Pool2d {
                kind: if name == "maxpool2d" {
                    PoolKind::Max
                } else {
                    PoolKind::Avg
                },
                size,
                stride: args.pair("stride", size, errors),
                padding: padding(&args, errors),
            }
        }
        "flatten" => {
            Args::read(call, &[], errors);
            LayerKind::Flatten
        }
        "dropout" => {
            let args = Args::read(call, &["rate"], errors);
            args.required("rate", errors);
            LayerKind::Dropout {
                rate: args.fraction("rate", 0.0, (0.0, 1.0), errors) as f32,
            }
        }
        "leaky_relu" => {
            let args = Args::read(call, &["alpha"], errors);
            LayerKind::Activation(Activation::LeakyRelu {
                alpha: args.positive("alpha", 0.3, false, errors) as f32,
            })
        }
        name @ ("relu" | "sigmoid" | "tanh" | "softmax" | "gelu") => {
            Args::read(call, &[], errors);
            LayerKind::Activation(named_activation(name))
        }
        other => {
            errors.push(CheckError::unknown("layer", other, call.name.span, LAYERS));
            return None;
        }
    };
    Some(kind)
}

fn named_activation(name: &str) -> Activation {
    match name {
        "relu" => Activation::Relu,
        "sigmoid" => Activation::Sigmoid,
        "tanh" => Activation::Tanh,
        "softmax" => Activation::Softmax,
        // Keras' default slope for `activation = leaky_relu`.
        "leaky_relu" => Activation::LeakyRelu { alpha: 0.2 },
        "gelu" => Activation::Gelu,
        _ => Activation::Linear,
    }
}

fn activation(args: &Args<'_>, errors: &mut Vec<CheckError>) -> Activation {
    args.choice("activation", ACTIVATIONS, errors)
        .map_or(Activation::Linear, |(name, _)| named_activation(name))
}

fn padding(args: &Args<'_>, errors: &mut Vec<CheckError>) -> Padding {
    match args.choice("padding", &["valid", "same"], errors) {
        Some(("same", _)) => Padding::Same,
        _ => Padding::Valid,
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
        let base = base_name(&draft.kind);
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

fn base_name(kind: &LayerKind) -> &'static str {
    match kind {
        LayerKind::Dense { .. } => "dense",
        LayerKind::Conv2d { .. } => "conv2d",
        LayerKind::Pool2d {
            kind: PoolKind::Max,
            ..
        } => "max_pooling2d",
        LayerKind::Pool2d {
            kind: PoolKind::Avg,
            ..
        } => "average_pooling2d",
        LayerKind::Flatten => "flatten",
        LayerKind::Dropout { .. } => "dropout",
        LayerKind::Activation(_) => "activation",
    }
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
