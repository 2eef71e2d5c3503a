//! The catalogue entry behind each kind of the checked plan: what the summary calls a
//! layer, and how many slot buffers an optimizer keeps. Every `match` here is exhaustive,
//! so a new kind does not compile until it is in the catalogue.

use super::plan::{Activation, LayerKind, LossKind, OptimizerKind, ScalarFn};
use crate::catalog::{self, Catalogued, Entry};

impl LayerKind {
    pub fn entry(&self) -> &'static Entry {
        self.catalogued().entry()
    }
}

impl Activation {
    pub fn catalogued(self) -> catalog::Activation {
        match self {
            Activation::Linear => catalog::Activation::Linear,
            Activation::Relu => catalog::Activation::Relu,
            Activation::Sigmoid => catalog::Activation::Sigmoid,
            Activation::Tanh => catalog::Activation::Tanh,
            Activation::Softmax => catalog::Activation::Softmax,
            Activation::LeakyRelu { .. } => catalog::Activation::LeakyRelu,
            Activation::Gelu => catalog::Activation::Gelu,
            Activation::Elu { .. } => catalog::Activation::Elu,
            Activation::Selu => catalog::Activation::Selu,
            Activation::Swish => catalog::Activation::Swish,
            Activation::Softplus => catalog::Activation::Softplus,
            Activation::LogSoftmax => catalog::Activation::LogSoftmax,
            Activation::HardSigmoid => catalog::Activation::HardSigmoid,
        }
    }
}

impl LossKind {
    pub fn catalogued(self) -> catalog::Loss {
        match self {
            LossKind::SparseCategoricalCrossentropy { .. } => {
                catalog::Loss::SparseCategoricalCrossentropy
            }
            LossKind::CategoricalCrossentropy { .. } => catalog::Loss::CategoricalCrossentropy,
            LossKind::BinaryCrossentropy { .. } => catalog::Loss::BinaryCrossentropy,
            LossKind::MeanSquaredError => catalog::Loss::MeanSquaredError,
            LossKind::MeanAbsoluteError => catalog::Loss::MeanAbsoluteError,
            LossKind::Huber { .. } => catalog::Loss::Huber,
            LossKind::Nll => catalog::Loss::Nll,
        }
    }
}

impl OptimizerKind {
    pub fn catalogued(self) -> catalog::Optimizer {
        match self {
            OptimizerKind::Sgd { .. } => catalog::Optimizer::Sgd,
            OptimizerKind::Adam { .. } => catalog::Optimizer::Adam,
            OptimizerKind::AdamW { .. } => catalog::Optimizer::AdamW,
            OptimizerKind::RmsProp { .. } => catalog::Optimizer::RmsProp,
        }
    }

    /// The buffers per parameter that the update keeps from step to step, as many
    /// parameter-sized tensors as a checkpoint needs for them: none for plain SGD, the
    /// velocity with momentum, Adam's two moments, RMSprop's square average and momentum.
    pub fn slots(self) -> usize {
        self.slot_names().len()
    }

    /// Those buffers' names (Keras' variable names), which checkpoints hold them under.
    pub fn slot_names(self) -> &'static [&'static str] {
        match self {
            OptimizerKind::Sgd { momentum: 0.0, .. } => &[],
            OptimizerKind::Sgd { .. } => &["momentum"],
            OptimizerKind::Adam { .. } | OptimizerKind::AdamW { .. } => &["momentum", "velocity"],
            OptimizerKind::RmsProp { .. } => &["velocity", "momentum"],
        }
    }
}

impl ScalarFn {
    pub fn catalogued(self) -> catalog::Function {
        match self {
            ScalarFn::Exp => catalog::Function::Exp,
            ScalarFn::Log => catalog::Function::Log,
            ScalarFn::Sqrt => catalog::Function::Sqrt,
            ScalarFn::Floor => catalog::Function::Floor,
            ScalarFn::Min => catalog::Function::Min,
            ScalarFn::Max => catalog::Function::Max,
            ScalarFn::Cos => catalog::Function::Cos,
            ScalarFn::Exponential => catalog::Function::Exponential,
            ScalarFn::StepDecay => catalog::Function::StepDecay,
            ScalarFn::Cosine => catalog::Function::Cosine,
            ScalarFn::Warmup => catalog::Function::Warmup,
        }
    }
}

#[cfg(test)]
mod tests;
