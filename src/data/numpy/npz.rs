//! `.npz` archives: a zip file of `.npy` members, one per array, named `<key>.npy`. `np.savez`
//! stores them, `np.savez_compressed` deflates them; the zip crate reads both.
//!
//! The directory's sizes are claims: a member's declared size must match its header, and the
//! data is still counted as it is read, with no more reserved up front than a real member of
//! that compressed size could hold.

use std::fs::File;
use std::path::Path;

use zip::read::ZipFile;
use zip::result::ZipError;
use zip::ZipArchive;

use super::header::{self, NpyHeader, Parsed};
use super::read::{self, Extent};
use super::{NumArray, Source};
use crate::data::error::{DataError, DataResult};

/// Deflate cannot expand its input by more than about 1032:1.
const MAX_DEFLATE_RATIO: u64 = 1032;

/// The keys of the arrays in the `.npz` archive at `path` (member names without `.npy`),
/// in the archive's order.
pub fn npz_keys(path: &Path) -> DataResult<Vec<String>> {
    Ok(keys(&open_archive(path)?.0))
}

/// The header of the array `key` of the `.npz` archive at `path`, checked against the
/// member's size. Decompresses only the header.
pub fn read_npz_header(path: &Path, key: &str) -> DataResult<NpyHeader> {
    with_member(path, key, |_, parsed, _, _| Ok(parsed.header))
}

/// The array `key` of the `.npz` archive at `path`.
pub fn read_npz(path: &Path, key: &str) -> DataResult<NumArray> {
    with_member(path, key, |member, parsed, src, file_len| {
        // A stored member's bytes are in the file: its size is known, not claimed.
        let stored = member.compression() == zip::CompressionMethod::Stored
            && member.size() == member.compressed_size()
            && member.compressed_size() <= file_len;
        let extent = if stored {
            Extent::Verified
        } else {
            let bound = member.compressed_size().saturating_mul(MAX_DEFLATE_RATIO);
            let reserve = bound / parsed.dtype.size() as u64;
            Extent::Claimed {
                reserve: usize::try_from(reserve).unwrap_or(usize::MAX),
            }
        };
        read::read_data(member, &parsed, extent, src)
    })
}

/// Calls `then` with the member holding `key`, read up to its data, and its header, checked
/// against the member's declared size.
pub(super) fn with_member<T>(
    path: &Path,
    key: &str,
    then: impl FnOnce(&mut ZipFile<'_, File>, Parsed, Source, u64) -> DataResult<T>,
) -> DataResult<T> {
    let (mut archive, file_len) = open_archive(path)?;
    let Some(index) = archive.index_for_name(&format!("{key}.npy")) else {
        return Err(DataError::NpzMissingKey {
            path: path.to_path_buf(),
            key: key.to_string(),
            keys: keys(&archive),
        });
    };
    let src = Source::npz(path, key);
    let mut member = archive.by_index(index).map_err(|e| zip_error(path, e))?;
    let parsed = header::read_header(&mut member, src)?;
    read::check_len(
        &parsed,
        member.size().saturating_sub(parsed.header_len),
        src,
    )?;
    then(&mut member, parsed, src, file_len)
}

fn keys(archive: &ZipArchive<File>) -> Vec<String> {
    (0..archive.len())
        .filter_map(|i| archive.name_for_index(i)?.ok())
        .filter_map(|name| name.strip_suffix(".npy").map(str::to_string))
        .collect()
}

/// Opens the archive: a regular file the zip crate can read a directory from.
fn open_archive(path: &Path) -> DataResult<(ZipArchive<File>, u64)> {
    let (mut file, file_len) = super::open(path)?;
    let mut start = [0u8; 6];
    let got = super::read_up_to(&mut file, &mut start).map_err(|e| super::io_error(path, e))?;
    if start[..got] == header::MAGIC[..] {
        return Err(DataError::NpzCorrupt {
            path: path.to_path_buf(),
            reason:
                "it is a `.npy` file (one array, as `np.save` writes), not an archive of arrays"
                    .to_string(),
        });
    }
    let archive = ZipArchive::new(file).map_err(|e| zip_error(path, e))?;
    Ok((archive, file_len))
}

fn zip_error(path: &Path, error: ZipError) -> DataError {
    match error {
        ZipError::Io(source) => super::io_error(path, source),
        error => DataError::NpzCorrupt {
            path: path.to_path_buf(),
            reason: error.to_string(),
        },
    }
}
