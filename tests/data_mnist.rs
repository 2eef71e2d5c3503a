//! The real MNIST, read from `$EXPR_DATA` (set to /work/shared/data here when unset; CI sets it
//! relative to the repository root, which `load_mnist` resolves against the working directory).
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

use std::fs::File;
use std::io::{self, BufReader};
use std::path::PathBuf;
use std::time::Instant;

use expr::data::{data_dir_from_env, load_mnist, Split, DATA_ENV, MNIST_CHECKSUMS};
use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};

const FALLBACK_DATA: &str = "/work/shared/data";

/// Every test sets the same value, so concurrent tests agree on it.
fn data_dir() -> PathBuf {
    if std::env::var_os(DATA_ENV).is_none_or(|v| v.is_empty()) {
        std::env::set_var(DATA_ENV, FALLBACK_DATA);
    }
    data_dir_from_env().expect("EXPR_DATA was just set")
}

#[test]
fn train_split_has_the_published_shape_and_label_counts() {
    data_dir();
    let start = Instant::now();
    let train = load_mnist(Split::Train).unwrap();
    eprintln!("loaded mnist train in {:.2?}", start.elapsed());
    assert_eq!(train.inputs.as_u8().unwrap().dim(), (60_000, 784));
    assert_eq!(train.element_shape, [28, 28]);
    assert_eq!(train.len(), 60_000);
    assert_eq!(train.num_classes(), 10);
    let mut counts = [0usize; 10];
    for &label in train.targets.classes().unwrap() {
        counts[label as usize] += 1;
    }
    assert_eq!(
        counts,
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    // The first training digit is the well-known 5.
    assert_eq!(train.targets.classes().unwrap()[0], 5);
    assert!(train.source.contains("mnist train"), "{}", train.source);
}

#[test]
fn test_split_has_the_published_shape() {
    data_dir();
    let test = load_mnist(Split::Test).unwrap();
    assert_eq!(test.inputs.as_u8().unwrap().dim(), (10_000, 784));
    assert_eq!(test.targets.classes().unwrap().len(), 10_000);
    assert_eq!(test.targets.classes().unwrap()[0], 7);
}

#[test]
fn a_batch_of_real_images_is_scaled_into_unit_range() {
    data_dir();
    let test = load_mnist(Split::Test).unwrap();
    let indices = [0, 9_999, 17];
    let mut batch = vec![0.0f32; indices.len() * 784];
    test.fill_batch(
        &indices,
        &expr::check::plan::Scaling::uniform(1.0 / 255.0, 0.0),
        &mut batch,
    )
    .unwrap();
    assert!(batch.iter().all(|v| (0.0..=1.0).contains(v)));
    let max = batch.iter().copied().fold(0.0f32, f32::max);
    assert!(
        (max - 1.0).abs() < 1e-6,
        "every digit has a saturated pixel, max was {max}"
    );
    let mut labels = Vec::new();
    test.fill_labels(&indices, &mut labels);
    assert_eq!(labels[0], 7);
}

#[test]
fn the_built_in_checksums_match_the_files() {
    let folder = data_dir().join("mnist");
    for (name, expected) in MNIST_CHECKSUMS {
        let gz = folder.join(format!("{name}.gz"));
        let mut hasher = Sha256::new();
        let found = if gz.is_file() {
            io::copy(
                &mut MultiGzDecoder::new(BufReader::new(File::open(&gz).unwrap())),
                &mut hasher,
            )
            .unwrap()
        } else {
            io::copy(&mut File::open(folder.join(name)).unwrap(), &mut hasher).unwrap()
        };
        assert!(found > 0);
        assert_eq!(hex::encode(hasher.finalize()), expected, "{name}");
    }
}
