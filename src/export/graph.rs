//! An ONNX graph under construction: nodes in order, initializers, fresh value names, and the
//! model's trained tensors, which a layer's `export` turns into initializers.

use std::collections::HashMap;

use super::proto::{AttributeProto, AttributeType, DataType, NodeProto, TensorProto};
use super::ExportError;
use crate::check::plan::Layer;
use crate::output::model_file::NamedTensor;

/// The graph being built; value names are strings, as ONNX wires nodes.
pub struct Graph<'a> {
    pub(super) nodes: Vec<NodeProto>,
    pub(super) initializers: Vec<TensorProto>,
    /// The model's parameters and layer state, canonical (PyTorch's) layout, by name.
    tensors: HashMap<&'a str, &'a NamedTensor>,
    next: usize,
}

impl<'a> Graph<'a> {
    pub(super) fn new(tensors: &'a [NamedTensor]) -> Self {
        Graph {
            nodes: Vec::new(),
            initializers: Vec::new(),
            tensors: tensors.iter().map(|t| (t.name.as_str(), t)).collect(),
            next: 0,
        }
    }

    fn fresh(&mut self, hint: &str) -> String {
        self.next += 1;
        format!("{hint}_{}", self.next)
    }

    /// A node of `op` on `inputs` with one output, whose name it returns.
    pub fn node(&mut self, op: &str, inputs: &[&str], attributes: Vec<AttributeProto>) -> String {
        self.node_n(op, inputs, attributes, 1).remove(0)
    }

    /// A node with `outputs` outputs.
    pub fn node_n(
        &mut self,
        op: &str,
        inputs: &[&str],
        attribute: Vec<AttributeProto>,
        outputs: usize,
    ) -> Vec<String> {
        let output: Vec<String> = (0..outputs).map(|_| self.fresh(op)).collect();
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| (*s).to_string()).collect(),
            output: output.clone(),
            name: format!("{op}_{}", self.nodes.len()),
            op_type: op.into(),
            attribute,
        });
        output
    }

    /// An f32 initializer of `shape`.
    pub fn constant(&mut self, hint: &str, shape: &[usize], data: &[f32]) -> String {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        let name = self.fresh(hint);
        self.initializers.push(TensorProto {
            dims: shape.iter().map(|&d| d as i64).collect(),
            data_type: DataType::Float as i32,
            name: name.clone(),
            raw_data: data.iter().flat_map(|v| v.to_le_bytes()).collect(),
        });
        name
    }

    /// A 1-D int64 initializer (shapes, axes, pads, slice bounds).
    pub fn ints(&mut self, values: &[i64]) -> String {
        let name = self.fresh("ints");
        self.initializers.push(TensorProto {
            dims: vec![values.len() as i64],
            data_type: DataType::Int64 as i32,
            name: name.clone(),
            raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        });
        name
    }

    /// The trained tensor `<layer>.<name>` (PyTorch's layout): its values.
    pub fn tensor(&self, layer: &Layer, name: &str) -> Result<&'a NamedTensor, ExportError> {
        let full = format!("{}.{name}", layer.name);
        self.tensors
            .get(full.as_str())
            .copied()
            .ok_or(ExportError::MissingTensor { name: full })
    }

    /// The trained tensor `<layer>.<name>` as an initializer of its own shape.
    pub fn weight(&mut self, layer: &Layer, name: &str) -> Result<String, ExportError> {
        let t = self.tensor(layer, name)?;
        Ok(self.constant(&format!("{}.{name}", layer.name), &t.shape, &t.data))
    }

    /// A weighted layer's node inputs: `x`, its `weight`, and its `bias` where it has one.
    pub fn with_weights(
        &mut self,
        x: &str,
        layer: &Layer,
        use_bias: bool,
    ) -> Result<Vec<String>, ExportError> {
        let mut inputs = vec![x.to_string(), self.weight(layer, "weight")?];
        if use_bias {
            inputs.push(self.weight(layer, "bias")?);
        }
        Ok(inputs)
    }

    /// A normalisation's `gamma` and `beta` over `channels`: its trained `weight` and
    /// `bias`, or ones and zeros where it has none (`scale = false`, `center = false`).
    pub fn gamma_beta(
        &mut self,
        layer: &Layer,
        channels: usize,
        scale: bool,
        center: bool,
    ) -> Result<(String, String), ExportError> {
        let gamma = if scale {
            self.weight(layer, "weight")?
        } else {
            self.constant("ones", &[channels], &vec![1.0; channels])
        };
        let beta = if center {
            self.weight(layer, "bias")?
        } else {
            self.constant("zeros", &[channels], &vec![0.0; channels])
        };
        Ok((gamma, beta))
    }

    /// A node on inputs held as owned names.
    pub fn node_on(
        &mut self,
        op: &str,
        inputs: &[String],
        attributes: Vec<AttributeProto>,
    ) -> String {
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        self.node(op, &inputs, attributes)
    }

    /// `Transpose` with `perm`.
    pub fn transpose(&mut self, x: &str, perm: &[i64]) -> String {
        self.node("Transpose", &[x], vec![ints("perm", perm)])
    }

    /// `Reshape` to `shape` (`-1` for the batch, `0` to keep an axis).
    pub fn reshape(&mut self, x: &str, shape: &[i64]) -> String {
        let s = self.ints(shape);
        self.node("Reshape", &[x, &s], vec![])
    }
}

/// An integer attribute.
pub fn int(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        i,
        r#type: AttributeType::Int as i32,
        ..AttributeProto::default()
    }
}

/// A float attribute.
pub fn float(name: &str, f: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        f,
        r#type: AttributeType::Float as i32,
        ..AttributeProto::default()
    }
}

/// A list-of-integers attribute.
pub fn ints(name: &str, values: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        ints: values.to_vec(),
        r#type: AttributeType::Ints as i32,
        ..AttributeProto::default()
    }
}

/// A string attribute.
pub fn string(name: &str, s: &str) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        s: s.as_bytes().to_vec(),
        r#type: AttributeType::String as i32,
        ..AttributeProto::default()
    }
}
