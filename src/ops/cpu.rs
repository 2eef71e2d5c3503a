//! The CPU runtime under the ops: what the kernels share, apart from dfdx's tape.
//!
//! - [`simd`]: run-time choice of AVX-512, AVX2 or portable kernels, and denormal flushing;
//! - [`affinity`]: cutting work into pieces that always run on the same threads;
//! - [`scratch`]: per-thread scratch buffers;
//! - [`awake`]: keeping rayon's workers polling through a pass over the data;
//! - [`finite`]: the check that a gradient holds no NaN or infinity;
//! - [`pool`]: sizing rayon's global pool, with every worker flushing denormals;
//! - [`math`]: `exp`, sigmoid and `tanh` that vectorise, the same bits on every CPU;
//! - `transpose`: a 16 x 16 block transposed in AVX-512 registers;
//! - [`zeroed`]: output buffers zeroed by all the cores.
//!
//! Nothing here knows dfdx: a backend swap keeps these as they are.

pub mod affinity;
pub mod awake;
pub mod finite;
pub(crate) mod math;
pub mod pool;
pub mod scratch;
pub(crate) mod simd;
#[cfg(target_arch = "x86_64")]
pub(crate) mod transpose;
pub mod zeroed;
