//! Streamed image folders (`images(..., stream = always)`): the files are decoded batch by
//! batch, ahead of the step, and the batches are the ones the folder decoded into memory
//! gives, bit for bit, with shuffling and augmentation, at every thread count. A file that
//! turns out unreadable mid-epoch is the error naming it.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use std::path::{Path, PathBuf};

use expr::check::plan::{Augment, DataSource, ImageSpec, Scaling};
use expr::data::augment::Draws;
use expr::data::{Batch, Color, Gather, OnError, Stream};

fn spec(dir: &Path, stream: Stream, on_error: OnError) -> DataSource {
    DataSource::Images(ImageSpec {
        dir: dir.to_path_buf(),
        size: (10, 12),
        color: Color::Rgb,
        on_error,
        stream,
        classes: Vec::new(),
    })
}

/// `n` RGB images of varied sizes with seeded pixels, in three class folders.
fn write_folder(dir: &Path, n: usize) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    for i in 0..n {
        let (w, h) = (rng.gen_range(6..20), rng.gen_range(6..20));
        let image = image::RgbImage::from_fn(w, h, |_, _| image::Rgb(rng.gen()));
        let class = dir.join(format!("class{}", i % 3));
        std::fs::create_dir_all(&class).unwrap();
        image
            .save_with_format(class.join(format!("{i:03}.png")), image::ImageFormat::Png)
            .unwrap();
    }
}

#[test]
fn streamed_batches_are_the_cached_batches_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    write_folder(dir.path(), 40);
    let cached =
        expr::data::sources::read(&spec(dir.path(), Stream::Never, OnError::Fail)).unwrap();
    let streamed =
        expr::data::sources::read(&spec(dir.path(), Stream::Always, OnError::Fail)).unwrap();
    assert!(!cached.inputs.streamed());
    assert!(streamed.inputs.streamed());
    assert_eq!(cached.len(), streamed.len());
    assert_eq!(cached.encoding, streamed.encoding);
    let scaling = Scaling::uniform(1.0 / 255.0, -0.5);
    let ops = [
        Augment::Rotation { degrees: 20.0 },
        Augment::Translate { fraction: 0.2 },
        Augment::Noise { std: 0.1 },
    ];
    let shape = [3, 10, 12];
    for epoch in 0..3 {
        let how = Gather {
            scaling: &scaling,
            element_shape: &shape,
            one_hot_classes: Some(3),
            augment: Some((
                &ops,
                Draws {
                    seed: 1,
                    data: 0,
                    epoch,
                },
            )),
        };
        for indices in [&[0usize, 39, 7, 7][..], &[12, 3, 25, 30, 1], &[38]] {
            let want = Batch::gather(&cached, indices, &how).unwrap();
            for got in [
                Batch::gather(&streamed, indices, &how).unwrap(),
                Batch::gather_here(&streamed, indices, &how).unwrap(),
                Batch::gather_here(&cached, indices, &how).unwrap(),
            ] {
                let bits = |b: &Batch| b.x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&got), bits(&want), "epoch {epoch}, {indices:?}");
                assert_eq!(got.labels, want.labels);
                assert_eq!(got.dense_y, want.dense_y);
                assert_eq!(got.shape, want.shape);
            }
        }
    }
}

#[test]
fn a_streamed_folder_skips_the_files_a_cached_one_skips() {
    let dir = tempfile::tempdir().unwrap();
    write_folder(dir.path(), 12);
    std::fs::write(dir.path().join("class1/004.png"), b"not a png").unwrap();
    let read =
        |stream| expr::data::sources::read(&spec(dir.path(), stream, OnError::Skip)).unwrap();
    let (cached, streamed) = (read(Stream::Never), read(Stream::Always));
    assert_eq!(streamed.len(), 11);
    assert!(
        streamed.source.contains("1 unreadable images skipped"),
        "{}",
        streamed.source
    );
    let all: Vec<usize> = (0..11).collect();
    let scaling = Scaling::uniform(1.0, 0.0);
    let how = Gather::plain(&scaling, &[3, 10, 12]);
    let (a, b) = (
        Batch::gather(&cached, &all, &how).unwrap(),
        Batch::gather(&streamed, &all, &how).unwrap(),
    );
    assert_eq!(a.x, b.x);
    assert_eq!(a.labels, b.labels);
}

#[test]
fn a_file_unreadable_when_its_batch_comes_is_the_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    write_folder(dir.path(), 9);
    let streamed =
        expr::data::sources::read(&spec(dir.path(), Stream::Always, OnError::Fail)).unwrap();
    // Spoiled after the folder was listed, as a file changed during a long run would be.
    let bad = dir.path().join("class2/005.png");
    std::fs::write(&bad, b"\x89PNG\r\n\x1a\n truncated").unwrap();
    let scaling = Scaling::uniform(1.0, 0.0);
    let how = Gather::plain(&scaling, &[3, 10, 12]);
    assert!(Batch::gather(&streamed, &[0, 3], &how).is_ok());
    // The scan lists class by class: `class2/005.png` is example 7.
    for made in [
        Batch::gather(&streamed, &[0, 7, 1], &how),
        Batch::gather_here(&streamed, &[0, 7, 1], &how),
    ] {
        let error = made.unwrap_err().to_string();
        assert!(error.contains("cannot read image"), "{error}");
        assert!(error.contains(&bad.display().to_string()), "{error}");
    }
}

/// The fixture over a folder of `n` training and 256 test images, with `stream` for both.
fn experiment(dir: &Path, n: usize, stream: &str) -> PathBuf {
    let train = common::write_png_set(dir, "train", n, 16, 4);
    let test = common::write_png_set(dir, "test", 256, 16, 4);
    let text = common::fixture(
        "streamed_images",
        &[("train_dir", train), ("test_dir", test)],
    )
    .replace("stream = always", &format!("stream = {stream}"))
    .replace("epochs = 3", "epochs = 2");
    let path = dir.join(format!("{stream}.exp"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `file` at `threads` into `dir/runs-<tag>`: its record's weights hash, and the
/// epochs' log lines.
fn run(dir: &Path, file: &Path, threads: usize, tag: &str) -> (String, String) {
    let runs = dir.join(format!("runs-{tag}"));
    let out = std::process::Command::new(common::expr_bin())
        .args(["run", "--no-progress", "--threads", &threads.to_string()])
        .arg("--runs-dir")
        .arg(&runs)
        .arg(file)
        .output()
        .unwrap();
    let stdout = common::succeeded(&out)
        .lines()
        .filter(|l| l.starts_with("epoch "))
        .collect::<Vec<_>>()
        .join("\n");
    (common::weights_sha256_in(&runs), stdout)
}

#[test]
fn streamed_and_cached_runs_train_the_same_weights_at_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let always = experiment(dir.path(), 512, "always");
    let never = dir.path().join("never.exp");
    std::fs::write(
        &never,
        std::fs::read_to_string(&always)
            .unwrap()
            .replace("stream = always", "stream = never"),
    )
    .unwrap();
    let (cached, cached_log) = run(dir.path(), &never, 2, "cached");
    for threads in [1, 2, 3] {
        let (streamed, log) = run(dir.path(), &always, threads, &format!("streamed-{threads}"));
        assert_eq!(streamed, cached, "{threads} threads");
        assert_eq!(log, cached_log);
        assert_eq!(log.lines().count(), 2, "{log}");
    }
}

#[test]
fn auto_streams_over_the_memory_budget_says_so_and_trains_the_same_weights() {
    let dir = tempfile::tempdir().unwrap();
    let auto = experiment(dir.path(), 256, "auto");
    // 256 training images of 16 x 16 gray bytes are 64 KiB decoded; the 256 test images
    // as many.
    let run = |budget: &str, tag: &str| {
        let runs = dir.path().join(format!("runs-{tag}"));
        let out = common::expr_in_env(
            dir.path(),
            &[
                "run",
                "--no-progress",
                "--runs-dir",
                runs.to_str().unwrap(),
                auto.to_str().unwrap(),
            ],
            &[("EXPR_DATA_MEMORY", Some(std::ffi::OsStr::new(budget)))],
        );
        common::succeeded(&out);
        (common::weights_sha256_in(&runs), common::stderr(&out))
    };
    let (streamed, notices) = run("10K", "streamed");
    for name in ["train", "test"] {
        assert!(
            notices.contains(&format!(
                "data `{name}`: 256 images streamed from disk, decoded batch by batch ahead of the step (`stream = auto`: decoded, they would take 64.0 KiB, over the 10.0 KiB it keeps in memory"
            )),
            "{notices}"
        );
    }
    let (cached, notices) = run("1M", "cached");
    assert!(!notices.contains("streamed"), "{notices}");
    assert_eq!(streamed, cached);
}

#[test]
fn a_corrupt_file_met_while_streaming_stops_the_run_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path(), 300, "always");
    // Met somewhere in the first epoch, after the scan listed it.
    let bad = dir.path().join("train/c3/00299.png");
    std::fs::write(&bad, b"this is not an image").unwrap();
    let out = std::process::Command::new(common::expr_bin())
        .args(["run", "--no-progress", "--runs-dir"])
        .arg(dir.path().join("runs"))
        .arg(&file)
        .output()
        .unwrap();
    let stderr = common::stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot read image"), "{stderr}");
    assert!(stderr.contains("00299.png"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
