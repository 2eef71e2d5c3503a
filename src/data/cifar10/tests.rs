use super::*;

/// One record in the official layout: `label`, then `pixel(channel, row, col)` for the red,
/// green and blue planes, each row by row.
fn record(label: u8, pixel: impl Fn(usize, usize, usize) -> u8) -> Vec<u8> {
    let mut out = vec![label];
    for c in 0..3 {
        for r in 0..32 {
            for x in 0..32 {
                out.push(pixel(c, r, x));
            }
        }
    }
    out
}

/// A batch of `n` records whose labels start at `first` and whose pixels all hold the
/// record's number in the file plus `base`.
fn batch(n: usize, first: u8, base: u8) -> Vec<u8> {
    (0..n)
        .flat_map(|i| record((first + i as u8) % 10, |_, _, _| base + i as u8))
        .collect()
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_pixel_lands_at_channel_row_and_column_as_conv_layers_read_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one.bin");
    // Every pixel distinct mod 251, with one marked pixel: green (1), row 5, column 7.
    let pixel = |c, r, x| {
        if (c, r, x) == (1, 5, 7) {
            255
        } else {
            ((c * 1024 + r * 32 + x) % 251) as u8
        }
    };
    write(&path, &[record(3, pixel), record(9, |_, _, _| 0)].concat());
    let examples = read_cifar10_batches(&[path]).unwrap();
    assert_eq!(examples.element_shape, [3, 32, 32]);
    assert_eq!((examples.len(), examples.features()), (2, 3072));
    assert_eq!(examples.targets.classes().unwrap().to_vec(), [3, 9]);
    let image = examples.inputs.as_u8().unwrap().row(0);
    // (channels, rows, cols), row-major: what conv2d reads as channel c, row r, column x.
    assert_eq!(image[1024 + 5 * 32 + 7], 255);
    assert_eq!(image[2 * 1024 + 31 * 32 + 31], ((3 * 1024 - 1) % 251) as u8);
    assert_eq!(image[32], 32, "row 1, column 0 of red");
}

#[test]
fn the_training_split_reads_batches_one_to_five_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("cifar10");
    for (i, name) in TRAIN_BATCHES.iter().enumerate() {
        write(&folder.join(name), &batch(2 + i, i as u8, 10 * i as u8));
    }
    let files = find_cifar10_in(Split::Train, Some(dir.path()), Path::new("/nowhere"))
        .unwrap()
        .unwrap();
    let examples = read_cifar10_batches(&files).unwrap();
    assert_eq!(examples.len(), 2 + 3 + 4 + 5 + 6);
    // The first pixel of each example: batch i's records hold 10 * i + their number.
    let first: Vec<u8> = examples.inputs.as_u8().unwrap().column(0).to_vec();
    assert_eq!(&first[..5], [0, 1, 10, 11, 12]);
    assert_eq!(&first[14..], [40, 41, 42, 43, 44, 45]);
    assert_eq!(
        &examples.targets.classes().unwrap().to_vec()[..5],
        [0, 1, 1, 2, 3]
    );
}

#[test]
fn the_unpacked_folder_inside_cifar10_is_read_first() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cifar10");
    write(&root.join(TEST_BATCH), &batch(1, 0, 0));
    write(&root.join(ARCHIVE_FOLDER).join(TEST_BATCH), &batch(3, 0, 0));
    let files = find_cifar10_in(Split::Test, Some(dir.path()), Path::new(""))
        .unwrap()
        .unwrap();
    assert_eq!(files, [root.join(ARCHIVE_FOLDER).join(TEST_BATCH)]);
}

#[test]
fn a_missing_batch_names_the_file_and_both_places_tried() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cifar10");
    for name in ["data_batch_1.bin", "data_batch_2.bin"] {
        write(&root.join(name), &batch(1, 0, 0));
    }
    let err = find_cifar10_in(Split::Train, Some(dir.path()), Path::new("")).unwrap_err();
    let DataError::Cifar10Missing { file, tried, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*file, "data_batch_3.bin");
    assert_eq!(
        *tried,
        [
            root.join("data_batch_3.bin"),
            root.join(ARCHIVE_FOLDER).join("data_batch_3.bin")
        ]
    );
    assert!(err.to_string().contains("`EXPR_DATA`"), "{err}");
}

#[test]
fn an_empty_cache_is_not_an_error_until_something_must_be_downloaded() {
    let cache = tempfile::tempdir().unwrap();
    assert!(find_cifar10_in(Split::Test, None, cache.path())
        .unwrap()
        .is_none());
}

#[test]
fn a_file_of_the_wrong_length_names_the_record_it_cuts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data_batch_3.bin");
    write(&path, &[batch(2, 0, 0), vec![7; 100]].concat());
    let err = read_cifar10_batches(std::slice::from_ref(&path)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "`{}` is 6,246 bytes, which cuts record 2 (at byte 6,146) short: 100 of its 3,073 bytes; a CIFAR-10 batch is 10,000 records of 3,073 bytes (30,730,000)",
            path.display()
        )
    );
    assert_eq!(
        cifar10_batch_records(&path).unwrap_err().to_string(),
        err.to_string()
    );
}

#[test]
fn a_file_longer_than_a_batch_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data_batch_1.bin");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(30_730_001).unwrap();
    let err = cifar10_batch_records(&path).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "`{}` is 30,730,001 bytes, more than a CIFAR-10 batch: 10,000 records of 3,073 bytes (30,730,000)",
            path.display()
        )
    );
}

#[test]
fn an_empty_file_and_a_directory_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("test_batch.bin");
    write(&empty, b"");
    let err = read_cifar10_batches(&[empty]).unwrap_err();
    assert!(err.to_string().contains("is empty (0 bytes)"), "{err}");
    let folder = dir.path().join("data_batch_1.bin");
    std::fs::create_dir(&folder).unwrap();
    let err = read_cifar10_batches(&[folder]).unwrap_err();
    assert!(matches!(err, DataError::NotAFile { .. }), "{err:?}");
}

#[test]
fn a_label_above_nine_names_the_record_and_its_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data_batch_2.bin");
    let mut bytes = batch(4, 0, 0);
    bytes[3 * RECORD_BYTES] = 12;
    write(&path, &bytes);
    let err = read_cifar10_batches(std::slice::from_ref(&path)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "`{}`: record 3 (at byte 9,219) has label 12, but CIFAR-10's labels are 0 to 9",
            path.display()
        )
    );
}
