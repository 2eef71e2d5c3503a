//! What can be wrong with the operands of an op. The checker rules these out before lowering,
//! so `conv2d` and `pool2d` treat them as bugs; `try_conv2d` and `try_pool2d` report them.

use miette::Diagnostic;
use thiserror::Error;

#[derive(Debug, Error, Diagnostic, PartialEq, Eq)]
pub enum OpsError {
    #[error("`{op}` got a {what} of shape {got:?} where {expected} was expected")]
    #[diagnostic(
        code(expr::ops::shape_mismatch),
        help("check the layer's input channels and the weight and bias shapes against the previous layer")
    )]
    ShapeMismatch {
        op: &'static str,
        what: &'static str,
        got: Vec<usize>,
        expected: String,
    },

    #[error("`{op}` over an input of {input:?} with window {window:?} and stride {stride:?} has no output")]
    #[diagnostic(
        code(expr::ops::empty_output),
        help("use `same` padding, a smaller window or stride, or a larger input; strides and windows must be at least 1")
    )]
    EmptyOutput {
        op: &'static str,
        input: (usize, usize),
        window: (usize, usize),
        stride: (usize, usize),
    },

    #[error("`{op}` over planes of {input:?} is too large")]
    #[diagnostic(
        code(expr::ops::plane_too_large),
        help("keep height times width of one image below 4294967295")
    )]
    PlaneTooLarge {
        op: &'static str,
        input: (usize, usize),
    },
}
