//! Reading an array's data: in chunks of a megabyte, each converted as it arrives (so a
//! conversion never holds the file's bytes and the result at once) and searched for NaN and
//! infinities while it is still in cache; then a Fortran-order array is put in C order.

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

/// Reads the data that follows the header, then checks that nothing follows it (which, in an
/// archive, also reaches the member's end, where its checksum is verified). At most `reserve`
/// values are allocated before they arrive: an archive's sizes are claims until read.
pub(super) fn read_data(
    reader: &mut impl Read,
    parsed: &Parsed,
    reserve: usize,
    src: Source,
) -> DataResult<NumArray> {
    let dtype = parsed.dtype;
    let count = parsed.header.element_count();
    let capacity = count.min(reserve);
    let mut values = if dtype.is_u8() {
        Values::U8(Vec::with_capacity(capacity))
    } else {
        Values::F32(Vec::with_capacity(capacity))
    };
    let total = parsed.data_len;
    let mut scratch = vec![0u8; CHUNK.min(usize::try_from(total).unwrap_or(CHUNK))];
    let mut done = 0u64;
    // The first NaN or infinity, by its position in the file and its value there.
    let mut bad: Option<(usize, f64)> = None;
    while done < total {
        if let Some(signal) = crate::run::interrupt::requested() {
            return Err(DataError::Interrupted {
                signal,
                during: format!("reading `{}`", src.path.display()),
            });
        }
        let want = scratch
            .len()
            .min(usize::try_from(total - done).unwrap_or(usize::MAX));
        let chunk = &mut scratch[..want];
        let got = super::read_up_to(reader, chunk).map_err(|e| src.read_error(e))?;
        if got < want {
            return Err(truncated(parsed, done + got as u64, src));
        }
        match &mut values {
            Values::U8(v) => v.extend_from_slice(chunk),
            Values::F32(v) => {
                let start = v.len();
                dtype.convert(chunk, v);
                if dtype.is_float() && bad.is_none() {
                    if let Some(i) = first_non_finite(&v[start..]) {
                        let raw = &chunk[i * dtype.size()..(i + 1) * dtype.size()];
                        bad = Some((start + i, dtype.float_value(raw)));
                    }
                }
            }
        }
        done += want as u64;
    }
    if super::read_up_to(reader, &mut [0u8; 1]).map_err(|e| src.read_error(e))? > 0 {
        return Err(longer_than_said(src));
    }
    let header = &parsed.header;
    if let Some((position, value)) = bad {
        return Err(not_finite(header, position, value, src));
    }
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

fn not_finite(header: &super::NpyHeader, position: usize, value: f64, src: Source) -> DataError {
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
fn to_c_order<T: Copy>(shape: &[usize], data: &[T]) -> Vec<T> {
    match ArrayView::from_shape(IxDyn(shape).f(), data) {
        Ok(view) => view.iter().copied().collect(),
        Err(_) => unreachable!("the data was read for exactly this shape"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fortran_data_is_put_in_c_order() {
        // [[0, 1, 2], [3, 4, 5]] stored column by column.
        assert_eq!(to_c_order(&[2, 3], &[0, 3, 1, 4, 2, 5]), [0, 1, 2, 3, 4, 5]);
        let f: Vec<u32> = (0..24).collect();
        let c = to_c_order(&[2, 3, 4], &f);
        // c[i][j][k] = f[i + 2 j + 6 k]
        assert_eq!(c[1 * 12 + 2 * 4 + 3], 1 + 2 * 2 + 6 * 3);
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
