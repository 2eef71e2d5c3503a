//! `grid(generator(normal(100)), count = 64, to = "samples/epoch_{epoch}.png")`:
//! tensors drawn as greyscale images, at the end of each epoch or after training.
//! With `on = DATA` the expressions read the values the step on DATA bound for
//! the first batch of the epoch (`grid(x, recon, on = test, ...)`).

use super::args;
use super::error::CheckError;
use super::plan::{Action, Step};
use super::steps::{StepCx, TType};
use super::tensor::{Env, Place, Reader};
use crate::syntax::ast::{Call, DeclKind, ExprKind, File, StmtKind};

pub fn check_grid(
    cx: &StepCx<'_>,
    steps: &[Step],
    call: &Call,
    errors: &mut Vec<CheckError>,
) -> Option<Action> {
    let mut exprs = Vec::new();
    let mut path = None;
    let mut count = 64;
    let mut on = None;
    for arg in &call.args {
        match &arg.name {
            None => exprs.push(&arg.value),
            Some(n) if n.name == "to" => match &arg.value.kind {
                ExprKind::Str(s) => path = Some(s.value.clone()),
                _ => errors.push(CheckError::wrong_type(
                    "to",
                    "a string",
                    args::describe(&arg.value),
                    arg.value.span,
                )),
            },
            Some(n) if n.name == "count" => {
                count = args::count(&arg.value, "count", 1, errors)?.min(1024);
            }
            Some(n) if n.name == "on" => on = Some(&arg.value),
            Some(n) => errors.push(CheckError::unknown_parameter(
                "grid",
                &n.name,
                n.span,
                &["count", "on", "to"],
            )),
        }
    }
    if exprs.is_empty() {
        errors.push(CheckError::missing(
            "nothing to draw",
            "`grid` needs at least one tensor".into(),
            call.span,
            "e.g. `grid(generator(normal(100)), count = 64, to = \"samples.png\")`",
        ));
        return None;
    }
    let Some(path) = path else {
        errors.push(CheckError::missing_argument("grid", "to", call.span));
        return None;
    };
    let (step, env) = match on {
        Some(e) => {
            let ExprKind::Name(id) = &e.kind else {
                errors.push(CheckError::wrong_type(
                    "on",
                    "a data set",
                    args::describe(e),
                    e.span,
                ));
                return None;
            };
            let data = cx.datasets.resolve("data", id, errors)?;
            let Some(step) = steps.iter().position(|s| s.data == data) else {
                errors.push(CheckError::missing(
                    "no step runs on this data",
                    format!("no step runs on `{}`", id.name),
                    id.span,
                    "use the data of a step, whose values the grid reads",
                ));
                return None;
            };
            if cx.failed_data.contains(&data) {
                return None;
            }
            (Some(step), cx.envs.get(&data).cloned().unwrap_or_default())
        }
        None => (None, Env::new()),
    };
    let mut scratch = cx.clone();
    let mut noise = 0;
    let mut read = Vec::new();
    let mut tile = None;
    for e in exprs {
        let mut reader = Reader {
            cx: &mut scratch,
            env: &env,
            place: Place::Grid,
            noise: &mut noise,
        };
        let (te, t) = reader.read(e, errors)?;
        let size = match &t.ty {
            TType::Float(shape) => match shape.as_slice() {
                [n] => square(*n),
                [h, w] | [1, h, w] => Some((*h, *w)),
                _ => None,
            },
            _ => None,
        };
        let Some(size) = size else {
            errors.push(CheckError::incompatible(
                format!("`grid` draws greyscale images, got {}", t.ty),
                "not an image".into(),
                e.span,
                "pass tensors of shape [h, w], [1, h, w], or [n] with n a square (784 = 28 x 28)",
            ));
            return None;
        };
        if tile.is_some_and(|t| t != size) {
            errors.push(CheckError::shape(
                "the images of a grid must have one size".into(),
                format!("{} x {} images", size.0, size.1),
                e.span,
                "draw tensors of one shape",
            ));
            return None;
        }
        tile = Some(size);
        read.push(te);
    }
    let (x, y) = match step {
        Some(s) => (steps[s].x.clone(), steps[s].y.clone()),
        None => (String::new(), String::new()),
    };
    Some(Action::Grid {
        exprs: read,
        step,
        x,
        y,
        count,
        tile: tile.unwrap_or((1, 1)),
        path,
    })
}

fn square(n: usize) -> Option<(usize, usize)> {
    let s = (n as f64).sqrt().round() as usize;
    (s * s == n).then_some((s, s))
}

/// Infers the shapes of models that only `grid` calls (a generator drawn but
/// trained through another model's call), so that they are not "never used".
/// Diagnostics come from `check_grid`; this pass keeps none.
pub fn infer_grid_models(file: &File, cx: &mut StepCx<'_>, steps: &[Step]) {
    for decl in &file.decls {
        let (DeclKind::Hook { body, .. } | DeclKind::After { body }) = &decl.kind else {
            continue;
        };
        for stmt in body {
            let StmtKind::Call(call) = &stmt.kind else {
                continue;
            };
            if call.name.name != "grid" {
                continue;
            }
            let mut quiet = Vec::new();
            let on = call
                .args
                .iter()
                .find(|a| a.name.as_ref().is_some_and(|n| n.name == "on"));
            let env = match on.map(|a| &a.value.kind) {
                Some(ExprKind::Name(id)) => {
                    let Some(data) = cx.datasets.index(&id.name) else {
                        continue;
                    };
                    if !steps.iter().any(|s| s.data == data) {
                        continue;
                    }
                    cx.envs.get(&data).cloned().unwrap_or_default()
                }
                Some(_) => continue,
                None => Env::new(),
            };
            let mut noise = 0;
            for arg in call.args.iter().filter(|a| a.name.is_none()) {
                let mut reader = Reader {
                    cx,
                    env: &env,
                    place: Place::Grid,
                    noise: &mut noise,
                };
                let _ = reader.read(&arg.value, &mut quiet);
            }
        }
    }
}
