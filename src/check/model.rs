//! `model NAME { layer ... }`: layer parameters, then shapes inferred through
//! the layers once the model's input shape is known from the step that calls it. What
//! each layer reads and how its shape follows is in its file under `src/layers/`.

use super::call::CallArgs;
use super::error::CheckError;
use super::plan::{Layer, LayerKind, Model};
use crate::catalog::{self, Catalogued};
use crate::source::Span;
use crate::syntax::ast::Call;

/// A layer whose parameters are read but whose shapes are not yet known.
#[derive(Debug, Clone)]
pub struct LayerDraft {
    pub kind: LayerKind,
    /// False for `trainable = false` (the layers with parameters take it).
    pub trainable: bool,
    pub span: Span,
}

pub fn read_layers(calls: &[&Call], errors: &mut Vec<CheckError>) -> Vec<LayerDraft> {
    calls
        .iter()
        .filter_map(|call| {
            read_layer(call, errors).map(|(kind, trainable)| LayerDraft {
                kind,
                trainable,
                span: call.span,
            })
        })
        .collect()
}

pub fn read_layer(call: &Call, errors: &mut Vec<CheckError>) -> Option<(LayerKind, bool)> {
    let name = call.name.name.as_str();
    let Some(layer) = catalog::Layer::named(name) else {
        let known = catalog::Layer::names();
        errors.push(CheckError::unknown("layer", name, call.name.span, &known));
        return None;
    };
    let args = CallArgs::read(call, layer.entry(), errors);
    let freezable = layer.entry().params.iter().any(|p| p.name == "trainable");
    let trainable = !freezable || args.boolean("trainable", errors);
    Some((LayerKind::read(layer, &args, errors), trainable))
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
        let output = draft.kind.output_shape(&shape, draft.span, errors)?;
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
            trainable: draft.trainable,
            input_shape: shape.clone(),
            output_shape: output.clone(),
            span: draft.span,
        });
        shape = output;
    }
    super::mask::check_masks(&layers, errors);
    Some(Model {
        name: name.to_string(),
        input_shape: input_shape.to_vec(),
        layers,
        span,
        graph: None,
    })
}

/// A model read from its declaration, shapes not yet known.
#[derive(Debug, Clone)]
pub enum ModelDraft {
    /// Layers in order, each reading the one before (`model NAME { ... }`).
    Stack(Vec<LayerDraft>),
    /// A graph (`model NAME (inputs) { ... }`, or a stack that uses a block).
    Graph(super::graph::GraphDraft),
}

impl ModelDraft {
    /// Its layers, each with whether it is trained, in the order they are written.
    pub fn layers(&self) -> Vec<(&LayerKind, bool)> {
        match self {
            ModelDraft::Stack(drafts) => drafts.iter().map(|d| (&d.kind, d.trainable)).collect(),
            ModelDraft::Graph(g) => g
                .nodes
                .iter()
                .filter_map(|n| match &n.op {
                    super::graph::DraftOp::Layer(kind, trainable) => Some((kind, *trainable)),
                    _ => None,
                })
                .collect(),
        }
    }

    /// How many inputs the model takes.
    pub fn inputs(&self) -> usize {
        match self {
            ModelDraft::Stack(_) => 1,
            ModelDraft::Graph(g) => g.inputs.len(),
        }
    }

    /// How many outputs the model returns.
    pub fn outputs(&self) -> usize {
        match self {
            ModelDraft::Stack(_) => 1,
            ModelDraft::Graph(g) => g.outputs.len(),
        }
    }
}
