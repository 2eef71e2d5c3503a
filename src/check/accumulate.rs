//! `accumulate = N` on an optimizer promises the gradient of a batch N times larger. A
//! layer whose output for one example depends on the others in its batch (batch
//! normalisation in training mode: each batch's own mean and variance) breaks that promise:
//! it normalises each small batch apart. Such an update is refused rather than silently
//! trained differently; the help names the ways out.

use super::error::CheckError;
use super::plan::{LayerKind, StepStmt, TensorExpr};
use super::steps::StepCx;
use crate::source::Span;

/// Reports `update OPTIMIZER minimizing LOSS` when the optimizer accumulates gradients and
/// the loss runs a model with batch normalisation in training mode. `stmts` are the step's
/// statements before the update (where the loss's names are bound); `span` is where the
/// diagnostic points.
pub(super) fn check_update(
    cx: &StepCx<'_>,
    optimizer: usize,
    loss: &TensorExpr,
    stmts: &[StepStmt],
    span: Span,
    errors: &mut Vec<CheckError>,
) {
    let (name, opt) = &cx.optimizers.items[optimizer];
    if opt.accumulate <= 1 {
        return;
    }
    let Some(model) = batch_dependent_model(cx, loss, stmts, &mut Vec::new()) else {
        return;
    };
    let model_name = &cx.models.items[model].0.name;
    errors.push(
        CheckError::incompatible(
            format!(
                "`{}` accumulates gradients over {} batches, but model `{model_name}` normalises each batch apart",
                name.name, opt.accumulate
            ),
            format!("`{model_name}` has batch normalisation, in training mode here"),
            span,
            format!(
                "batch normalisation's statistics are those of each batch, not of {} batches \
                 together: use `layernorm()`, a larger batch without `accumulate`, or \
                 `training = false` for a model this update does not train",
                opt.accumulate
            ),
        )
        .with_related(name.span, "declared here"),
    );
}

/// A model that `e` runs in training mode with a batch norm layer, looking through the
/// names `stmts` bind (`seen` keeps a name from being followed twice).
fn batch_dependent_model(
    cx: &StepCx<'_>,
    e: &TensorExpr,
    stmts: &[StepStmt],
    seen: &mut Vec<String>,
) -> Option<usize> {
    match e {
        TensorExpr::CallModel {
            model,
            training: true,
            ..
        } if has_batch_norm(cx, *model) => return Some(*model),
        TensorExpr::Var(name) if !seen.contains(name) => {
            seen.push(name.clone());
            let bound = stmts.iter().rev().find_map(|s| match s {
                StepStmt::Let { name: n, value } if n == name => Some(value),
                _ => None,
            })?;
            return batch_dependent_model(cx, bound, stmts, seen);
        }
        _ => {}
    }
    e.children()
        .into_iter()
        .find_map(|c| batch_dependent_model(cx, c, stmts, seen))
}

fn has_batch_norm(cx: &StepCx<'_>, model: usize) -> bool {
    cx.inferred[model].as_ref().is_some_and(|m| {
        m.layers
            .iter()
            .any(|l| matches!(l.kind, LayerKind::BatchNorm(_)))
    })
}
