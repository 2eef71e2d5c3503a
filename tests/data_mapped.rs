//! `.npy` inputs of `u8` or little-endian `f32` in C order, and such arrays stored
//! uncompressed in an `.npz` archive (`np.savez`), are memory-mapped, not read: the batches
//! are the ones the read arrays give, bit for bit, selections (`take`, `split`) copy their
//! rows, and a float file is still refused for a NaN. Other files, and deflated members
//! (`np.savez_compressed`), are read.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use std::path::Path;
use std::sync::Arc;

use expr::check::plan::{ArraySpec, DataSource, Scaling, Task};
use expr::data::{Batch, Examples, Gather, Inputs};

fn read_npz(path: &Path) -> Examples {
    expr::data::sources::read(&DataSource::Arrays(ArraySpec {
        x: path.to_path_buf(),
        y: path.to_path_buf(),
        keys: Some(("x".into(), "y".into())),
        task: Task::Classification,
    }))
    .unwrap()
}

/// An archive of `x.npy` and `y.npy` from `dir`, each member `method`-compressed.
fn write_npz(dir: &Path, name: &str, method: zip::CompressionMethod) -> std::path::PathBuf {
    let path = dir.join(name);
    let mut archive = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let options = zip::write::SimpleFileOptions::default().compression_method(method);
    for member in ["x.npy", "y.npy"] {
        archive.start_file(member, options).unwrap();
        std::io::Write::write_all(&mut archive, &std::fs::read(dir.join(member)).unwrap()).unwrap();
    }
    archive.finish().unwrap();
    path
}

/// `y.npy`: 7 labels of 3 classes.
fn write_labels(dir: &Path) {
    common::write_npy(&dir.join("y.npy"), "|u1", &[7], &[0, 1, 2, 0, 1, 2, 0]);
}

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
    write_labels(dir.path());
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

#[test]
fn uncompressed_npz_members_are_mapped_and_deflated_ones_read() {
    let dir = tempfile::tempdir().unwrap();
    write_labels(dir.path());
    let floats: Vec<u8> = (0..7 * 6)
        .flat_map(|v| (v as f32 * 0.37 - 3.0).to_le_bytes())
        .collect();
    common::write_npy(&dir.path().join("x.npy"), "<f4", &[7, 6], &floats);
    let stored = write_npz(dir.path(), "stored.npz", zip::CompressionMethod::Stored);
    let mapped = read_npz(&stored);
    assert!(matches!(mapped.inputs, Inputs::Mapped(_)));
    assert_eq!((mapped.len(), mapped.features()), (7, 6));
    same_batches(&mapped, &[6]);
    let deflated = write_npz(dir.path(), "deflated.npz", zip::CompressionMethod::Deflated);
    let read_in = read_npz(&deflated);
    let Inputs::F32(values) = &read_in.inputs else {
        panic!("a deflated member is read, not mapped")
    };
    let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    let copied = Arc::new(mapped).in_memory().unwrap();
    let Inputs::F32(from_map) = &copied.inputs else {
        panic!("f32 rows")
    };
    assert_eq!(
        bits(values.as_slice().unwrap()),
        bits(from_map.as_slice().unwrap())
    );

    // NumPy's own archives (`tests/fixtures/numpy`): `np.savez` mapped, `np.savez_compressed`
    // read, the same bytes.
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/numpy");
    let savez = read_npz(&fixtures.join("savez.npz"));
    assert!(matches!(savez.inputs, Inputs::Mapped(_)));
    let compressed = read_npz(&fixtures.join("savez_compressed.npz"));
    let Inputs::U8(bytes) = &compressed.inputs else {
        panic!("a deflated member is read, not mapped")
    };
    let some = savez.select(&[0, 1, 2, 3]);
    assert_eq!(some.inputs.as_u8().unwrap(), bytes);

    // A NaN in a mapped member is refused as in a `.npy` file.
    let nan: Vec<u8> = [1.0f32, 2.0, f32::NAN, 4.0, 5.0, 6.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    common::write_npy(&dir.path().join("x.npy"), "<f4", &[1, 6], &nan);
    common::write_npy(&dir.path().join("y.npy"), "|u1", &[1], &[0]);
    let bad = write_npz(dir.path(), "nan.npz", zip::CompressionMethod::Stored);
    let error = expr::data::sources::read(&DataSource::Arrays(ArraySpec {
        x: bad.clone(),
        y: bad,
        keys: Some(("x".into(), "y".into())),
        task: Task::Classification,
    }))
    .unwrap_err()
    .to_string();
    assert!(error.contains("NaN"), "{error}");
}
