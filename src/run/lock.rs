//! The run directory's lock: a run (new or resumed) holds an exclusive lock on
//! `RUN_DIR/.lock` for as long as it uses the directory, so that two `--resume` of one run
//! cannot write the same checkpoints and record at once. The file holds the holder's pid,
//! for the message the second one prints. The lock is the operating system's (`flock`, via
//! fs4): it goes away with the process, however the process ends, so a killed run never
//! leaves a stale lock behind; the file itself stays.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use fs4::FileExt;

/// The lock file's name inside a run directory.
pub const LOCK_FILE: &str = ".lock";

/// A run directory that another process is using, or whose lock cannot be taken.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LockError {
    #[error("the run directory `{}` is in use by {holder}", dir.display())]
    #[diagnostic(
        code(expr::run::locked),
        help("wait for that run to end (or stop it with Ctrl-C), then `expr run --resume` again")
    )]
    Held { dir: PathBuf, holder: String },
    #[error("cannot lock the run directory `{}`: {source}", dir.display())]
    #[diagnostic(
        code(expr::run::lock),
        help("check that the run directory exists and that you can write to it")
    )]
    Io {
        dir: PathBuf,
        source: std::io::Error,
    },
}

/// Held while the run uses its directory; dropping it releases the lock.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Takes the lock of `dir` without waiting, and writes this process's pid into it.
    pub fn acquire(dir: &Path) -> Result<RunLock, LockError> {
        let io = |source| LockError::Io {
            dir: dir.to_path_buf(),
            source,
        };
        let path = dir.join(LOCK_FILE);
        // Not truncated on open: the holder's pid must stay readable to a second process.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        // fs4's flock, named: std's `File::try_lock` has the same name.
        if FileExt::try_lock(&file).is_err() {
            return Err(LockError::Held {
                dir: dir.to_path_buf(),
                holder: holder(&mut file),
            });
        }
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        write!(file, "{}", std::process::id()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(RunLock { _file: file })
    }
}

/// "process 1234", from the lock file; the holder writes its pid just after locking, so an
/// empty file is read again for a moment.
fn holder(file: &mut File) -> String {
    for _ in 0..50 {
        let mut text = String::new();
        let _ = file.seek(SeekFrom::Start(0));
        let _ = file.read_to_string(&mut text);
        if let Ok(pid) = text.trim().parse::<u32>() {
            return format!("process {pid}");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    "another process".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_of_one_directory_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let first = RunLock::acquire(dir.path()).unwrap();
        let err = RunLock::acquire(dir.path()).unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("in use by process {}", std::process::id())),
            "{err}"
        );
        drop(first);
        RunLock::acquire(dir.path()).unwrap();
    }
}
