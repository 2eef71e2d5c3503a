//! Outputs confined to the run directory: the path an experiment names (`to =
//! "plots/loss.png"`) becomes a file inside the run directory, with its missing
//! folders made, and never a way out of it.
//!
//! `expr check` already refuses absolute paths, `..` and the run's own file names
//! (`check::paths`); [`in_run_dir`] checks them again, since a run directory handed
//! over by a stranger (`--resume`) may also hold a symlink where a folder is
//! expected (`plots -> /etc`). Each folder on the way is therefore looked at with
//! `lstat` and must be a real folder; the file itself is then written by
//! [`write_atomic`](super::atomic::write_atomic), which replaces only regular
//! files.
//!
//! What is not defended: a process that can write into the run directory
//! swapping a folder for a symlink between this walk and the write. Closing that
//! needs every step done relative to an open directory (`openat` with
//! `O_NOFOLLOW`), which the rest of the output code does not do.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::error::{OutputError, OutputResult};
use crate::check::paths::normalise;

/// The file `relative` names inside the run directory `dir`, with every folder
/// between them made if missing.
///
/// # Errors
/// [`OutputError::OutsideRunDirectory`] for a path `expr check` refuses,
/// [`OutputError::NotAFolder`] when a folder on the way is a symlink, a file or
/// anything else, and [`OutputError::NotWritable`] when a folder cannot be made.
pub fn in_run_dir(dir: &Path, relative: &str) -> OutputResult<PathBuf> {
    let normal = normalise(relative).map_err(|_| OutputError::OutsideRunDirectory {
        dir: dir.to_path_buf(),
        relative: relative.to_string(),
    })?;
    let target = dir.join(&normal);
    let mut folder = dir.to_path_buf();
    let parts: Vec<&str> = normal.split('/').collect();
    for part in &parts[..parts.len() - 1] {
        folder.push(part);
        make_folder(&folder, &target)?;
    }
    Ok(target)
}

/// The file `name` in the run's own folder `folder` of the run directory `dir` (one that
/// `expr check` reserves, so that no output of the experiment's lands there: `confusion`),
/// the folder made if missing. `name` is the run's own, never the user's path.
///
/// # Errors
/// As [`in_run_dir`], for the folder.
pub fn in_own_folder(dir: &Path, folder: &str, name: &str) -> OutputResult<PathBuf> {
    let folder = dir.join(folder);
    let target = folder.join(name);
    make_folder(&folder, &target)?;
    Ok(target)
}

/// Makes `folder` unless it is one already; a symlink, even to a folder, is refused.
fn make_folder(folder: &Path, target: &Path) -> OutputResult<()> {
    match fs::symlink_metadata(folder) {
        Ok(meta) if meta.file_type().is_dir() => Ok(()),
        Ok(meta) => Err(OutputError::NotAFolder {
            path: target.to_path_buf(),
            dir: folder.to_path_buf(),
            kind: if meta.is_file() {
                "a file"
            } else {
                crate::files::kind_of(&meta)
            },
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => match fs::create_dir(folder) {
            Ok(()) => Ok(()),
            // Made by someone else meanwhile: look again.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                match fs::symlink_metadata(folder) {
                    Ok(meta) if meta.file_type().is_dir() => Ok(()),
                    _ => Err(not_writable(folder, target, e)),
                }
            }
            Err(e) => Err(not_writable(folder, target, e)),
        },
        Err(e) => Err(not_writable(folder, target, e)),
    }
}

fn not_writable(folder: &Path, target: &Path, source: io::Error) -> OutputError {
    OutputError::NotWritable {
        path: target.to_path_buf(),
        dir: folder.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_folders_are_made_inside_the_run_directory() {
        let dir = tempfile::tempdir().unwrap();
        let target = in_run_dir(dir.path(), "a/./b/c.png").unwrap();
        assert_eq!(target, dir.path().join("a/b/c.png"));
        assert!(dir.path().join("a/b").is_dir());
        assert!(!target.exists());
    }

    #[test]
    fn paths_out_of_the_run_directory_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for path in ["../x.png", "/tmp/x.png", "", ".", "a/", "run.yaml"] {
            let err = in_run_dir(dir.path(), path).unwrap_err();
            assert!(
                matches!(err, OutputError::OutsideRunDirectory { .. }),
                "{path}: {err}"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_or_file_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), dir.path().join("plots")).unwrap();
        let err = in_run_dir(dir.path(), "plots/loss.png").unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        fs::write(dir.path().join("file"), b"").unwrap();
        let err = in_run_dir(dir.path(), "file/loss.png").unwrap_err();
        assert!(matches!(err, OutputError::NotAFolder { .. }), "{err}");
        assert_eq!(fs::read_dir(elsewhere.path()).unwrap().count(), 0);
    }
}
