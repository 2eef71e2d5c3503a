//! Files NumPy would never write, built byte by byte; `tests/data_numpy.rs` reads the ones
//! it does write.

use super::*;

/// A version 1.0 `.npy` file with this header text, padded as NumPy pads it.
fn npy(header: &str, data: &[u8]) -> Vec<u8> {
    let mut text = header.as_bytes().to_vec();
    while !(10 + text.len() + 1).is_multiple_of(64) {
        text.push(b' ');
    }
    text.push(b'\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((text.len() as u16).to_le_bytes());
    bytes.extend(text);
    bytes.extend(data);
    bytes
}

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn header_error(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "a.npy", bytes);
    read_npy_header(&path).unwrap_err().to_string()
}

#[test]
fn a_little_endian_f4_file_reads() {
    let data: Vec<u8> = [1.0f32, -2.5]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
    let path = write(&dir, "a.npy", &npy(header, &data));
    let array = read_npy(&path).unwrap();
    assert_eq!(array.shape, [2]);
    assert_eq!(array.values, Values::F32(vec![1.0, -2.5]));
}

#[test]
fn headers_cut_short_or_absurdly_long_are_refused_before_allocating() {
    let whole = npy(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
        &[0; 8],
    );
    assert!(header_error(&whole[..4])
        .ends_with("is not a NumPy array: it starts with `\\x93NUM`, not `\\x93NUMPY`"));
    assert!(header_error(&whole[..9])
        .ends_with("has a malformed header: the file ends inside the header's length"));
    assert!(header_error(&whole[..40]).ends_with(
        "has a malformed header: the file ends inside the header (30 of its 118 bytes)"
    ));
    // Version 2.0: a u32 length, here 4 GiB.
    let mut huge = b"\x93NUMPY\x02\x00".to_vec();
    huge.extend(u32::MAX.to_le_bytes());
    assert!(header_error(&huge)
        .ends_with("claims a header of 4294967295 bytes, more than the 1048576 read"));
    // Values of 8 bytes whose count overflows usize once multiplied.
    let header = "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }";
    assert!(
        header_error(&npy(header, &[])).ends_with("shape [4294967296, 4294967296] is too large")
    );
}

#[test]
fn class_indices_take_u8_as_they_are_and_refuse_nan_and_huge_values() {
    let path = std::path::Path::new("y.npy");
    let array = |values| NumArray {
        shape: vec![2],
        values,
    };
    let labels = array(Values::U8(vec![0, 255])).class_indices(path, None);
    assert_eq!(labels.unwrap(), [0, 255]);
    let labels = array(Values::F32(vec![7.0, 4_294_967_040.0])).class_indices(path, None);
    assert_eq!(labels.unwrap(), [7, 4_294_967_040]);
    for bad in [f32::NAN, 4_294_967_296.0, -0.5, f32::INFINITY] {
        let err = array(Values::F32(vec![1.0, bad]))
            .class_indices(path, None)
            .unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("holds {bad} at flat index 1")),
            "{err}"
        );
    }
}
