//! The activations as ONNX nodes, the same functions as `ops::pointwise` and
//! `lower::act::activate` compute (opset 17 has no `Gelu`: it is written with `Erf`).

use super::graph::{float, int, Graph};
use crate::check::plan::Activation;
use crate::ops::{SELU_ALPHA, SELU_SCALE};

/// `a` applied to `x`; softmax and log-softmax over `axis`.
pub fn activation(g: &mut Graph<'_>, x: String, a: Activation, axis: i64) -> String {
    match a {
        Activation::Linear => x,
        Activation::Relu => g.node("Relu", &[&x], vec![]),
        Activation::Sigmoid => g.node("Sigmoid", &[&x], vec![]),
        Activation::Tanh => g.node("Tanh", &[&x], vec![]),
        Activation::Softmax => g.node("Softmax", &[&x], vec![int("axis", axis)]),
        Activation::LogSoftmax => g.node("LogSoftmax", &[&x], vec![int("axis", axis)]),
        Activation::LeakyRelu { alpha } => g.node("LeakyRelu", &[&x], vec![float("alpha", alpha)]),
        Activation::Elu { alpha } => g.node("Elu", &[&x], vec![float("alpha", alpha)]),
        Activation::Selu => g.node(
            "Selu",
            &[&x],
            vec![float("alpha", SELU_ALPHA), float("gamma", SELU_SCALE)],
        ),
        Activation::Softplus => g.node("Softplus", &[&x], vec![]),
        // Keras 3's `relu6(x + 3) / 6`.
        Activation::HardSigmoid => g.node(
            "HardSigmoid",
            &[&x],
            vec![float("alpha", 1.0 / 6.0), float("beta", 0.5)],
        ),
        Activation::Swish => {
            let s = g.node("Sigmoid", &[&x], vec![]);
            g.node("Mul", &[&x, &s], vec![])
        }
        Activation::Gelu => {
            // 0.5 · x · (1 + erf(x / √2))
            let r = g.constant("frac_1_sqrt_2", &[], &[std::f32::consts::FRAC_1_SQRT_2]);
            let half = g.constant("half", &[], &[0.5]);
            let one = g.constant("one", &[], &[1.0]);
            let scaled = g.node("Mul", &[&x, &r], vec![]);
            let erf = g.node("Erf", &[&scaled], vec![]);
            let plus = g.node("Add", &[&erf, &one], vec![]);
            let hx = g.node("Mul", &[&x, &half], vec![]);
            g.node("Mul", &[&hx, &plus], vec![])
        }
    }
}
