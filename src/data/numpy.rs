//! NumPy's files: a `.npy` array (`np.save`) and the arrays of a `.npz` archive (`np.savez`,
//! stored, or `np.savez_compressed`, deflated).
//!
//! An array is read into C order whatever its layout, `u8` values as `u8` (images: a quarter of
//! the memory) and every other boolean, integer or float dtype as `f32`. Objects (pickles, which
//! are never loaded), strings, complex numbers, records and dates are refused with the NumPy
//! line that converts them. A float array holding NaN or an infinity is refused too, naming the
//! first such value, so that nothing trains on it.
//!
//! These are a stranger's files: every length the header claims is checked against what the
//! file holds before anything is allocated for it, and the header alone can be read (what
//! `expr check` does: milliseconds, however large the file).

mod dtype;
mod header;
mod mapped;
mod npz;
mod read;

use std::fs::File;
use std::io;
use std::path::Path;

use super::error::{DataError, DataResult};
use super::idx::read_up_to;
use crate::files::ReadRefused;

pub use header::NpyHeader;
pub use mapped::{map_npy, map_npz, MappedRows};
pub use npz::{npz_keys, read_npz, read_npz_header};

/// The largest NumPy file opened, 16 GiB: the whole array is held in memory.
const MAX_NUMPY_BYTES: u64 = 16 << 30;

/// An array's values, in C order.
#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    /// A `u8` array, as stored.
    U8(Vec<u8>),
    /// Any other numeric dtype, converted.
    F32(Vec<f32>),
}

impl Values {
    pub fn len(&self) -> usize {
        match self {
            Values::U8(v) => v.len(),
            Values::F32(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An array read from a NumPy file: its shape and its values in C (row-major) order.
#[derive(Clone, Debug, PartialEq)]
pub struct NumArray {
    /// `[]` for a 0-d array, which holds one value.
    pub shape: Vec<usize>,
    pub values: Values,
}

impl NumArray {
    /// The values as class indices, one per value in C order: each must be a whole number
    /// from 0 (`u8` values always are; `3.5` or `-1` is an error naming its flat index).
    /// `path` and `key` (the `.npz` array) name the array in the message.
    pub fn class_indices(&self, path: &Path, key: Option<&str>) -> DataResult<Vec<u32>> {
        match &self.values {
            Values::U8(v) => Ok(v.iter().map(|&b| u32::from(b)).collect()),
            Values::F32(v) => v
                .iter()
                .enumerate()
                .map(|(flat, &x)| {
                    // NaN fails the first test; 2^32 is the first value that does not fit.
                    if x >= 0.0 && x.fract() == 0.0 && x < 4_294_967_296.0 {
                        Ok(x as u32)
                    } else {
                        Err(DataError::NumpyNotClassIndex {
                            path: path.to_path_buf(),
                            key: key.map(str::to_string),
                            flat,
                            value: x.to_string(),
                        })
                    }
                })
                .collect(),
        }
    }
}

/// The header of the `.npy` file at `path`, checked: a dtype expr reads, and a shape whose
/// data fills the rest of the file exactly. Reads only the header.
pub fn read_npy_header(path: &Path) -> DataResult<NpyHeader> {
    let (mut file, file_len) = open(path)?;
    let src = Source::npy(path);
    let parsed = header::read_header(&mut file, src)?;
    read::check_len(&parsed, file_len.saturating_sub(parsed.header_len), src)?;
    Ok(parsed.header)
}

/// The array in the `.npy` file at `path`.
pub fn read_npy(path: &Path) -> DataResult<NumArray> {
    let (mut file, file_len) = open(path)?;
    let src = Source::npy(path);
    let parsed = header::read_header(&mut file, src)?;
    read::check_len(&parsed, file_len.saturating_sub(parsed.header_len), src)?;
    read::read_data(&mut file, &parsed, read::Extent::Verified, src)
}

/// Opens a NumPy file the user named: a regular file of at most [`MAX_NUMPY_BYTES`], not empty.
fn open(path: &Path) -> DataResult<(File, u64)> {
    let (file, len) =
        crate::files::open_regular(path, MAX_NUMPY_BYTES).map_err(|refused| match refused {
            ReadRefused::Io(e) if e.kind() == io::ErrorKind::NotFound => DataError::NumpyMissing {
                path: path.to_path_buf(),
            },
            ReadRefused::Io(source) => io_error(path, source),
            refused => DataError::NumpyNotAFile {
                path: path.to_path_buf(),
                reason: refused.to_string(),
            },
        })?;
    if len == 0 {
        return Err(DataError::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    Ok((file, len))
}

fn io_error(path: &Path, source: io::Error) -> DataError {
    DataError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Which array is read, for messages: a `.npy` file, or the array `key` of a `.npz` archive.
#[derive(Clone, Copy)]
struct Source<'a> {
    path: &'a Path,
    key: Option<&'a str>,
}

impl<'a> Source<'a> {
    fn npy(path: &'a Path) -> Self {
        Source { path, key: None }
    }

    fn npz(path: &'a Path, key: &'a str) -> Self {
        Source {
            path,
            key: Some(key),
        }
    }

    fn key(self) -> Option<String> {
        self.key.map(str::to_string)
    }

    /// A failed read: in an archive, a damaged member (bad deflate data, a wrong checksum).
    fn read_error(self, source: io::Error) -> DataError {
        let damaged = matches!(
            source.kind(),
            io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput | io::ErrorKind::UnexpectedEof
        );
        match self.key {
            Some(key) if damaged => DataError::NpzCorrupt {
                path: self.path.to_path_buf(),
                reason: format!("array `{key}`: {source}"),
            },
            _ => io_error(self.path, source),
        }
    }

    fn bad_header(self, reason: &str) -> DataError {
        DataError::NumpyHeader {
            path: self.path.to_path_buf(),
            key: self.key(),
            reason: reason.to_string(),
        }
    }

    fn not_npy(self, start: &[u8]) -> DataError {
        let hint = if start.starts_with(b"PK\x03\x04") {
            "this is a zip archive, as `np.savez` writes: read it as a `.npz` file, naming the array's key"
        } else if start.starts_with(&[0x1f, 0x8b]) {
            "this is a gzip file: decompress it first (`gunzip`)"
        } else {
            "expected a file written by `np.save`; a text or CSV file needs another reader"
        };
        let found = if start.is_empty() {
            "nothing".to_string()
        } else {
            format!("`{}`", start.escape_ascii())
        };
        DataError::NotNpy {
            path: self.path.to_path_buf(),
            key: self.key(),
            found,
            hint,
        }
    }
}

#[cfg(test)]
mod tests;
