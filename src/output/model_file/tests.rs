use super::*;
use std::fmt::Write as _;

fn sample() -> (Vec<NamedTensor>, BTreeMap<String, String>) {
    // Values chosen to catch any lossy conversion: subnormal, negative zero, extremes, NaN bits.
    let weights: Vec<f32> = (0..24u16).map(|i| (f32::from(i) - 11.5) / 7.0).collect();
    let tensors = vec![
        NamedTensor {
            name: "conv1.weight".to_owned(),
            shape: vec![2, 3, 2, 2],
            data: weights,
        },
        NamedTensor {
            name: "conv1.bias".to_owned(),
            shape: vec![2],
            data: vec![f32::MIN_POSITIVE / 8.0, -0.0],
        },
        NamedTensor {
            name: "dense.weight".to_owned(),
            shape: vec![3, 1],
            data: vec![f32::MAX, f32::MIN, f32::from_bits(0x7fc0_1234)],
        },
        NamedTensor {
            name: "scalar".to_owned(),
            shape: vec![],
            data: vec![1.0 / 3.0],
        },
    ];
    let metadata = BTreeMap::from([
        ("format".to_owned(), "pt".to_owned()),
        ("expr.experiment".to_owned(), "mnist_cnn".to_owned()),
        ("expr.epochs".to_owned(), "2".to_owned()),
    ]);
    (tensors, metadata)
}

fn bits(tensor: &NamedTensor) -> Vec<u32> {
    tensor.data.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn round_trip_is_bit_exact_with_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let (tensors, metadata) = sample();
    save_tensors(&path, &tensors, &metadata).unwrap();

    let (loaded, loaded_metadata) = load_tensors(&path).unwrap();
    assert_eq!(loaded_metadata, metadata);
    let mut expected = tensors.clone();
    expected.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(loaded.len(), expected.len());
    for (got, want) in loaded.iter().zip(&expected) {
        assert_eq!(got.name, want.name);
        assert_eq!(got.shape, want.shape);
        assert_eq!(bits(got), bits(want), "{}", got.name);
    }
}

#[test]
fn stored_bytes_are_little_endian_f32() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let tensor = NamedTensor {
        name: "t".to_owned(),
        shape: vec![2],
        data: vec![1.0, -2.5],
    };
    save_tensors(&path, &[tensor], &BTreeMap::new()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let header_len = usize::try_from(u64::from_le_bytes(bytes[..8].try_into().unwrap())).unwrap();
    let header = std::str::from_utf8(&bytes[8..8 + header_len]).unwrap();
    assert!(header.contains(r#""dtype":"F32""#), "{header}");
    assert!(header.contains(r#""shape":[2]"#), "{header}");
    assert_eq!(&bytes[8 + header_len..], [0, 0, 128, 63, 0, 0, 32, 192]);
}

#[test]
fn truncated_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let (tensors, metadata) = sample();
    save_tensors(&path, &tensors, &metadata).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    for keep in [0, 5, 8, 40, bytes.len() - 1] {
        std::fs::write(&path, &bytes[..keep]).unwrap();
        let err = load_tensors(&path).unwrap_err();
        assert!(
            matches!(err, OutputError::NotSafetensors { .. }),
            "{keep}: {err:?}"
        );
    }
}

#[test]
fn garbage_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    std::fs::write(&path, b"\x89PNG\r\n\x1a\n this is not a model at all").unwrap();
    let err = load_tensors(&path).unwrap_err();
    assert!(matches!(err, OutputError::NotSafetensors { .. }), "{err:?}");
    assert!(err.to_string().contains("model.safetensors"), "{err}");
}

#[test]
fn missing_file_is_reported_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let err = load_tensors(&dir.path().join("absent.safetensors")).unwrap_err();
    assert!(matches!(err, OutputError::FileNotFound { .. }), "{err:?}");
}

#[test]
fn non_f32_tensor_is_an_error() {
    use ::safetensors::tensor::TensorView;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let data = [0u8; 8];
    let view = TensorView::new(Dtype::F64, vec![1], &data).unwrap();
    ::safetensors::serialize_to_file([("w", view)], &None, &path).unwrap();
    let err = load_tensors(&path).unwrap_err();
    match &err {
        OutputError::UnsupportedDtype { name, dtype, .. } => {
            assert_eq!((name.as_str(), dtype.as_str()), ("w", "F64"));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn pytorch_int64_counts_are_read_as_f32() {
    use ::safetensors::tensor::TensorView;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    // A BatchNorm2d's `num_batches_tracked` as PyTorch's state_dict holds it: an int64 scalar.
    let data = 40i64.to_le_bytes();
    let view = TensorView::new(Dtype::I64, vec![], &data).unwrap();
    ::safetensors::serialize_to_file([("bn.num_batches_tracked", view)], &None, &path).unwrap();
    let (tensors, _) = load_tensors(&path).unwrap();
    assert_eq!(tensors[0].shape, Vec::<usize>::new());
    assert_eq!(tensors[0].data, [40.0]);
}

#[test]
fn inconsistent_tensors_are_rejected_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let short = NamedTensor {
        name: "w".to_owned(),
        shape: vec![2, 3],
        data: vec![0.0; 5],
    };
    let err = save_tensors(&path, &[short], &BTreeMap::new()).unwrap_err();
    assert!(
        matches!(
            err,
            OutputError::TensorSizeMismatch {
                expected: 6,
                actual: 5,
                ..
            }
        ),
        "{err:?}"
    );
    let twice = NamedTensor {
        name: "w".to_owned(),
        shape: vec![1],
        data: vec![0.0],
    };
    let err = save_tensors(&path, &[twice.clone(), twice], &BTreeMap::new()).unwrap_err();
    assert!(
        matches!(err, OutputError::DuplicateTensor { .. }),
        "{err:?}"
    );
    assert!(!path.exists());
}

/// A read-only directory, or `/sys` when running as root (root ignores directory permissions).
#[cfg(unix)]
#[test]
fn unwritable_directory_is_an_error_and_leaves_nothing() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
    let permissions_apply = std::fs::write(locked.join("probe"), b"").is_err();
    let target_dir = if permissions_apply {
        locked.clone()
    } else {
        std::fs::remove_file(locked.join("probe")).unwrap();
        std::path::PathBuf::from("/sys")
    };
    let path = target_dir.join("expr-test-model.safetensors");
    let (tensors, metadata) = sample();
    let err = save_tensors(&path, &tensors, &metadata).unwrap_err();
    assert!(matches!(err, OutputError::NotWritable { .. }), "{err:?}");
    assert!(err.to_string().contains("not writable"), "{err}");
    let leftovers: Vec<_> = std::fs::read_dir(&target_dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains("expr-test-model"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn failed_save_keeps_the_previous_model() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let (tensors, metadata) = sample();
    save_tensors(&path, &tensors, &metadata).unwrap();
    let before = std::fs::read(&path).unwrap();
    let bad = NamedTensor {
        name: "w".to_owned(),
        shape: vec![4],
        data: vec![0.0; 3],
    };
    assert!(save_tensors(&path, &[bad], &metadata).is_err());
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

/// Python's safetensors reads our file with the same values:
/// `EXPR_PYTHON=python3 cargo test --release python_reads -- --ignored`.
#[test]
#[ignore = "needs python3 with safetensors and numpy"]
fn python_reads_our_file() {
    let python = std::env::var("EXPR_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let (tensors, metadata) = sample();
    save_tensors(&path, &tensors, &metadata).unwrap();
    // Python prints every tensor as `name shape bits...` sorted by name, and the metadata.
    let script = r#"
import sys, numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file
tensors = load_file(sys.argv[1])
for name in sorted(tensors):
    t = tensors[name]
    assert t.dtype == np.float32, t.dtype
    bits = t.reshape(-1).view(np.uint32)
    print(name, list(t.shape), " ".join(str(int(b)) for b in bits))
with safe_open(sys.argv[1], framework="numpy") as f:
    print(sorted(f.metadata().items()))
"#;
    let output = std::process::Command::new(python)
        .args(["-c", script])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut expected = String::new();
    let mut sorted = tensors.clone();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    for t in &sorted {
        let bits: Vec<String> = bits(t).iter().map(u32::to_string).collect();
        writeln!(expected, "{} {:?} {}", t.name, t.shape, bits.join(" ")).unwrap();
    }
    let pairs: Vec<String> = metadata
        .iter()
        .map(|(k, v)| format!("('{k}', '{v}')"))
        .collect();
    writeln!(expected, "[{}]", pairs.join(", ")).unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), expected);
}

#[test]
fn equal_models_give_byte_identical_files() {
    let dir = tempfile::tempdir().unwrap();
    let (tensors, mut metadata) = sample();
    for i in 0..20 {
        metadata.insert(format!("key{i}"), format!("value{i}"));
    }
    let first = dir.path().join("a.safetensors");
    save_tensors(&first, &tensors, &metadata).unwrap();
    let expected = std::fs::read(&first).unwrap();
    // Each save hashes the metadata with a fresh random state.
    for n in 0..8 {
        let path = dir.path().join(format!("b{n}.safetensors"));
        save_tensors(&path, &tensors, &metadata).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), expected);
    }
    let (back, meta) = load_tensors(&first).unwrap();
    assert_eq!(meta, metadata);
    assert_eq!(back.len(), tensors.len());
}
