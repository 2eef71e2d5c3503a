//! `embedding(mask_zero = true)`: which layers after it may see the padding mask.
//!
//! The mask is a `(batch, length)` of 1s at tokens and 0s at padding (id 0). A layer that
//! keeps every position where it was carries it on (an activation, dropout, layer
//! normalisation, a per-position `dense`, a position embedding, a `conv1d` of stride 1 with
//! `padding = same`, `attention`, which leaves the padded keys out, a recurrent layer that
//! returns sequences, which skips the padded steps); a global 1-D pool reads it and leaves
//! the padding out, and a recurrent layer that returns its last state skips the padded
//! steps and ends it. Any other layer would drop or misplace it, which Keras does with a
//! warning and later layers then average the padding in; here it is an error at that layer,
//! as is a mask nothing reads.

use super::error::CheckError;
use super::plan::{Layer, LayerKind, Padding};

/// What a layer does with a mask that reaches it.
enum Reads {
    /// Keeps each position where it was: the mask goes on to the next layer.
    Carries,
    /// Leaves the masked positions out of its output: the mask ends here.
    Takes,
    /// Would lose the mask, or move positions away from it.
    Refuses,
}

fn reads(layer: &Layer) -> Reads {
    match &layer.kind {
        LayerKind::Activation(_)
        | LayerKind::Dropout(_)
        | LayerKind::LayerNorm(_)
        | LayerKind::PositionalEmbedding(_)
        | LayerKind::Attention(_) => Reads::Carries,
        LayerKind::Dense(_) if layer.input_shape.len() == 2 => Reads::Carries,
        LayerKind::Conv1d(c) if c.stride == 1 && c.padding == Padding::Same => Reads::Carries,
        LayerKind::Recurrent(r) if r.return_sequences => Reads::Carries,
        LayerKind::Pool1d(p) if p.global => Reads::Takes,
        LayerKind::Recurrent(_) => Reads::Takes,
        _ => Reads::Refuses,
    }
}

/// Checks the layers of a stack (or, `graph`, of a graph model) after each `embedding(mask_zero
/// = true)`: every one carries the mask until a global pool takes it.
pub fn check_masks(layers: &[Layer], graph: bool, errors: &mut Vec<CheckError>) {
    let masking = |l: &Layer| matches!(&l.kind, LayerKind::Embedding(e) if e.mask_zero);
    let Some(start) = layers.iter().position(masking) else {
        return;
    };
    let embedding = &layers[start];
    if graph {
        errors.push(
            CheckError::invalid(
                "`mask_zero = true` works in a model of one stack of layers".into(),
                "in a graph model".into(),
                embedding.span,
            )
            .with_help(
                "write the model as a stack (no named inputs, no blocks), or leave out `mask_zero`",
            ),
        );
        return;
    }
    for layer in &layers[start + 1..] {
        match reads(layer) {
            Reads::Carries => {}
            Reads::Takes => return,
            Reads::Refuses => {
                let name = layer.kind.entry().name;
                errors.push(
                    CheckError::invalid(
                        format!("`{name}` cannot take the padding mask of `embedding(mask_zero = true)`"),
                        "the mask reaches it".into(),
                        layer.span,
                    )
                    .with_related(embedding.span, "the mask starts here")
                    .with_help(format!(
                        "put `global_avgpool1d()`, `global_maxpool1d()`, `lstm(...)` or `gru(...)` before `{name}`; only layers that keep each position where it is (an activation, dropout, `layernorm`, `dense`, `conv1d` with `padding = same` and stride 1, `attention`, `lstm` or `gru` with `return_sequences = true`) carry the mask to it"
                    )),
                );
                return;
            }
        }
    }
    errors.push(
        CheckError::invalid(
            "no layer reads the padding mask of `mask_zero = true`".into(),
            "the mask starts here".into(),
            embedding.span,
        )
        .with_help("end the sequence with `global_avgpool1d()`, `global_maxpool1d()` or an `lstm` or `gru` that returns its last state, which leave the padding out, or leave out `mask_zero`"),
    );
}
