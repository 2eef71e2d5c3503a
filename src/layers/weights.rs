//! What every layer with a weight takes besides its own parameters: how its weight and
//! bias start (`kernel_init`, `bias_init`) and the penalty on its weight
//! (`kernel_regularizer`). A layer lists `KERNEL_INIT`, `BIAS_INIT` and
//! `KERNEL_REGULARIZER` (`catalog::layers`) among its entry's parameters, reads them with
//! [`Weights::read`], and hands them to `Lowering::weight_and_bias`, which makes the
//! parameters.

use crate::check::call::CallArgs;
use crate::check::error::CheckError;
use crate::check::plan::{Init, Regularizer};

/// A layer's settings for its weight and bias.
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    pub kernel_init: Init,
    pub bias_init: Init,
    pub kernel_regularizer: Option<Regularizer>,
}

impl Weights {
    pub fn read(args: &CallArgs<'_>, errors: &mut Vec<CheckError>) -> Self {
        Weights {
            kernel_init: args.initializer("kernel_init", errors),
            bias_init: args.initializer("bias_init", errors),
            kernel_regularizer: args.regularizer("kernel_regularizer", errors),
        }
    }
}

impl Default for Weights {
    /// Keras' defaults: a Glorot-uniform weight, a zero bias.
    fn default() -> Self {
        Weights {
            kernel_init: Init::GlorotUniform,
            bias_init: Init::Zeros,
            kernel_regularizer: None,
        }
    }
}
