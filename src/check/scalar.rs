//! Scalar expressions over the training loop's state, in hooks and log
//! formats: numbers, `epoch`, `epochs`, `step`, `steps_per_epoch`, learning rates,
//! metrics, operators, maths functions and learning-rate schedules.

use super::args;
use super::error::CheckError;
use super::hooks::HookCx;
use super::plan::{ScalarExpr, ScalarFn, ScalarOp};
use crate::catalog::{self, Catalogued};
use crate::syntax::ast::{BinOp, Expr, ExprKind};

impl HookCx<'_, '_> {
    /// A scalar expression over the loop's state: numbers, `epoch`, `step`,
    /// `steps_per_epoch`, `lr`/`OPT.lr`, metrics, maths and schedules.
    pub(super) fn scalar(&self, e: &Expr, errors: &mut Vec<CheckError>) -> Option<ScalarExpr> {
        Some(match &e.kind {
            ExprKind::Number(_) | ExprKind::Int(_) => {
                ScalarExpr::Const(e.kind.literal().unwrap_or_default())
            }
            ExprKind::Neg(inner) => ScalarExpr::Neg(Box::new(self.scalar(inner, errors)?)),
            ExprKind::Binary(op, l, r) => {
                let l = self.scalar(l, errors);
                let r = self.scalar(r, errors);
                ScalarExpr::Binary(scalar_op(*op), Box::new(l?), Box::new(r?))
            }
            ExprKind::Name(id) => match id.name.as_str() {
                "epoch" => ScalarExpr::Epoch,
                "epochs" => ScalarExpr::Epochs,
                "step" => ScalarExpr::GlobalStep,
                "steps_per_epoch" => ScalarExpr::StepsPerEpoch,
                "lr" if self.cx.optimizers.items.len() == 1 => ScalarExpr::Lr(0),
                name => match self.metrics.iter().position(|m| m.name == name) {
                    Some(i) => ScalarExpr::Metric(i),
                    None if self.cx.poisoned.iter().any(|p| p == name) => return None,
                    None if super::classify::not_a_number(self.cx, name, id.span).is_some() => {
                        errors.extend(super::classify::not_a_number(self.cx, name, id.span));
                        return None;
                    }
                    None => {
                        let mut known = vec!["epoch", "epochs", "step", "steps_per_epoch", "lr"];
                        known.extend(self.metrics.iter().map(|m| m.name.as_str()));
                        errors.push(CheckError::unknown("value", name, id.span, &known));
                        return None;
                    }
                },
            },
            ExprKind::Field(base, field) if field.name == "lr" => match &base.kind {
                ExprKind::Name(opt) => {
                    ScalarExpr::Lr(self.cx.optimizers.resolve("optimizer", opt, errors)?)
                }
                _ => {
                    errors.push(CheckError::invalid(
                        "only optimizers have `.lr`".into(),
                        "not an optimizer".into(),
                        base.span,
                    ));
                    return None;
                }
            },
            ExprKind::Call(call) if call.name.name == "reduce_on_plateau" => {
                return self.plateau(call, errors);
            }
            ExprKind::Call(call) => {
                let Some(function) = catalog::Function::named(&call.name.name) else {
                    let mut known = catalog::Function::names();
                    known.push("reduce_on_plateau");
                    errors.push(CheckError::unknown(
                        "function",
                        &call.name.name,
                        call.name.span,
                        &known,
                    ));
                    return None;
                };
                let f = scalar_fn(function);
                let entry = function.entry();
                let arity = entry.required()..=entry.params.len();
                if let Some(named) = call.args.iter().find_map(|a| a.name.as_ref()) {
                    errors.push(
                        CheckError::invalid(
                            "scalar functions take positional arguments".into(),
                            "named argument".into(),
                            named.span,
                        )
                        .with_help(schedule_help(f)),
                    );
                    return None;
                }
                if !arity.contains(&call.args.len()) {
                    errors.push(
                        CheckError::invalid(
                            format!(
                                "`{}` takes {} argument(s), got {}",
                                call.name.name,
                                arity.start(),
                                call.args.len()
                            ),
                            "wrong number of arguments".into(),
                            call.span,
                        )
                        .with_help(schedule_help(f)),
                    );
                    return None;
                }
                let args: Option<Vec<_>> = call
                    .args
                    .iter()
                    .map(|a| self.scalar(&a.value, errors))
                    .collect();
                ScalarExpr::Call(f, args?)
            }
            _ => {
                errors.push(CheckError::wrong_type(
                    "value",
                    "a number",
                    args::describe(e),
                    e.span,
                ));
                return None;
            }
        })
    }
}

/// The plan's operator for the syntax's.
fn scalar_op(op: BinOp) -> ScalarOp {
    match op {
        BinOp::Add => ScalarOp::Add,
        BinOp::Sub => ScalarOp::Sub,
        BinOp::Mul => ScalarOp::Mul,
        BinOp::Div => ScalarOp::Div,
        BinOp::Pow => ScalarOp::Pow,
    }
}

/// The plan's function for the catalogue's.
fn scalar_fn(function: catalog::Function) -> ScalarFn {
    match function {
        catalog::Function::Exp => ScalarFn::Exp,
        catalog::Function::Log => ScalarFn::Log,
        catalog::Function::Sqrt => ScalarFn::Sqrt,
        catalog::Function::Floor => ScalarFn::Floor,
        catalog::Function::Cos => ScalarFn::Cos,
        catalog::Function::Min => ScalarFn::Min,
        catalog::Function::Max => ScalarFn::Max,
        catalog::Function::Exponential => ScalarFn::Exponential,
        catalog::Function::StepDecay => ScalarFn::StepDecay,
        catalog::Function::Cosine => ScalarFn::Cosine,
        catalog::Function::Warmup => ScalarFn::Warmup,
        catalog::Function::PolynomialDecay => ScalarFn::PolynomialDecay,
        catalog::Function::OneCycle => ScalarFn::OneCycle,
    }
}

fn schedule_help(f: ScalarFn) -> &'static str {
    match f {
        ScalarFn::Exponential => "`exponential(initial, rate, steps)` = initial * rate ** (step / steps)",
        ScalarFn::StepDecay => "`step_decay(initial, factor, every)` = initial * factor ** floor(epoch / every)",
        ScalarFn::Cosine => "`cosine(initial, steps, alpha)`: cosine decay from initial to alpha * initial over `steps` steps",
        ScalarFn::Warmup => "`warmup(target, steps)`: rises linearly from 0 to target over `steps` steps",
        ScalarFn::PolynomialDecay => "`polynomial_decay(initial, steps, end = 0.0001, power = 1)`, positional: Keras' PolynomialDecay",
        ScalarFn::OneCycle => "`one_cycle(max_lr, steps, pct_start = 0.3, div_factor = 25, final_div_factor = 1e4)`, positional: PyTorch's OneCycleLR",
        ScalarFn::Exp
        | ScalarFn::Log
        | ScalarFn::Sqrt
        | ScalarFn::Floor
        | ScalarFn::Min
        | ScalarFn::Max
        | ScalarFn::Cos => "e.g. `min(a, b)`, `exp(x)`",
    }
}
