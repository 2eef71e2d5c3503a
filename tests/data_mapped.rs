//! `.npy` inputs of `u8` or little-endian `f32` in C order are memory-mapped, not read: the
//! batches are the ones the read arrays give, bit for bit, selections (`take`, `split`)
//! copy their rows, and a float file is still refused for a NaN. Other files are read.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use std::path::Path;
use std::sync::Arc;

use expr::check::plan::{ArraySpec, DataSource, Scaling, Task};
use expr::data::{Batch, Examples, Gather, Inputs};

fn read(dir: &Path) -> Examples {
    expr::data::sources::read(&DataSource::Arrays(ArraySpec {
        x: dir.join("x.npy"),
        y: dir.join("y.npy"),
        keys: None,
        task: Task::Classification,
    }))
    .unwrap()
}

/// Every batch of a few, mapped and read into memory, compared bit for bit.
fn same_batches(mapped: &Examples, shape: &[usize]) {
    let copied = Arc::new(mapped.clone()).in_memory().unwrap();
    assert!(!matches!(copied.inputs, Inputs::Mapped(_)));
    let scaling = Scaling::uniform(0.5, -1.0);
    let how = Gather::plain(&scaling, shape);
    for indices in [&[0usize, 5, 2][..], &[6], &[1, 1, 4, 3]] {
        let (a, b) = (
            Batch::gather(mapped, indices, &how).unwrap(),
            Batch::gather(&copied, indices, &how).unwrap(),
        );
        let bits = |b: &Batch| b.x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a), bits(&b), "{indices:?}");
        assert_eq!(a.labels, b.labels);
    }
}

#[test]
fn byte_and_float_arrays_are_mapped_and_batch_as_read() {
    let dir = tempfile::tempdir().unwrap();
    common::write_npy(
        &dir.path().join("y.npy"),
        "|u1",
        &[7],
        &[0, 1, 2, 0, 1, 2, 0],
    );
    let bytes: Vec<u8> = (0..7 * 6).map(|v| (v * 37 % 256) as u8).collect();
    common::write_npy(&dir.path().join("x.npy"), "|u1", &[7, 2, 3], &bytes);
    let mapped = read(dir.path());
    assert!(matches!(mapped.inputs, Inputs::Mapped(_)));
    assert_eq!((mapped.len(), mapped.features()), (7, 6));
    same_batches(&mapped, &[2, 3]);
    // A selection is a copy of its rows.
    let some = mapped.select(&[6, 0]);
    assert_eq!(some.inputs.as_u8().unwrap().row(0).to_vec(), bytes[36..42]);

    let floats: Vec<u8> = (0..7 * 6)
        .flat_map(|v| (v as f32 * 0.37 - 3.0).to_le_bytes())
        .collect();
    common::write_npy(&dir.path().join("x.npy"), "<f4", &[7, 6], &floats);
    let mapped = read(dir.path());
    assert!(matches!(mapped.inputs, Inputs::Mapped(_)));
    same_batches(&mapped, &[6]);
}

#[test]
fn other_dtypes_are_read_and_a_mapped_nan_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    common::write_npy(&dir.path().join("y.npy"), "|u1", &[2], &[0, 1]);
    let big: Vec<u8> = [1.5f32, -2.0, 3.25, 4.0]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect();
    common::write_npy(&dir.path().join("x.npy"), ">f4", &[2, 2], &big);
    let read_in = read(dir.path());
    let Inputs::F32(values) = &read_in.inputs else {
        panic!("a big-endian file is read, not mapped")
    };
    assert_eq!(values.as_slice().unwrap(), [1.5, -2.0, 3.25, 4.0]);

    let nan: Vec<u8> = [1.0f32, 2.0, f32::NAN, 4.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    common::write_npy(&dir.path().join("x.npy"), "<f4", &[2, 2], &nan);
    let error = expr::data::sources::read(&DataSource::Arrays(ArraySpec {
        x: dir.path().join("x.npy"),
        y: dir.path().join("y.npy"),
        keys: None,
        task: Task::Classification,
    }))
    .unwrap_err()
    .to_string();
    assert!(error.contains("NaN"), "{error}");
}
