//! Inside a step, `every N steps { ... }` runs its statements on every Nth training step
//! only (a WGAN's generator update after five critic updates), and `clip_weights(model,
//! min, max)` clamps a model's parameters where the step reaches it (the WGAN critic's
//! clipping after its update).
//!
//! The rule for values: a name bound inside a block exists on the steps the block runs, so
//! only the block itself may read it, and metrics, which then average over those steps
//! (`metrics.rs`). A name is bound either inside one block or outside all of them.

use std::collections::HashMap;

use super::args::{self, Args};
use super::error::CheckError;
use super::plan::StepStmt;
use super::steps::StepCx;
use crate::source::Span;
use crate::syntax::ast::{Call, ExprKind, Stmt, StmtKind};

/// An `every N steps` block of a step: its place among the step's blocks, period and head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Block {
    index: usize,
    steps: u64,
    head: Span,
}

/// The step's statements in order, each with the block it sits in; nested blocks are
/// reported (and their statements left out).
pub(super) fn flatten<'a>(
    body: &'a [Stmt],
    errors: &mut Vec<CheckError>,
) -> Vec<(&'a Stmt, Option<Block>)> {
    let mut out = Vec::new();
    let mut blocks = 0;
    for stmt in body {
        let StmtKind::Every {
            steps,
            head,
            body: inner,
        } = &stmt.kind
        else {
            out.push((stmt, None));
            continue;
        };
        let steps = args::count(steps, "every", 1, errors).unwrap_or(1) as u64;
        let block = Block {
            index: blocks,
            steps,
            head: *head,
        };
        blocks += 1;
        for s in inner {
            if let StmtKind::Every { head: nested, .. } = &s.kind {
                errors.push(
                    CheckError::invalid(
                        "`every` blocks do not nest".into(),
                        "inside another `every` block".into(),
                        *nested,
                    )
                    .with_related(*head, "the outer block")
                    .with_help("one block with the product of the periods runs on the same steps"),
                );
            } else {
                out.push((s, Some(block)));
            }
        }
    }
    out
}

/// Where each name of the step is bound, to keep a block's values inside it.
#[derive(Default)]
pub(super) struct Bindings {
    blocks: HashMap<String, Option<Block>>,
}

impl Bindings {
    /// Checks the statements that one source statement (at `span`, in `block`) produced:
    /// what they read exists on their steps, and what they bind is bound in one place.
    pub(super) fn check(
        &mut self,
        new: &[StepStmt],
        block: Option<Block>,
        span: Span,
        errors: &mut Vec<CheckError>,
    ) {
        for stmt in new {
            for name in stmt.expr().map(|e| e.vars()).unwrap_or_default() {
                let Some(Some(inner)) = self.blocks.get(name) else {
                    continue;
                };
                if block.map(|b| b.index) != Some(inner.index) {
                    errors.push(
                        CheckError::misplaced(
                            format!("`{name}` is computed every {} steps, inside its block only", inner.steps),
                            format!("`{name}` is read here, outside that block"),
                            span,
                            "read it inside its `every` block, or in a metric (which averages over the steps it is computed on)",
                        )
                        .with_related(inner.head, "bound in this block"),
                    );
                    return;
                }
            }
            if let StepStmt::Let { name, .. } = stmt {
                match self.blocks.get(name) {
                    Some(before) if before.map(|b| b.index) != block.map(|b| b.index) => {
                        errors.push(
                            CheckError::invalid(
                                format!(
                                    "`{name}` is bound both inside and outside an `every` block"
                                ),
                                "bound again here".into(),
                                span,
                            )
                            .with_help(
                                "a value computed on some steps only needs a name of its own",
                            ),
                        );
                    }
                    _ => {
                        self.blocks.insert(name.clone(), block);
                    }
                }
            }
        }
    }
}

/// Gathers each block's statements (tagged by [`flatten`]) into a `StepStmt::Every`.
pub(super) fn group(stmts: Vec<StepStmt>, tags: &[Option<Block>]) -> Vec<StepStmt> {
    let mut out: Vec<StepStmt> = Vec::new();
    let mut open: Option<usize> = None;
    for (stmt, tag) in stmts.into_iter().zip(tags) {
        match tag {
            None => {
                open = None;
                out.push(stmt);
            }
            Some(b) => {
                if open != Some(b.index) {
                    open = Some(b.index);
                    out.push(StepStmt::Every {
                        steps: b.steps,
                        body: Vec::new(),
                    });
                }
                if let Some(StepStmt::Every { body, .. }) = out.last_mut() {
                    body.push(stmt);
                }
            }
        }
    }
    out
}

/// Reports `every` blocks in a step that updates nothing: its steps are not counted.
pub(super) fn check_trains(
    trains: bool,
    flat: &[(&Stmt, Option<Block>)],
    errors: &mut Vec<CheckError>,
) {
    if trains {
        return;
    }
    if let Some(block) = flat.iter().find_map(|(_, b)| *b) {
        errors.push(CheckError::misplaced(
            "`every N steps` counts training steps, and this step trains nothing".into(),
            "in a step without `update`".into(),
            block.head,
            "put the block in the step that updates, or evaluate on every batch",
        ));
    }
}

/// `clip_weights(model, min = A, max = B)`: `min <= max`, both finite.
pub(super) fn clip_weights(
    cx: &StepCx<'_>,
    call: &Call,
    errors: &mut Vec<CheckError>,
) -> Option<StepStmt> {
    let a = Args::read(call, &["model", "min", "max"], errors);
    let model = a.required("model", errors);
    let (min, max) = (a.required("min", errors), a.required("max", errors));
    let model = match &model?.kind {
        ExprKind::Name(id) => cx.models.resolve("model", id, errors)?,
        _ => {
            let e = model?;
            errors.push(CheckError::wrong_type(
                "model",
                "a model's name",
                args::describe(e),
                e.span,
            ));
            return None;
        }
    };
    let (min_e, max_e) = (min?, max?);
    let lo = args::number(min_e, "min", errors)?;
    let hi = args::number(max_e, "max", errors)?;
    if lo > hi {
        errors.push(
            CheckError::invalid(
                format!("`clip_weights` clamps to [{lo}, {hi}], an empty range"),
                "`min` above `max`".into(),
                min_e.span.to(max_e.span),
            )
            .with_help("e.g. `clip_weights(critic, min = -0.01, max = 0.01)`"),
        );
        return None;
    }
    // Clamping is in f32, the parameters' type.
    #[allow(clippy::cast_possible_truncation)]
    Some(StepStmt::ClipWeights {
        model,
        min: lo as f32,
        max: hi as f32,
    })
}
