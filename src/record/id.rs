//! Run ids and run directories: `<root>/<experiment>/<id>/`.
//!
//! An id is the UTC start time to the millisecond, then the process id: ids sort by time as
//! strings, and two processes never share one. Within a process, the directory is created
//! with `create_dir` (not `_all`), so two runs in the same millisecond get `-1`, `-2`...

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::error::{RecordError, RecordResult};

/// `20261125T052909.123Z-4242` for a run started at 2026-11-25 05:29:09.123 UTC by pid 4242.
pub fn run_id(at: SystemTime, pid: u32) -> String {
    let stamp: String = humantime::format_rfc3339_millis(at)
        .to_string()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
        .collect();
    format!("{stamp}-{pid}")
}

/// Creates a fresh run directory and returns it with its id.
pub fn create_run_dir(root: &Path, experiment: &str, id: &str) -> RecordResult<(PathBuf, String)> {
    let parent = root.join(experiment);
    std::fs::create_dir_all(&parent).map_err(|source| RecordError::RunDir {
        path: parent.clone(),
        source,
    })?;
    for n in 0u32.. {
        let candidate = if n == 0 {
            id.to_string()
        } else {
            format!("{id}-{n}")
        };
        let dir = parent.join(&candidate);
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok((dir, candidate)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(source) => return Err(RecordError::RunDir { path: dir, source }),
        }
    }
    unreachable!("u32 ran out of run directory suffixes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn ids_sort_by_time() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        let a = run_id(t, 99);
        assert_eq!(a, "20231114T221320.123Z-99");
        let b = run_id(t + Duration::from_millis(1), 1);
        assert!(a < b);
    }

    #[test]
    fn same_id_twice_gets_distinct_directories() {
        let root = tempfile::tempdir().unwrap();
        let (a, ida) = create_run_dir(root.path(), "e", "x-1").unwrap();
        let (b, idb) = create_run_dir(root.path(), "e", "x-1").unwrap();
        assert_ne!(a, b);
        assert_eq!((ida.as_str(), idb.as_str()), ("x-1", "x-1-1"));
        assert!(ida < idb);
    }
}
