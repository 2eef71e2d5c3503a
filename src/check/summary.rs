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

#[cfg(test)]
mod tests {
    /// The summary of the one model in `text` once checked.
    fn summary_of(text: &str) -> String {
        let file = crate::syntax::parse_file(text).expect("parses");
        let exp = crate::check::check(&file).unwrap_or_else(|e| panic!("{e:?}"));
        super::summary(&exp.models[0])
    }

    #[test]
    fn a_graph_model_has_input_rows_and_what_each_layer_reads() {
        let text = "experiment t { seed = 1 }
data train = idx(images = \"i\", labels = \"l\", shape = (2, 2), classes = 2) | batch(3)
model net (x) {
  h = x | flatten() | dense(3)
  return concat(h + h, h) | dense(2)
}
loss xent = sparse_categorical_crossentropy(from_logits = true)
optimizer opt = sgd(lr = 0.1)
train { model = net  data = train  loss = xent  optimizer = opt  epochs = 1 }
";
        let rule = "─".repeat(96);
        let want = format!(
            "Model: \"net\"\n{rule}\n\
Layer (type)                    Output Shape               Param #  Connected to\n{rule}\n\
x (InputLayer)                  (None, 2, 2)                     0\n\
flatten (Flatten)               (None, 4)                        0  x\n\
dense (Dense)                   (None, 3)                       15  flatten\n\
add (Add)                       (None, 3)                        0  dense, dense\n\
concatenate (Concatenate)       (None, 6)                        0  add, dense\n\
dense_1 (Dense)                 (None, 2)                       14  concatenate\n{rule}\n\
Total params: 29 (0.11 KB)\nTrainable params: 29\n"
        );
        assert_eq!(summary_of(text), want);
    }
}
