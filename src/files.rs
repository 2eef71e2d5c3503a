//! Opening the files an experiment names, as a stranger's experiment may name
//! anything: `/dev/zero`, a FIFO, a directory, a 1 TB file.
//!
//! Every read of a user-named path goes through [`open_regular`]: it opens
//! without blocking (a FIFO with no writer would otherwise hang `open` for
//! ever), then asks the opened descriptor, not the path, what it is, so a path
//! swapped between the check and the read cannot slip through. Symlinks to
//! regular files are followed, as a user expects.

use std::fs::File;
use std::io::Read;
use std::path::Path;

/// Why a path was not read.
#[derive(Debug, thiserror::Error)]
pub enum ReadRefused {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("it is {kind}, not a regular file")]
    NotRegular { kind: &'static str },
    #[error("it is {size} bytes, more than the {limit} bytes allowed here")]
    TooLarge { size: u64, limit: u64 },
}

impl ReadRefused {
    /// The I/O error's kind when the failure was an I/O error (not found, denied...).
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match self {
            ReadRefused::Io(e) => Some(e.kind()),
            _ => None,
        }
    }
}

/// Opens `path` for reading if it is a regular file (or a symlink to one) of at
/// most `limit` bytes; returns the file and its size.
pub fn open_regular(path: &Path, limit: u64) -> Result<(File, u64), ReadRefused> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NONBLOCK: opening a FIFO returns at once instead of waiting for a
        // writer. It has no effect on reads of regular files, the only kind kept.
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(ReadRefused::NotRegular {
            kind: kind_of(&meta),
        });
    }
    if meta.len() > limit {
        return Err(ReadRefused::TooLarge {
            size: meta.len(),
            limit,
        });
    }
    Ok((file, meta.len()))
}

/// Reads a whole regular file of at most `limit` bytes.
pub fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>, ReadRefused> {
    let (file, size) = open_regular(path, limit)?;
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    // `take`: a file that grows while we read still stops at the limit.
    file.take(limit).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// What a non-regular file is, in words for a message.
pub fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    let kind = meta.file_type();
    if kind.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    if kind.is_symlink() {
        return "a symbolic link";
    }
    "not a regular file"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_directories_and_fifos_are_refused_without_blocking() {
        let dir = std::env::temp_dir().join(format!("expr-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("pipe");
        let _ = std::fs::remove_file(&fifo);
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .is_ok_and(|s| s.success());
        if made {
            let err = open_regular(&fifo, 10).unwrap_err();
            assert!(err.to_string().contains("FIFO"), "{err}");
        }
        let err = open_regular(Path::new("/dev/zero"), 10).unwrap_err();
        assert!(err.to_string().contains("character device"), "{err}");
        let err = open_regular(&dir, 10).unwrap_err();
        assert!(err.to_string().contains("directory"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sizes_are_checked_before_reading() {
        let path = std::env::temp_dir().join(format!("expr-files-size-{}", std::process::id()));
        std::fs::write(&path, b"0123456789").unwrap();
        assert_eq!(read_regular(&path, 10).unwrap(), b"0123456789");
        let err = read_regular(&path, 9).unwrap_err();
        assert!(matches!(err, ReadRefused::TooLarge { size: 10, limit: 9 }));
        std::fs::remove_file(&path).unwrap();
    }
}
