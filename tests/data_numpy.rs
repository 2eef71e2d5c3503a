//! NumPy files as NumPy writes them (`tests/fixtures/numpy/make.py` wrote every one): each good
//! array must read as NumPy converts it to float32 (`expected.json`), and each damaged file
//! and refused dtype must fail with a diagnostic naming the file and what was expected.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

use std::path::{Path, PathBuf};

use expr::data::{
    npz_keys, read_npy, read_npy_header, read_npz, read_npz_header, DataError, NumArray, Values,
};
use miette::Diagnostic;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/numpy")
        .join(name)
}

/// Reads `name`, or `archive.npz:key`.
fn read(name: &str) -> Result<NumArray, DataError> {
    match name.split_once(':') {
        Some((archive, key)) => read_npz(&fixture(archive), key),
        None => read_npy(&fixture(name)),
    }
}

fn code(err: &DataError) -> String {
    err.code().map(|c| c.to_string()).unwrap_or_default()
}

fn help(err: &DataError) -> String {
    err.help().map(|h| h.to_string()).unwrap_or_default()
}

#[test]
fn every_array_reads_as_numpy_converts_it_to_float32() {
    let text = std::fs::read_to_string(fixture("expected.json")).unwrap();
    let expected: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text).unwrap();
    assert!(expected.len() > 30, "{} fixtures", expected.len());
    for (name, want) in &expected {
        let array = read(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        let shape: Vec<usize> = serde_json::from_value(want["shape"].clone()).unwrap();
        let values: Vec<f64> = serde_json::from_value(want["values"].clone()).unwrap();
        assert_eq!(array.shape, shape, "{name}");
        let found: Vec<f32> = match &array.values {
            Values::U8(v) => v.iter().map(|&b| f32::from(b)).collect(),
            Values::F32(v) => v.clone(),
        };
        let values: Vec<f32> = values.iter().map(|&v| v as f32).collect();
        assert_eq!(found, values, "{name}");
        let is_u8 = matches!(array.values, Values::U8(_));
        assert_eq!(is_u8, want["u8"].as_bool().unwrap(), "{name}: u8 stays u8");
    }
}

#[test]
fn headers_read_alone_say_dtype_shape_and_order() {
    let header = read_npy_header(&fixture("fortran_f4.npy")).unwrap();
    assert_eq!(header.dtype, "<f4");
    assert_eq!(header.shape, [2, 3, 4]);
    assert!(header.fortran_order);
    assert_eq!(header.element_count(), 24);
    let header = read_npy_header(&fixture("dtype_be_i8.npy")).unwrap();
    assert_eq!(
        (header.dtype.as_str(), header.fortran_order),
        (">i8", false)
    );
    let header = read_npy_header(&fixture("scalar.npy")).unwrap();
    assert_eq!((header.shape.len(), header.element_count()), (0, 1));
    assert_eq!(
        read_npy_header(&fixture("empty.npy"))
            .unwrap()
            .element_count(),
        0
    );
    for archive in ["savez.npz", "savez_compressed.npz"] {
        let x = read_npz_header(&fixture(archive), "x").unwrap();
        assert_eq!(
            (x.dtype.as_str(), x.shape.as_slice()),
            ("|u1", &[4, 2, 2][..])
        );
        let y = read_npz_header(&fixture(archive), "y").unwrap();
        assert_eq!((y.dtype.as_str(), y.shape.as_slice()), ("<i8", &[4][..]));
    }
}

#[test]
fn archives_list_their_keys_in_order() {
    assert_eq!(npz_keys(&fixture("savez.npz")).unwrap(), ["x", "y"]);
    assert_eq!(
        npz_keys(&fixture("savez_compressed.npz")).unwrap(),
        ["x", "y"]
    );
    // Ragged: the reader reads each array; pairing them is the caller's check.
    let path = fixture("ragged.npz");
    assert_eq!(read_npz(&path, "x").unwrap().shape, [5, 2]);
    assert_eq!(read_npz(&path, "y").unwrap().shape, [4]);
}

#[test]
fn a_missing_key_lists_the_keys_there_are() {
    let err = read_npz(&fixture("savez.npz"), "images").unwrap_err();
    assert_eq!(code(&err), "expr::data::numpy::missing_key");
    assert!(
        err.to_string()
            .ends_with("savez.npz` holds no array `images`"),
        "{err}"
    );
    assert_eq!(help(&err), "the arrays it holds: `x`, `y`");
    let err = read_npz_header(&fixture("savez.npz"), "x.npy").unwrap_err();
    assert_eq!(code(&err), "expr::data::numpy::missing_key");
}

#[test]
fn class_indices_must_be_whole_numbers_from_zero() {
    let path = fixture("vector_i8.npy");
    let labels = read_npy(&path).unwrap().class_indices(&path, None).unwrap();
    assert_eq!(labels, [3, 1, 4, 1, 5]);
    let path = fixture("savez.npz");
    let labels = read_npz(&path, "x")
        .unwrap()
        .class_indices(&path, Some("x"))
        .unwrap();
    assert_eq!(labels.len(), 16);

    let path = fixture("labels_fraction.npy");
    let err = read_npy(&path)
        .unwrap()
        .class_indices(&path, None)
        .unwrap_err();
    assert_eq!(code(&err), "expr::data::numpy::not_class_index");
    assert!(
        err.to_string().ends_with("labels_fraction.npy` holds 3.5 at flat index 2, which is not a class index (a whole number from 0)"),
        "{err}"
    );
    let path = fixture("labels_negative.npy");
    let err = read_npy(&path)
        .unwrap()
        .class_indices(&path, Some("y"))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("(array `y`) holds -1 at flat index 1"),
        "{err}"
    );
}

#[test]
fn nan_and_infinities_are_refused_with_their_place() {
    for (name, message) in [
        (
            "nan.npy",
            "nan.npy` holds NaN at index [1, 1] (row 1, flat index 3)",
        ),
        (
            "nan_fortran.npy",
            "nan_fortran.npy` holds NaN at index [1, 1] (row 1, flat index 3)",
        ),
        (
            "nan.npz:x",
            "nan.npz` (array `x`) holds NaN at index [1, 1] (row 1, flat index 3)",
        ),
        (
            "inf.npy",
            "inf.npy` holds -inf at index [1, 0] (row 1, flat index 2)",
        ),
        (
            "overflow.npy",
            "overflow.npy` holds 1e300 (beyond the range of f32) at index 1",
        ),
    ] {
        let err = read(name).unwrap_err();
        assert_eq!(code(&err), "expr::data::numpy::not_finite", "{name}");
        assert!(err.to_string().ends_with(message), "{name}: {err}");
        assert!(help(&err).contains("np.isfinite"), "{name}");
    }
}

#[test]
fn refused_dtypes_say_what_they_hold_and_how_to_convert() {
    for (name, dtype, what, advice) in [
        ("object.npy", "|O", "Python objects", "never unpickles"),
        ("strings.npy", "<U3", "strings", "return_inverse=True"),
        ("bytes.npy", "|S3", "strings", "return_inverse=True"),
        ("complex.npy", "<c8", "complex numbers", "x.real, x.imag"),
        (
            "structured.npy",
            "[('a', '<i4'), ('b', '<f8')]",
            "a structured (record) array",
            "x['a']",
        ),
        ("datetime.npy", "<M8[D]", "dates or durations", "np.int64"),
    ] {
        let err = read_npy(&fixture(name)).unwrap_err();
        assert_eq!(code(&err), "expr::data::numpy::dtype", "{name}");
        let message = format!("{name}` holds {what} (dtype `{dtype}`), which expr cannot read");
        assert!(err.to_string().ends_with(&message), "{name}: {err}");
        assert!(help(&err).contains(advice), "{name}: {}", help(&err));
        // `expr check` sees it from the header alone.
        let err = read_npy_header(&fixture(name)).unwrap_err();
        assert_eq!(code(&err), "expr::data::numpy::dtype", "{name}");
    }
}

/// Each damaged file: the error's code, and the end of its message after the folder.
#[test]
fn damaged_files_are_refused_naming_the_file() {
    for (name, want_code, message) in [
        ("truncated.npy", "numpy::truncated", "truncated.npy` is truncated: its header (shape [2, 3], dtype `<f4`) needs 24 bytes of data, it holds 19"),
        ("trailing.npy", "numpy::trailing_bytes", "trailing.npy` is longer than its header says: shape [2, 3], dtype `<f4` is 24 bytes of data, it holds 28"),
        ("lying_shape.npy", "numpy::truncated", "lying_shape.npy` is truncated: its header (shape [1000000000000], dtype `<f4`) needs 4000000000000 bytes of data, it holds 16"),
        ("lying.npz:x", "numpy::truncated", "lying.npz` (array `x`) is truncated: its header (shape [1000000000000], dtype `<f4`) needs 4000000000000 bytes of data, it holds 16"),
        ("lying_stored.npz:x", "numpy::truncated", "lying_stored.npz` (array `x`) is truncated: its header (shape [1073741760], dtype `<f4`) needs 4294967040 bytes of data, it holds 16"),
        ("zero_bytes.npy", "empty_file", "zero_bytes.npy` is empty"),
        ("wrong_magic.npy", "numpy::not_npy", "wrong_magic.npy` is not a NumPy array: it starts with `x,y\\n1,2\\n`, not `\\x93NUMPY`"),
        ("savez.npz", "numpy::not_npy", "savez.npz` is not a NumPy array: it starts with `PK\\x03\\x04-\\x00\\x00\\x00\\x00\\x00`, not `\\x93NUMPY`"),
        ("bad_header.npy", "numpy::bad_header", "bad_header.npy` has a malformed header: expected `,` (a 1-tuple is written `(n,)`), found `), }"),
        ("version9.npy", "numpy::version", "version9.npy` has NumPy format version 9.0; expr reads versions 1.0, 2.0 and 3.0"),
        ("truncated.npz:x", "numpy::corrupt_npz", "truncated.npz` is not a readable `.npz` archive: invalid Zip archive: Could not find EOCD"),
        ("corrupt.npz:x", "numpy::corrupt_npz", "corrupt.npz` is not a readable `.npz` archive: array `x`: "),
        ("dtype_le_f4.npy:x", "numpy::corrupt_npz", "dtype_le_f4.npy` is not a readable `.npz` archive: it is a `.npy` file (one array, as `np.save` writes), not an archive of arrays"),
        ("absent.npy", "numpy::missing", "cannot find the NumPy file "),
    ] {
        let err = read(name).unwrap_err();
        assert_eq!(code(&err), format!("expr::data::{want_code}"), "{name}: {err}");
        let text = err.to_string();
        let file = name.split(':').next().unwrap();
        assert!(text.contains(message), "{name}: {text}");
        assert!(text.contains(file), "{name}: {text}");
    }
}

#[test]
fn a_zip_given_as_npy_is_pointed_to_the_npz_reader() {
    let err = read_npy(&fixture("savez.npz")).unwrap_err();
    assert!(help(&err).contains("zip archive"), "{}", help(&err));
}

#[test]
fn devices_directories_and_fifos_are_refused_without_blocking() {
    for path in [Path::new("/dev/zero"), &fixture("")] {
        let err = read_npy(path).unwrap_err();
        assert_eq!(code(&err), "expr::data::numpy::not_a_file", "{err}");
        let err = read_npz(path, "x").unwrap_err();
        assert_eq!(code(&err), "expr::data::numpy::not_a_file", "{err}");
    }
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.npy");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    if made {
        let err = read_npy_header(&fifo).unwrap_err();
        assert!(err.to_string().contains("FIFO"), "{err}");
    }
}
