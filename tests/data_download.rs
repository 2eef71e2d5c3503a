//! Downloads against a loopback HTTP server: only verified files may ever appear in the cache.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::Ordering;

use common::entries;
use common::serve::{serve, Reply};

use expr::data::{
    load_idx_pair, load_mnist, locate_mnist_in, DataError, DownloadError, DownloadLimits, Mirror,
    MnistFile, Split,
};
use flate2::write::GzEncoder;
use flate2::Compression;
use sha2::{Digest, Sha256};

const IMAGES: &str = "train-images-idx3-ubyte";
const LABELS: &str = "train-labels-idx1-ubyte";

fn images_idx(n: u32) -> Vec<u8> {
    let mut bytes = [2051u32, n, 3, 3]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect::<Vec<_>>();
    bytes.extend((0..n * 9).map(|i| (i * 7 % 256) as u8));
    bytes
}

fn labels_idx(n: u32) -> Vec<u8> {
    let mut bytes = [2049u32, n]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect::<Vec<_>>();
    bytes.extend((0..n).map(|i| (i % 10) as u8));
    bytes
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A mirror of the train split with checksums of the generated content.
fn mirror(base_urls: Vec<String>, images: &[u8], labels: &[u8]) -> Mirror {
    Mirror {
        base_urls,
        files: vec![
            MnistFile {
                name: IMAGES.into(),
                sha256: sha(images),
            },
            MnistFile {
                name: LABELS.into(),
                sha256: sha(labels),
            },
        ],
        limits: DownloadLimits::default(),
    }
}

fn routes(prefix: &str, images: &[u8], labels: &[u8]) -> HashMap<String, Reply> {
    HashMap::from([
        (format!("{prefix}/{IMAGES}.gz"), Reply::Body(gz(images))),
        (format!("{prefix}/{LABELS}.gz"), Reply::Body(gz(labels))),
    ])
}

fn download_attempts(err: DataError) -> Vec<DownloadError> {
    match err {
        DataError::DownloadFailed { attempts, .. } => attempts,
        other => panic!("expected a failed download, got {other:?}"),
    }
}

#[test]
fn download_fills_an_empty_cache_and_is_not_repeated() {
    let (images, labels) = (images_idx(12), labels_idx(12));
    let (base, hits) = serve(routes("/ok", &images, &labels));
    let cache = tempfile::tempdir().unwrap();
    let cache_dir = cache.path().join("expr/datasets/mnist");
    let mirror = mirror(vec![format!("{base}/ok/")], &images, &labels);

    let (image_path, label_path) =
        locate_mnist_in(Split::Train, None, &mirror, &cache_dir).unwrap();
    assert_eq!(image_path, cache_dir.join(format!("{IMAGES}.gz")));
    assert_eq!(
        entries(&cache_dir),
        [format!("{IMAGES}.gz"), format!("{LABELS}.gz")]
    );
    let examples = load_idx_pair(&image_path, &label_path).unwrap();
    assert_eq!((examples.len(), examples.features()), (12, 9));
    assert_eq!(examples.targets.classes().unwrap()[11], 1);
    assert_eq!(hits.load(Ordering::SeqCst), 2);

    let again = locate_mnist_in(Split::Train, None, &mirror, &cache_dir).unwrap();
    assert_eq!(again, (image_path, label_path));
    assert_eq!(
        hits.load(Ordering::SeqCst),
        2,
        "a cached file must not be fetched again"
    );
}

#[test]
fn a_bad_checksum_leaves_no_file_behind() {
    let (images, labels) = (images_idx(4), labels_idx(4));
    let (base, _) = serve(routes("/ok", &images, &labels));
    let cache = tempfile::tempdir().unwrap();
    let mut mirror = mirror(vec![format!("{base}/ok")], &images, &labels);
    mirror.files[0].sha256 = "00".repeat(32);

    let err = locate_mnist_in(Split::Train, None, &mirror, cache.path()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains(IMAGES), "{text}");
    let attempts = download_attempts(err);
    assert!(
        matches!(&attempts[..], [DownloadError::Checksum { url, expected, found }]
            if url.ends_with(&format!("/ok/{IMAGES}.gz")) && *expected == "00".repeat(32) && *found == sha(&images)),
        "{attempts:?}"
    );
    assert_eq!(entries(cache.path()), Vec::<String>::new());
}

#[test]
fn a_404_on_the_first_mirror_falls_back_to_the_second() {
    let (images, labels) = (images_idx(5), labels_idx(5));
    let (base, hits) = serve(routes("/second", &images, &labels));
    let cache = tempfile::tempdir().unwrap();
    let mirror = mirror(
        vec![format!("{base}/first/"), format!("{base}/second/")],
        &images,
        &labels,
    );

    let (image_path, label_path) =
        locate_mnist_in(Split::Train, None, &mirror, cache.path()).unwrap();
    assert!(load_idx_pair(&image_path, &label_path).is_ok());
    assert_eq!(hits.load(Ordering::SeqCst), 4, "two 404s and two successes");
}

#[test]
fn every_mirror_failing_reports_each_url() {
    let (images, labels) = (images_idx(5), labels_idx(5));
    let (base, _) = serve(HashMap::new());
    let cache = tempfile::tempdir().unwrap();
    // Port 9 (discard) on loopback is closed in any sane test environment.
    let mirror = mirror(
        vec![format!("{base}/a"), "http://127.0.0.1:9/b".into()],
        &images,
        &labels,
    );

    let attempts =
        download_attempts(locate_mnist_in(Split::Train, None, &mirror, cache.path()).unwrap_err());
    assert!(
        matches!(&attempts[..], [DownloadError::HttpStatus { status: 404, url }, DownloadError::Transport { .. }]
            if url.ends_with(&format!("/a/{IMAGES}.gz"))),
        "{attempts:?}"
    );
    assert_eq!(entries(cache.path()), Vec::<String>::new());
}

#[test]
fn a_server_closing_mid_body_leaves_no_file_behind() {
    let (images, labels) = (images_idx(400), labels_idx(400));
    let zipped = gz(&images);
    let cut = zipped.len() / 2;
    let mut routes = routes("/cut", &images, &labels);
    routes.insert(
        format!("/cut/{IMAGES}.gz"),
        Reply::CutAfter(zipped.clone(), cut),
    );
    let (base, _) = serve(routes);
    let cache = tempfile::tempdir().unwrap();
    let mirror = mirror(vec![format!("{base}/cut/")], &images, &labels);

    let attempts =
        download_attempts(locate_mnist_in(Split::Train, None, &mirror, cache.path()).unwrap_err());
    assert!(
        matches!(&attempts[..], [DownloadError::Interrupted { received, expected, .. }]
            if *received == cut as u64 && *expected == zipped.len() as u64),
        "{attempts:?}"
    );
    assert_eq!(entries(cache.path()), Vec::<String>::new());
}

#[test]
fn an_uncompressed_reply_is_cached_under_the_plain_name() {
    let (images, labels) = (images_idx(3), labels_idx(3));
    let mut routes = routes("/raw", &images, &labels);
    routes.insert(format!("/raw/{IMAGES}.gz"), Reply::Body(images.clone()));
    let (base, _) = serve(routes);
    let cache = tempfile::tempdir().unwrap();
    let mirror = mirror(vec![format!("{base}/raw")], &images, &labels);

    let (image_path, label_path) =
        locate_mnist_in(Split::Train, None, &mirror, cache.path()).unwrap();
    assert_eq!(image_path, cache.path().join(IMAGES));
    assert_eq!(load_idx_pair(&image_path, &label_path).unwrap().len(), 3);
}

#[test]
fn expr_data_without_the_files_lists_the_paths_tried() {
    let data = tempfile::tempdir().unwrap();
    std::fs::create_dir(data.path().join("mnist")).unwrap();
    std::fs::write(
        data.path().join("mnist").join(format!("{IMAGES}.gz")),
        gz(&images_idx(1)),
    )
    .unwrap();
    let mirror = mirror(vec!["http://127.0.0.1:9/".into()], b"", b"");
    let cache = tempfile::tempdir().unwrap();

    let err = locate_mnist_in(Split::Train, Some(data.path()), &mirror, cache.path()).unwrap_err();
    let DataError::ExprDataIncomplete { tried, .. } = &err else {
        panic!("{err:?}")
    };
    let mnist = data.path().join("mnist");
    assert_eq!(
        *tried,
        [mnist.join(format!("{LABELS}.gz")), mnist.join(LABELS)]
    );
    let text = err.to_string();
    assert!(
        text.contains("EXPR_DATA") && text.contains(LABELS),
        "{text}"
    );
    assert_eq!(
        entries(cache.path()),
        Vec::<String>::new(),
        "EXPR_DATA set: no download"
    );
}

#[test]
fn the_rendered_report_names_every_url_and_what_to_do() {
    let (images, labels) = (images_idx(4), labels_idx(4));
    let (base, _) = serve(routes("/ok", &images, &labels));
    let cache = tempfile::tempdir().unwrap();
    let mut mirror = mirror(
        vec![format!("{base}/nope"), format!("{base}/ok")],
        &images,
        &labels,
    );
    mirror.files[0].sha256 = "00".repeat(32);
    let err = locate_mnist_in(Split::Train, None, &mirror, cache.path()).unwrap_err();
    let mut out = String::new();
    miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .with_width(400)
        .render_report(&mut out, &err)
        .unwrap();
    for needle in [
        "expr::data::download_failed".to_string(),
        format!("`{base}/nope/{IMAGES}.gz` answered http status 404"),
        format!(
            "`{base}/ok/{IMAGES}.gz` gave content with sha-256 {}",
            sha(&images)
        ),
        format!("expected {}", "00".repeat(32)),
        "EXPR_DATA".to_string(),
        cache.path().display().to_string(),
    ] {
        assert!(out.contains(&needle), "missing {needle:?} in:\n{out}");
    }
}

#[test]
fn load_mnist_downloads_from_the_env_mirror_into_the_xdg_cache() {
    // The only test in this binary that touches the environment; the others pass paths explicitly.
    let (images, labels) = (images_idx(7), labels_idx(7));
    let test_images = images_idx(2);
    let test_labels = labels_idx(2);
    let mut routes = routes("/env", &images, &labels);
    routes.insert(
        "/env/t10k-images-idx3-ubyte.gz".into(),
        Reply::Body(gz(&test_images)),
    );
    routes.insert(
        "/env/t10k-labels-idx1-ubyte.gz".into(),
        Reply::Body(gz(&test_labels)),
    );
    let (base, _) = serve(routes);
    let cache = tempfile::tempdir().unwrap();
    std::env::remove_var("EXPR_DATA");
    std::env::set_var("XDG_CACHE_HOME", cache.path());
    std::env::set_var("EXPR_MNIST_MIRROR", format!("{base}/env/"));

    // The generated files do not hash to the real MNIST checksums, so the download is refused.
    let attempts = download_attempts(load_mnist(Split::Train).unwrap_err());
    assert!(
        matches!(&attempts[..], [DownloadError::Checksum { .. }]),
        "{attempts:?}"
    );
    let cached = cache.path().join("expr/datasets/mnist");
    assert_eq!(entries(&cached), Vec::<String>::new());

    // Files placed in the cache by hand are only checked for structure.
    std::fs::write(cached.join(format!("{IMAGES}.gz")), gz(&images)).unwrap();
    std::fs::write(cached.join(LABELS), &labels).unwrap();
    let train = load_mnist(Split::Train).unwrap();
    assert_eq!(train.len(), 7);
    assert!(train.source.contains("mnist train"), "{}", train.source);
}
