//! The layers a model can list, one file each: how the layer is lowered onto the engine and
//! what its forward pass computes, written with the engine's building blocks
//! (`lower::act`) and our ops, never with dfdx directly.

pub mod activation;
pub mod conv2d;
pub mod dense;
pub mod dropout;
pub mod flatten;
pub mod pool2d;
