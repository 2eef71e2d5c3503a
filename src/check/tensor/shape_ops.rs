//! The step functions that move values between positions rather than compute new
//! ones: `reshape`, `transpose`, `matmul`, `slice` (and `t[...]`), and the two whose
//! results carry no gradient, `argmax` and `equal`.
//!
//! Shapes count the batch as axis 0, as everywhere in steps; the batch axis stays
//! where it is (first, whole), so each function works on every row's element alike.

use super::axes::{batched, one_axis};
use super::{describe_full, numeric, Reader, Typed};
use crate::check::args::{self, Args};
use crate::check::error::CheckError;
use crate::check::plan::TensorExpr;
use crate::check::steps::TType;
use crate::source::Span;
use crate::syntax::ast::{Call, Expr, ExprKind};

/// The largest element rank a step's tensor may have: a row, a matrix, an image.
const MAX_RANK: usize = 3;

impl Reader<'_, '_> {
    /// The two tensor arguments `a` and `b` of a call, as written and as read.
    fn read_two<'e>(
        &mut self,
        call: &'e Call,
        errors: &mut Vec<CheckError>,
    ) -> Option<TwoArgs<'e>> {
        let a = Args::read(call, &["a", "b"], errors);
        let (x, y) = (a.required("a", errors), a.required("b", errors));
        let (x, y) = (x?, y?);
        let left = self.read(x, errors);
        let right = self.read(y, errors);
        Some((x, y, left?, right?))
    }

    /// `reshape(t, (4, 8))`, one size `-1` inferred, as NumPy's.
    pub(super) fn reshape(
        &mut self,
        call: &Call,
        errors: &mut Vec<CheckError>,
    ) -> Option<(TensorExpr, Typed)> {
        let a = Args::read(call, &["x", "shape"], errors);
        let (arg, shape_expr) = (a.required("x", errors), a.required("shape", errors));
        let (arg, shape_expr) = (arg?, shape_expr?);
        let (e, t) = self.read(arg, errors)?;
        numeric(&t, arg.span, errors)?;
        let from = batched("reshape", &t, arg.span, errors)?;
        let items: Vec<&Expr> = match &shape_expr.kind {
            ExprKind::Tuple(items) => items.iter().collect(),
            _ => vec![shape_expr],
        };
        let size: usize = from.iter().product();
        let mut dims: Vec<Option<usize>> = Vec::new();
        for item in &items {
            let v = args::number(item, "shape", errors)?;
            if v == -1.0 && !dims.contains(&None) {
                dims.push(None);
            } else if v >= 1.0 && v.fract() == 0.0 && v <= size as f64 {
                // A whole number no larger than the element's size.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                dims.push(Some(v as usize));
            } else {
                errors.push(
                    CheckError::invalid(
                        "a size in `reshape` must be a whole number from 1 to the element's size, or one -1".into(),
                        "this size".into(),
                        item.span,
                    )
                    .with_help("give one element's shape, the batch axis left out: `reshape(t, (7, 7, 16))`"),
                );
                return None;
            }
        }
        let known: usize = dims.iter().flatten().product();
        let shape: Vec<usize> = dims
            .iter()
            .map(|d| d.unwrap_or(size.checked_div(known).unwrap_or(0)))
            .collect();
        if shape.iter().product::<usize>() != size || dims.len() > MAX_RANK {
            let wanted: Vec<String> = dims
                .iter()
                .map(|d| d.map_or("-1".to_string(), |n| n.to_string()))
                .collect();
            errors.push(
                CheckError::shape(
                    format!(
                        "`reshape` cannot make elements of {} values into ({})",
                        size,
                        wanted.join(", ")
                    ),
                    format!("{} values per element", shape.iter().product::<usize>()),
                    shape_expr.span,
                    "the new element shape must hold as many values as the old one, in at most 3 axes",
                )
                .with_related(arg.span, describe_full(&t)),
            );
            return None;
        }
        let expr = TensorExpr::Reshape {
            input: Box::new(e),
            from,
            shape: shape.clone(),
        };
        Some((expr, float(shape, &t)))
    }

    /// `transpose(t, (0, 2, 1))`: the permutation names every axis, the batch first.
    pub(super) fn transpose(
        &mut self,
        call: &Call,
        errors: &mut Vec<CheckError>,
    ) -> Option<(TensorExpr, Typed)> {
        let a = Args::read(call, &["x", "axes"], errors);
        let (arg, axes_expr) = (a.required("x", errors), a.required("axes", errors));
        let (arg, axes_expr) = (arg?, axes_expr?);
        let (e, t) = self.read(arg, errors)?;
        numeric(&t, arg.span, errors)?;
        let shape = batched("transpose", &t, arg.span, errors)?;
        let items: Vec<&Expr> = match &axes_expr.kind {
            ExprKind::Tuple(items) => items.iter().collect(),
            _ => vec![axes_expr],
        };
        let mut perm = Vec::new();
        for item in &items {
            perm.push(one_axis(item, &t, &shape, "transpose", errors)?);
        }
        let mut sorted = perm.clone();
        sorted.sort_unstable();
        let is_permutation = sorted.iter().copied().eq(0..=shape.len());
        if !is_permutation || perm[0] != 0 {
            let help = if is_permutation {
                "the batch stays axis 0: permute the others, e.g. `(0, 2, 1)`"
            } else {
                "name every axis once, the batch (0) first: `(0, 2, 1)` swaps a matrix's rows and columns"
            };
            errors.push(
                CheckError::invalid(
                    format!(
                        "`transpose` needs a permutation of the {} axes of {}",
                        shape.len() + 1,
                        describe_full(&t)
                    ),
                    "these axes".into(),
                    axes_expr.span,
                )
                .with_help(help),
            );
            return None;
        }
        let out: Vec<usize> = perm[1..].iter().map(|&d| shape[d - 1]).collect();
        let expr = TensorExpr::Transpose {
            input: Box::new(e),
            shape,
            perm,
        };
        Some((expr, float(out, &t)))
    }

    /// `matmul(a, b)`: NumPy's `matmul` on each row's elements, of rank 1 or 2.
    pub(super) fn matmul(
        &mut self,
        call: &Call,
        errors: &mut Vec<CheckError>,
    ) -> Option<(TensorExpr, Typed)> {
        let (x, y, (ea, ta), (eb, tb)) = self.read_two(call, errors)?;
        numeric(&ta, x.span, errors)?;
        numeric(&tb, y.span, errors)?;
        let sa = batched("matmul", &ta, x.span, errors)?;
        let sb = batched("matmul", &tb, y.span, errors)?;
        for (s, t, span) in [(&sa, &ta, x.span), (&sb, &tb, y.span)] {
            if s.len() > 2 {
                errors.push(CheckError::shape(
                    format!(
                        "`matmul` multiplies vectors and matrices, got {}",
                        describe_full(t)
                    ),
                    describe_full(t),
                    span,
                    "each row's element must be a vector or a matrix: `reshape` it first",
                ));
                return None;
            }
        }
        if ta.rows != tb.rows {
            errors.push(CheckError::shape(
                "`matmul` multiplies row by row: both sides need the same rows".into(),
                "other rows".into(),
                y.span,
                "`concat` both sides, or neither",
            ));
            return None;
        }
        let inner_a = sa[sa.len() - 1];
        // A matrix's rows or a vector's length, on the right.
        let inner_b = sb[0];
        if inner_a != inner_b {
            errors.push(
                CheckError::shape(
                    format!(
                        "`matmul` needs the last axis of {} to match the {} of {}",
                        describe_full(&ta),
                        if sb.len() == 2 { "first element axis" } else { "length" },
                        describe_full(&tb)
                    ),
                    describe_full(&tb),
                    y.span,
                    "(m, k) times (k, n) gives (m, n); a vector of k counts as (1, k) on the left and (k, 1) on the right",
                )
                .with_related(x.span, describe_full(&ta)),
            );
            return None;
        }
        let mut out = Vec::new();
        if sa.len() == 2 {
            out.push(sa[0]);
        }
        if sb.len() == 2 {
            out.push(sb[1]);
        }
        let expr = TensorExpr::MatMul {
            a: Box::new(ea),
            b: Box::new(eb),
            shapes: [sa, sb],
        };
        Some((expr, float(out, &ta)))
    }

    /// `argmax(t, axis = -1, keepdims = false)`: indices as values, Keras' default axis.
    pub(super) fn argmax(
        &mut self,
        call: &Call,
        errors: &mut Vec<CheckError>,
    ) -> Option<(TensorExpr, Typed)> {
        let a = Args::read(call, &["x", "axis", "keepdims"], errors);
        let arg = a.required("x", errors)?;
        let keepdims = a.boolean("keepdims", false, errors);
        let (e, t) = self.read(arg, errors)?;
        numeric(&t, arg.span, errors)?;
        let shape = batched("argmax", &t, arg.span, errors)?;
        let axis = match a.get("axis") {
            Some(axis_expr) => {
                let axis = one_axis(axis_expr, &t, &shape, "argmax", errors)?;
                if axis == 0 {
                    errors.push(
                        CheckError::invalid(
                            "`argmax` along the batch axis is not supported".into(),
                            "axis 0 is the batch".into(),
                            axis_expr.span,
                        )
                        .with_help("argmax looks along each example's values: `axis = -1`"),
                    );
                    return None;
                }
                axis
            }
            None => shape.len(),
        };
        let out: Vec<usize> = shape
            .iter()
            .enumerate()
            .filter_map(|(d, &n)| match (d + 1 == axis, keepdims) {
                (false, _) => Some(n),
                (true, true) => Some(1),
                (true, false) => None,
            })
            .collect();
        let expr = TensorExpr::ArgMax {
            input: Box::new(e),
            shape,
            axis,
            keepdims,
        };
        Some((expr, float(out, &t)))
    }

    /// `equal(a, b)`: 1 where equal, else 0, on tensors of one shape; the class labels
    /// count as one value per row (shape `[batch]`), so that
    /// `mean(equal(argmax(logits), y))` is an accuracy.
    pub(super) fn equal(
        &mut self,
        call: &Call,
        errors: &mut Vec<CheckError>,
    ) -> Option<(TensorExpr, Typed)> {
        let (x, y, (ea, ta), (eb, tb)) = self.read_two(call, errors)?;
        let (ea, ta) = labels_as_values(ea, ta, x.span, errors)?;
        let (eb, tb) = labels_as_values(eb, tb, y.span, errors)?;
        let ty = match (&ta.ty, &tb.ty) {
            (TType::Float(p), TType::Float(q)) if p == q && ta.rows == tb.rows => ta.clone(),
            (TType::Float(_), TType::Number | TType::Scalar) => ta.clone(),
            (TType::Number | TType::Scalar, TType::Float(_)) => tb.clone(),
            (TType::Float(_), TType::Float(_)) => {
                errors.push(
                    CheckError::shape(
                        format!(
                            "`equal` compares values of one shape, got {} and {}",
                            describe_full(&ta),
                            describe_full(&tb)
                        ),
                        describe_full(&tb),
                        y.span,
                        "compare class indices with the labels: `equal(argmax(logits), y)`",
                    )
                    .with_related(x.span, describe_full(&ta)),
                );
                return None;
            }
            _ => Typed {
                ty: TType::Scalar,
                rows: 0,
            },
        };
        Some((TensorExpr::Equal(Box::new(ea), Box::new(eb)), ty))
    }

    /// `t[:, 2:5, 0]`: one item per axis from the batch's (which must be `:`), fewer
    /// items leaving the last axes whole; an index drops its axis, a range keeps it.
    pub(super) fn index(
        &mut self,
        target: &Expr,
        items: &[crate::syntax::ast::IndexItem],
        span: Span,
        errors: &mut Vec<CheckError>,
    ) -> Option<(TensorExpr, Typed)> {
        use crate::syntax::ast::IndexItem;
        let (mut e, t) = self.read(target, errors)?;
        numeric(&t, target.span, errors)?;
        let mut shape = batched("indexing", &t, target.span, errors)?;
        if items.len() > shape.len() + 1 {
            errors.push(CheckError::shape(
                format!("{} indices for {}", items.len(), describe_full(&t)),
                "too many indices".into(),
                span,
                "give at most one index or range per axis, the batch's (`:`) first",
            ));
            return None;
        }
        match items.first() {
            None
            | Some(IndexItem::Range {
                start: None,
                end: None,
                ..
            }) => {}
            Some(item) => {
                errors.push(
                    CheckError::invalid(
                        "a step's tensors keep every row of the batch".into(),
                        "the batch axis".into(),
                        item.span(),
                    )
                    .with_help("write `:` for the batch axis: `t[:, 3]`, `t[:, 2:5]`"),
                );
                return None;
            }
        }
        // Selections apply from the last axis back, so that each axis number stays valid.
        let mut selections = Vec::new();
        for (axis, item) in items.iter().enumerate().skip(1) {
            let size = shape[axis - 1];
            let pos = |v: i64| -> usize {
                // Python's negative positions count from the end; clamped as in slices.
                let v = if v < 0 { v + size as i64 } else { v };
                v.clamp(0, size as i64) as usize
            };
            match item {
                IndexItem::At { value, span } => {
                    let n = size as i64;
                    if *value < -n || *value >= n {
                        errors.push(CheckError::shape(
                            format!(
                                "index {value} is out of range for axis {axis} of {}",
                                describe_full(&t)
                            ),
                            format!("axis {axis} has {size} positions"),
                            *span,
                            "indices run from 0 to size - 1, or from -size to -1 from the end",
                        ));
                        return None;
                    }
                    let i = pos(*value);
                    selections.push((axis, i, i + 1, true));
                }
                IndexItem::Range { start, end, span } => {
                    let s = start.map_or(0, pos);
                    let e = end.map_or(size, pos);
                    if s >= e {
                        errors.push(CheckError::shape(
                            format!("the range selects nothing of axis {axis}'s {size} positions"),
                            "an empty range".into(),
                            *span,
                            "a range `a:b` needs a < b after negative positions count from the end",
                        ));
                        return None;
                    }
                    if (s, e) != (0, size) {
                        selections.push((axis, s, e, false));
                    }
                }
            }
        }
        for (axis, start, end, drop) in selections.into_iter().rev() {
            let input_shape = shape.clone();
            if drop {
                shape.remove(axis - 1);
            } else {
                shape[axis - 1] = end - start;
            }
            e = TensorExpr::Slice {
                input: Box::new(e),
                shape: input_shape,
                axis,
                start,
                end,
                drop,
            };
        }
        Some((e, float(shape, &t)))
    }
}

/// Two arguments as written, and as read.
type TwoArgs<'e> = (&'e Expr, &'e Expr, (TensorExpr, Typed), (TensorExpr, Typed));

/// Values of element `shape` in the rows of `like`.
fn float(shape: Vec<usize>, like: &Typed) -> Typed {
    Typed {
        ty: TType::Float(shape),
        rows: like.rows,
    }
}

/// The class labels as values to compare; anything else as it is.
fn labels_as_values(
    e: TensorExpr,
    t: Typed,
    span: Span,
    errors: &mut Vec<CheckError>,
) -> Option<(TensorExpr, Typed)> {
    match (&t.ty, &e) {
        // One index per example, or one at each position: `[positions]`.
        (TType::Labels { positions, .. }, TensorExpr::Var(_)) => Some((
            TensorExpr::ClassIndices,
            Typed {
                ty: TType::Float(positions.iter().copied().collect()),
                rows: t.rows,
            },
        )),
        (TType::Labels { .. }, _) => {
            numeric(&t, span, errors)?;
            None
        }
        _ => Some((e, t)),
    }
}
