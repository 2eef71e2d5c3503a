//! The dtypes expr reads, and their conversion to what it keeps in memory: `u8` stays `u8`,
//! every other boolean, integer and float becomes `f32`, in bulk over a chunk of bytes.
//! The dtypes it refuses (objects, strings, complex numbers, records, dates) are named in the
//! diagnostic with what to do about them, since the fix is one line of NumPy.

use super::Source;
use crate::data::error::{DataError, DataResult};

/// What a value is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Bool,
    Int,
    Uint,
    Float,
}

/// A dtype expr reads: kind, bytes a value, byte order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Dtype {
    kind: Kind,
    size: usize,
    big_endian: bool,
}

impl Dtype {
    /// Understands a header's `descr` (`<f4`, `|u1`, `>i2`), or says why it is not read.
    pub fn parse(descr: &str, src: Source) -> DataResult<Dtype> {
        let (order, code) = match descr.chars().next() {
            Some(c @ ('<' | '>' | '|' | '=')) => (c, &descr[1..]),
            _ => ('=', descr),
        };
        let big_endian = order == '>' || (order == '=' && cfg!(target_endian = "big"));
        let (letter, size) = code.split_at(
            code.find(|c: char| !c.is_ascii_alphabetic())
                .unwrap_or(code.len()),
        );
        let kind = match (letter, size) {
            ("b", "1") => Some(Kind::Bool),
            ("i", "1" | "2" | "4" | "8") => Some(Kind::Int),
            ("u", "1" | "2" | "4" | "8") => Some(Kind::Uint),
            ("f", "2" | "4" | "8") => Some(Kind::Float),
            _ => None,
        };
        match (kind, size.parse::<usize>()) {
            (Some(kind), Ok(size)) => Ok(Dtype {
                kind,
                size,
                big_endian,
            }),
            _ => {
                let (what, advice) = refusal(descr, letter);
                Err(DataError::NumpyDtype {
                    path: src.path.to_path_buf(),
                    key: src.key(),
                    dtype: descr.to_string(),
                    what,
                    advice,
                })
            }
        }
    }

    /// Bytes a value.
    pub fn size(self) -> usize {
        self.size
    }

    /// Whether values stay `u8` (`|u1`) rather than becoming `f32`.
    pub fn is_u8(self) -> bool {
        self.kind == Kind::Uint && self.size == 1
    }

    /// Whether values are `f32` as this machine stores them (little-endian `<f4`).
    pub fn is_native_f32(self) -> bool {
        self.kind == Kind::Float && self.size == 4 && self.big_endian == cfg!(target_endian = "big")
    }

    /// Whether values can be NaN or infinite, or beyond `f32`'s range.
    pub fn is_float(self) -> bool {
        self.kind == Kind::Float
    }

    /// Appends the values in `bytes` (a whole number of them) to `out` as `f32`.
    pub fn convert(self, bytes: &[u8], out: &mut Vec<f32>) {
        let big = self.big_endian;
        match (self.kind, self.size) {
            (Kind::Bool, _) => out.extend(bytes.iter().map(|&b| f32::from(u8::from(b != 0)))),
            (Kind::Int, 1) => out.extend(bytes.iter().map(|&b| f32::from(b as i8))),
            (Kind::Uint, 1) => out.extend(bytes.iter().map(|&b| f32::from(b))),
            (Kind::Int, 2) => extend(bytes, big, out, |a| f32::from(i16::from_le_bytes(a))),
            (Kind::Uint, 2) => extend(bytes, big, out, |a| f32::from(u16::from_le_bytes(a))),
            (Kind::Int, 4) => extend(bytes, big, out, |a| i32::from_le_bytes(a) as f32),
            (Kind::Uint, 4) => extend(bytes, big, out, |a| u32::from_le_bytes(a) as f32),
            (Kind::Int, _) => extend(bytes, big, out, |a| i64::from_le_bytes(a) as f32),
            (Kind::Uint, _) => extend(bytes, big, out, |a| u64::from_le_bytes(a) as f32),
            (Kind::Float, 2) => extend(bytes, big, out, |a| half::f16::from_le_bytes(a).to_f32()),
            (Kind::Float, 4) => extend(bytes, big, out, f32::from_le_bytes),
            (Kind::Float, _) => extend(bytes, big, out, |a| f64::from_le_bytes(a) as f32),
        }
    }

    /// Converts, in place, values of a 4-byte dtype read straight into `values`: each
    /// holds the file's 4 bytes, which become the value they encode.
    pub fn convert_in_place(self, values: &mut [f32]) {
        match (self.kind, self.big_endian) {
            (Kind::Float, false) if cfg!(target_endian = "little") => {}
            (Kind::Float, false) => map_in_place(values, f32::from_le_bytes),
            (Kind::Float, true) => map_in_place(values, f32::from_be_bytes),
            (Kind::Int, false) => map_in_place(values, |a| i32::from_le_bytes(a) as f32),
            (Kind::Int, true) => map_in_place(values, |a| i32::from_be_bytes(a) as f32),
            (Kind::Uint, false) => map_in_place(values, |a| u32::from_le_bytes(a) as f32),
            (Kind::Uint, true) => map_in_place(values, |a| u32::from_be_bytes(a) as f32),
            (Kind::Bool, _) => unreachable!("booleans are 1 byte"),
        }
    }

    /// The value stored in `bytes` (one value of a float dtype), exactly, for a message.
    pub fn float_value(self, bytes: &[u8]) -> f64 {
        let mut a = [0u8; 8];
        a[..bytes.len()].copy_from_slice(bytes);
        if self.big_endian {
            a[..bytes.len()].reverse();
        }
        match self.size {
            2 => f64::from(half::f16::from_le_bytes([a[0], a[1]])),
            4 => f64::from(f32::from_le_bytes([a[0], a[1], a[2], a[3]])),
            _ => f64::from_le_bytes(a),
        }
    }
}

/// Appends `f` of each `N`-byte value in `bytes`, given to `f` in little-endian order.
/// The two loops keep the byte order out of the loop; each compiles to vector code.
fn extend<const N: usize>(bytes: &[u8], big: bool, out: &mut Vec<f32>, f: impl Fn([u8; N]) -> f32) {
    let values = bytes.chunks_exact(N);
    let le = |c: &[u8]| {
        let mut a = [0u8; N];
        a.copy_from_slice(c);
        a
    };
    if big {
        out.extend(values.map(|c| {
            let mut a = le(c);
            a.reverse();
            f(a)
        }));
    } else {
        out.extend(values.map(|c| f(le(c))));
    }
}

/// Replaces each value by `f` of its bytes in memory.
fn map_in_place(values: &mut [f32], f: impl Fn([u8; 4]) -> f32) {
    for v in values {
        *v = f(v.to_ne_bytes());
    }
}

/// What an unread dtype holds, and what to do about it.
fn refusal(descr: &str, letter: &str) -> (&'static str, &'static str) {
    const CAST: &str = "convert it before saving, e.g. `np.save(path, x.astype(np.float32))`";
    if descr.starts_with('[') {
        return (
            "a structured (record) array",
            "save each field as its own array, e.g. `np.savez(path, a=x['a'], b=x['b'])`",
        );
    }
    match letter {
        "O" => (
            "Python objects",
            "an object array is pickled, and expr never unpickles a file (that would run code from it); convert it to numbers before saving, e.g. `np.save(path, x.astype(np.float32))`",
        ),
        "U" | "S" | "a" => (
            "strings",
            "map the strings to class indices before saving, e.g. `np.unique(x, return_inverse=True)[1]`; numbers stored as text convert with `x.astype(np.float32)`",
        ),
        "c" => (
            "complex numbers",
            "save the real and imaginary parts as two features, e.g. `np.stack([x.real, x.imag], axis=-1).astype(np.float32)`",
        ),
        "V" => (
            "raw bytes (a void or record dtype)",
            "save each field as its own array of numbers",
        ),
        "M" | "m" => (
            "dates or durations",
            "convert them to numbers before saving, e.g. `x.astype('datetime64[s]').astype(np.int64)` for seconds since 1970",
        ),
        "f" | "g" => ("extended-precision floats", CAST),
        _ => ("an unknown dtype", CAST),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn parse(descr: &str) -> DataResult<Dtype> {
        Dtype::parse(descr, Source::npy(Path::new("a.npy")))
    }

    fn converted(descr: &str, bytes: &[u8]) -> Vec<f32> {
        let mut out = Vec::new();
        parse(descr).unwrap().convert(bytes, &mut out);
        out
    }

    #[test]
    fn every_numeric_dtype_converts_in_both_byte_orders() {
        assert_eq!(converted("|b1", &[0, 1, 2]), [0.0, 1.0, 1.0]);
        assert_eq!(converted("|i1", &[0xff, 5]), [-1.0, 5.0]);
        assert_eq!(converted("|u1", &[0xff]), [255.0]);
        assert_eq!(converted("<i2", &[0xfe, 0xff]), [-2.0]);
        assert_eq!(converted(">i2", &[0xff, 0xfe]), [-2.0]);
        assert_eq!(converted("<u2", &[0x01, 0x02]), [513.0]);
        assert_eq!(converted(">u2", &[0x01, 0x02]), [258.0]);
        assert_eq!(converted("<i4", &(-70_000i32).to_le_bytes()), [-70_000.0]);
        assert_eq!(converted(">u4", &70_000u32.to_be_bytes()), [70_000.0]);
        assert_eq!(converted("<i8", &(-3i64).to_le_bytes()), [-3.0]);
        assert_eq!(
            converted(">u8", &(1u64 << 40).to_be_bytes()),
            [(1u64 << 40) as f32]
        );
        assert_eq!(converted("<f2", &[0x00, 0x3c]), [1.0]);
        assert_eq!(converted(">f2", &[0xc0, 0x00]), [-2.0]);
        assert_eq!(converted(">f4", &1.5f32.to_be_bytes()), [1.5]);
        assert_eq!(converted("<f8", &0.25f64.to_le_bytes()), [0.25]);
        assert_eq!(converted("=f8", &0.5f64.to_ne_bytes()), [0.5]);
        assert!(parse("|u1").unwrap().is_u8());
        assert!(!parse("|i1").unwrap().is_u8());
    }

    #[test]
    fn float_values_are_read_exactly_for_messages() {
        let f8 = parse(">f8").unwrap();
        assert_eq!(f8.float_value(&1e300f64.to_be_bytes()), 1e300);
        let f2 = parse("<f2").unwrap();
        assert!(f2.float_value(&[0x00, 0x7c]).is_infinite());
    }

    #[test]
    fn unread_dtypes_say_what_they_hold() {
        for (descr, what) in [
            ("|O", "Python objects"),
            ("<U5", "strings"),
            ("|S3", "strings"),
            ("<c8", "complex numbers"),
            ("<c16", "complex numbers"),
            ("|V8", "raw bytes (a void or record dtype)"),
            ("<M8[ns]", "dates or durations"),
            ("<m8[s]", "dates or durations"),
            ("<f16", "extended-precision floats"),
            ("<i16", "an unknown dtype"),
            ("[('a', '<i4')]", "a structured (record) array"),
            ("", "an unknown dtype"),
        ] {
            match parse(descr) {
                Err(DataError::NumpyDtype { what: found, .. }) => {
                    assert_eq!(found, what, "{descr}");
                }
                other => panic!("{descr}: {other:?}"),
            }
        }
    }
}
