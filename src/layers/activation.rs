//! `relu()`, `sigmoid()`, `tanh()`, `softmax()`, `leaky_relu(alpha)`, `gelu()`: an
//! activation function as a layer of its own (Keras' `Activation`).

use crate::check::plan::Activation;
use crate::lower::act::{Act, AnyTape};

pub struct ActivationOp {
    pub activation: Activation,
}

impl ActivationOp {
    pub fn forward<T: AnyTape>(&self, x: Act<T>) -> Act<T> {
        x.activate(self.activation)
    }
}
