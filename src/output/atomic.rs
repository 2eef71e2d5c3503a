//! Atomic file replacement: write to a temporary file in the same directory, fsync it, rename.
//!
//! A reader (or a crash) therefore sees either the old file or the complete new one, never a
//! half-written one. The temporary file lives in the target's directory because `rename` is only
//! atomic within one filesystem.
//!
//! `rename` replaces whatever sits at the target: a symlink, a FIFO, a device node
//! (`expr compare A B --plot /dev/full` once replaced `/dev/full` with a PNG). So a write
//! replaces only a regular file, or creates a new one; anything else at the target is
//! refused with what it is.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::error::{OutputError, OutputResult};

/// Distinguishes temporary files of concurrent writes within one process; the process id
/// distinguishes processes, and `create_new` catches whatever collision remains.
static NEXT_TEMP: AtomicU64 = AtomicU64::new(0);

/// Writes `path` atomically: `write` fills a buffered temporary file next to `path`, which is
/// then flushed, fsynced and renamed over `path`. On any failure (including a panic in `write`)
/// the temporary file is removed and `path` is left as it was.
///
/// # Errors
/// [`OutputError::MissingDirectory`] / [`OutputError::NotADirectory`] /
/// [`OutputError::NotWritable`] when the directory cannot take the file,
/// [`OutputError::NotRegularTarget`] when something other than a regular file sits at `path`,
/// and [`OutputError::Write`] when writing, syncing or renaming fails.
pub fn write_atomic<F>(path: &Path, write: F) -> OutputResult<()>
where
    F: FnOnce(&mut BufWriter<File>) -> io::Result<()>,
{
    let (dir, name) = split_target(path)?;
    // Refused before anything is written, and again right before the rename below.
    refuse_non_regular(path)?;
    let temp_path = dir.join(format!(
        ".{}.{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        NEXT_TEMP.fetch_add(1, Ordering::Relaxed)
    ));
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp_path)
        .map_err(|source| match source.kind() {
            io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
                OutputError::NotWritable {
                    path: path.to_path_buf(),
                    dir: dir.clone(),
                    source,
                }
            }
            _ => write_error(path, source),
        })?;
    let temp = TempFile(Some(temp_path));

    let mut writer = BufWriter::new(file);
    write(&mut writer).map_err(|e| write_error(path, e))?;
    let file = writer
        .into_inner()
        .map_err(|e| write_error(path, e.into_error()))?;
    file.sync_all().map_err(|e| write_error(path, e))?;
    drop(file);

    // Checked again as late as possible. What remains is the window between this
    // `lstat` and the `rename`: a process that can write into `dir` could put a
    // symlink or FIFO at `path` in between and have it replaced (never followed:
    // `rename` replaces the entry itself, it does not write through it). Closing
    // it needs `renameat2(RENAME_NOREPLACE)` plus a retry loop, not portable.
    refuse_non_regular(path)?;
    let temp_path = temp.keep();
    if let Err(e) = fs::rename(&temp_path, path) {
        // Best effort: the rename error is what the user needs to see.
        let _ = fs::remove_file(&temp_path);
        return Err(write_error(path, e));
    }
    sync_directory(&dir);
    Ok(())
}

/// Splits `path` into its (existing) directory and file name.
fn split_target(path: &Path) -> OutputResult<(PathBuf, &std::ffi::OsStr)> {
    let name = path.file_name().ok_or_else(|| OutputError::NotAFilePath {
        path: path.to_path_buf(),
    })?;
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    match fs::metadata(&dir) {
        Ok(meta) if meta.is_dir() => Ok((dir, name)),
        Ok(_) => Err(OutputError::NotADirectory {
            path: path.to_path_buf(),
            dir,
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(OutputError::MissingDirectory {
            path: path.to_path_buf(),
            dir,
        }),
        Err(source) => Err(OutputError::NotWritable {
            path: path.to_path_buf(),
            dir,
            source,
        }),
    }
}

/// `Ok` when `path` is absent or a regular file (not a symlink to one: the link
/// itself would be replaced); otherwise what sits there.
fn refuse_non_regular(path: &Path) -> OutputResult<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_file() => Ok(()),
        Ok(meta) => Err(OutputError::NotRegularTarget {
            path: path.to_path_buf(),
            kind: crate::files::kind_of(&meta),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(write_error(path, e)),
    }
}

fn write_error(path: &Path, source: io::Error) -> OutputError {
    OutputError::Write {
        path: path.to_path_buf(),
        source,
    }
}

/// Makes the rename itself durable. Some filesystems refuse to fsync a directory; the file's
/// contents are already synced, so that refusal is not worth failing the write for.
fn sync_directory(dir: &Path) {
    #[cfg(unix)]
    if let Ok(handle) = File::open(dir) {
        let _ = handle.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Removes the temporary files that writes into `dir` left behind when their
/// process was killed mid-write (`.NAME.PID.N.tmp`); returns how many. Call it
/// only when no other process writes into `dir`, e.g. when resuming a run.
pub fn remove_stale_temporaries(dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with('.') && name.ends_with(".tmp") && e.path().is_file()
        })
        .filter(|e| fs::remove_file(e.path()).is_ok())
        .count()
}

/// Removes the temporary file when dropped, unless [`TempFile::keep`] took it.
struct TempFile(Option<PathBuf>);

impl TempFile {
    fn keep(mut self) -> PathBuf {
        self.0.take().unwrap_or_default()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn writes_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        write_atomic(&path, |w| w.write_all(b"hello")).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"hello");
        assert_eq!(entries(dir.path()), vec!["out.txt"]);
    }

    #[test]
    fn replaces_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        fs::write(&path, b"old contents").unwrap();
        write_atomic(&path, |w| w.write_all(b"new")).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
    }

    #[test]
    fn failed_write_keeps_the_old_file_and_removes_the_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        fs::write(&path, b"old").unwrap();
        let err = write_atomic(&path, |w| {
            w.write_all(b"partial")?;
            Err(io::Error::other("encoder gave up"))
        })
        .unwrap_err();
        assert!(matches!(err, OutputError::Write { .. }), "{err:?}");
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(entries(dir.path()), vec!["out.txt"]);
    }

    #[test]
    fn panicking_writer_removes_the_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        let result = std::panic::catch_unwind(|| {
            let _ = write_atomic(&path, |_| panic!("writer panicked"));
        });
        assert!(result.is_err());
        assert!(entries(dir.path()).is_empty());
    }

    #[test]
    fn missing_directory_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope").join("out.txt");
        let err = write_atomic(&path, |w| w.write_all(b"x")).unwrap_err();
        match &err {
            OutputError::MissingDirectory { dir: missing, .. } => {
                assert_eq!(missing, &dir.path().join("nope"));
            }
            other => panic!("unexpected error {other:?}"),
        }
        assert!(err.to_string().contains("does not exist"), "{err}");
    }

    #[test]
    fn parent_that_is_a_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("file"), b"").unwrap();
        let path = dir.path().join("file").join("out.txt");
        let err = write_atomic(&path, |w| w.write_all(b"x")).unwrap_err();
        assert!(matches!(err, OutputError::NotADirectory { .. }), "{err:?}");
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_fifos_and_directories_at_the_target_are_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, b"keep").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let err = write_atomic(&link, |w| w.write_all(b"x")).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read(&victim).unwrap(), b"keep");

        let folder = dir.path().join("folder");
        fs::create_dir(&folder).unwrap();
        let err = write_atomic(&folder, |w| w.write_all(b"x")).unwrap_err();
        assert!(err.to_string().contains("a directory"), "{err}");

        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            let err = write_atomic(&fifo, |w| w.write_all(b"x")).unwrap_err();
            assert!(err.to_string().contains("FIFO"), "{err}");
        }
        // Only what the test made: no temporary file is left behind.
        let mut left = entries(dir.path());
        left.retain(|n| n != "fifo");
        assert_eq!(left, ["folder", "link", "victim"]);
    }

    /// `/sys` refuses new files even for root, which a chmod-based test cannot promise.
    #[cfg(target_os = "linux")]
    #[test]
    fn unwritable_directory_is_reported() {
        let err = write_atomic(Path::new("/sys/expr-output-test.bin"), |w| {
            w.write_all(b"x")
        })
        .unwrap_err();
        assert!(matches!(err, OutputError::NotWritable { .. }), "{err:?}");
        assert!(!Path::new("/sys/expr-output-test.bin").exists());
    }
}
