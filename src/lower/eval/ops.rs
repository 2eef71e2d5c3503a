//! The tensor operations of step expressions, on dfdx's ops (which carry their
//! own backward passes): elementwise functions, arithmetic with broadcasting of
//! numbers and scalars, powers and reductions.

use dfdx::prelude::*;

use super::Value;
use crate::check::plan::{Reduce, TensorOp, UnaryFn};
use crate::lower::act::{Act, Flat, Image};
use crate::lower::step::StepTape;
use crate::ops::{pointwise, Pointwise};

pub fn map<T: StepTape>(
    v: Value<T>,
    flat: impl FnOnce(Flat<T>) -> Flat<T>,
    image: impl FnOnce(Image<T>) -> Image<T>,
) -> Value<T> {
    match v {
        Value::Act(Act::Flat(t)) => Value::Act(Act::Flat(flat(t))),
        Value::Act(Act::Image(t)) => Value::Act(Act::Image(image(t))),
        // Scalars go through as a 1 x 1 batch, so that one generic function serves all.
        Value::Scalar(s) => {
            let t = flat(s.broadcast_like::<(usize, usize), Axes2<0, 1>>(&(1, 1)));
            Value::Scalar(t.sum::<(), Axes2<0, 1>>())
        }
        Value::Const(_) => unreachable!("check folds constants"),
    }
}

pub fn unary<S: Shape, T: StepTape>(
    f: UnaryFn,
    t: Tensor<S, f32, Cpu, T>,
) -> Tensor<S, f32, Cpu, T> {
    match f {
        UnaryFn::Neg => t.negate(),
        UnaryFn::Exp => t.exp(),
        UnaryFn::Log => t.ln(),
        UnaryFn::Sqrt => t.sqrt(),
        UnaryFn::Abs => t.abs(),
        UnaryFn::Relu => pointwise(t, Pointwise::Relu),
        UnaryFn::Sigmoid => pointwise(t, Pointwise::Sigmoid),
        UnaryFn::Tanh => pointwise(t, Pointwise::Tanh),
        UnaryFn::Square => t.square(),
        UnaryFn::Elu => pointwise(t, Pointwise::Elu { alpha: 1.0 }),
        UnaryFn::Selu => pointwise(t, Pointwise::Selu),
        UnaryFn::Swish => pointwise(t, Pointwise::Swish),
        UnaryFn::Softplus => pointwise(t, Pointwise::Softplus),
        UnaryFn::HardSigmoid => pointwise(t, Pointwise::HardSigmoid),
    }
}

/// Integer exponents use `powi`, which is defined for negative bases.
pub fn pow<S: Shape, T: StepTape>(t: Tensor<S, f32, Cpu, T>, p: f64) -> Tensor<S, f32, Cpu, T> {
    if p.fract() == 0.0 && p.abs() < 1e6 {
        t.powi(p as i32)
    } else {
        t.powf(p)
    }
}

fn tensors<S: Shape, T: StepTape>(
    op: TensorOp,
    a: Tensor<S, f32, Cpu, T>,
    b: Tensor<S, f32, Cpu, T>,
) -> Tensor<S, f32, Cpu, T> {
    match op {
        TensorOp::Add => a + b,
        TensorOp::Sub => a - b,
        TensorOp::Mul => a * b,
        TensorOp::Div => a / b,
    }
}

/// `t op c` with the constant on either side.
fn with_const<S: Shape, T: StepTape>(
    op: TensorOp,
    t: Tensor<S, f32, Cpu, T>,
    c: f32,
    const_left: bool,
) -> Tensor<S, f32, Cpu, T> {
    match (op, const_left) {
        (TensorOp::Add, _) => t + c,
        (TensorOp::Mul, _) => t * c,
        (TensorOp::Sub, false) => t - c,
        (TensorOp::Sub, true) => t.negate() + c,
        (TensorOp::Div, false) => t / c,
        (TensorOp::Div, true) => t.recip() * c,
    }
}

pub fn binary<T: StepTape>(op: TensorOp, a: Value<T>, b: Value<T>) -> Value<T> {
    use Value::{Act as A, Const as C, Scalar as Sc};
    match (a, b) {
        (A(Act::Flat(x)), A(Act::Flat(y))) => A(Act::Flat(tensors(op, x, y))),
        (A(Act::Image(x)), A(Act::Image(y))) => A(Act::Image(tensors(op, x, y))),
        (Sc(x), Sc(y)) => Sc(tensors(op, x, y)),
        (A(Act::Flat(x)), C(c)) => A(Act::Flat(with_const(op, x, c, false))),
        (C(c), A(Act::Flat(x))) => A(Act::Flat(with_const(op, x, c, true))),
        (A(Act::Image(x)), C(c)) => A(Act::Image(with_const(op, x, c, false))),
        (C(c), A(Act::Image(x))) => A(Act::Image(with_const(op, x, c, true))),
        (Sc(x), C(c)) => Sc(with_const(op, x, c, false)),
        (C(c), Sc(x)) => Sc(with_const(op, x, c, true)),
        // A scalar meeting a tensor is broadcast to its shape.
        (A(Act::Flat(x)), Sc(s)) => {
            let s = s.broadcast_like::<(usize, usize), Axes2<0, 1>>(x.shape());
            A(Act::Flat(tensors(op, x, s)))
        }
        (Sc(s), A(Act::Flat(x))) => {
            let s = s.broadcast_like::<(usize, usize), Axes2<0, 1>>(x.shape());
            A(Act::Flat(tensors(op, s, x)))
        }
        (A(Act::Image(x)), Sc(s)) => {
            let s = s.broadcast_like::<(usize, usize, usize, usize), Axes4<0, 1, 2, 3>>(x.shape());
            A(Act::Image(tensors(op, x, s)))
        }
        (Sc(s), A(Act::Image(x))) => {
            let s = s.broadcast_like::<(usize, usize, usize, usize), Axes4<0, 1, 2, 3>>(x.shape());
            A(Act::Image(tensors(op, s, x)))
        }
        _ => unreachable!("check guarantees operands of one shape"),
    }
}

const MAX_MIN: &str = "check routes `max` and `min` to `ReduceAxes`";

pub fn reduce<T: StepTape>(op: Reduce, axis: bool, v: Value<T>) -> Value<T> {
    match (v, axis) {
        (Value::Act(Act::Flat(t)), true) => {
            let (b, _) = *t.shape();
            let r = match op {
                Reduce::Mean => t.mean::<(usize,), Axis<1>>(),
                Reduce::Sum => t.sum::<(usize,), Axis<1>>(),
                Reduce::Max | Reduce::Min => unreachable!("{MAX_MIN}"),
            };
            Value::Act(Act::Flat(r.reshape_like(&(b, 1))))
        }
        (Value::Act(Act::Flat(t)), false) => Value::Scalar(match op {
            Reduce::Mean => t.mean::<(), Axes2<0, 1>>(),
            Reduce::Sum => t.sum::<(), Axes2<0, 1>>(),
            Reduce::Max | Reduce::Min => unreachable!("{MAX_MIN}"),
        }),
        (Value::Act(Act::Image(t)), false) => Value::Scalar(match op {
            Reduce::Mean => t.mean::<(), Axes4<0, 1, 2, 3>>(),
            Reduce::Sum => t.sum::<(), Axes4<0, 1, 2, 3>>(),
            Reduce::Max | Reduce::Min => unreachable!("{MAX_MIN}"),
        }),
        (Value::Scalar(s), _) => Value::Scalar(s),
        _ => unreachable!("check limits axis reductions to flat tensors"),
    }
}
