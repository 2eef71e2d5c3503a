//! A model summary in the manner of Keras' `model.summary()`.

use std::fmt::Write as _;

use super::plan::{Graph, Layer, Model, NodeOp};

pub fn summary(model: &Model) -> String {
    if let Some(graph) = &model.graph {
        return graph_summary(model, graph);
    }
    let mut out = String::new();
    let names: Vec<String> = model
        .layers
        .iter()
        .map(|l| format!("{} ({})", l.name, type_name(l)))
        .collect();
    let name_width = name_width(names.iter());
    let rule = "─".repeat(name_width + 34);
    let _ = writeln!(out, "Model: \"{}\"", model.name);
    let _ = writeln!(out, "{rule}");
    let _ = writeln!(
        out,
        "{:<name_width$}{:<22}{:>12}",
        "Layer (type)", "Output Shape", "Param #"
    );
    let _ = writeln!(out, "{rule}");
    for (layer, name) in model.layers.iter().zip(&names) {
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
            "{:<name_width$}{:<22}{:>12}",
            name,
            shape,
            group(layer.total_count())
        );
    }
    let _ = writeln!(out, "{rule}");
    totals(&mut out, model);
    out
}

/// Keras' three closing lines. As Keras counts them, batch norm's running statistics and
/// frozen layers' parameters are non-trainable.
fn totals(out: &mut String, model: &Model) {
    let total = model.total_count();
    let frozen = model.non_trainable_count();
    for (what, n) in [
        ("Total", total),
        ("Trainable", total - frozen),
        ("Non-trainable", frozen),
    ] {
        let _ = writeln!(out, "{what} params: {} ({})", group(n), bytes(n * 4));
    }
}

/// The width of the "Layer (type)" column: 32, or more for long names
/// (`batch_normalization_1 (BatchNormalization)`) and a space.
fn name_width<'a>(names: impl Iterator<Item = &'a String>) -> usize {
    names.map(|n| n.chars().count() + 1).fold(32, usize::max)
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
        if let NodeOp::Output { index } = node.op {
            // No row of its own: its readers are connected to output `index` of the layer,
            // as Keras writes it.
            let of = &names[node.inputs[0]];
            names.push(format!("{of}[{index}]"));
            continue;
        }
        let (name, class, params) = match node.op {
            NodeOp::Layer(l) => {
                let layer = &model.layers[l];
                (layer.name.clone(), type_name(layer), layer.total_count())
            }
            NodeOp::Add | NodeOp::Multiply | NodeOp::Concat { .. } | NodeOp::Output { .. } => {
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
        // A layer of several outputs lists each output's shape, as Keras does.
        let more = match node.op {
            NodeOp::Layer(l) => model.layers[l].kind.more_outputs(),
            _ => Vec::new(),
        };
        let shape = if more.is_empty() {
            shape_text(&node.output_shape)
        } else {
            let all: Vec<String> = std::iter::once(shape_text(&node.output_shape))
                .chain(more.iter().map(|(_, s)| shape_text(s)))
                .collect();
            format!("[{}]", all.join(", "))
        };
        rows.push((
            format!("{name} ({class})"),
            shape,
            params,
            connected.join(", "),
        ));
        names.push(name);
    }
    let name_width = name_width(rows.iter().map(|r| &r.0));
    // Wider for the list of shapes of a layer of several outputs.
    let shape_width = rows
        .iter()
        .map(|r| r.1.chars().count() + 2)
        .max()
        .unwrap_or(0)
        .max(22);
    let rule = "─".repeat(name_width + shape_width + 42);
    let _ = writeln!(out, "Model: \"{}\"", model.name);
    let _ = writeln!(out, "{rule}");
    let _ = writeln!(
        out,
        "{:<name_width$}{:<shape_width$}{:>12}  Connected to",
        "Layer (type)", "Output Shape", "Param #"
    );
    let _ = writeln!(out, "{rule}");
    for (layer, shape, params, connected) in rows {
        let line = format!(
            "{layer:<name_width$}{shape:<shape_width$}{:>12}  {connected}",
            group(params)
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let _ = writeln!(out, "{rule}");
    totals(&mut out, model);
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

/// A size as Keras writes it: `1.33 MB`, `99.50 KB`, `0.00 B`.
fn bytes(n: usize) -> String {
    let n = n as f64;
    if n >= 1024.0 * 1024.0 {
        format!("{:.2} MB", n / (1024.0 * 1024.0))
    } else if n >= 1024.0 {
        format!("{:.2} KB", n / 1024.0)
    } else {
        format!("{n:.2} B")
    }
}

#[cfg(test)]
mod tests {
    use super::summary;
    use crate::check::error::CheckError;
    use crate::check::plan::{DataSource, Labels};
    use crate::check::sources::{DataFiles, Described};
    use crate::source::Span;

    /// Describes every table as 100 feature columns (the DCGAN's noise) and 2 classes.
    struct Noise;

    impl DataFiles for Noise {
        fn describe(&self, _: &DataSource, _: Span) -> Result<Described, Box<CheckError>> {
            Ok(Described {
                element_shape: vec![100],
                labels: Labels::Classes {
                    classes: 2,
                    one_hot: false,
                },
            })
        }
    }

    fn summarised(layers: &str) -> String {
        let text = format!(
            "experiment t {{ seed = 1 }}
data train = csv(path = \"t.csv\", target = \"y\") | batch(32)
model g {{
{layers}
}}
loss xent = sparse_categorical_crossentropy(from_logits = true)
optimizer opt = adam(lr = 1e-3)
train {{ model = g
  data = train
  loss = xent
  optimizer = opt
  epochs = 1 }}"
        );
        let file = crate::syntax::parse_file(&text).expect("parses");
        let exp = crate::check::check_with(&file, &Noise).unwrap_or_else(|e| panic!("{e:?}"));
        summary(&exp.models[0])
    }

    /// The first layers of TensorFlow's DCGAN tutorial generator, whose summary shows
    /// `dense` 1,254,400 and `batch_normalization` 50,176 (of which the moving mean and
    /// variance, 25,088, are non-trainable); the whole generator's 25,472 non-trainable
    /// are those and its two other batch norms' (256 + 128).
    #[test]
    fn batch_norm_statistics_are_non_trainable_params_as_in_keras() {
        let text = summarised(
            "dense(units = 12544, use_bias = false)
batchnorm()
leaky_relu()
dense(units = 2)",
        );
        assert!(text.contains("1,254,400"), "{text}");
        assert!(
            text.contains("batch_normalization (BatchNormalization) (None, 12544)"),
            "{text}"
        );
        assert!(text.contains("50,176"), "{text}");
        assert!(text.contains("Total params: 1,329,666 (5.07 MB)"), "{text}");
        assert!(
            text.contains("Trainable params: 1,304,578 (4.98 MB)"),
            "{text}"
        );
        assert!(
            text.contains("Non-trainable params: 25,088 (98.00 KB)"),
            "{text}"
        );
    }

    #[test]
    fn frozen_layers_count_as_non_trainable() {
        let text = summarised(
            "dense(units = 10, trainable = false)
layernorm()
dense(units = 2)",
        );
        // 1,010 frozen; 20 + 22 trained.
        assert!(text.contains("Total params: 1,052 (4.11 KB)"), "{text}");
        assert!(text.contains("Trainable params: 42 (168.00 B)"), "{text}");
        assert!(
            text.contains("Non-trainable params: 1,010 (3.95 KB)"),
            "{text}"
        );
    }
}

#[cfg(test)]
mod graph_tests {
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
Total params: 29 (116.00 B)\nTrainable params: 29 (116.00 B)\nNon-trainable params: 0 (0.00 B)\n"
        );
        assert_eq!(summary_of(text), want);
    }
}
