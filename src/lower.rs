//! Lower: the checked experiment onto dfdx, behind the engine's API. Only this stage and
//! `ops` know dfdx; `run` drives the engine with host data ([`Engine`]):
//!
//! - [`Engine::new`] lowers an experiment: parameters, layer state, optimizers;
//! - [`Engine::run_step`] runs a step on a batch, calling the loop's [`UpdateHooks`] between
//!   each update's backward pass and the optimizer;
//! - [`Engine::evaluate`] and [`Engine::infer`] compute without training (grids, scoring);
//! - [`Engine::snapshot`] / [`Engine::restore`] and [`Engine::model_tensors`] /
//!   [`Engine::load_model`] move state in and out in the canonical layout (PyTorch's).
//!
//! Inside, `model` lowers each model's layers (each layer's own file under `src/layers/`
//! says how) and runs them, `fuse` changes how layers work together for speed, `act` holds
//! the tensor building blocks the layers compute with, `eval` interprets step expressions on
//! the tape, `step` runs updates, `optimizer` holds Keras' update formulas, `params` the
//! parameters and their stored layouts.

mod accumulate;
pub mod act;
mod average;
mod engine;
mod eval;
mod fuse;
pub mod init;
pub mod loss;
pub mod model;
pub mod optimizer;
pub mod params;
pub mod penalty;
mod step;

pub use engine::{streams, Engine, EngineState, TensorMismatch};
pub use eval::Host;
pub use step::{StepOutcome, UpdateHooks};

/// Sizes the thread pool the engine computes on (see [`crate::ops::cpu::pool::start`]).
pub use crate::ops::cpu::pool::start as start_threads;

/// Runs a pass over the data with the pool's workers kept awake between its steps (see
/// [`crate::ops::cpu::awake`]).
pub use crate::ops::cpu::awake::with_workers_awake;

/// Sets the calling thread's floating point to flush denormals, as the pool's workers do:
/// for a thread of the run's own that computes numbers (the data's prefetch workers).
pub(crate) use crate::ops::cpu::simd::flush_denormals;
