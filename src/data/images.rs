//! Image folders, as Keras' `image_dataset_from_directory` reads them: one sub-folder per
//! class, PNG, JPEG, BMP and GIF files (the first frame), decoded with the `image` crate,
//! converted to RGB or gray and resized with Keras' bilinear.
//!
//! Two steps: [`scan_image_folder`] lists the classes and files without opening an image
//! (for `expr check`); [`read_image_folder`] decodes them all, in parallel, into one
//! `u8` buffer, channel-first as the conv layers take it. Every file is read through
//! `files::read_regular` (regular files only, size checked first) and every image's
//! declared size is checked before it is decoded (`decode::MAX_DECODED_BYTES`). A file
//! that is not a readable image is an error naming it, or, with [`OnError::Skip`], left
//! out and listed. A folder too large to hold decoded is streamed instead (`stream`): only
//! its file list is kept, and batches decode their files.

mod decode;
mod scan;
mod stream;

use std::path::PathBuf;

use rayon::prelude::*;

pub use decode::{MAX_DECODED_BYTES, MAX_IMAGE_FILE_BYTES, MAX_IMAGE_SIDE};
pub use scan::{scan_image_folder, IMAGE_EXTENSIONS};
pub use stream::{
    memory_budget, stream_image_folder, ImageFiles, Stream, StreamedFolder, MEMORY_ENV,
};

use super::error::{DataError, DataResult};

/// The channels images are converted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Color {
    /// Three channels, red, green, blue (alpha dropped, gray repeated).
    Rgb,
    /// One channel: PIL's `convert("L")` of a colour image.
    Gray,
}

impl Color {
    pub fn channels(self) -> usize {
        match self {
            Color::Rgb => 3,
            Color::Gray => 1,
        }
    }
}

/// What a file that is not a readable image does to the read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OnError {
    /// Stops it, naming the file (the first such file in the scan's order).
    Fail,
    /// Leaves the file out and lists it in [`ImageFolder::skipped`].
    Skip,
}

/// An image folder's classes and files, before any image is opened.
#[derive(Debug, Clone, PartialEq)]
pub struct FolderScan {
    /// The folder scanned.
    pub dir: PathBuf,
    /// The class sub-folders' names, sorted as Keras sorts them (code point order).
    pub classes: Vec<String>,
    /// Every image file with its class's index: class by class, and in a class by folder
    /// then by name.
    pub files: Vec<(PathBuf, u32)>,
}

/// The decoded images of a folder.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageFolder {
    /// `n × channels × height × width` bytes, channel-first.
    pub images: Vec<u8>,
    /// Each image's class index, in the scan's order less the skipped files.
    pub labels: Vec<u32>,
    pub channels: usize,
    /// (height, width) of every image.
    pub size: (usize, usize),
    /// The files left out (with [`OnError::Skip`]) and why, in the scan's order.
    pub skipped: Vec<(PathBuf, String)>,
}

/// Decodes every file of `scan` to `size` (height, width) in `color`, in parallel; the
/// result is in the scan's order whatever the threads do.
pub fn read_image_folder(
    scan: &FolderScan,
    size: (usize, usize),
    color: Color,
    on_error: OnError,
) -> DataResult<ImageFolder> {
    let channels = color.channels();
    let each = channels * size.0 * size.1;
    if each == 0 {
        unreachable!("check: an image size is at least 1 x 1");
    }
    let too_large = || DataError::ImagesTooLarge {
        count: scan.files.len(),
        channels,
        height: size.0,
        width: size.1,
    };
    let total = each.checked_mul(scan.files.len()).ok_or_else(too_large)?;
    let mut images = Vec::new();
    images.try_reserve_exact(total).map_err(|_| too_large())?;
    images.resize(total, 0);
    // Each file decodes into its own slot; `collect` keeps the order.
    let outcomes: Vec<Result<(), String>> = images
        .par_chunks_mut(each)
        .zip(scan.files.par_iter())
        .map(|(out, (path, _))| decode::decode_into(path, out, size, color))
        .collect();
    let mut labels = Vec::with_capacity(scan.files.len());
    let mut skipped = Vec::new();
    for (i, (outcome, (path, label))) in outcomes.into_iter().zip(&scan.files).enumerate() {
        match outcome {
            Ok(()) => {
                // Close the gaps the skipped files left.
                let kept = labels.len();
                if kept != i {
                    images.copy_within(i * each..(i + 1) * each, kept * each);
                }
                labels.push(*label);
            }
            Err(reason) if on_error == OnError::Skip => skipped.push((path.clone(), reason)),
            Err(reason) => {
                return Err(DataError::BadImage {
                    path: path.clone(),
                    reason,
                })
            }
        }
    }
    some_read(scan, labels.len(), &skipped)?;
    images.truncate(labels.len() * each);
    Ok(ImageFolder {
        images,
        labels,
        channels,
        size,
        skipped,
    })
}

/// A folder whose every image was skipped is an error naming the first, not an empty data
/// set: `kept` images were read, `skipped` were not.
fn some_read(scan: &FolderScan, kept: usize, skipped: &[(PathBuf, String)]) -> DataResult<()> {
    match skipped.first() {
        Some((first, first_reason)) if kept == 0 => Err(DataError::NoImageRead {
            dir: scan.dir.clone(),
            count: skipped.len(),
            first: first.clone(),
            first_reason: first_reason.clone(),
        }),
        _ => Ok(()),
    }
}
