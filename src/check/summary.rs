//! A model summary in the manner of Keras' `model.summary()`.

use std::fmt::Write as _;

use super::plan::{Layer, Model};

pub fn summary(model: &Model) -> String {
    let mut out = String::new();
    let names: Vec<String> = model
        .layers
        .iter()
        .map(|l| format!("{} ({})", l.name, type_name(l)))
        .collect();
    // Wide enough for `batch_normalization_1 (BatchNormalization)` and a space.
    let name_width = names
        .iter()
        .map(|n| n.chars().count() + 1)
        .fold(32, usize::max);
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
    // As Keras counts them: batch norm's running statistics and frozen layers' parameters
    // are non-trainable.
    let total = model.total_count();
    let frozen = model.non_trainable_count();
    for (what, n) in [
        ("Total", total),
        ("Trainable", total - frozen),
        ("Non-trainable", frozen),
    ] {
        let _ = writeln!(out, "{what} params: {} ({})", group(n), bytes(n * 4));
    }
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
