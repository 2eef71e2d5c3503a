//! A model summary in the manner of Keras' `model.summary()`.

use std::fmt::Write as _;

use super::plan::{Layer, Model};

pub fn summary(model: &Model) -> String {
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
        // A name of 32 characters or more (`spatial_dropout2d (SpatialDropout2D)`) still
        // gets a space before its shape; shorter ones pad to 32 as before.
        let _ = writeln!(
            out,
            "{:<31} {:<22}{:>12}",
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
