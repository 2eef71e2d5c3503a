//! An image folder too large to hold decoded: only the file list stays in memory, and each
//! batch decodes its own files (`Examples::fill_batch`, on the loop's prefetch workers,
//! `run/prefetch.rs`).
//!
//! A file decodes to the same bytes whenever and wherever it is decoded (`decode_into` is a
//! function of the file alone), so a streamed folder gives the batches a cached one gives,
//! bit for bit. Whether to stream is [`Stream`]'s choice: `auto` streams when the decoded
//! images would take more than [`memory_budget`].

use std::path::PathBuf;
use std::sync::Arc;

use ndarray::Array2;
use rayon::prelude::*;

use super::{decode, Color, FolderScan, OnError};
use crate::data::error::{DataError, DataResult};

/// `images(..., stream = ...)`: whether a folder is decoded into memory once or read from
/// disk batch by batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Stream {
    /// Streams when the decoded images would exceed [`memory_budget`].
    #[default]
    Auto,
    Always,
    Never,
}

/// The environment variable that sets the decoded size above which `stream = auto`
/// streams: bytes, or with a `K`, `M` or `G` suffix (powers of 1024).
pub const MEMORY_ENV: &str = "EXPR_DATA_MEMORY";

/// The most decoded bytes a folder is cached in memory with under `stream = auto`:
/// `$EXPR_DATA_MEMORY`, else a quarter of this machine's memory (the rest is for the
/// model, its activations and the other data sets), else 4 GiB where the machine does not
/// say.
pub fn memory_budget() -> u128 {
    if let Some(bytes) = std::env::var(MEMORY_ENV).ok().and_then(|v| parse_bytes(&v)) {
        return bytes;
    }
    crate::check::resources::machine_memory().map_or(4 << 30, |m| m / 4)
}

/// `123`, `64K`, `512M`, `2G` (powers of 1024) as bytes; `None` for anything else.
fn parse_bytes(text: &str) -> Option<u128> {
    let text = text.trim();
    let (digits, shift) = match text.char_indices().last()? {
        (at, 'k' | 'K') => (&text[..at], 10),
        (at, 'm' | 'M') => (&text[..at], 20),
        (at, 'g' | 'G') => (&text[..at], 30),
        _ => (text, 0),
    };
    digits.trim().parse::<u128>().ok()?.checked_mul(1 << shift)
}

impl Stream {
    /// Whether `count` images of `each` decoded bytes are streamed.
    pub fn streams(self, count: usize, each: usize) -> bool {
        match self {
            Stream::Always => true,
            Stream::Never => false,
            Stream::Auto => (count as u128) * (each as u128) > memory_budget(),
        }
    }
}

/// The files of a streamed folder and how each is decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageFiles {
    /// One file per example, in the examples' order.
    pub paths: Arc<[PathBuf]>,
    /// (height, width) every image is resized to.
    pub size: (usize, usize),
    pub color: Color,
}

impl ImageFiles {
    /// Bytes per decoded image.
    pub fn features(&self) -> usize {
        self.color.channels() * self.size.0 * self.size.1
    }

    pub fn len(&self) -> usize {
        self.paths.len()
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// The files at `indices`, in that order.
    #[must_use]
    pub fn select(&self, indices: &[usize]) -> ImageFiles {
        ImageFiles {
            paths: indices.iter().map(|&i| self.paths[i].clone()).collect(),
            ..self.clone()
        }
    }

    /// Decodes example `i` into `out` (`features()` bytes); an unreadable file is the
    /// error a cached read gives.
    pub fn decode(&self, i: usize, out: &mut [u8]) -> DataResult<()> {
        let path = &self.paths[i];
        decode::decode_into(path, out, self.size, self.color).map_err(|reason| {
            DataError::BadImage {
                path: path.clone(),
                reason,
            }
        })
    }

    /// Every image decoded, in parallel: what `concat` and `standardize` need, which read
    /// all examples at once. The first unreadable file in the examples' order is the error.
    pub fn decode_all(&self) -> DataResult<Array2<u8>> {
        let each = self.features();
        let mut images = vec![0u8; each * self.len()];
        let outcomes: Vec<DataResult<()>> = images
            .par_chunks_mut(each)
            .enumerate()
            .map(|(i, out)| self.decode(i, out))
            .collect();
        outcomes.into_iter().collect::<DataResult<()>>()?;
        Array2::from_shape_vec((self.len(), each), images)
            .map_err(|_| unreachable!("one row per file"))
    }
}

/// A streamed folder as [`stream_image_folder`] lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamedFolder {
    pub files: ImageFiles,
    /// Each file's class index.
    pub labels: Vec<u32>,
    /// The files left out (with [`OnError::Skip`]) and why, in the scan's order.
    pub skipped: Vec<(PathBuf, String)>,
}

/// The files of `scan` as a streamed folder, with their labels. With [`OnError::Skip`]
/// every file is decoded once first, in parallel and without keeping the pixels, to leave
/// out those that cannot be read: the examples are then those a cached read keeps, in the
/// same order, so the batches are too.
pub fn stream_image_folder(
    scan: &FolderScan,
    size: (usize, usize),
    color: Color,
    on_error: OnError,
) -> DataResult<StreamedFolder> {
    let each = color.channels() * size.0 * size.1;
    let outcomes: Vec<Result<(), String>> = match on_error {
        OnError::Fail => vec![Ok(()); scan.files.len()],
        OnError::Skip => scan
            .files
            .par_iter()
            .map_init(
                || vec![0u8; each],
                |out, (path, _)| decode::decode_into(path, out, size, color),
            )
            .collect(),
    };
    let mut paths = Vec::with_capacity(scan.files.len());
    let mut labels = Vec::with_capacity(scan.files.len());
    let mut skipped = Vec::new();
    for (outcome, (path, label)) in outcomes.into_iter().zip(&scan.files) {
        match outcome {
            Ok(()) => {
                paths.push(path.clone());
                labels.push(*label);
            }
            Err(reason) => skipped.push((path.clone(), reason)),
        }
    }
    super::some_read(scan, paths.len(), &skipped)?;
    let files = ImageFiles {
        paths: paths.into(),
        size,
        color,
    };
    Ok(StreamedFolder {
        files,
        labels,
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_read_with_binary_suffixes() {
        assert_eq!(parse_bytes("123"), Some(123));
        assert_eq!(parse_bytes("64K"), Some(64 << 10));
        assert_eq!(parse_bytes(" 512m "), Some(512 << 20));
        assert_eq!(parse_bytes("2G"), Some(2 << 30));
        assert_eq!(parse_bytes("G"), None);
        assert_eq!(parse_bytes("two"), None);
        assert_eq!(parse_bytes(""), None);
    }

    #[test]
    fn always_and_never_do_not_look_at_the_size() {
        assert!(Stream::Always.streams(1, 1));
        assert!(!Stream::Never.streams(usize::MAX, usize::MAX));
        assert!(Stream::Auto.streams(usize::MAX, usize::MAX));
    }
}
