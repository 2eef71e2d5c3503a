//! The data layer: IDX and NumPy (`.npy`, `.npz`) readers, the built-in `mnist` data set (found on disk or downloaded and
//! verified), and the input pipeline (shuffle buffer, batches).
//!
//! Examples stay in memory as `u8` and become `f32` only when a batch is filled.

pub mod augment;
mod download;
mod error;
mod examples;
mod idx;
mod mnist;
mod numpy;
mod pipeline;
pub mod preflight;

pub use download::{download_verified, DownloadLimits};
pub use error::{DataError, DataResult, DownloadError};
pub use examples::{load_idx_pair, Examples};
pub use idx::{
    read_idx_dims, read_idx_images, read_idx_labels, IdxKind, IMAGES_MAGIC, LABELS_MAGIC,
};
pub use mnist::{
    data_dir_from_env, default_cache_dir, load_mnist, locate_mnist, locate_mnist_in, Mirror,
    MnistFile, Split, DATA_ENV, DEFAULT_MIRRORS, MIRROR_ENV, MNIST_CHECKSUMS,
};
pub use numpy::{
    npz_keys, read_npy, read_npy_header, read_npz, read_npz_header, NpyHeader, NumArray, Values,
};
pub use pipeline::{batches, one_hot, shuffle_order, Batch};
