//! Positions for a sequence `[width, length]`, added to it: `positional_embedding(max_length)`
//! learns a vector per position (GPT-2's and nanoGPT's `wpe`, keras-hub's
//! `PositionEmbedding`), `sinusoidal_embedding(max_wavelength)` adds the fixed sines and
//! cosines of "Attention Is All You Need" (keras-hub's `SinePositionEncoding`).
//!
//! The learned table is `<layer>.weight`, `(max_length, width)` as an `nn.Embedding` of the
//! positions holds it; a sequence uses its first `length` rows, so one longer than
//! `max_length` is a diagnostic. It starts as keras-hub's (Glorot uniform).

use super::weights::Weights;
use super::{LayerDef, LayerOp};
use crate::catalog::layers::{layer, param, KERNEL_INIT, TRAINABLE};
use crate::catalog::{self, Default, Entry, Type, Value};
use crate::check::call::CallArgs;
use crate::check::error::CheckError;
use crate::check::plan::{Init, Layer};
use crate::export::{ExportError, Graph};
use crate::lower::act::{add_constant, add_positions, Act, AnyTape, Forward};
use crate::lower::model::Lowering;
use crate::ops::handoff::Handoff;
use crate::source::Span;

/// The learned embedding's catalogue entry.
pub static LEARNED: Entry = layer(
    "positional_embedding",
    &[
        param(
            "max_length",
            Type::Count { min: 1 },
            Default::Required(Value::Count(1)),
        ),
        KERNEL_INIT,
        TRAINABLE,
    ],
    "position_embedding",
    "PositionEmbedding",
    "adds a learned vector for each position to a sequence `[width, length]` (`length` at most `max_length`)",
);

/// The sinusoidal encoding's catalogue entry.
pub static SINUSOIDAL: Entry = layer(
    "sinusoidal_embedding",
    &[param(
        "max_wavelength",
        Type::Positive,
        Default::Is(Value::Number(10000.0)),
    )],
    "sine_position_encoding",
    "SinePositionEncoding",
    "adds `sin(p / max_wavelength ** (i / width))` to channel `i` (even) and `cos(...)` of the same angle to channel `i + 1` at position `p` of a sequence `[width, length]`",
);

#[derive(Debug, Clone, PartialEq)]
pub enum PositionalEmbedding {
    Learned { max_length: usize, weights: Weights },
    Sinusoidal { max_wavelength: f64 },
}

impl LayerDef for PositionalEmbedding {
    type Op = PositionsOp;

    fn read(id: catalog::Layer, args: &CallArgs<'_>, errors: &mut Vec<CheckError>) -> Self {
        if id == catalog::Layer::of(&SINUSOIDAL) {
            return PositionalEmbedding::Sinusoidal {
                max_wavelength: args.number("max_wavelength", errors),
            };
        }
        PositionalEmbedding::Learned {
            max_length: args.count("max_length", errors),
            weights: Weights {
                kernel_init: args.initializer("kernel_init", errors),
                bias_init: Init::Zeros,
                kernel_regularizer: None,
            },
        }
    }

    fn catalogued(&self) -> catalog::Layer {
        match self {
            PositionalEmbedding::Learned { .. } => catalog::Layer::of(&LEARNED),
            PositionalEmbedding::Sinusoidal { .. } => catalog::Layer::of(&SINUSOIDAL),
        }
    }

    fn output_shape(
        &self,
        input: &[usize],
        span: Span,
        errors: &mut Vec<CheckError>,
    ) -> Option<Vec<usize>> {
        let name = match self {
            PositionalEmbedding::Learned { .. } => LEARNED.name,
            PositionalEmbedding::Sinusoidal { .. } => SINUSOIDAL.name,
        };
        let &[_, length] = input else {
            errors.push(CheckError::shape(
                format!("`{name}` takes a sequence [width, length], but gets shape {input:?}"),
                format!("input here has shape {input:?}"),
                span,
                "put it after an `embedding(...)`, which makes one",
            ));
            return None;
        };
        if let PositionalEmbedding::Learned { max_length, .. } = self {
            if length > *max_length {
                errors.push(CheckError::shape(
                    format!("the sequence has {length} positions, but `positional_embedding` learns {max_length}"),
                    format!("{length} positions reach here"),
                    span,
                    format!("raise `max_length` to at least {length}"),
                ));
                return None;
            }
        }
        Some(input.to_vec())
    }

    /// The learned table, `(max_length, width)`.
    fn parameter_shapes(&self, input: &[usize]) -> Vec<Vec<usize>> {
        match self {
            PositionalEmbedding::Learned { max_length, .. } => vec![vec![*max_length, input[0]]],
            PositionalEmbedding::Sinusoidal { .. } => Vec::new(),
        }
    }

    /// An `Add` of the `(width, length)` table of positions, broadcast over the batch: the
    /// learned table's first `length` rows transposed, or the sinusoids.
    fn export(&self, layer: &Layer, x: String, g: &mut Graph<'_>) -> Result<String, ExportError> {
        let (width, length) = (layer.input_shape[0], layer.input_shape[1]);
        let table = match self {
            PositionalEmbedding::Learned { .. } => {
                let rows = &g.tensor(layer, "weight")?.data;
                let mut t = vec![0.0; width * length];
                for p in 0..length {
                    for c in 0..width {
                        t[c * length + p] = rows[p * width + c];
                    }
                }
                t
            }
            PositionalEmbedding::Sinusoidal { max_wavelength } => {
                sinusoids(width, length, *max_wavelength)
            }
        };
        let table = g.constant(
            &format!("{}.positions", layer.name),
            &[width, length],
            &table,
        );
        Ok(g.node("Add", &[&x, &table], vec![]))
    }

    fn lower(
        &self,
        layer: &Layer,
        _: Option<&Layer>,
        cx: &mut Lowering<'_>,
    ) -> (PositionsOp, bool) {
        let op = match self {
            PositionalEmbedding::Learned { weights, .. } => {
                let (table, _) = cx.weight_and_bias(layer, weights);
                cx.params[table].read_on_host(cx.dev);
                PositionsOp::Learned { table }
            }
            PositionalEmbedding::Sinusoidal { max_wavelength } => {
                let (width, length) = (layer.input_shape[0], layer.input_shape[1]);
                PositionsOp::Fixed(sinusoids(width, length, *max_wavelength))
            }
        };
        (op, false)
    }
}

/// keras-hub's `SinePositionEncoding` as `(width, length)`: at position `p`, channel `i`
/// holds `sin(p * max_wavelength ** (-2 floor(i / 2) / width))` for even `i`, `cos` of the same
/// angle for odd `i`.
fn sinusoids(width: usize, length: usize, max_wavelength: f64) -> Vec<f32> {
    let mut table = vec![0.0; width * length];
    for (i, row) in table.chunks_exact_mut(length.max(1)).enumerate() {
        let timescale = max_wavelength.powf(-((i / 2 * 2) as f64) / width as f64);
        for (p, v) in row.iter_mut().enumerate() {
            let angle = p as f64 * timescale;
            *v = if i % 2 == 0 { angle.sin() } else { angle.cos() } as f32;
        }
    }
    table
}

pub enum PositionsOp {
    /// Index of the table among the model's parameters.
    Learned { table: usize },
    /// The encoding, (width, length).
    Fixed(Vec<f32>),
}

impl LayerOp for PositionsOp {
    fn forward<T: AnyTape>(&self, x: Act<T>, _: Option<Handoff>, cx: &mut Forward<'_>) -> Act<T> {
        let x = x.into_image("positional_embedding");
        match self {
            PositionsOp::Learned { table } => add_positions(x, &cx.params[*table]),
            PositionsOp::Fixed(table) => add_constant(x, table),
        }
    }
}

#[cfg(test)]
mod tests {
    /// `keras_hub.layers.SinePositionEncoding()(tf.zeros((1, 3, 4)))`, transposed to
    /// (width, length), as keras-hub 0.18.1 prints it: channels (sin, cos, sin, cos) at
    /// positions 0, 1, 2.
    #[test]
    fn sinusoids_are_keras_hubs() {
        let t = super::sinusoids(4, 3, 10000.0);
        let expected = [
            [0.0, 0.841_470_96, 0.909_297_4],
            [1.0, 0.540_302_3, -0.416_146_84],
            [0.0, 0.009_999_833, 0.019_998_666],
            [1.0, 0.999_95, 0.999_8],
        ];
        for (row, want) in t.chunks(3).zip(expected) {
            for (a, b) in row.iter().zip(want) {
                assert!((a - b).abs() < 1e-6, "{a} vs {b}");
            }
        }
    }
}
