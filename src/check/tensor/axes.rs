//! The step functions that work along axes: `sum mean max min` (over any axes, with
//! `keepdims`), `softmax` and `log_softmax`, and the elementwise `clip_by_value`.
//!
//! Axes count the batch as axis 0, as Keras does: a flat tensor of shape `[batch, 10]`
//! has its values along axis 1 (or -1). A step's tensors keep their batch axis, so a
//! reduction whose axes hold the batch reduces everything (a scalar), and softmax
//! along the batch is refused.

use super::{describe_full, numeric, Reader, Typed};
use crate::check::args::{self, Args};
use crate::check::error::CheckError;
use crate::check::plan::{Reduce, TensorExpr};
use crate::check::steps::TType;
use crate::source::Span;
use crate::syntax::ast::{Call, Expr, ExprKind};

impl Reader<'_, '_> {
    /// `sum(t)`, `mean(t, axis = 1)`, `max(t, axis = (1, 2), keepdims = false)`.
    pub(super) fn reduce(
        &mut self,
        call: &Call,
        errors: &mut Vec<CheckError>,
    ) -> Option<(TensorExpr, Typed)> {
        let name = call.name.name.as_str();
        let op = match name {
            "mean" => Reduce::Mean,
            "sum" => Reduce::Sum,
            "max" => Reduce::Max,
            _ => Reduce::Min,
        };
        let a = Args::read(call, &["x", "axis", "keepdims"], errors);
        let arg = a.required("x", errors)?;
        // Keeping the reduced axes by default keeps `p / sum(p, axis = 1)` working, and
        // today's `axis = 1`, which has always given shape [1].
        let keepdims = a.boolean("keepdims", true, errors);
        let (e, t) = self.read(arg, errors)?;
        numeric(&t, arg.span, errors)?;
        let everything = |e: TensorExpr, shape: &[usize]| -> (TensorExpr, Typed) {
            let reduced = match op {
                Reduce::Mean | Reduce::Sum => TensorExpr::Reduce {
                    op,
                    axis: false,
                    input: Box::new(e),
                },
                Reduce::Max | Reduce::Min => TensorExpr::ReduceAxes {
                    op,
                    input: Box::new(e),
                    shape: shape.to_vec(),
                    axes: (0..=shape.len()).collect(),
                    keepdims: false,
                },
            };
            (reduced, Typed::scalar())
        };
        let shape = match &t.ty {
            TType::Float(shape) if t.rows > 0 => shape.clone(),
            _ if a.get("axis").is_none() => {
                // A scalar or a number is its own max and min.
                return Some(match (op, &t.ty) {
                    (Reduce::Max | Reduce::Min, _) | (_, TType::Number) => (e, t),
                    _ => everything(e, &[]),
                });
            }
            _ => {
                let span = a.get("axis").map_or(call.span, |e| e.span);
                errors.push(
                    CheckError::invalid(
                        format!("`{name}` reduces along axes of a tensor, got {}", t.ty),
                        format!("axis of {}", t.ty),
                        span,
                    )
                    .with_help("drop `axis`: a scalar has no axes"),
                );
                return None;
            }
        };
        let Some(axis_expr) = a.get("axis") else {
            return Some(everything(e, &shape));
        };
        let axes = axes(axis_expr, &t, &shape, name, errors)?;
        if axes.contains(&0) {
            return Some(everything(e, &shape));
        }
        if matches!(op, Reduce::Mean | Reduce::Sum) && shape.len() == 1 && keepdims {
            // Today's per-row reduction of a flat tensor, on dfdx's kernels, bit for bit.
            let reduced = TensorExpr::Reduce {
                op,
                axis: true,
                input: Box::new(e),
            };
            let ty = TType::Float(vec![1]);
            return Some((reduced, Typed { ty, rows: t.rows }));
        }
        let out: Vec<usize> = shape
            .iter()
            .enumerate()
            .filter_map(|(d, &n)| match (axes.contains(&(d + 1)), keepdims) {
                (false, _) => Some(n),
                (true, true) => Some(1),
                (true, false) => None,
            })
            .collect();
        let reduced = TensorExpr::ReduceAxes {
            op,
            input: Box::new(e),
            shape,
            axes,
            keepdims,
        };
        let ty = TType::Float(out);
        Some((reduced, Typed { ty, rows: t.rows }))
    }

    /// `softmax(t, axis = -1)` and `log_softmax(t, axis = -1)`, along an axis of each element.
    pub(super) fn softmax(
        &mut self,
        call: &Call,
        errors: &mut Vec<CheckError>,
    ) -> Option<(TensorExpr, Typed)> {
        let name = call.name.name.as_str();
        let a = Args::read(call, &["x", "axis"], errors);
        let arg = a.required("x", errors)?;
        let (e, t) = self.read(arg, errors)?;
        numeric(&t, arg.span, errors)?;
        let shape = batched(name, &t, arg.span, errors)?;
        let axis = match a.get("axis") {
            Some(axis_expr) => {
                let axis = one_axis(axis_expr, &t, &shape, name, errors)?;
                if axis == 0 {
                    errors.push(
                        CheckError::invalid(
                            format!("`{name}` along the batch axis is not supported"),
                            "axis 0 is the batch".into(),
                            axis_expr.span,
                        )
                        .with_help("softmax normalises each example's values: `axis = -1`"),
                    );
                    return None;
                }
                axis
            }
            None => shape.len(),
        };
        let expr = TensorExpr::Softmax {
            input: Box::new(e),
            shape,
            axis,
            log: name == "log_softmax",
        };
        Some((expr, t))
    }

    /// `clip_by_value(t, lo, hi)`, as Keras' `ops.clip`/TensorFlow's `clip_by_value`.
    pub(super) fn clip(
        &mut self,
        call: &Call,
        errors: &mut Vec<CheckError>,
    ) -> Option<(TensorExpr, Typed)> {
        let a = Args::read(call, &["x", "lo", "hi"], errors);
        let (arg, lo, hi) = (
            a.required("x", errors),
            a.required("lo", errors),
            a.required("hi", errors),
        );
        let (arg, lo_expr, hi_expr) = (arg?, lo?, hi?);
        let lo = args::number(lo_expr, "lo", errors);
        let hi = args::number(hi_expr, "hi", errors);
        let read = self.read(arg, errors);
        let ((e, t), lo, hi) = (read?, lo?, hi?);
        numeric(&t, arg.span, errors)?;
        if lo > hi {
            errors.push(CheckError::invalid(
                "`clip_by_value` needs `lo <= hi`".into(),
                format!("lo = {lo}, hi = {hi}"),
                lo_expr.span.to(hi_expr.span),
            ));
            return None;
        }
        if let TensorExpr::Const(v) = e {
            return Some((TensorExpr::Const(v.clamp(lo, hi)), t));
        }
        let expr = TensorExpr::Clip {
            input: Box::new(e),
            lo: lo as f32,
            hi: hi as f32,
        };
        Some((expr, t))
    }
}

/// The element shape of a batched tensor, or a diagnostic naming what `name` got.
pub(super) fn batched(
    name: &str,
    t: &Typed,
    span: Span,
    errors: &mut Vec<CheckError>,
) -> Option<Vec<usize>> {
    match &t.ty {
        TType::Float(shape) if t.rows > 0 && !shape.is_empty() => Some(shape.clone()),
        _ => {
            errors.push(CheckError::incompatible(
                format!(
                    "`{name}` works along an axis of a tensor, got {}",
                    describe_full(t)
                ),
                format!("this is {}", describe_full(t)),
                span,
                "pass a batch of vectors, e.g. a model's logits",
            ));
            None
        }
    }
}

/// `axis = 1` or `axis = (1, 2)`: distinct axes of the whole shape (batch = 0),
/// negative ones counted from the end.
fn axes(
    e: &Expr,
    t: &Typed,
    shape: &[usize],
    name: &str,
    errors: &mut Vec<CheckError>,
) -> Option<Vec<usize>> {
    let items: Vec<&Expr> = match &e.kind {
        ExprKind::Tuple(items) => items.iter().collect(),
        _ => vec![e],
    };
    let mut axes = Vec::new();
    for item in items {
        let axis = one_axis(item, t, shape, name, errors)?;
        if axes.contains(&axis) {
            errors.push(CheckError::invalid(
                format!("`{name}` names axis {axis} twice"),
                "repeated axis".into(),
                item.span,
            ));
            return None;
        }
        axes.push(axis);
    }
    axes.sort_unstable();
    Some(axes)
}

pub(super) fn one_axis(
    e: &Expr,
    t: &Typed,
    shape: &[usize],
    name: &str,
    errors: &mut Vec<CheckError>,
) -> Option<usize> {
    let v = args::number(e, "axis", errors)?;
    let rank = shape.len() + 1;
    let r = rank as f64;
    if v.fract() != 0.0 || v < -r || v >= r {
        errors.push(
            CheckError::invalid(
                format!(
                    "axis {} is out of range for {}",
                    super::super::error::fmt_number(v),
                    describe_full(t)
                ),
                format!("`{name}` along this axis"),
                e.span,
            )
            .with_help(format!(
                "axes are whole numbers from 0 (the batch) to {}, or -{rank} to -1 from the end",
                rank - 1
            )),
        );
        return None;
    }
    // In range, so a small whole number.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Some(if v < 0.0 {
        (v + r) as usize
    } else {
        v as usize
    })
}
