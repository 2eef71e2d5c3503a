//! Model files: named f32 tensors plus string metadata, in the safetensors format.
//!
//! `safetensors` is what `PyTorch`, JAX and numpy users can read without our code, and it cannot
//! execute anything on load. Tensors are stored as little-endian F32; the file is written
//! atomically, so an interrupted save never leaves a half-written model behind.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{self, Write};
use std::path::Path;

use ::safetensors::tensor::{Dtype, SafeTensorError, SafeTensors, View};

use super::atomic::write_atomic;
use super::error::{OutputError, OutputResult};
use crate::files::ReadRefused;

/// One tensor of a model file; `data` is row-major with `shape`'s product elements.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// Borrowed view that safetensors serializes; bytes are produced little-endian on any host.
/// Checkpoints (`run::checkpoint::file`) write through it too.
pub(crate) struct F32View<'a>(pub(crate) &'a NamedTensor);

impl View for F32View<'_> {
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }

    fn shape(&self) -> &[usize] {
        &self.0.shape
    }

    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Owned(self.0.data.iter().flat_map(|v| v.to_le_bytes()).collect())
    }

    fn data_len(&self) -> usize {
        self.0.data.len() * std::mem::size_of::<f32>()
    }
}

/// Saves `tensors` and `metadata` to `path` as a safetensors file, atomically.
///
/// # Errors
/// [`OutputError::TensorSizeMismatch`] or [`OutputError::DuplicateTensor`] for inconsistent
/// tensors (nothing is written), and the errors of [`write_atomic`].
pub fn save_tensors(
    path: &Path,
    tensors: &[NamedTensor],
    metadata: &BTreeMap<String, String>,
) -> OutputResult<()> {
    let mut names = BTreeSet::new();
    for tensor in tensors {
        let expected = tensor
            .shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d));
        if expected != Some(tensor.data.len()) {
            return Err(OutputError::TensorSizeMismatch {
                name: tensor.name.clone(),
                shape: tensor.shape.clone(),
                expected: expected.unwrap_or(usize::MAX),
                actual: tensor.data.len(),
            });
        }
        if !names.insert(tensor.name.as_str()) {
            return Err(OutputError::DuplicateTensor {
                name: tensor.name.clone(),
            });
        }
    }
    let info: HashMap<String, String> = metadata.clone().into_iter().collect();
    let views = tensors.iter().map(|t| (t.name.as_str(), F32View(t)));
    // Serializing cannot fail once sizes are consistent, but its error type says it might; an
    // encoding failure surfaces as a write failure of this path.
    let mut bytes =
        ::safetensors::serialize(views, &Some(info)).map_err(|e| OutputError::Write {
            path: path.to_path_buf(),
            source: io::Error::other(e.to_string()),
        })?;
    sort_header(&mut bytes);
    write_atomic(path, |file| file.write_all(&bytes))
}

/// Rewrites the JSON header with its keys in sorted order, in place. safetensors
/// takes the metadata as a `HashMap` and writes it in the hasher's random order,
/// so equal models would otherwise give files with different bytes (and hashes).
/// The sorted header has the same entries, so the same length: tensor offsets
/// and the data after it do not move.
fn sort_header(bytes: &mut [u8]) {
    type Header = BTreeMap<String, serde_json::Value>;
    let Some(len) = bytes
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize)
    else {
        return;
    };
    let Some(Ok(mut header)) = bytes.get(8..8 + len).map(serde_json::from_slice::<Header>) else {
        return;
    };
    if let Some(meta) = header.get_mut("__metadata__") {
        if let Ok(sorted) = serde_json::from_value::<BTreeMap<String, String>>(meta.clone()) {
            *meta = serde_json::to_value(sorted).expect("strings serialize");
        }
    }
    let Ok(sorted) = serde_json::to_vec(&header) else {
        return;
    };
    if sorted.len() <= len {
        bytes[8..8 + sorted.len()].copy_from_slice(&sorted);
        // safetensors pads the header with spaces to keep the data aligned.
        bytes[8 + sorted.len()..8 + len].fill(b' ');
    }
}

/// Loads every tensor (in name order) and the metadata of the safetensors file at `path`.
///
/// # Errors
/// [`OutputError::FileNotFound`] / [`OutputError::Read`] when the file cannot be read,
/// [`OutputError::NotSafetensors`] when it is truncated or of another format, and
/// [`OutputError::UnsupportedDtype`] for a tensor that is not F32.
pub fn load_tensors(path: &Path) -> OutputResult<(Vec<NamedTensor>, BTreeMap<String, String>)> {
    load_tensors_within(path, default_limit())
}

/// [`load_tensors`] for a file of at most `limit` bytes: anything larger, and anything
/// not a regular file (`/dev/zero`, a FIFO, a folder), is refused before reading.
///
/// # Errors
/// Those of [`load_tensors`], and [`OutputError::ReadRefused`] for such a file.
pub fn load_tensors_within(
    path: &Path,
    limit: u64,
) -> OutputResult<(Vec<NamedTensor>, BTreeMap<String, String>)> {
    let bytes = crate::files::read_regular(path, limit).map_err(|refused| match refused {
        ReadRefused::Io(source) if source.kind() == io::ErrorKind::NotFound => {
            OutputError::FileNotFound {
                path: path.to_path_buf(),
            }
        }
        ReadRefused::Io(source) => OutputError::Read {
            path: path.to_path_buf(),
            source,
        },
        refused => OutputError::ReadRefused {
            path: path.to_path_buf(),
            reason: refused.to_string(),
        },
    })?;
    let not_safetensors = |e: SafeTensorError| OutputError::NotSafetensors {
        path: path.to_path_buf(),
        reason: describe(&e),
    };
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(not_safetensors)?;
    let file = SafeTensors::deserialize(&bytes).map_err(not_safetensors)?;

    let tensors = f32_tensors(&file).map_err(|(name, dtype)| OutputError::UnsupportedDtype {
        path: path.to_path_buf(),
        name,
        dtype: format!("{dtype:?}"),
    })?;
    let metadata = header
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    Ok((tensors, metadata))
}

/// The tensors of a deserialized file in name order, or the name and dtype of the first
/// that is neither F32 nor I64. Model files and checkpoints are read through it (a
/// checkpoint's own check refuses anything but F32 first).
///
/// I64 tensors are read as f32: a PyTorch `state_dict` saved as safetensors holds batch
/// norm's `num_batches_tracked` as an int64 scalar, which is exact in f32 up to 2^24.
pub(crate) fn f32_tensors(file: &SafeTensors) -> Result<Vec<NamedTensor>, (String, Dtype)> {
    let mut tensors = Vec::with_capacity(file.len());
    for (name, view) in file.tensors() {
        let data = match view.dtype() {
            Dtype::F32 => view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Dtype::I64 => view
                .data()
                .chunks_exact(8)
                .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)
                .collect(),
            other => return Err((name, other)),
        };
        tensors.push(NamedTensor {
            name,
            shape: view.shape().to_vec(),
            data,
        });
    }
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(tensors)
}

/// The largest tensor file read when the caller knows no better size: the machine's
/// memory (a larger file could not be held anyway), or 64 GiB where that is unknown.
fn default_limit() -> u64 {
    crate::check::resources::machine_memory()
        .and_then(|bytes| u64::try_from(bytes).ok())
        .unwrap_or(64 << 30)
}

/// Words for safetensors' errors, whose `Display` is only their `Debug` name.
fn describe(err: &SafeTensorError) -> String {
    match err {
        SafeTensorError::HeaderTooSmall | SafeTensorError::InvalidHeaderLength => {
            "the file is too short to hold its header".to_owned()
        }
        SafeTensorError::HeaderTooLarge => "the declared header is larger than 100 MB".to_owned(),
        SafeTensorError::InvalidHeader
        | SafeTensorError::InvalidHeaderStart
        | SafeTensorError::InvalidHeaderDeserialization
        | SafeTensorError::JsonError(_) => "the header is not safetensors JSON".to_owned(),
        SafeTensorError::MetadataIncompleteBuffer
        | SafeTensorError::InvalidOffset(_)
        | SafeTensorError::TensorInvalidInfo
        | SafeTensorError::InvalidTensorView(..)
        | SafeTensorError::ValidationOverflow => {
            "the tensor data does not match the header (truncated file?)".to_owned()
        }
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests;
