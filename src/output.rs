//! What a run writes: plots of metric histories, image grids, model files, and the progress bar.
//!
//! Every file goes through [`write_atomic`], so a crash or an error never leaves a half-written
//! plot or model where a complete one is expected, and replaces only regular files; an
//! experiment's outputs go through [`confine`], which keeps them inside the run directory.

pub mod atomic;
pub mod confine;
pub mod confusion;
pub mod encode;
pub mod error;
pub mod grid;
pub mod model_file;
pub mod plot;
pub mod progress;
pub mod space;
pub mod tensorboard;

pub use atomic::write_atomic;
pub use error::{OutputError, OutputResult};
pub use grid::image_grid;
pub use model_file::{load_tensors, save_tensors, NamedTensor};
pub use plot::{plot_series, Series};
pub use progress::Progress;
