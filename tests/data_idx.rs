//! A catalogue of good and corrupt IDX files, generated in a temporary folder; each must read or
//! fail with the right error kind, never panic and never allocate what the file cannot hold.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

use std::io::Write;
use std::path::{Path, PathBuf};

use expr::data::{load_idx_pair, read_idx_images, read_idx_labels, DataError};
use flate2::write::GzEncoder;
use flate2::Compression;
use miette::Diagnostic;

fn images_idx(n: u32, rows: u32, cols: u32) -> Vec<u8> {
    let mut bytes = [2051u32, n, rows, cols]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect::<Vec<_>>();
    let len = (n * rows * cols) as usize;
    bytes.extend((0..len).map(|i| (i % 251) as u8));
    bytes
}

fn labels_idx(labels: &[u8]) -> Vec<u8> {
    let mut bytes = [2049u32, labels.len() as u32]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect::<Vec<_>>();
    bytes.extend_from_slice(labels);
    bytes
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Self {
        Dir(tempfile::tempdir().unwrap())
    }

    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

fn images_err(path: &Path) -> DataError {
    read_idx_images(path).expect_err("reading should fail")
}

fn code(err: &DataError) -> String {
    err.code().map(|c| c.to_string()).unwrap_or_default()
}

#[test]
fn raw_and_gzipped_images_read_the_same() {
    let dir = Dir::new();
    let bytes = images_idx(3, 2, 4);
    let (raw, shape) = read_idx_images(&dir.file("raw", &bytes)).unwrap();
    let (zipped, _) = read_idx_images(&dir.file("zipped.gz", &gz(&bytes))).unwrap();
    assert_eq!(shape, [2, 4]);
    assert_eq!(raw.dim(), (3, 8));
    assert_eq!(raw, zipped);
    assert_eq!(raw[[1, 0]], 8);
    assert_eq!(raw[[2, 7]], 23);
}

#[test]
fn compression_is_told_by_magic_bytes_not_by_name() {
    let dir = Dir::new();
    let labels = [3u8, 1, 4, 1, 5];
    let raw_named_gz = dir.file("labels.gz", &labels_idx(&labels));
    let gz_named_raw = dir.file("labels", &gz(&labels_idx(&labels)));
    assert_eq!(read_idx_labels(&raw_named_gz).unwrap().to_vec(), labels);
    assert_eq!(read_idx_labels(&gz_named_raw).unwrap().to_vec(), labels);
}

#[test]
fn a_pair_becomes_examples() {
    let dir = Dir::new();
    let images = dir.file("i.gz", &gz(&images_idx(4, 3, 3)));
    let labels = dir.file("l.gz", &gz(&labels_idx(&[0, 9, 2, 2])));
    let examples = load_idx_pair(&images, &labels).unwrap();
    assert_eq!(examples.len(), 4);
    assert_eq!(examples.features(), 9);
    assert_eq!(examples.element_shape, [3, 3]);
    assert_eq!(examples.num_classes(), 10);
    assert!(examples.source.contains("i.gz"));
}

#[test]
fn missing_file_is_reported_with_its_path() {
    let dir = Dir::new();
    let path = dir.0.path().join("nope");
    let err = images_err(&path);
    assert!(
        matches!(&err, DataError::MissingFile { path: p, .. } if *p == path),
        "{err:?}"
    );
    assert!(err.to_string().contains("an IDX image file"), "{err}");
    assert_eq!(code(&err), "expr::data::missing_file");
}

#[test]
fn empty_file_is_reported() {
    let dir = Dir::new();
    let err = images_err(&dir.file("empty", &[]));
    assert!(matches!(err, DataError::EmptyFile { .. }), "{err:?}");
}

#[test]
fn truncated_gzip_is_reported() {
    let dir = Dir::new();
    let zipped = gz(&images_idx(20, 10, 10));
    let err = images_err(&dir.file("half.gz", &zipped[..zipped.len() / 2]));
    assert!(matches!(err, DataError::TruncatedGzip { .. }), "{err:?}");
    assert_eq!(code(&err), "expr::data::truncated_gzip");
}

#[test]
fn gzip_missing_only_its_trailer_is_reported() {
    // The IDX content is complete; only the CRC and length at the end are gone.
    let dir = Dir::new();
    let zipped = gz(&images_idx(2, 2, 2));
    let err = images_err(&dir.file("notrailer.gz", &zipped[..zipped.len() - 8]));
    assert!(matches!(err, DataError::TruncatedGzip { .. }), "{err:?}");
}

#[test]
fn gzip_with_a_bad_checksum_is_corrupt() {
    let dir = Dir::new();
    let mut zipped = gz(&images_idx(2, 2, 2));
    let crc_at = zipped.len() - 8;
    zipped[crc_at] ^= 0xff;
    let err = images_err(&dir.file("badcrc.gz", &zipped));
    assert!(matches!(err, DataError::CorruptGzip { .. }), "{err:?}");
}

#[test]
fn neither_gzip_nor_idx_is_reported_with_its_first_bytes() {
    let dir = Dir::new();
    let err = images_err(&dir.file("page.html", b"<html>not mnist</html>"));
    assert!(
        matches!(&err, DataError::NotIdx { found, .. } if found == "3c 68 74 6d"),
        "{err:?}"
    );
    let err = images_err(&dir.file("one", b"x"));
    assert!(matches!(err, DataError::NotIdx { .. }), "{err:?}");
}

#[test]
fn labels_given_as_images_is_a_wrong_magic() {
    let dir = Dir::new();
    let err = images_err(&dir.file("labels.gz", &gz(&labels_idx(&[1, 2]))));
    assert!(
        matches!(
            err,
            DataError::WrongMagic {
                expected: 2051,
                found: 2049,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("2051"), "{err}");
    let images = dir.file("images", &images_idx(1, 1, 1));
    let err = read_idx_labels(&images).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::WrongMagic {
                expected: 2049,
                found: 2051,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn truncated_idx_says_how_long_it_should_be() {
    let dir = Dir::new();
    let bytes = images_idx(5, 4, 4); // 16 header bytes + 80
    for (name, content) in [
        ("raw", bytes[..50].to_vec()),
        ("zipped.gz", gz(&bytes[..50])),
    ] {
        let err = images_err(&dir.file(name, &content));
        assert!(
            matches!(
                err,
                DataError::TruncatedIdx {
                    expected: 96,
                    found: 50,
                    ..
                }
            ),
            "{name}: {err:?}"
        );
    }
}

#[test]
fn truncated_header_is_a_truncated_idx() {
    let dir = Dir::new();
    let bytes = images_idx(1, 1, 1);
    let err = images_err(&dir.file("header", &bytes[..10]));
    assert!(
        matches!(
            err,
            DataError::TruncatedIdx {
                expected: 16,
                found: 10,
                ..
            }
        ),
        "{err:?}"
    );
    let err = images_err(&dir.file("zero", &[0]));
    assert!(
        matches!(
            err,
            DataError::TruncatedIdx {
                expected: 4,
                found: 1,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn bytes_after_the_last_element_are_reported() {
    let dir = Dir::new();
    let mut bytes = images_idx(2, 2, 2);
    bytes.push(0);
    for (name, content) in [("raw", bytes.clone()), ("zipped.gz", gz(&bytes))] {
        let err = images_err(&dir.file(name, &content));
        assert!(
            matches!(err, DataError::TrailingBytes { expected: 24, .. }),
            "{name}: {err:?}"
        );
    }
}

#[test]
fn absurd_header_fails_without_allocating() {
    // 10^12 elements claimed by a file of about 1 kB: must be an error, not an out-of-memory abort.
    let dir = Dir::new();
    let mut bytes = [2051u32, 1_000_000, 1000, 1000]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect::<Vec<_>>();
    bytes.resize(1024, 7);
    let err = images_err(&dir.file("absurd", &bytes));
    assert!(
        matches!(
            err,
            DataError::TruncatedIdx {
                expected: 1_000_000_000_016,
                ..
            }
        ),
        "{err:?}"
    );
    let err = images_err(&dir.file("absurd.gz", &gz(&bytes)));
    assert!(
        matches!(
            err,
            DataError::AbsurdHeader {
                claimed: 1_000_000_000_000,
                ..
            }
        ),
        "{err:?}"
    );
    // The largest header IDX can express: 2^96 elements.
    let max = [2051u32, u32::MAX, u32::MAX, u32::MAX]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect::<Vec<_>>();
    let err = images_err(&dir.file("max.gz", &gz(&max)));
    assert!(matches!(err, DataError::AbsurdHeader { .. }), "{err:?}");
}

#[test]
fn a_header_with_a_zero_dimension_holds_no_examples() {
    let dir = Dir::new();
    let err = images_err(&dir.file("none", &images_idx(0, 28, 28)));
    assert!(
        matches!(&err, DataError::NoExamples { dims, .. } if *dims == [0, 28, 28]),
        "{err:?}"
    );
}

#[test]
fn image_and_label_counts_must_agree() {
    let dir = Dir::new();
    let images = dir.file("i", &images_idx(3, 2, 2));
    let labels = dir.file("l", &labels_idx(&[1, 2]));
    let err = load_idx_pair(&images, &labels).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::CountMismatch {
                image_count: 3,
                label_count: 2,
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("3 images") && text.contains("2 labels"),
        "{text}"
    );
    assert!(err.help().is_some());
}
