//! A `.npy` file whose values can be used as they lie (`u8`, or `f32` in this machine's byte
//! order, C order) is memory-mapped rather than read: nothing is copied before a batch reads
//! its rows, the pages come from the page cache (shared with other runs reading the file), and
//! memory the kernel can drop rather than swap. A float file is still scanned once for NaN
//! and infinities, as a read is. So is such an array stored uncompressed in an `.npz`
//! archive (`np.savez`): its bytes lie in the archive as they would in a `.npy` file;
//! a deflated one (`np.savez_compressed`) is read.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use memmap2::Mmap;
use ndarray::Array2;

use super::header::Parsed;
use super::{header, npz, read, Source};
use crate::data::error::DataResult;

/// The rows of a mapped `.npy` file: `rows` examples of `cols` values each.
#[derive(Debug, Clone)]
pub struct MappedRows {
    map: Arc<Mmap>,
    /// Where the data starts in the file.
    start: usize,
    rows: usize,
    cols: usize,
    /// `u8` values; otherwise `f32`.
    bytes: bool,
}

impl PartialEq for MappedRows {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.map, &other.map)
            && (self.start, self.rows, self.cols, self.bytes)
                == (other.start, other.rows, other.cols, other.bytes)
    }
}

/// The array in the `.npy` file at `path`, mapped, where its dtype and order allow: `None`
/// for any other file (`read_npy` reads it). `rows` is the number of examples, `shape[0]`.
pub fn map_npy(path: &Path) -> DataResult<Option<MappedRows>> {
    let (mut file, file_len) = super::open(path)?;
    let src = Source::npy(path);
    let parsed = header::read_header(&mut file, src)?;
    read::check_len(&parsed, file_len.saturating_sub(parsed.header_len), src)?;
    map_data(path, &file, 0, &parsed, src)
}

/// The array `key` of the `.npz` archive at `path`, mapped where it is stored uncompressed
/// and its dtype and order allow: `None` for any other member (`read_npz` reads it).
pub fn map_npz(path: &Path, key: &str) -> DataResult<Option<MappedRows>> {
    npz::with_member(path, key, |member, parsed, src, file_len| {
        let stored = member.compression() == zip::CompressionMethod::Stored
            && !member.encrypted()
            && member.size() == member.compressed_size();
        // Where the member's bytes start in the archive (its `.npy` header first), known
        // once the zip crate has read the member's local header.
        let start = member.data_start().filter(|start| {
            start
                .checked_add(member.size())
                .is_some_and(|end| end <= file_len)
        });
        match start {
            Some(start) if stored => {
                let (file, _) = super::open(path)?;
                map_data(path, &file, start, &parsed, src)
            }
            _ => Ok(None),
        }
    })
}

/// The `.npy` array whose header `parsed` describes and which starts at `offset` of `file`
/// (at 0 for a `.npy` file, inside the archive for an `.npz` member), mapped if its dtype and
/// order allow.
fn map_data(
    path: &Path,
    file: &File,
    offset: u64,
    parsed: &Parsed,
    src: Source<'_>,
) -> DataResult<Option<MappedRows>> {
    let bytes = parsed.dtype.is_u8();
    let usable = bytes || parsed.dtype.is_native_f32();
    if !usable || parsed.header.fortran_order {
        return Ok(None);
    }
    // SAFETY: the map is read-only and only read as bytes; a file truncated by another
    // program while it is mapped is the one hazard (reads past its end fault), as it is for
    // every reader of memory-mapped data (NumPy's `mmap_mode` too).
    let map = unsafe { Mmap::map(file) }.map_err(|e| super::io_error(path, e))?;
    // Values are read byte by byte (`from_ne_bytes`), so `f32` data need not lie on 4-byte
    // boundaries (in an archive it seldom does).
    let start = usize::try_from(offset + parsed.header_len)
        .unwrap_or_else(|_| unreachable!("the header is within the mapped file"));
    let data = &map[start..];
    if !bytes {
        let count: usize = parsed.header.shape.iter().product();
        if let Some(position) = first_not_finite(&data[..4 * count]) {
            let v = &data[position * 4..position * 4 + 4];
            let value = f64::from(f32::from_ne_bytes([v[0], v[1], v[2], v[3]]));
            return Err(read::not_finite(&parsed.header, position, value, src));
        }
    }
    let shape = &parsed.header.shape;
    let rows = shape.first().copied().unwrap_or(1);
    let cols = shape.iter().skip(1).product();
    Ok(Some(MappedRows {
        map: Arc::new(map),
        start,
        rows,
        cols,
        bytes,
    }))
}

/// The index of the first `f32` of `data` (native byte order, any alignment) that is NaN or
/// infinite. Blocks are tested whole first, with no branch per value, so that the test
/// vectorises: a scan that stopped at each value ran at a third of the memory's speed.
fn first_not_finite(data: &[u8]) -> Option<usize> {
    const EXPONENT: u32 = 0x7f80_0000;
    const BLOCK: usize = 4096;
    data.chunks(4 * BLOCK).enumerate().find_map(|(b, block)| {
        let bad = block.chunks_exact(4).fold(false, |bad, v| {
            bad | (u32::from_ne_bytes([v[0], v[1], v[2], v[3]]) & EXPONENT == EXPONENT)
        });
        bad.then(|| {
            let within = block
                .chunks_exact(4)
                .position(|v| u32::from_ne_bytes([v[0], v[1], v[2], v[3]]) & EXPONENT == EXPONENT)
                .unwrap_or_else(|| unreachable!("the block has one"));
            b * BLOCK + within
        })
    })
}

impl MappedRows {
    pub fn nrows(&self) -> usize {
        self.rows
    }

    pub fn ncols(&self) -> usize {
        self.cols
    }

    /// Whether the values are `u8` (else `f32`).
    pub fn is_u8(&self) -> bool {
        self.bytes
    }

    /// Row `i`'s stored bytes.
    fn row(&self, i: usize) -> &[u8] {
        let size = if self.bytes { 1 } else { 4 };
        let at = self.start + i * self.cols * size;
        &self.map[at..at + self.cols * size]
    }

    /// Row `i` as bytes, for a `u8` file.
    pub fn row_u8(&self, i: usize) -> &[u8] {
        debug_assert!(self.bytes);
        self.row(i)
    }

    /// Row `i`'s values, for an `f32` file, into `out`.
    pub fn row_f32(&self, i: usize, out: &mut [f32]) {
        for (o, v) in out.iter_mut().zip(self.row(i).chunks_exact(4)) {
            *o = f32::from_ne_bytes([v[0], v[1], v[2], v[3]]);
        }
    }

    /// The rows at `indices` copied into memory: bytes, or `f32`.
    pub fn select_u8(&self, indices: &[usize]) -> Array2<u8> {
        let mut out = Vec::with_capacity(indices.len() * self.cols);
        for &i in indices {
            out.extend_from_slice(self.row_u8(i));
        }
        Array2::from_shape_vec((indices.len(), self.cols), out)
            .unwrap_or_else(|_| unreachable!("a row per index"))
    }

    /// Every row, copied into memory.
    pub fn select_all(&self) -> crate::data::Inputs {
        let all: Vec<usize> = (0..self.rows).collect();
        if self.bytes {
            crate::data::Inputs::U8(self.select_u8(&all))
        } else {
            crate::data::Inputs::F32(self.select_f32(&all))
        }
    }

    /// See [`Self::select_u8`].
    pub fn select_f32(&self, indices: &[usize]) -> Array2<f32> {
        let mut out = Array2::zeros((indices.len(), self.cols));
        for (mut o, &i) in out.rows_mut().into_iter().zip(indices) {
            let o = o
                .as_slice_mut()
                .unwrap_or_else(|| unreachable!("a new array is contiguous"));
            self.row_f32(i, o);
        }
        out
    }
}
