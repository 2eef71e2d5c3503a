//! Run records that were edited, and data that changed or lives elsewhere: `--resume` and
//! `--rerun` refuse a record whose experiment text or history no longer matches what ran
//! (unless `--accept-edited-record`), and read the data from where the run read it,
//! refusing files whose SHA-256 differs from the record's.

use std::path::{Path, PathBuf};

use super::{
    assert_same_end, clean_and_interrupted, copy_dir, edit_record, expr, resume, stderr, AFTER,
};
use crate::common;
use expr::record::{self, Status};

#[test]
fn an_edited_experiment_text_is_refused_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let (_, copy) = clean_and_interrupted(dir.path());
    edit_record(&copy, |r| {
        r.source.resolved = r
            .source
            .resolved
            .as_ref()
            .map(|t| t.replace("units = 16", "units = 12"));
    });
    let out = resume(dir.path(), &copy, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("was edited"), "{err}");
    assert!(err.contains("source.resolved"), "{err}");
    assert!(err.contains("--accept-edited-record"), "{err}");
}

#[test]
fn accepting_an_edited_text_knowingly_still_checks_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (_, copy) = clean_and_interrupted(dir.path());
    edit_record(&copy, |r| {
        r.source.resolved = r
            .source
            .resolved
            .as_ref()
            .map(|t| t.replace("units = 16", "units = 12"));
    });
    let out = resume(dir.path(), &copy, &["--accept-edited-record"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("does not fit this experiment"), "{err}");
}

#[test]
fn a_rerun_of_an_edited_record_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, copy) = clean_and_interrupted(dir.path());
    edit_record(&copy, |r| {
        r.source.resolved = r
            .source
            .resolved
            .as_ref()
            .map(|t| t.replace("lr = 1e-2", "lr = 2e-2"));
    });
    let yaml = copy.join(record::RECORD_FILE).display().to_string();
    let out = expr(
        dir.path(),
        &[
            "run",
            "--no-progress",
            "--runs-dir",
            "reruns",
            "--rerun",
            &yaml,
        ],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("source.resolved"), "{err}");
    assert!(!dir.path().join("reruns").exists(), "nothing ran");
}

#[test]
fn an_edited_file_digest_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, copy) = clean_and_interrupted(dir.path());
    edit_record(&copy, |r| {
        r.source.resolved_sha256 = None;
        r.source.sha256 = Some("0".repeat(64));
    });
    let out = resume(dir.path(), &copy, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("`source.sha256` says 000000000000"), "{err}");
}

#[test]
fn overrides_without_a_text_digest_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, copy) = clean_and_interrupted(dir.path());
    edit_record(&copy, |r| {
        r.source.resolved_sha256 = None;
        r.overrides = vec!["opt.lr=0.5".into()];
    });
    let out = resume(dir.path(), &copy, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("no `source.resolved_sha256`"), "{err}");
}

#[test]
fn an_edited_history_is_refused_and_rebuilt_when_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let (clean, copy) = clean_and_interrupted(dir.path());
    edit_record(&copy, |r| {
        r.history.get_mut("train_loss").unwrap()[0] += 0.125;
    });
    let out = resume(dir.path(), &copy, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("`history.train_loss` after epoch 1"), "{err}");
    assert_eq!(
        record::load(&copy).unwrap().status,
        Status::Interrupted {
            signal: "SIGINT".into()
        },
        "the record is left as it was"
    );
    let out = resume(dir.path(), &copy, &["--accept-edited-record"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_same_end(&copy, &clean);
}

/// The small experiment with data paths relative to `work`, run there; its run directory
/// made to look interrupted as in `clean_and_interrupted`. Returns (clean, copy, work).
fn relative_run(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    common::write_idx_set(&work, "train", 512, 8, 4);
    common::write_idx_set(&work, "test", 128, 8, 4);
    let relative = |s: &str| PathBuf::from(s);
    let text = common::fixture(
        "small_mlp",
        &[
            ("train_images", relative("train-images-idx3-ubyte")),
            ("train_labels", relative("train-labels-idx1-ubyte")),
            ("test_images", relative("test-images-idx3-ubyte")),
            ("test_labels", relative("test-labels-idx1-ubyte")),
        ],
    );
    let file = work.join("small.exp");
    std::fs::write(&file, format!("{text}{AFTER}")).unwrap();
    let clean = super::run_to_end(&work, &file, &dir.join("clean"));
    let copy = dir.join("copy");
    copy_dir(&clean, &copy);
    std::fs::remove_file(expr::run::checkpoint::list(&copy).pop().unwrap()).unwrap();
    std::fs::remove_file(copy.join("net.safetensors")).unwrap();
    edit_record(&copy, |r| r.status = Status::Running);
    (clean, copy, work)
}

/// A directory beside `work` holding other data under the same file names.
fn other_data(dir: &Path) -> PathBuf {
    let other = dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    common::write_idx_set(&other, "train", 512, 8, 2);
    common::write_idx_set(&other, "test", 128, 8, 2);
    other
}

#[test]
fn resume_from_another_directory_reads_the_data_the_run_read() {
    let dir = tempfile::tempdir().unwrap();
    let (clean, copy, _) = relative_run(dir.path());
    let other = other_data(dir.path());
    let out = resume(&other, &copy, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_same_end(&copy, &clean);
}

#[test]
fn data_changed_since_the_run_is_refused_naming_the_file_and_both_digests() {
    let dir = tempfile::tempdir().unwrap();
    let (_, copy, work) = relative_run(dir.path());
    let images = work.join("train-images-idx3-ubyte");
    let recorded = expr::record::provenance::sha256_file(&images).unwrap();
    let mut bytes = std::fs::read(&images).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&images, bytes).unwrap();
    let found = expr::record::provenance::sha256_file(&images).unwrap();
    let out = resume(&work, &copy, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("changed since the run read it"), "{err}");
    assert!(err.contains(&images.display().to_string()), "{err}");
    assert!(err.contains(&recorded) && err.contains(&found), "{err}");
}

#[test]
fn data_gone_from_the_original_directory_is_not_taken_from_the_current_one() {
    let dir = tempfile::tempdir().unwrap();
    let (_, copy, work) = relative_run(dir.path());
    let other = other_data(dir.path());
    let images = work.join("train-images-idx3-ubyte");
    std::fs::remove_file(&images).unwrap();
    let out = resume(&other, &copy, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&images.display().to_string()), "{err}");
}

/// An experiment over a folder of 8x8 gray PNGs in two classes (`work/shapes/`), run to its
/// end; its run directory made to look interrupted. Returns (copy, work).
fn image_folder_run(dir: &Path) -> (PathBuf, PathBuf) {
    let work = dir.join("work");
    for (class, bright) in [("dark", 0u8), ("light", 200)] {
        let folder = work.join("shapes").join(class);
        std::fs::create_dir_all(&folder).unwrap();
        for i in 0..16u8 {
            let image = image::GrayImage::from_fn(8, 8, |x, y| {
                image::Luma([bright + (x as u8 * 3 + y as u8 * 5 + i) % 40])
            });
            image.save(folder.join(format!("{i}.png"))).unwrap();
        }
    }
    let text = "experiment shapes {\n  seed = 3\n}\n\n\
        data train = images(\"shapes\", size = (8, 8), color = gray)\n  | scale(1 / 255)\n  | shuffle(buffer = 32)\n  | batch(8)\n\n\
        model net {\n  flatten()\n  dense(units = 2)\n}\n\n\
        loss xent = sparse_categorical_crossentropy(from_logits = true)\n\n\
        optimizer opt = sgd(lr = 0.1)\n\n\
        train {\n  model = net\n  data = train\n  loss = xent\n  optimizer = opt\n  epochs = 3\n}\n";
    let file = work.join("shapes.exp");
    std::fs::write(&file, text).unwrap();
    let clean = super::run_to_end(&work, &file, &dir.join("clean"));
    let copy = dir.join("copy");
    copy_dir(&clean, &copy);
    std::fs::remove_file(expr::run::checkpoint::list(&copy).pop().unwrap()).unwrap();
    edit_record(&copy, |r| r.status = Status::Running);
    (copy, work)
}

#[test]
fn an_image_folder_edited_since_the_run_is_refused_naming_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let (copy, work) = image_folder_run(dir.path());
    let folder = work.join("shapes");
    let recorded = expr::record::provenance::folder_sha256(&folder).unwrap();
    let run = record::load(&copy).unwrap();
    assert!(
        run.data
            .iter()
            .any(|f| f.sha256 == recorded && f.data == "train"),
        "the record lists the folder's digest: {:?}",
        run.data
    );
    // Unchanged, or with a file that is not an image added, it resumes.
    std::fs::write(folder.join("dark/notes.txt"), "not read").unwrap();
    let out = resume(&work, &copy, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    // One pixel of one image changed: refused, naming the folder and both digests.
    let (copy, work) = image_folder_run(&dir.path().join("again"));
    let folder = work.join("shapes");
    let png = folder.join("light/7.png");
    let mut image = image::open(&png).unwrap().to_luma8();
    image.put_pixel(0, 0, image::Luma([255]));
    image.save(&png).unwrap();
    let found = expr::record::provenance::folder_sha256(&folder).unwrap();
    assert_ne!(found, recorded);
    let out = resume(&work, &copy, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("changed since the run read it"), "{err}");
    assert!(err.contains(&folder.display().to_string()), "{err}");
    assert!(err.contains(&recorded) && err.contains(&found), "{err}");
}
