//! Tensor expressions in steps, metrics and `grid`: the AST read into a
//! `TensorExpr`, with its type and its batch rows inferred at every node, so
//! that a mismatch is reported where it is written.

use std::collections::HashMap;

use super::args::{self, Args};
use super::error::CheckError;
use super::plan::{Noise, Regularizer, TensorExpr, TensorOp, UnaryFn};
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
    "max",
    "min",
    "softmax",
    "log_softmax",
    "clip_by_value",
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
    "l1",
    "l2",
    "reshape",
    "transpose",
    "matmul",
    "argmax",
    "equal",
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
            ExprKind::Index(target, items) => self.index(target, items, expr.span, errors),
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
            (TType::Float(x), TType::Float(y)) if x != y && ta.rows == tb.rows => {
                let Some(out) = broadcast(x, y) else {
                    errors.push(
                        CheckError::shape(
                            format!(
                                "`{}` cannot broadcast {} against {}",
                                symbol(op),
                                describe_full(&ta),
                                describe_full(&tb)
                            ),
                            describe_full(&tb),
                            b.span,
                            "NumPy's rules on the whole shapes, batch axis first: equal ranks, each axis equal or 1; `keepdims = true` keeps a reduced axis",
                        )
                        .with_related(a.span, describe_full(&ta)),
                    );
                    return None;
                };
                let shapes = [x.clone(), y.clone()];
                let expr = TensorExpr::Broadcast {
                    op,
                    a: Box::new(ea),
                    b: Box::new(eb),
                    shapes,
                };
                let ty = Typed {
                    ty: TType::Float(out),
                    rows: ta.rows,
                };
                return Some((expr, ty));
            }
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
            "mean" | "sum" | "max" | "min" => self.reduce(call, errors),
            "softmax" | "log_softmax" => self.softmax(call, errors),
            "clip_by_value" => self.clip(call, errors),
            "reshape" => self.reshape(call, errors),
            "transpose" => self.transpose(call, errors),
            "matmul" => self.matmul(call, errors),
            "argmax" => self.argmax(call, errors),
            "equal" => self.equal(call, errors),
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
            "l1" | "l2" => self.penalty(call, errors),
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

    /// `l1(model)`, `l2(model)`: a scalar over the named model's weights.
    fn penalty(
        &mut self,
        call: &Call,
        errors: &mut Vec<CheckError>,
    ) -> Option<(TensorExpr, Typed)> {
        let name = call.name.name.as_str();
        if self.place != Place::Step {
            errors.push(CheckError::invalid(
                format!("`{name}` reads a model's weights, which only a step can"),
                "a model's weights here".into(),
                call.span,
            ));
            return None;
        }
        let a = Args::read(call, &["model"], errors);
        let arg = a.required("model", errors)?;
        let model = match &arg.kind {
            ExprKind::Name(id) => match self.cx.models.index(&id.name) {
                Some(m) => m,
                None => {
                    let known = self.cx.models.names();
                    errors.push(CheckError::unknown("model", &id.name, id.span, &known));
                    return None;
                }
            },
            _ => {
                errors.push(
                    CheckError::wrong_type(
                        "model",
                        "a model's name",
                        args::describe(arg),
                        arg.span,
                    )
                    .with_help(format!("name a model: `{name}(net)`")),
                );
                return None;
            }
        };
        let reg = if name == "l1" {
            Regularizer { l1: 1.0, l2: 0.0 }
        } else {
            Regularizer { l1: 0.0, l2: 1.0 }
        };
        Some((TensorExpr::Penalty { model, reg }, Typed::scalar()))
    }

    fn model_call(
        &mut self,
        model: usize,
        call: &Call,
        errors: &mut Vec<CheckError>,
    ) -> Option<(TensorExpr, Typed)> {
        let (expr, ty) = self.model_call_outputs(model, call, errors)?;
        if ty.len() != 1 {
            errors.push(CheckError::incompatible(
                format!(
                    "model `{}` returns {} values",
                    self.cx.models.items[model].0.name,
                    ty.len()
                ),
                "several values".into(),
                call.span,
                "unpack them, one name each: `a, b = model(x)`",
            ));
            return None;
        }
        Some((expr, ty.into_iter().next()?))
    }

    /// A call to a model: the `CallModel` and the type of each of its outputs.
    pub fn model_call_outputs(
        &mut self,
        model: usize,
        call: &Call,
        errors: &mut Vec<CheckError>,
    ) -> Option<(TensorExpr, Vec<Typed>)> {
        if self.place == Place::Metric {
            errors.push(not_in_metric("a model call", call.span));
            return None;
        }
        let mut training = false;
        let mut inputs = Vec::new();
        for arg in &call.args {
            match &arg.name {
                Some(n) if n.name == "training" => {
                    let one = Call {
                        name: call.name.clone(),
                        args: vec![arg.clone()],
                        span: call.span,
                    };
                    let a = Args::read(&one, &["training"], errors);
                    training = a.boolean("training", false, errors);
                }
                Some(n) if n.name == "input" => inputs.push(&arg.value),
                Some(n) => {
                    errors.push(CheckError::unknown_parameter(
                        &call.name.name,
                        &n.name,
                        n.span,
                        &["input", "training"],
                    ));
                    return None;
                }
                None => inputs.push(&arg.value),
            }
        }
        if inputs.is_empty() {
            errors.push(CheckError::missing_argument(
                &call.name.name,
                "input",
                call.span,
            ));
            return None;
        }
        if training && self.place == Place::Grid {
            errors.push(CheckError::invalid(
                "`grid` runs models in inference mode".into(),
                "training mode here".into(),
                call.span,
            ));
        }
        let mut exprs = Vec::new();
        let mut types = Vec::new();
        let mut rows = None;
        for input in &inputs {
            let read = self.read(input, errors);
            if let Some((e, t)) = read {
                if *rows.get_or_insert(t.rows) != t.rows {
                    errors.push(CheckError::shape(
                        "a model's inputs must have one batch size".into(),
                        "a different batch size".into(),
                        input.span,
                        "`concat` stacks batches: pass inputs with as many rows each",
                    ));
                    return None;
                }
                exprs.push(e);
                types.push(t.ty);
            }
        }
        if exprs.len() != inputs.len() {
            return None;
        }
        let span = inputs[0].span.to(inputs[inputs.len() - 1].span);
        let outs = model_output(self.cx, model, &types, span, errors)?;
        let rows = rows.unwrap_or_default();
        Some((
            TensorExpr::CallModel {
                model,
                inputs: exprs,
                training,
            },
            outs.into_iter().map(|ty| Typed { ty, rows }).collect(),
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

/// A batched shape as NumPy would see it, the batch axis first: `[batch, 10]`.
fn describe_full(t: &Typed) -> String {
    match &t.ty {
        TType::Float(shape) => {
            let dims: Vec<String> = std::iter::once("batch".to_string())
                .chain(shape.iter().map(ToString::to_string))
                .collect();
            format!("shape [{}]", dims.join(", "))
        }
        other => other.to_string(),
    }
}

/// NumPy's broadcast of two element shapes of batched tensors: as the batch axis
/// leads both, and its size is not known, the ranks must be equal, and each axis
/// equal or 1 on one side.
fn broadcast(x: &[usize], y: &[usize]) -> Option<Vec<usize>> {
    if x.len() != y.len() {
        return None;
    }
    x.iter()
        .zip(y)
        .map(|(&p, &q)| (p == q || p == 1 || q == 1).then_some(p.max(q)))
        .collect()
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

mod axes;
mod shape_ops;

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
