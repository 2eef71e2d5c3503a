//! The data layer: IDX, NumPy (`.npy`, `.npz`) and CSV readers, image folders, the built-in
//! `mnist` and `cifar10` data sets (found on disk or downloaded and verified), and the input
//! pipeline (shuffle buffer, batches).
//!
//! Examples stay in memory as `u8` and become `f32` only when a batch is filled.

pub mod augment;
pub mod cifar10;
mod download;
mod error;
mod examples;
mod idx;
mod images;
mod mnist;
mod numpy;
mod pipeline;
mod places;
pub mod preflight;
pub mod sources;
pub mod synthetic;
pub mod table;
pub mod text;
pub mod text_classes;

pub use cifar10::{load_cifar10, read_cifar10_batches, Cifar10Mirror};
pub use download::{download, download_verified, DownloadLimits, Hashed, Remote};
pub use error::{DataError, DataResult, DownloadError};
pub use examples::{load_idx_pair, ColumnStats, Encoding, Examples, Inputs, Targets};
pub use idx::{
    read_idx_dims, read_idx_images, read_idx_labels, IdxKind, IMAGES_MAGIC, LABELS_MAGIC,
};
pub use images::{
    memory_budget, read_image_folder, scan_image_folder, stream_image_folder, Color, FolderScan,
    ImageFiles, ImageFolder, OnError, Stream, StreamedFolder, IMAGE_EXTENSIONS, MAX_DECODED_BYTES,
    MAX_IMAGE_FILE_BYTES, MAX_IMAGE_SIDE, MEMORY_ENV,
};
pub use mnist::{
    default_cache_dir, load_mnist, locate_mnist, locate_mnist_in, Mirror, MnistFile, Split,
    DEFAULT_MIRRORS, MIRROR_ENV, MNIST_CHECKSUMS,
};
pub use places::{data_dir_from_env, DATA_ENV};

pub use numpy::{
    map_npy, map_npz, npz_keys, read_npy, read_npy_header, read_npz, read_npz_header, MappedRows,
    NpyHeader, NumArray, Values,
};
pub use pipeline::{batches, one_hot, shuffle_order, Batch, Gather};
