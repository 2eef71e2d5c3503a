//! The `cifar10` source end to end on files written here in the official binary format:
//! the download of the archive against a loopback server, the shipped experiment checked
//! and run, and the bad-file catalogue through the command line (exit 2, file and record
//! named). No test needs CIFAR-10 itself or the network.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::Ordering;

use common::serve::{serve, Reply};
use common::{cifar10_records, entries, expr_in_env, stderr, write_cifar10};
use expr::data::cifar10::{
    locate_cifar10_in, ARCHIVE, ARCHIVE_FOLDER, ARCHIVE_SHA256, TEST_BATCH, TRAIN_BATCHES,
};
use expr::data::{
    read_cifar10_batches, Cifar10Mirror, DataError, DownloadError, DownloadLimits, Split,
};
use sha2::{Digest, Sha256};

/// `cifar-10-batches-bin/` as the official archive lays it out, with `n` records per
/// batch, as tar.gz bytes; without `data_batch_5.bin` unless `complete`.
fn archive(n: usize, complete: bool) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut add = |name: &str, bytes: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, format!("{ARCHIVE_FOLDER}/{name}"), bytes)
            .unwrap();
    };
    add("batches.meta.txt", b"airplane\nautomobile\nbird\n");
    let train = if complete { 5 } else { 4 };
    for (i, name) in TRAIN_BATCHES[..train].iter().enumerate() {
        add(name, &cifar10_records(n, i as u64));
    }
    add(TEST_BATCH, &cifar10_records(n, 99));
    add("readme.html", b"<meta HTTP-EQUIV=\"REFRESH\">");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar.into_inner().unwrap()).unwrap();
    gz.finish().unwrap()
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn mirror(base: String, sha256: String) -> Cifar10Mirror {
    Cifar10Mirror {
        base_urls: vec![base],
        sha256,
        limits: DownloadLimits::default(),
    }
}

#[test]
fn the_archive_is_downloaded_verified_unpacked_once_and_read() {
    let bytes = archive(3, true);
    let (base, hits) = serve(HashMap::from([(
        format!("/kriz/{ARCHIVE}"),
        Reply::Body(bytes.clone()),
    )]));
    let cache = tempfile::tempdir().unwrap();
    let cache_dir = cache.path().join("expr/datasets/cifar10");
    let mirror = mirror(format!("{base}/kriz/"), sha(&bytes));

    let train = locate_cifar10_in(Split::Train, None, &mirror, &cache_dir).unwrap();
    let folder = cache_dir.join(ARCHIVE_FOLDER);
    assert_eq!(train, TRAIN_BATCHES.map(|n| folder.join(n)));
    assert_eq!(
        entries(&cache_dir),
        [ARCHIVE_FOLDER],
        "no archive, no partial file left"
    );
    let examples = read_cifar10_batches(&train).unwrap();
    assert_eq!((examples.len(), examples.features()), (15, 3072));
    assert_eq!(examples.element_shape, [3, 32, 32]);

    let test = locate_cifar10_in(Split::Test, None, &mirror, &cache_dir).unwrap();
    assert_eq!(test, [folder.join(TEST_BATCH)]);
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "the cache is used after the first download"
    );
}

#[test]
fn an_archive_with_the_wrong_checksum_is_refused_and_leaves_nothing() {
    let bytes = archive(1, true);
    let (base, _) = serve(HashMap::from([(
        format!("/kriz/{ARCHIVE}"),
        Reply::Body(bytes.clone()),
    )]));
    let cache = tempfile::tempdir().unwrap();
    let expected = "00".repeat(32);
    let err = locate_cifar10_in(
        Split::Test,
        None,
        &mirror(format!("{base}/kriz"), expected.clone()),
        cache.path(),
    )
    .unwrap_err();
    let DataError::DownloadFailed { attempts, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(
        matches!(&attempts[..], [DownloadError::Checksum { url, expected: e, found }]
            if url.ends_with(&format!("/kriz/{ARCHIVE}")) && *e == expected && *found == sha(&bytes)),
        "{attempts:?}"
    );
    assert!(err.to_string().contains(ARCHIVE), "{err}");
    assert_eq!(entries(cache.path()), Vec::<String>::new());
}

#[test]
fn a_server_closing_mid_archive_leaves_nothing() {
    let bytes = archive(50, true);
    let cut = bytes.len() / 2;
    let (base, _) = serve(HashMap::from([(
        format!("/{ARCHIVE}"),
        Reply::CutAfter(bytes.clone(), cut),
    )]));
    let cache = tempfile::tempdir().unwrap();
    let err =
        locate_cifar10_in(Split::Test, None, &mirror(base, sha(&bytes)), cache.path()).unwrap_err();
    assert!(matches!(err, DataError::DownloadFailed { .. }), "{err:?}");
    assert_eq!(entries(cache.path()), Vec::<String>::new());
}

/// The shipped experiment with 30 epochs cut to 1.
fn shipped(dir: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/cifar10_cnn.exp"),
    )
    .unwrap()
    .replace("epochs = 30\n", "epochs = 1\n");
    let file = dir.join("cifar10_cnn.exp");
    std::fs::write(&file, text).unwrap();
    file
}

fn with_data(data: &Path) -> [(&'static str, Option<&OsStr>); 1] {
    [("EXPR_DATA", Some(data.as_os_str()))]
}

/// The shipped experiment over generated batches of `per_batch` records, after `change`
/// (given the `cifar10/` folder): `expr check` passes, then `expr run`'s output.
fn check_then_run(
    per_batch: usize,
    change: impl FnOnce(&Path),
) -> (tempfile::TempDir, std::process::Output) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    change(&write_cifar10(&data, per_batch, per_batch));
    let file = shipped(dir.path());
    let file = file.to_str().unwrap();
    let out = expr_in_env(dir.path(), &["check", file], &with_data(&data));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = expr_in_env(
        dir.path(),
        &["run", "--no-progress", file],
        &with_data(&data),
    );
    (dir, out)
}

#[test]
fn the_shipped_experiment_checks_and_trains_on_generated_batches() {
    let (dir, out) = check_then_run(64, |_| {});
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(log.contains("Epoch 1, Loss: "), "{log}");
    // The record names every batch read, with its digest.
    let runs = dir.path().join("runs/cifar10_cnn");
    let run = std::fs::read_dir(&runs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let record = std::fs::read_to_string(run.join("run.yaml")).unwrap();
    for name in TRAIN_BATCHES.iter().chain([&TEST_BATCH]) {
        assert!(record.contains(name), "{name} missing from\n{record}");
    }
}

/// Whether `haystack` says `needle`, wherever the report wrapped its lines.
fn says(haystack: &str, needle: &str) -> bool {
    let squeeze = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_whitespace() && *c != '│')
            .collect()
    };
    squeeze(haystack).contains(&squeeze(needle))
}

/// The shipped experiment over generated batches of 4 records that `damage` spoils (it
/// gets the `cifar10/` folder): `expr check` and `expr run` both exit 2 and say each of
/// the needles `damage` returns, and no run is created.
fn refused_after(damage: impl FnOnce(&Path) -> Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let needles = damage(&write_cifar10(&data, 4, 4));
    let file = shipped(dir.path());
    for command in ["check", "run"] {
        let out = expr_in_env(
            dir.path(),
            &[command, file.to_str().unwrap()],
            &with_data(&data),
        );
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{command}: {err}");
        for needle in &needles {
            assert!(says(&err, needle), "{command}: no {needle:?} in\n{err}");
        }
        assert!(!dir.path().join("runs").exists(), "{command} created a run");
    }
}

#[test]
fn a_batch_of_the_wrong_length_is_refused_naming_the_file_and_the_record() {
    refused_after(|folder| {
        let mut bytes = cifar10_records(4, 0);
        bytes.truncate(3 * 3073 + 1000);
        std::fs::write(folder.join("data_batch_3.bin"), bytes).unwrap();
        vec![
            "data_batch_3.bin` is 10,219 bytes, which cuts record 3 (at byte 9,219) short".into(),
            "expr::check::data_file".into(),
            "replace it with the file of that name".into(),
        ]
    });
}

#[test]
fn a_missing_batch_is_refused_naming_it_and_where_it_was_looked_for() {
    refused_after(|folder| {
        let missing = folder.join("data_batch_4.bin");
        std::fs::remove_file(&missing).unwrap();
        vec![
            "lacks CIFAR-10's `data_batch_4.bin`".into(),
            missing.display().to_string(),
            "cifar-10-batches-bin/data_batch_4.bin".into(),
        ]
    });
}

#[test]
fn a_zero_byte_batch_is_refused() {
    refused_after(|folder| {
        std::fs::write(folder.join(TEST_BATCH), b"").unwrap();
        vec![
            "test_batch.bin` is empty (0 bytes); a CIFAR-10 batch is 10,000 records of 3,073 bytes"
                .into(),
        ]
    });
}

#[test]
fn a_label_out_of_range_passes_check_and_stops_the_run_naming_the_record() {
    // Only lengths are checked before a run: the labels are read with the images.
    let (_dir, out) = check_then_run(4, |folder| {
        let mut bytes = cifar10_records(4, 1);
        bytes[2 * 3073] = 10;
        std::fs::write(folder.join("data_batch_2.bin"), bytes).unwrap();
    });
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        says(&err, "data_batch_2.bin`: record 2 (at byte 6,146) has label 10, but CIFAR-10's labels are 0 to 9"),
        "{err}"
    );
    assert!(err.contains("expr::data::cifar10_label"), "{err}");
}

#[test]
fn without_expr_data_the_run_downloads_from_the_env_mirror_into_the_xdg_cache() {
    let bytes = archive(2, true);
    let (base, hits) = serve(HashMap::from([(
        format!("/m/{ARCHIVE}"),
        Reply::Body(bytes),
    )]));
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let file = shipped(dir.path());
    let mirror_url = format!("{base}/m/");
    let env = [
        ("EXPR_DATA", None),
        ("XDG_CACHE_HOME", Some(cache.as_os_str())),
        ("EXPR_CIFAR10_MIRROR", Some(OsStr::new(&mirror_url))),
    ];
    // Nothing on disk yet is not a mistake for check: the run downloads it.
    let out = expr_in_env(dir.path(), &["check", file.to_str().unwrap()], &env);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(hits.load(Ordering::SeqCst), 0, "check downloads nothing");
    // The generated archive does not hash to the official one: refused, nothing kept.
    let out = expr_in_env(
        dir.path(),
        &["run", "--no-progress", file.to_str().unwrap()],
        &env,
    );
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed download is not the data's fault: {err}"
    );
    assert!(err.contains(&format!("{base}/m/{ARCHIVE}")), "{err}");
    assert!(err.contains(ARCHIVE_SHA256), "{err}");
    assert!(err.contains("EXPR_CIFAR10_MIRROR"), "{err}");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert_eq!(
        entries(&cache.join("expr/datasets/cifar10")),
        Vec::<String>::new()
    );
}

/// `cifar-10-binary.tar.gz` of `bytes` placed in an empty cache by hand, then the test
/// split asked for with `sha256` as the archive's checksum.
fn placed(
    bytes: &[u8],
    sha256: String,
) -> (
    tempfile::TempDir,
    Result<Vec<std::path::PathBuf>, DataError>,
) {
    let cache = tempfile::tempdir().unwrap();
    std::fs::write(cache.path().join(ARCHIVE), bytes).unwrap();
    let mirror = mirror("http://127.0.0.1:9/".into(), sha256);
    let found = locate_cifar10_in(Split::Test, None, &mirror, cache.path());
    (cache, found)
}

#[test]
fn an_archive_placed_in_the_cache_is_verified_unpacked_and_removed() {
    let bytes = archive(3, true);
    let (cache, found) = placed(&bytes, sha(&bytes));
    let files = found.unwrap();
    assert_eq!(files, [cache.path().join(ARCHIVE_FOLDER).join(TEST_BATCH)]);
    assert_eq!(read_cifar10_batches(&files).unwrap().len(), 3);
    assert_eq!(entries(cache.path()), [ARCHIVE_FOLDER]);
    assert_eq!(entries(&cache.path().join(ARCHIVE_FOLDER)).len(), 8);
}

#[test]
fn a_placed_archive_with_another_checksum_is_refused_and_nothing_is_unpacked() {
    let (cache, found) = placed(&archive(3, true), ARCHIVE_SHA256.into());
    let err = found.unwrap_err();
    assert!(matches!(err, DataError::Cifar10Archive { .. }), "{err:?}");
    assert!(err.to_string().contains(ARCHIVE_SHA256), "{err}");
    assert_eq!(entries(cache.path()), [ARCHIVE]);
}

#[test]
fn an_archive_lacking_a_batch_leaves_no_folder_behind() {
    let bytes = archive(1, false);
    let (cache, found) = placed(&bytes, sha(&bytes));
    let err = found.unwrap_err();
    assert!(
        err.to_string()
            .contains("it lacks `cifar-10-batches-bin/data_batch_5.bin`"),
        "{err}"
    );
    assert_eq!(entries(cache.path()), [ARCHIVE]);
}

#[test]
fn a_truncated_archive_is_refused_and_leaves_no_folder_behind() {
    let bytes = archive(200, true);
    let cut = &bytes[..bytes.len() / 2];
    let (cache, found) = placed(cut, sha(cut));
    let err = found.unwrap_err();
    assert!(matches!(err, DataError::Cifar10Archive { .. }), "{err:?}");
    assert_eq!(entries(cache.path()), [ARCHIVE]);
}
