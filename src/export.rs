//! `expr export`: a trained model as an ONNX file (opset 17, the batch axis left open), so
//! that deployment runtimes (onnxruntime, tract, `TensorRT`) run what expr trained.
//!
//! Each layer's file says how it exports (`LayerDef::export`, beside its forward pass):
//! the graph here walks a model's stack or graph and wires the layers' nodes. Values keep
//! expr's layout between layers, `(batch, ...element shape)`: `(N, features)`,
//! `(N, channels, length)`, `(N, channels, height, width)`, so a layer converts only where
//! an ONNX operator wants another (the recurrent layers' `(length, N, features)`).
//! Inference mode: dropout is the identity, batch norm uses its running statistics.

pub mod activation;
pub mod graph;
pub mod proto;
#[cfg(test)]
mod tests;

use prost::Message as _;

use crate::check::plan::{Layer, Model, NodeOp};
use crate::output::model_file::NamedTensor;
pub use graph::Graph;
use proto::{
    DataType, DimValue, Dimension, GraphProto, ModelProto, OperatorSetIdProto, TensorShapeProto,
    TensorTypeProto, TypeProto, ValueInfoProto,
};

/// The opset the exported operators follow.
pub const OPSET: i64 = 17;
/// The IR version that goes with opset 17.
const IR_VERSION: i64 = 8;

/// Why a model cannot be exported.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ExportError {
    #[error("the model's weights hold no tensor `{name}`")]
    #[diagnostic(code(expr::export::missing_tensor))]
    MissingTensor { name: String },
    #[error("`{layer}` cannot be exported to ONNX yet: {why}")]
    #[diagnostic(code(expr::export::unsupported))]
    Unsupported { layer: String, why: &'static str },
}

/// Model `model` with the trained tensors `tensors` (`Engine::model_tensors`: PyTorch's
/// layout) as the bytes of an ONNX file.
pub fn onnx(model: &Model, tensors: &[NamedTensor]) -> Result<Vec<u8>, ExportError> {
    let mut g = Graph::new(tensors);
    let (inputs, outputs) = match &model.graph {
        None => {
            let mut x = "input".to_string();
            for layer in &model.layers {
                x = layer.kind.export(layer, x, &mut g)?;
            }
            (
                vec![("input".to_string(), model.input_shape.clone())],
                vec![x],
            )
        }
        Some(graph) => {
            let mut values: Vec<String> = graph.inputs.iter().map(|i| i.name.clone()).collect();
            // The outputs after the first of each layer of several outputs, by its value.
            let mut more_outputs = std::collections::HashMap::new();
            for node in &graph.nodes {
                let read: Vec<&str> = node.inputs.iter().map(|&v| values[v].as_str()).collect();
                let y = match node.op {
                    NodeOp::Layer(i) => {
                        let layer = &model.layers[i];
                        if read.len() == 1 && layer.kind.more_outputs().is_empty() {
                            layer.kind.export(layer, read[0].to_string(), &mut g)?
                        } else {
                            let (y, more) =
                                layer.kind.export_more(layer, read[0], &read[1..], &mut g)?;
                            more_outputs.insert(values.len(), more);
                            y
                        }
                    }
                    NodeOp::Output { index } => more_outputs[&node.inputs[0]][index - 1].clone(),
                    NodeOp::Add => g.node("Add", &read, vec![]),
                    NodeOp::Multiply => g.node("Mul", &read, vec![]),
                    NodeOp::Concat { axis } => {
                        g.node("Concat", &read, vec![graph::int("axis", axis as i64 + 1)])
                    }
                };
                values.push(y);
            }
            (
                graph
                    .inputs
                    .iter()
                    .map(|i| (i.name.clone(), i.shape.clone()))
                    .collect(),
                graph.outputs.iter().map(|&v| values[v].clone()).collect(),
            )
        }
    };
    // Outputs get names of their own (a model may return its input, or one value twice):
    // `output`, or `output_0`, `output_1`, ...
    let shapes = model.output_shapes();
    let mut output_info = Vec::new();
    for (i, (value, shape)) in outputs.iter().zip(&shapes).enumerate() {
        let mut name = if outputs.len() == 1 {
            "output".to_string()
        } else {
            format!("output_{i}")
        };
        // A graph input may hold the name already (`model m (output) { ... }`).
        while inputs.iter().any(|(input, _)| *input == name) {
            name.push('_');
        }
        g.nodes.push(proto::NodeProto {
            input: vec![value.clone()],
            output: vec![name.clone()],
            name: format!("{name}_identity"),
            op_type: "Identity".into(),
            attribute: vec![],
        });
        output_info.push(value_info(&name, shape));
    }
    let file = ModelProto {
        ir_version: IR_VERSION,
        producer_name: "expr".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: format!("model `{}`, exported by expr", model.name),
        graph: Some(GraphProto {
            node: g.nodes,
            name: model.name.clone(),
            initializer: g.initializers,
            input: inputs.iter().map(|(n, s)| value_info(n, s)).collect(),
            output: output_info,
        }),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
    };
    Ok(file.encode_to_vec())
}

/// A float tensor `(batch, ...shape)` whose batch axis is named, so any batch size runs.
fn value_info(name: &str, shape: &[usize]) -> ValueInfoProto {
    let batch = Dimension {
        value: Some(DimValue::DimParam("batch".into())),
    };
    let dims = std::iter::once(batch).chain(shape.iter().map(|&d| Dimension {
        value: Some(DimValue::DimValue(d as i64)),
    }));
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type: DataType::Float as i32,
                shape: Some(TensorShapeProto {
                    dim: dims.collect(),
                }),
            }),
        }),
    }
}

/// The `kernel_shape`, `strides` and `pads` attributes of `layer`, a convolution or a
/// pooling over the axes after the channels, its windows placed as `ops::geometry` places
/// them ([`pads`]).
pub fn window(layer: &Layer, kernel: &[usize], stride: &[usize]) -> Vec<proto::AttributeProto> {
    let (i, o) = (&layer.input_shape[1..], &layer.output_shape[1..]);
    let pads: Vec<(i64, i64)> = (0..kernel.len())
        .map(|a| pads(i[a], kernel[a], stride[a], o[a]))
        .collect();
    window_padded(kernel, stride, &pads)
}

/// The `kernel_shape`, `strides` and `pads` attributes with `pads` given per axis (before,
/// after); ONNX lists every axis' before, then every axis' after.
pub fn window_padded(
    kernel: &[usize],
    stride: &[usize],
    pads: &[(i64, i64)],
) -> Vec<proto::AttributeProto> {
    let as_i64 = |v: &[usize]| v.iter().map(|&d| d as i64).collect::<Vec<_>>();
    let pads: Vec<i64> = pads
        .iter()
        .map(|p| p.0)
        .chain(pads.iter().map(|p| p.1))
        .collect();
    vec![
        graph::ints("kernel_shape", &as_i64(kernel)),
        graph::ints("strides", &as_i64(stride)),
        graph::ints("pads", &pads),
    ]
}

/// ONNX's `pads` for a window of `window` taps by `stride` over `input` positions giving
/// `output`: `same`'s `max((out - 1) * stride + k - in, 0)` with the smaller half before, as
/// `ops::geometry` places windows (`valid` gives zeros).
pub fn pads(input: usize, window: usize, stride: usize, output: usize) -> (i64, i64) {
    let total = ((output - 1) * stride + window).saturating_sub(input);
    ((total / 2) as i64, (total - total / 2) as i64)
}
