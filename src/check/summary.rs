//! A model summary in the manner of Keras' `model.summary()`.

use std::fmt::Write as _;

use super::plan::{Graph, Layer, Model, NodeOp};

pub fn summary(model: &Model) -> String {
    if let Some(graph) = &model.graph {
        return graph_summary(model, graph);
    }
    let mut out = String::new();
    let rule = "─".repeat(64);
    let _ = writeln!(out, "Model: \"{}\"", model.name);
    let _ = writeln!(out, "{rule}");
    let _ = writeln!(
        out,
        "{:<32}{:<22}{:>12}",
        "Layer (type)", "Output Shape", "Param #"
    );
    let _ = writeln!(out, "{rule}");
    for layer in &model.layers {
        let shape = format!(
            "(None, {})",
            layer
                .output_shape
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
        let _ = writeln!(
            out,
            "{:<32}{:<22}{:>12}",
            format!("{} ({})", layer.name, type_name(layer)),
            shape,
            group(layer.parameter_count())
        );
    }
    let _ = writeln!(out, "{rule}");
    let total = model.parameter_count();
    let _ = writeln!(out, "Total params: {} ({})", group(total), bytes(total * 4));
    let _ = writeln!(out, "Trainable params: {}", group(total));
    out
}

fn shape_text(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(ToString::to_string).collect();
    if dims.len() == 1 {
        format!("(None, {})", dims[0])
    } else {
        format!("(None, {})", dims.join(", "))
    }
}

/// Keras' summary of a functional model: an `InputLayer` row per input, then each node with
/// the layers it reads ("Connected to").
fn graph_summary(model: &Model, graph: &Graph) -> String {
    let mut out = String::new();
    let rule = "─".repeat(96);
    // Each value's row name: inputs by their names, nodes by their layer's or combinator's.
    let mut names: Vec<String> = graph.inputs.iter().map(|i| i.name.clone()).collect();
    let mut counts = std::collections::HashMap::<&str, usize>::new();
    let mut rows = Vec::new();
    for input in &graph.inputs {
        rows.push((
            format!("{} (InputLayer)", input.name),
            shape_text(&input.shape),
            0,
            String::new(),
        ));
    }
    for node in &graph.nodes {
        let (name, class, params) = match node.op {
            NodeOp::Layer(l) => {
                let layer = &model.layers[l];
                (
                    layer.name.clone(),
                    type_name(layer),
                    layer.parameter_count(),
                )
            }
            NodeOp::Add | NodeOp::Multiply | NodeOp::Concat { .. } => {
                let (base, class) = match node.op {
                    NodeOp::Add => ("add", "Add"),
                    NodeOp::Multiply => ("multiply", "Multiply"),
                    _ => ("concatenate", "Concatenate"),
                };
                let n = counts.entry(base).or_default();
                let name = if *n == 0 {
                    base.to_string()
                } else {
                    format!("{base}_{n}")
                };
                *n += 1;
                (name, class, 0)
            }
        };
        let connected: Vec<String> = node.inputs.iter().map(|&v| names[v].clone()).collect();
        rows.push((
            format!("{name} ({class})"),
            shape_text(&node.output_shape),
            params,
            connected.join(", "),
        ));
        names.push(name);
    }
    let _ = writeln!(out, "Model: \"{}\"", model.name);
    let _ = writeln!(out, "{rule}");
    let _ = writeln!(
        out,
        "{:<32}{:<22}{:>12}  Connected to",
        "Layer (type)", "Output Shape", "Param #"
    );
    let _ = writeln!(out, "{rule}");
    for (layer, shape, params, connected) in rows {
        let line = format!("{layer:<32}{shape:<22}{:>12}  {connected}", group(params));
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let _ = writeln!(out, "{rule}");
    let total = model.parameter_count();
    let _ = writeln!(out, "Total params: {} ({})", group(total), bytes(total * 4));
    let _ = writeln!(out, "Trainable params: {}", group(total));
    out
}

/// The layer's Keras class, from the catalogue.
pub fn type_name(layer: &Layer) -> &'static str {
    let entry = layer.kind.entry();
    entry.class_name.unwrap_or(entry.name)
}

/// 347146 → "347,146".
pub fn group(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn bytes(n: usize) -> String {
    let n = n as f64;
    if n >= 1024.0 * 1024.0 {
        format!("{:.2} MB", n / (1024.0 * 1024.0))
    } else {
        format!("{:.2} KB", n / 1024.0)
    }
}
