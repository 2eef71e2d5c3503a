//! Reading an array's data, a megabyte at a time (polling for Ctrl-C between pieces): `u8`
//! and 4-byte dtypes of a verified length straight into the result, converted in place; the
//! rest through a buffer that stays in cache, converted as it arrives (so a conversion never
//! holds the file's bytes and the result at once). Each piece is searched for NaN and
//! infinities while it is in cache; then a Fortran-order array is put in C order.

use std::io::Read;

use ndarray::{ArrayView, IxDyn, ShapeBuilder};

use super::header::Parsed;
use super::{NumArray, Source, Values};
use crate::data::error::{DataError, DataResult};

/// Bytes read and converted at a time: a whole number of values of any dtype, small enough
/// to stay in L2 between the read and the conversion, large enough that a read call costs
/// nothing, and often enough to poll for Ctrl-C.
const CHUNK: usize = 1 << 20;

/// The data after a header must be exactly `parsed.data_len` bytes: `available` is what the
/// file (or the archive's directory) says there is. Checked before anything is allocated, so
/// a header claiming 10^12 values in a 100-byte file is refused at once.
pub(super) fn check_len(parsed: &Parsed, available: u64, src: Source) -> DataResult<()> {
    let expected = parsed.data_len;
    if available == expected {
        return Ok(());
    }
    if available < expected {
        return Err(truncated(parsed, available, src));
    }
    Err(DataError::NumpyTrailing {
        path: src.path.to_path_buf(),
        key: src.key(),
        layout: layout(parsed),
        expected,
        found: available,
    })
}

/// How the data is read.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Extent {
    /// Its length is verified (a file's size, a stored member within the file): the whole
    /// result is allocated at once and, for `u8` and 4-byte dtypes, read straight into it.
    Verified,
    /// Its length is a claim until read (a deflated member): at most `reserve` values are
    /// allocated before they arrive.
    Claimed { reserve: usize },
}

/// Reads the data that follows the header, then checks that nothing follows it (which, in an
/// archive, also reaches the member's end, where its checksum is verified).
pub(super) fn read_data(
    reader: &mut impl Read,
    parsed: &Parsed,
    extent: Extent,
    src: Source,
) -> DataResult<NumArray> {
    let mut reading = Reading {
        reader,
        parsed,
        src,
        done: 0,
        bad: None,
    };
    let dtype = parsed.dtype;
    let count = parsed.header.element_count();
    let mut values = match extent {
        Extent::Verified if dtype.is_u8() => {
            let mut values = vec![0u8; count];
            advise_huge_pages(&mut values);
            for piece in values.chunks_mut(CHUNK) {
                reading.fill(piece)?;
            }
            Values::U8(values)
        }
        Extent::Verified if dtype.size() == 4 => {
            let mut values = vec![0f32; count];
            advise_huge_pages(&mut values);
            for (n, piece) in values.chunks_mut(CHUNK / 4).enumerate() {
                reading.fill(bytemuck::cast_slice_mut(piece))?;
                dtype.convert_in_place(piece);
                reading.look_for_non_finite(n * (CHUNK / 4), piece, |i| f64::from(piece[i]));
            }
            Values::F32(values)
        }
        Extent::Verified => reading.convert(count)?,
        Extent::Claimed { reserve } => reading.convert(count.min(reserve))?,
    };
    reading.finish()?;
    let header = &parsed.header;
    if header.fortran_order && header.shape.len() > 1 {
        values = match values {
            Values::U8(v) => Values::U8(to_c_order(&header.shape, &v)),
            Values::F32(v) => Values::F32(to_c_order(&header.shape, &v)),
        };
    }
    Ok(NumArray {
        shape: header.shape.clone(),
        values,
    })
}

/// A read in progress: how far it is, and the first NaN or infinity seen.
struct Reading<'a, R> {
    reader: &'a mut R,
    parsed: &'a Parsed,
    src: Source<'a>,
    /// Bytes of data read.
    done: u64,
    /// The first NaN or infinity: its position in the file's order, and its value there.
    bad: Option<(usize, f64)>,
}

impl<R: Read> Reading<'_, R> {
    /// Fills `buf` with the next bytes of data, or says that the data ends early.
    fn fill(&mut self, buf: &mut [u8]) -> DataResult<()> {
        if let Some(signal) = crate::run::interrupt::requested() {
            return Err(DataError::Interrupted {
                signal,
                during: format!("reading `{}`", self.src.path.display()),
            });
        }
        let got = super::read_up_to(self.reader, buf).map_err(|e| self.src.read_error(e))?;
        self.done += got as u64;
        if got < buf.len() {
            return Err(truncated(self.parsed, self.done, self.src));
        }
        Ok(())
    }

    /// Reads chunk by chunk through a buffer that stays in cache, converting each, into a
    /// vector that starts with room for `capacity` values.
    fn convert(&mut self, capacity: usize) -> DataResult<Values> {
        let dtype = self.parsed.dtype;
        let total = self.parsed.data_len;
        let mut scratch = vec![0u8; CHUNK.min(usize::try_from(total).unwrap_or(CHUNK))];
        if dtype.is_u8() {
            let mut values = Vec::with_capacity(capacity);
            while self.done < total {
                let chunk = next_chunk(&mut scratch, total - self.done);
                self.fill(chunk)?;
                values.extend_from_slice(chunk);
            }
            return Ok(Values::U8(values));
        }
        let mut values = Vec::with_capacity(capacity);
        while self.done < total {
            let chunk = next_chunk(&mut scratch, total - self.done);
            self.fill(chunk)?;
            let start = values.len();
            dtype.convert(chunk, &mut values);
            let raw = |i: usize| dtype.float_value(&chunk[i * dtype.size()..][..dtype.size()]);
            self.look_for_non_finite(start, &values[start..], raw);
        }
        Ok(Values::F32(values))
    }

    /// Notes the first NaN or infinity of `values`, the values from position `start` on,
    /// if none was seen before; `raw(i)` is the `i`th one's value in the file.
    fn look_for_non_finite(&mut self, start: usize, values: &[f32], raw: impl Fn(usize) -> f64) {
        if self.parsed.dtype.is_float() && self.bad.is_none() {
            if let Some(i) = first_non_finite(values) {
                self.bad = Some((start + i, raw(i)));
            }
        }
    }

    /// Checks that the data ends where the header says, and holds no NaN or infinity.
    fn finish(self) -> DataResult<()> {
        let src = self.src;
        if super::read_up_to(self.reader, &mut [0u8; 1]).map_err(|e| src.read_error(e))? > 0 {
            return Err(longer_than_said(src));
        }
        match self.bad {
            Some((position, value)) => Err(not_finite(&self.parsed.header, position, value, src)),
            None => Ok(()),
        }
    }
}

/// The start of `scratch` that the next chunk fills: all of it, or the `left` bytes left.
fn next_chunk(scratch: &mut [u8], left: u64) -> &mut [u8] {
    let len = scratch
        .len()
        .min(usize::try_from(left).unwrap_or(usize::MAX));
    &mut scratch[..len]
}

/// Asks Linux to back `values` with 2 MB pages, as NumPy does for its arrays: a fresh buffer
/// is faulted in on its first write, which with 4 kB pages took more time than the copy.
fn advise_huge_pages<T>(values: &mut [T]) {
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 4096;
        let start = values.as_mut_ptr() as usize;
        let end = start + std::mem::size_of_val(values);
        let aligned = start.next_multiple_of(PAGE);
        if end > aligned + (4 << 20) {
            // SAFETY: advice on whole pages inside the buffer; it changes how they are
            // backed, never their contents or who owns them.
            unsafe {
                libc::madvise(
                    aligned as *mut libc::c_void,
                    end - aligned,
                    libc::MADV_HUGEPAGE,
                );
            }
        }
    }
}

/// The data ended early: the file shrank after it was measured, or an archive's member
/// holds less than its directory said.
fn truncated(parsed: &Parsed, found: u64, src: Source) -> DataError {
    DataError::NumpyTruncated {
        path: src.path.to_path_buf(),
        key: src.key(),
        layout: layout(parsed),
        expected: parsed.data_len,
        found,
    }
}

/// "shape [2, 3], dtype `<f4`", for a message.
fn layout(parsed: &Parsed) -> String {
    format!(
        "shape {:?}, dtype `{}`",
        parsed.header.shape, parsed.header.dtype
    )
}

/// More data than measured: a file that grew while read, a member longer than declared.
fn longer_than_said(src: Source) -> DataError {
    match src.key {
        Some(key) => DataError::NpzCorrupt {
            path: src.path.to_path_buf(),
            reason: format!("array `{key}` holds more bytes than the archive's directory says"),
        },
        None => super::io_error(
            src.path,
            std::io::Error::other("the file grew while it was read"),
        ),
    }
}

pub(super) fn not_finite(
    header: &super::NpyHeader,
    position: usize,
    value: f64,
    src: Source,
) -> DataError {
    let index = unravel(position, &header.shape, header.fortran_order);
    let flat = index
        .iter()
        .zip(&header.shape)
        .fold(0, |flat, (&i, &d)| flat * d + i);
    let value = if value.is_finite() {
        format!("{value:e} (beyond the range of f32)")
    } else {
        value.to_string()
    };
    DataError::NumpyNotFinite {
        path: src.path.to_path_buf(),
        key: src.key(),
        index,
        flat,
        value,
    }
}

/// The index of the value at `position` in the file.
fn unravel(mut position: usize, shape: &[usize], fortran_order: bool) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    let mut place = |axis: usize| {
        index[axis] = position % shape[axis];
        position /= shape[axis];
    };
    if fortran_order {
        (0..shape.len()).for_each(&mut place);
    } else {
        (0..shape.len()).rev().for_each(&mut place);
    }
    index
}

/// The position of the first NaN or infinity. Blocks are tested with a branch-free fold,
/// which vectorises; only the block holding one is searched value by value.
fn first_non_finite(values: &[f32]) -> Option<usize> {
    const BLOCK: usize = 1024;
    let (n, block) = values
        .chunks(BLOCK)
        .enumerate()
        .find(|(_, block)| !block.iter().fold(true, |ok, v| ok & v.is_finite()))?;
    block
        .iter()
        .position(|v| !v.is_finite())
        .map(|i| n * BLOCK + i)
}

/// Column-major data of `shape` in row-major order.
fn to_c_order<T: Copy + Default>(shape: &[usize], data: &[T]) -> Vec<T> {
    if let [rows, cols] = *shape {
        return transpose(rows, cols, data);
    }
    match ArrayView::from_shape(IxDyn(shape).f(), data) {
        Ok(view) => view.iter().copied().collect(),
        Err(_) => unreachable!("the data was read for exactly this shape"),
    }
}

/// The row-major copy of a column-major `rows` x `cols` matrix, tile by tile: copied value by
/// value, every read (or every write) would touch another cache line, 3x slower than NumPy
/// on a (60000, 784) table; in tiles, both stay in L1.
fn transpose<T: Copy + Default>(rows: usize, cols: usize, data: &[T]) -> Vec<T> {
    const TILE: usize = 32;
    let mut out = vec![T::default(); data.len()];
    for r0 in (0..rows).step_by(TILE) {
        for c0 in (0..cols).step_by(TILE) {
            for r in r0..(r0 + TILE).min(rows) {
                for c in c0..(c0 + TILE).min(cols) {
                    out[r * cols + c] = data[c * rows + r];
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fortran_data_is_put_in_c_order() {
        // [[0, 1, 2], [3, 4, 5]] stored column by column.
        assert_eq!(to_c_order(&[2, 3], &[0, 3, 1, 4, 2, 5]), [0, 1, 2, 3, 4, 5]);
        // Tiles, with partial ones at both edges.
        let (rows, cols) = (70, 45);
        let f: Vec<u32> = (0..rows * cols).map(|i| i as u32).collect();
        let c = to_c_order(&[rows, cols], &f);
        for r in 0..rows {
            for col in 0..cols {
                assert_eq!(c[r * cols + col], f[col * rows + r]);
            }
        }
        let f: Vec<u32> = (0..24).collect();
        let c = to_c_order(&[2, 3, 4], &f);
        // c[i][j][k] = f[i + 2 j + 6 k], here at [1][2][3]
        assert_eq!(c[12 + 2 * 4 + 3], 1 + 2 * 2 + 6 * 3);
    }

    #[test]
    fn positions_unravel_in_the_file_order() {
        assert_eq!(unravel(5, &[2, 3], false), [1, 2]);
        assert_eq!(unravel(5, &[2, 3], true), [1, 2]);
        assert_eq!(unravel(1, &[2, 3], true), [1, 0]);
        assert_eq!(unravel(0, &[], false), Vec::<usize>::new());
    }

    #[test]
    fn the_first_non_finite_value_is_found() {
        let mut v = vec![1.0f32; 5000];
        assert_eq!(first_non_finite(&v), None);
        v[4000] = f32::NEG_INFINITY;
        v[3000] = f32::NAN;
        assert_eq!(first_non_finite(&v), Some(3000));
    }
}
