//! Unpacking `cifar-10-binary.tar.gz` into the cache so that only a whole folder ever
//! appears there: the files go to a temporary folder beside it, are synced, and the folder
//! is renamed into place last. Any failure, or an interrupt, removes the temporary folder.

use std::fs::{self, File};
use std::io::{self, BufReader, Read};
use std::path::{Component, Path, PathBuf};

use flate2::read::GzDecoder;
use sha2::{Digest, Sha256};

use super::{ARCHIVE_FOLDER, RECORDS_PER_BATCH, RECORD_BYTES, TEST_BATCH, TRAIN_BATCHES};
use crate::data::download::Partial;
use crate::data::error::{DataError, DataResult};
use crate::run::interrupt;

/// No file of the archive is larger than a batch (its `readme.html` and `batches.meta.txt`
/// are a few hundred bytes); an entry claiming more is not CIFAR-10's.
const MAX_ENTRY: u64 = (RECORDS_PER_BATCH * RECORD_BYTES) as u64;

/// Unpacks the `cifar-10-batches-bin/` folder of `archive` into `cache_dir` and returns
/// its path there. With `expected`, the archive's SHA-256 is checked first (an archive
/// someone placed in the cache); a download was checked as it arrived.
pub(super) fn unpack(
    archive: &Path,
    expected: Option<&str>,
    cache_dir: &Path,
    max_bytes: u64,
) -> DataResult<PathBuf> {
    let bad = |reason: String| DataError::Cifar10Archive {
        path: archive.to_path_buf(),
        reason,
    };
    let open = || {
        crate::files::open_regular(archive, max_bytes)
            .map(|(file, _)| BufReader::new(file))
            .map_err(|refused| bad(format!("cannot read it: {refused}")))
    };
    if let Some(expected) = expected {
        let mut hasher = Sha256::new();
        io::copy(&mut open()?, &mut hasher).map_err(|e| bad(format!("cannot read it: {e}")))?;
        let found = hex::encode(hasher.finalize());
        if !found.eq_ignore_ascii_case(expected) {
            return Err(bad(format!(
                "its sha-256 is {found}, the archive's is {expected}"
            )));
        }
    }
    let target = cache_dir.join(ARCHIVE_FOLDER);
    let mut partial = Partial {
        path: cache_dir.join(format!(".{ARCHIVE_FOLDER}.{}.part", std::process::id())),
        kept: false,
        folder: true,
    };
    let io_err = |path: &Path, source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    // Left by a process of the same id that was killed: never a finished folder.
    let _ = fs::remove_dir_all(&partial.path);
    fs::create_dir_all(&partial.path).map_err(|e| io_err(&partial.path, e))?;
    extract(open()?, &partial.path, archive)?;
    for name in TRAIN_BATCHES.iter().chain([&TEST_BATCH]) {
        if !partial.path.join(name).is_file() {
            return Err(bad(format!("it lacks `{ARCHIVE_FOLDER}/{name}`")));
        }
    }
    match fs::rename(&partial.path, &target) {
        Ok(()) => partial.kept = true,
        // Another process unpacked it first: theirs is as good, ours is removed.
        Err(_) if target.is_dir() => {}
        Err(e) => return Err(io_err(&target, e)),
    }
    // Persist the rename itself; not every platform can open a directory, so best effort.
    if let Ok(dir) = File::open(cache_dir) {
        let _ = dir.sync_all();
    }
    Ok(target)
}

/// Writes the regular files directly under `cifar-10-batches-bin/` in the archive read from
/// `reader` into `into`. Anything else (the folder's own entry, links, other paths) is
/// skipped: nothing is ever written outside `into`.
fn extract(reader: impl Read, into: &Path, archive: &Path) -> DataResult<()> {
    let bad = |reason: String| DataError::Cifar10Archive {
        path: archive.to_path_buf(),
        reason,
    };
    let unreadable = |e: io::Error| bad(format!("it does not unpack: {e}"));
    let mut tar = tar::Archive::new(GzDecoder::new(reader));
    for entry in tar.entries().map_err(unreadable)? {
        if let Some(signal) = interrupt::requested() {
            return Err(DataError::Interrupted {
                signal,
                during: format!("unpacking `{}`", archive.display()),
            });
        }
        let mut entry = entry.map_err(unreadable)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path().map_err(unreadable)?.into_owned();
        let Some(name) = batches_entry(&path) else {
            continue;
        };
        if entry.size() > MAX_ENTRY {
            return Err(bad(format!(
                "its `{}` claims {} bytes, more than a batch",
                path.display(),
                entry.size()
            )));
        }
        let out = into.join(name);
        let mut file = File::create(&out).map_err(|source| DataError::Io {
            path: out.clone(),
            source,
        })?;
        io::copy(&mut (&mut entry).take(MAX_ENTRY), &mut file).map_err(unreadable)?;
        file.sync_all()
            .map_err(|source| DataError::Io { path: out, source })?;
    }
    Ok(())
}

/// The file name of an entry `cifar-10-batches-bin/NAME` (an optional `./` before it), or
/// `None` for any other path.
fn batches_entry(path: &Path) -> Option<&std::ffi::OsStr> {
    let mut parts = path
        .components()
        .filter(|c| !matches!(c, Component::CurDir));
    match (parts.next(), parts.next(), parts.next()) {
        (Some(Component::Normal(folder)), Some(Component::Normal(name)), None)
            if folder == ARCHIVE_FOLDER =>
        {
            Some(name)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_directly_in_the_batches_folder_are_taken() {
        let taken = |p: &str| batches_entry(Path::new(p)).map(|n| n.to_string_lossy().into_owned());
        assert_eq!(
            taken("cifar-10-batches-bin/data_batch_1.bin").as_deref(),
            Some("data_batch_1.bin")
        );
        assert_eq!(
            taken("./cifar-10-batches-bin/test_batch.bin").as_deref(),
            Some("test_batch.bin")
        );
        for refused in [
            "cifar-10-batches-bin",
            "cifar-10-batches-bin/../x",
            "cifar-10-batches-bin/a/b",
            "/cifar-10-batches-bin/x",
            "other/data_batch_1.bin",
            "../cifar-10-batches-bin/x",
        ] {
            assert_eq!(taken(refused), None, "{refused}");
        }
    }
}
