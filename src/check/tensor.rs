//! Tensor expressions in steps, metrics and `grid`: the AST read into a
//! `TensorExpr`, with its type and its batch rows inferred at every node, so
//! that a mismatch is reported where it is written.

use std::collections::HashMap;

use super::args::{self, Args};
use super::error::CheckError;
use super::plan::{Noise, Reduce, TensorExpr, TensorOp, UnaryFn};
use super::steps::{loss_type, model_output, StepCx, TType};
use crate::source::Span;
use crate::syntax::ast::{BinOp, Call, Expr, ExprKind};

/// A value's type and its rows, counted in batches: a step's data and noise
/// have 1 batch of rows, `concat(a, b)` has the sum of theirs. Scalars and numbers have 0.
#[derive(Debug, Clone, PartialEq)]
pub struct Typed {
    pub ty: TType,
    pub rows: usize,
}

impl Typed {
    pub fn batch(ty: TType) -> Self {
        Typed { ty, rows: 1 }
    }

    fn scalar() -> Self {
        Typed {
            ty: TType::Scalar,
            rows: 0,
        }
    }
}

pub type Env = HashMap<String, Typed>;

/// What an expression may do where it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Step,
    /// Metrics read values the step bound: no model calls, no noise.
    Metric,
    /// `grid(...)`: models in inference mode and noise, no losses.
    Grid,
}

/// Functions a tensor expression can call besides models and losses.
pub const FUNCTIONS: &[&str] = &[
    "mean",
    "sum",
    "detach",
    "normal",
    "uniform",
    "ones_like",
    "zeros_like",
    "concat",
    "flatten",
    "exp",
    "log",
    "sqrt",
    "abs",
    "relu",
    "sigmoid",
    "tanh",
    "square",
    "elu",
    "selu",
    "swish",
    "silu",
    "softplus",
    "hard_sigmoid",
];

pub struct Reader<'c, 'a> {
    pub cx: &'c mut StepCx<'a>,
    pub env: &'c Env,
    pub place: Place,
    /// Noise draws numbered so far in this step.
    pub noise: &'c mut usize,
}

impl Reader<'_, '_> {
    /// Reads `expr` as a tensor expression and infers its type; `None` after reporting.
    pub fn read(
        &mut self,
        expr: &Expr,
        errors: &mut Vec<CheckError>,
    ) -> Option<(TensorExpr, Typed)> {
        match &expr.kind {
            ExprKind::Name(id) => match self.env.get(&id.name) {
                Some(t) => Some((TensorExpr::Var(id.name.clone()), t.clone())),
                None if self.cx.failed_names.contains(&id.name) => None,
                None => {
                    let mut known: Vec<&str> = self.env.keys().map(String::as_str).collect();
                    known.sort_unstable();
                    let what = match self.place {
                        Place::Metric => "step value",
                        _ => "value",
                    };
                    errors.push(CheckError::unknown(what, &id.name, id.span, &known));
                    None
                }
            },
            ExprKind::Number(_) | ExprKind::Int(_) => Some((
                TensorExpr::Const(expr.kind.literal().unwrap_or_default()),
                number(),
            )),
            ExprKind::Neg(inner) => {
                let (e, t) = self.read(inner, errors)?;
                self.unary(UnaryFn::Neg, e, t, expr.span, errors)
            }
            ExprKind::Binary(op, a, b) => self.binary(*op, a, b, errors),
            ExprKind::Call(call) => self.call(call, errors),
            _ => {
                errors.push(
                    CheckError::invalid(
                        "this expression is not a tensor".into(),
                        format!("{} here", args::describe(expr)),
                        expr.span,
                    )
                    .with_help("steps compute with names, numbers, calls and `+ - * / **`"),
                );
                None
            }
        }
    }

    #[allow(clippy::unused_self)] // called like its sibling methods
    fn unary(
        &mut self,
        f: UnaryFn,
        e: TensorExpr,
        t: Typed,
        span: Span,
        errors: &mut Vec<CheckError>,
    ) -> Option<(TensorExpr, Typed)> {
        if let TensorExpr::Const(v) = e {
            return Some((TensorExpr::Const(fold_unary(f, v)), t));
        }
        numeric(&t, span, errors)?;
        Some((TensorExpr::Unary(f, Box::new(e)), t))
    }

    fn binary(
        &mut self,
        op: BinOp,
        a: &Expr,
        b: &Expr,
        errors: &mut Vec<CheckError>,
    ) -> Option<(TensorExpr, Typed)> {
        let left = self.read(a, errors);
        let right = self.read(b, errors);
        let ((ea, ta), (eb, tb)) = (left?, right?);
        if op == BinOp::Pow {
            let TensorExpr::Const(exponent) = eb else {
                errors.push(
                    CheckError::invalid(
                        "the exponent of `**` must be a number".into(),
                        format!("this is {}", tb.ty),
                        b.span,
                    )
                    .with_help("write e.g. `t ** 2`; for `e ** t` use `exp(t)`"),
                );
                return None;
            };
            if let TensorExpr::Const(base) = ea {
                return Some((TensorExpr::Const(base.powf(exponent)), ta));
            }
            numeric(&ta, a.span, errors)?;
            return Some((TensorExpr::Pow(Box::new(ea), exponent), ta));
        }
        let op = match op {
            BinOp::Add => TensorOp::Add,
            BinOp::Sub => TensorOp::Sub,
            BinOp::Mul => TensorOp::Mul,
            BinOp::Div => TensorOp::Div,
            BinOp::Pow => unreachable!("handled above"),
        };
        if let (TensorExpr::Const(x), TensorExpr::Const(y)) = (&ea, &eb) {
            return Some((TensorExpr::Const(fold_binary(op, *x, *y)), number()));
        }
        let ok_a = numeric(&ta, a.span, errors);
        let ok_b = numeric(&tb, b.span, errors);
        ok_a?;
        ok_b?;
        let ty = match (&ta.ty, &tb.ty) {
            (TType::Float(x), TType::Float(y)) => {
                if x != y || ta.rows != tb.rows {
                    errors.push(
                        CheckError::shape(
                            format!(
                                "`{}` needs operands of one shape, got {} and {}",
                                symbol(op),
                                describe(&ta),
                                describe(&tb)
                            ),
                            describe(&tb),
                            b.span,
                            "elementwise arithmetic takes tensors of equal shapes, or a tensor and a number or scalar",
                        )
                        .with_related(a.span, describe(&ta)),
                    );
                    return None;
                }
                ta.clone()
            }
            (TType::Float(_), _) => ta.clone(),
            (_, TType::Float(_)) => tb.clone(),
            _ => Typed::scalar(),
        };
        Some((TensorExpr::Binary(op, Box::new(ea), Box::new(eb)), ty))
    }

    fn call(&mut self, call: &Call, errors: &mut Vec<CheckError>) -> Option<(TensorExpr, Typed)> {
        let name = call.name.name.as_str();
        if let Some(model) = self.cx.models.index(name) {
            return self.model_call(model, call, errors);
        }
        if let Some(loss) = self.cx.losses.index(name) {
            return self.loss_call(loss, call, errors);
        }
        if let Some(&(_, f)) = UnaryFn::NAMES.iter().find(|(n, _)| *n == name) {
            let a = Args::read(call, &["x"], errors);
            let (e, t) = self.read(a.required("x", errors)?, errors)?;
            return self.unary(f, e, t, call.span, errors);
        }
        match name {
            "mean" | "sum" => self.reduce(call, errors),
            "detach" | "flatten" | "ones_like" | "zeros_like" => {
                let a = Args::read(call, &["x"], errors);
                let arg = a.required("x", errors)?;
                let (e, t) = self.read(arg, errors)?;
                let TType::Float(shape) = &t.ty else {
                    if name == "detach" && t.ty == TType::Scalar {
                        return Some((TensorExpr::Detach(Box::new(e)), t));
                    }
                    errors.push(CheckError::incompatible(
                        format!("`{name}` takes a tensor, got {}", t.ty),
                        format!("this is {}", t.ty),
                        arg.span,
                        "pass a model's output, the data's `x`, or noise",
                    ));
                    return None;
                };
                let shape = shape.clone();
                let e = Box::new(e);
                Some(match name {
                    "detach" => (TensorExpr::Detach(e), t),
                    "flatten" => (
                        TensorExpr::Flatten(e),
                        Typed {
                            ty: TType::Float(vec![shape.iter().product()]),
                            rows: t.rows,
                        },
                    ),
                    "ones_like" => (TensorExpr::Fill(1.0, e), t),
                    _ => (TensorExpr::Fill(0.0, e), t),
                })
            }
            "normal" | "uniform" => self.noise(call, errors),
            "concat" => {
                let a = Args::read(call, &["a", "b"], errors);
                let (x, y) = (a.required("a", errors), a.required("b", errors));
                let x = self.read(x?, errors);
                let y = self.read(y?, errors);
                let ((ex, tx), (ey, ty)) = (x?, y?);
                match (&tx.ty, &ty.ty) {
                    (TType::Float(p), TType::Float(q)) if p == q => Some((
                        TensorExpr::Concat(Box::new(ex), Box::new(ey)),
                        Typed {
                            ty: tx.ty.clone(),
                            rows: tx.rows + ty.rows,
                        },
                    )),
                    _ => {
                        errors.push(CheckError::shape(
                            format!(
                                "`concat` joins tensors of one element shape, got {} and {}",
                                describe(&tx),
                                describe(&ty)
                            ),
                            "joined here".into(),
                            call.span,
                            "concat stacks rows (the batch axis): the elements must have one shape",
                        ));
                        None
                    }
                }
            }
            _ => {
                let mut known = self.cx.models.names();
                known.extend(self.cx.losses.names());
                known.extend(FUNCTIONS);
                errors.push(CheckError::unknown(
                    "model, loss or function",
                    name,
                    call.name.span,
                    &known,
                ));
                None
            }
        }
    }

    fn model_call(
        &mut self,
        model: usize,
        call: &Call,
        errors: &mut Vec<CheckError>,
    ) -> Option<(TensorExpr, Typed)> {
        if self.place == Place::Metric {
            errors.push(not_in_metric("a model call", call.span));
            return None;
        }
        let a = Args::read(call, &["input", "training"], errors);
        let input = a.required("input", errors)?;
        let training = a.boolean("training", false, errors);
        if training && self.place == Place::Grid {
            errors.push(CheckError::invalid(
                "`grid` runs models in inference mode".into(),
                "training mode here".into(),
                call.span,
            ));
        }
        let (e, t) = self.read(input, errors)?;
        let out = model_output(self.cx, model, &t.ty, input.span, errors)?;
        Some((
            TensorExpr::CallModel {
                model,
                input: Box::new(e),
                training,
            },
            Typed {
                ty: out,
                rows: t.rows,
            },
        ))
    }

    fn loss_call(
        &mut self,
        loss: usize,
        call: &Call,
        errors: &mut Vec<CheckError>,
    ) -> Option<(TensorExpr, Typed)> {
        if self.place == Place::Grid {
            errors.push(CheckError::invalid(
                "`grid` draws tensors, not losses".into(),
                "a loss here".into(),
                call.span,
            ));
            return None;
        }
        let a = Args::read(call, &["target", "prediction"], errors);
        let target = a.required("target", errors);
        let prediction = a.required("prediction", errors);
        let target = self.read(target?, errors);
        let prediction = self.read(prediction?, errors);
        let ((et, tt), (ep, tp)) = (target?, prediction?);
        if tt.rows != tp.rows && tt.rows > 0 && tp.rows > 0 {
            errors.push(CheckError::shape(
                format!(
                    "loss `{}` gets targets for {} of rows and predictions for {}",
                    self.cx.losses.items[loss].0.name,
                    batches(tt.rows),
                    batches(tp.rows)
                ),
                "rows differ".into(),
                call.span,
                "targets and predictions need the same rows: `concat` both, or neither",
            ));
            return None;
        }
        loss_type(self.cx, loss, &tt.ty, &tp.ty, &ep, call.span, errors)?;
        Some((
            TensorExpr::CallLoss {
                loss,
                target: Box::new(et),
                prediction: Box::new(ep),
            },
            Typed::scalar(),
        ))
    }

    fn reduce(&mut self, call: &Call, errors: &mut Vec<CheckError>) -> Option<(TensorExpr, Typed)> {
        let name = call.name.name.as_str();
        let op = if name == "mean" {
            Reduce::Mean
        } else {
            Reduce::Sum
        };
        let a = Args::read(call, &["x", "axis"], errors);
        let arg = a.required("x", errors)?;
        let axis = match a.get("axis") {
            Some(e) => Some((args::number(e, "axis", errors)?, e.span)),
            None => None,
        };
        let (e, t) = self.read(arg, errors)?;
        numeric(&t, arg.span, errors)?;
        let Some((axis, axis_span)) = axis else {
            let reduced = TensorExpr::Reduce {
                op,
                axis: false,
                input: Box::new(e),
            };
            return Some((reduced, Typed::scalar()));
        };
        match &t.ty {
            TType::Float(shape) if shape.len() == 1 && (axis == 1.0 || axis == -1.0) => Some((
                TensorExpr::Reduce {
                    op,
                    axis: true,
                    input: Box::new(e),
                },
                Typed {
                    ty: TType::Float(vec![1]),
                    rows: t.rows,
                },
            )),
            _ => {
                errors.push(
                    CheckError::invalid(
                        format!("`{name}` reduces over axis 1 of a flat tensor, or over everything"),
                        format!("axis {} of {}", super::error::fmt_number(axis), describe(&t)),
                        axis_span,
                    )
                    .with_help(
                        "drop `axis` for a scalar, or `flatten` first and use `axis = 1` for one value per row",
                    ),
                );
                None
            }
        }
    }

    fn noise(&mut self, call: &Call, errors: &mut Vec<CheckError>) -> Option<(TensorExpr, Typed)> {
        let name = call.name.name.as_str();
        if self.place == Place::Metric {
            errors.push(not_in_metric("noise", call.span));
            return None;
        }
        let params: &[&str] = if name == "normal" {
            &["shape", "mean", "std"]
        } else {
            &["shape", "low", "high"]
        };
        let a = Args::read(call, params, errors);
        let shape_expr = a.required("shape", errors)?;
        let dims: Vec<&Expr> = match &shape_expr.kind {
            ExprKind::Tuple(items) => items.iter().collect(),
            _ => vec![shape_expr],
        };
        let mut shape = Vec::new();
        for d in &dims {
            shape.push(args::count(d, "shape", 1, errors)?);
        }
        let size = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if shape.len() > 3 || size.is_none_or(|n| n > 1 << 24) {
            errors.push(
                CheckError::invalid(
                    format!("`{name}` draws elements of rank 1 to 3 and at most 2^24 values"),
                    "this shape".into(),
                    shape_expr.span,
                )
                .with_help(
                    "the batch axis is implied: give one element's shape, e.g. `normal(100)`",
                ),
            );
            return None;
        }
        let kind = if name == "normal" {
            let std = a.positive("std", 1.0, false, errors);
            Noise::Normal {
                mean: a.number("mean", 0.0, errors) as f32,
                std: std as f32,
            }
        } else {
            let (low, high) = (a.number("low", 0.0, errors), a.number("high", 1.0, errors));
            if low >= high {
                errors.push(CheckError::invalid(
                    "`uniform` needs `low < high`".into(),
                    format!("low = {low}, high = {high}"),
                    call.span,
                ));
                return None;
            }
            Noise::Uniform {
                low: low as f32,
                high: high as f32,
            }
        };
        let id = *self.noise;
        *self.noise += 1;
        Some((
            TensorExpr::Noise {
                kind,
                shape: shape.clone(),
                id,
            },
            Typed::batch(TType::Float(shape)),
        ))
    }
}

fn number() -> Typed {
    Typed {
        ty: TType::Number,
        rows: 0,
    }
}

fn not_in_metric(what: &str, span: Span) -> CheckError {
    CheckError::invalid(
        format!("a metric cannot draw {what}"),
        "not a value of the step".into(),
        span,
    )
    .with_help("compute it in the step, bind it to a name, and read the name in the metric")
}

/// Arithmetic works on values; class labels are indices, not values.
fn numeric(t: &Typed, span: Span, errors: &mut Vec<CheckError>) -> Option<()> {
    if let TType::Labels { .. } = t.ty {
        errors.push(CheckError::incompatible(
            "class labels are not values to compute with".into(),
            format!("this is {}", t.ty),
            span,
            "pass labels to a loss or an accuracy metric, or add `one_hot()` to the data",
        ));
        return None;
    }
    Some(())
}

fn describe(t: &Typed) -> String {
    match (&t.ty, t.rows) {
        (TType::Float(shape), 1) => format!("shape {shape:?}"),
        (TType::Float(shape), rows) => format!("shape {shape:?} in {rows} batches of rows"),
        (other, _) => other.to_string(),
    }
}

fn batches(rows: usize) -> String {
    match rows {
        1 => "1 batch".into(),
        n => format!("{n} batches"),
    }
}

fn symbol(op: TensorOp) -> &'static str {
    match op {
        TensorOp::Add => "+",
        TensorOp::Sub => "-",
        TensorOp::Mul => "*",
        TensorOp::Div => "/",
    }
}

fn fold_unary(f: UnaryFn, v: f64) -> f64 {
    match f {
        UnaryFn::Neg => -v,
        UnaryFn::Exp => v.exp(),
        UnaryFn::Log => v.ln(),
        UnaryFn::Sqrt => v.sqrt(),
        UnaryFn::Abs => v.abs(),
        UnaryFn::Relu => v.max(0.0),
        UnaryFn::Sigmoid => 1.0 / (1.0 + (-v).exp()),
        UnaryFn::Tanh => v.tanh(),
        UnaryFn::Square => v * v,
        UnaryFn::Elu => elu(v, 1.0),
        UnaryFn::Selu => SELU_SCALE * elu(v, SELU_ALPHA),
        UnaryFn::Swish => v / (1.0 + (-v).exp()),
        UnaryFn::Softplus => v.max(0.0) + (-v.abs()).exp().ln_1p(),
        UnaryFn::HardSigmoid => (v / 6.0 + 0.5).clamp(0.0, 1.0),
    }
}

/// Keras' selu constants (`ops::pointwise` has them in f32).
const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;
const SELU_SCALE: f64 = 1.050_700_987_355_480_5;

fn elu(v: f64, alpha: f64) -> f64 {
    if v > 0.0 {
        v
    } else {
        alpha * v.exp_m1()
    }
}

fn fold_binary(op: TensorOp, a: f64, b: f64) -> f64 {
    match op {
        TensorOp::Add => a + b,
        TensorOp::Sub => a - b,
        TensorOp::Mul => a * b,
        TensorOp::Div => a / b,
    }
}

#[cfg(test)]
mod fold_tests {
    use super::{fold_unary, UnaryFn};

    // Reference numbers as the script prints them.
    #[allow(clippy::unreadable_literal)]
    #[test]
    fn folded_activations_match_pytorch() {
        // bench/reference/activations.py: PyTorch's float64 values at -1.5, 0.5 and 30.
        #[rustfmt::skip]
        let cases = [
            (UnaryFn::Elu, [-7.768698399e-01, 5.0e-01, 30.0]),
            (UnaryFn::Selu, [-1.365814353e+00, 5.253504937e-01, 3.152102962e+01]),
            (UnaryFn::Swish, [-2.736382857e-01, 3.112296656e-01, 30.0]),
            (UnaryFn::Softplus, [2.014132780e-01, 9.740769842e-01, 30.0]),
            (UnaryFn::HardSigmoid, [2.5e-01, 5.833333333e-01, 1.0]),
        ];
        for (f, want) in cases {
            for (x, w) in [-1.5, 0.5, 30.0].into_iter().zip(want) {
                let got = fold_unary(f, x);
                assert!(
                    (got - w).abs() < 1e-8 * (1.0 + w.abs()),
                    "{f:?}({x}): {got} against {w}"
                );
            }
        }
    }
}
