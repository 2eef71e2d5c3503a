//! The catalogue entry behind each kind of the checked plan: what the summary calls a
//! layer, and how many slot buffers an optimizer keeps. Every `match` here is exhaustive,
//! so a new kind does not compile until it is in the catalogue.

use super::plan::{Activation, Init, LayerKind, LossKind, OptimizerKind, ScalarFn};
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

impl Init {
    pub fn catalogued(self) -> catalog::Initializer {
        match self {
            Init::GlorotUniform => catalog::Initializer::GlorotUniform,
            Init::GlorotNormal => catalog::Initializer::GlorotNormal,
            Init::HeUniform => catalog::Initializer::HeUniform,
            Init::HeNormal => catalog::Initializer::HeNormal,
            Init::LecunUniform => catalog::Initializer::LecunUniform,
            Init::LecunNormal => catalog::Initializer::LecunNormal,
            Init::Zeros => catalog::Initializer::Zeros,
            Init::Ones => catalog::Initializer::Ones,
            Init::Normal { .. } => catalog::Initializer::Normal,
            Init::Uniform { .. } => catalog::Initializer::Uniform,
            Init::Torch => catalog::Initializer::Torch,
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
            LossKind::KlDivergence => catalog::Loss::KlDivergence,
            LossKind::CosineSimilarity => catalog::Loss::CosineSimilarity,
            LossKind::Hinge => catalog::Loss::Hinge,
            LossKind::SquaredHinge => catalog::Loss::SquaredHinge,
            LossKind::LogCosh => catalog::Loss::LogCosh,
            LossKind::Poisson => catalog::Loss::Poisson,
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
            OptimizerKind::Adadelta { .. } => catalog::Optimizer::Adadelta,
            OptimizerKind::Adagrad { .. } => catalog::Optimizer::Adagrad,
            OptimizerKind::Nadam { .. } => catalog::Optimizer::Nadam,
            OptimizerKind::Adamax { .. } => catalog::Optimizer::Adamax,
            OptimizerKind::Lion { .. } => catalog::Optimizer::Lion,
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
            OptimizerKind::Sgd { .. } | OptimizerKind::Lion { .. } => &["momentum"],
            OptimizerKind::Adam { .. }
            | OptimizerKind::AdamW { .. }
            | OptimizerKind::Nadam { .. } => &["momentum", "velocity"],
            OptimizerKind::RmsProp { .. } => &["velocity", "momentum"],
            OptimizerKind::Adadelta { .. } => &["accumulated_grad", "accumulated_delta_var"],
            OptimizerKind::Adagrad { .. } => &["accumulator"],
            OptimizerKind::Adamax { .. } => &["momentum", "norm"],
        }
    }

    /// The value every slot starts at: Adagrad's accumulator starts at
    /// `initial_accumulator_value`, everything else at 0.
    pub fn slot_start(self) -> f64 {
        match self {
            OptimizerKind::Adagrad {
                initial_accumulator_value,
                ..
            } => initial_accumulator_value,
            _ => 0.0,
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
            ScalarFn::PolynomialDecay => catalog::Function::PolynomialDecay,
            ScalarFn::OneCycle => catalog::Function::OneCycle,
        }
    }
}

#[cfg(test)]
mod tests;
