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
//!
//! In a graph model each value carries the masks of the embeddings it is computed from. A
//! sum, a product or a join of channels keeps each position where it was, so it carries its
//! operands' masks (Keras ANDs them); cross-attention reads its memory's mask to leave the
//! padded keys out (PyTorch's `key_padding_mask`) and carries its queries'. A value the model
//! returns carries none: the loss would count the padding.

use super::error::CheckError;
use super::plan::{Graph, Layer, LayerKind, NodeOp, Padding};

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

fn masking(layer: &Layer) -> bool {
    matches!(&layer.kind, LayerKind::Embedding(e) if e.mask_zero)
}

/// Checks the layers of a stack after each `embedding(mask_zero = true)`: every one carries
/// the mask until a global pool takes it.
pub fn check_masks(layers: &[Layer], errors: &mut Vec<CheckError>) {
    let Some(start) = layers.iter().position(masking) else {
        return;
    };
    let embedding = &layers[start];
    for layer in &layers[start + 1..] {
        match reads(layer) {
            Reads::Carries => {}
            Reads::Takes => return,
            Reads::Refuses => {
                errors.push(refused(layer, embedding));
                return;
            }
        }
    }
    errors.push(unread(embedding));
}

/// Checks a graph model's masks: each value carries the masks (named by their embedding
/// layers) of the values it is computed from, until a layer takes them. One error per mask
/// at most.
pub fn check_graph_masks(layers: &[Layer], graph: &Graph, errors: &mut Vec<CheckError>) {
    if !layers.iter().any(masking) {
        return;
    }
    // Per value, the embedding layers whose masks it carries (sorted, without repeats).
    let mut masks: Vec<Vec<usize>> = vec![Vec::new(); graph.inputs.len()];
    // Per layer, whether its mask is read (taken, or a key padding mask), or was reported.
    let mut read = vec![false; layers.len()];
    let mut reported = vec![false; layers.len()];
    for node in &graph.nodes {
        let carried = masks[node.inputs[0]].clone();
        let refusing = match node.op {
            NodeOp::Layer(l) => {
                (!masking(&layers[l]) && matches!(reads(&layers[l]), Reads::Refuses)).then_some(l)
            }
            NodeOp::Add | NodeOp::Multiply | NodeOp::Concat { .. } | NodeOp::Output { .. } => None,
        };
        let out = match node.op {
            NodeOp::Layer(l) if masking(&layers[l]) => vec![l],
            NodeOp::Layer(l) => {
                // Cross-attention's memory: its mask leaves the padded keys out.
                for &v in &node.inputs[1..] {
                    for &e in &masks[v] {
                        read[e] = true;
                    }
                }
                // A layer that refuses the mask is reported below, with what it carried.
                if matches!(reads(&layers[l]), Reads::Takes) {
                    for &e in &carried {
                        read[e] = true;
                    }
                    Vec::new()
                } else {
                    carried
                }
            }
            // A recurrent layer's last state: the cell skipped the padded steps.
            NodeOp::Output { .. } => Vec::new(),
            NodeOp::Add | NodeOp::Multiply | NodeOp::Concat { .. } => {
                let mut all: Vec<usize> =
                    node.inputs.iter().flat_map(|&v| masks[v].clone()).collect();
                all.sort_unstable();
                all.dedup();
                all
            }
        };
        match refusing {
            Some(l) if !out.is_empty() => {
                if let Some(&e) = out.iter().find(|&&e| !reported[e]) {
                    errors.push(refused(&layers[l], &layers[e]));
                }
                for &e in &out {
                    reported[e] = true;
                }
                masks.push(Vec::new());
            }
            _ => masks.push(out),
        }
    }
    // A mask that reaches the output is not left out there, whatever else read it.
    for &v in &graph.outputs {
        for &e in &masks[v] {
            read[e] = false;
        }
    }
    for (l, layer) in layers.iter().enumerate() {
        if masking(layer) && !read[l] && !reported[l] {
            errors.push(unread(layer));
        }
    }
}

/// A layer that would drop or misplace the mask of `embedding`.
fn refused(layer: &Layer, embedding: &Layer) -> CheckError {
    let name = layer.kind.entry().name;
    CheckError::invalid(
        format!("`{name}` cannot take the padding mask of `embedding(mask_zero = true)`"),
        "the mask reaches it".into(),
        layer.span,
    )
    .with_related(embedding.span, "the mask starts here")
    .with_help(format!(
        "put `global_avgpool1d()`, `global_maxpool1d()`, `lstm(...)` or `gru(...)` before `{name}`; only layers that keep each position where it is (an activation, dropout, `layernorm`, `dense`, `conv1d` with `padding = same` and stride 1, `attention`, `lstm` or `gru` with `return_sequences = true`) carry the mask to it"
    ))
}

/// A mask that no layer leaves the padding out by.
fn unread(embedding: &Layer) -> CheckError {
    CheckError::invalid(
        "no layer reads the padding mask of `mask_zero = true`".into(),
        "the mask starts here".into(),
        embedding.span,
    )
    .with_help("end the sequence with `global_avgpool1d()`, `global_maxpool1d()` or an `lstm` or `gru` that returns its last state, which leave the padding out, or leave out `mask_zero`")
}
