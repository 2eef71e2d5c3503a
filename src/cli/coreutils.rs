//! The hand-off to the system's `expr`: installed ahead of coreutils on PATH,
//! our binary must leave `expr 1 + 2` and `expr length abc` to it, untouched.
//!
//! The hand-off must never reach another copy of this program: with `~/.cargo/bin/expr`
//! and `/usr/local/bin/expr` both on PATH, each would exec the other for ever and every
//! shell script calling `expr` would hang. Two guards make that impossible:
//!
//! - **Identity.** A candidate is skipped if it is this program: the same file (device and
//!   inode, so symlinks and hard links count) or the same bytes (another copy of one build).
//! - **A trail in the environment.** Every hand-off passes on [`TRAIL`], the list of files
//!   already tried (each copy of us, and each candidate it chose). A copy of us that is not
//!   byte-identical (another version, or a shell wrapper that runs us) is entered with the
//!   trail set; it skips everything on the trail as well as itself. Each hop adds a file the
//!   trail did not hold, so the chain ends at coreutils or, when every `expr` found is one of
//!   us, with an error: never in a loop.
//!
//! With no coreutils `expr` to run, the status is 3, GNU `expr`'s "an error occurred"
//! (2 means the expression is invalid, which it may not be; 0 and 1 are answers).

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// The environment variable that carries the files a hand-off already tried (PATH syntax).
pub const TRAIL: &str = "EXPR_COREUTILS_TRAIL";

/// GNU `expr`'s exit status when an error occurred (not an invalid expression: that is 2).
const EXPR_FAILURE: u8 = 3;

/// More hops than any PATH has `expr`s: a trail this long is not ours to extend.
const MAX_TRAIL: usize = 64;

/// Runs the system `expr` with these arguments and returns its exit status.
pub fn hand_off(args: &[OsString]) -> ExitCode {
    let mut trail: Vec<PathBuf> = std::env::var_os(TRAIL)
        .map(|t| std::env::split_paths(&t).collect())
        .unwrap_or_default();
    let me = this_program();
    if let Some(me) = &me {
        trail.push(me.clone());
    }
    if trail.len() > MAX_TRAIL {
        eprintln!(
            "expr: `{TRAIL}` lists {} files: the hand-off to coreutils' `expr` is looping; unset `{TRAIL}`",
            trail.len()
        );
        return ExitCode::from(EXPR_FAILURE);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let Some(system) = find_system_expr(candidates(&path), me.as_deref(), &trail) else {
        eprintln!(
            "expr: no coreutils `expr` found to run `expr {}`: every `expr` on PATH (and /usr/bin, /bin) is missing or a copy of this program{}; install coreutils or put its `expr` on PATH. This program's own commands are: {}",
            args.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" "),
            skipped_note(&trail),
            super::SUBCOMMANDS.join(", "),
        );
        return ExitCode::from(EXPR_FAILURE);
    };
    trail.push(system.clone());
    match std::env::join_paths(&trail) {
        Ok(joined) => exec(&system, args, &joined),
        // A path holding the separator cannot be passed on; identity still guards the hand-off.
        Err(_) => exec(&system, args, OsStr::new("")),
    }
}

/// The first line of the system `expr`'s `--version` and the file it came from, for our
/// own `--version`; `None` when there is no coreutils `expr` (or it prints nothing).
pub fn system_version() -> Option<(PathBuf, String)> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut trail: Vec<PathBuf> = std::env::var_os(TRAIL)
        .map(|t| std::env::split_paths(&t).collect())
        .unwrap_or_default();
    if trail.len() > MAX_TRAIL {
        return None;
    }
    let me = this_program();
    let system = find_system_expr(candidates(&path), me.as_deref(), &trail)?;
    // As in a hand-off, the trail keeps a wrapper that runs us from asking back for ever.
    trail.extend(me);
    trail.push(system.clone());
    let out = Command::new(&system)
        .arg("--version")
        .env(TRAIL, std::env::join_paths(&trail).unwrap_or_default())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next()?.trim().to_string();
    (!first.is_empty()).then_some((system, first))
}

fn skipped_note(trail: &[PathBuf]) -> String {
    if trail.is_empty() {
        return String::new();
    }
    let shown: Vec<String> = trail.iter().map(|p| format!("`{}`", p.display())).collect();
    format!(" (skipped as copies of it: {})", shown.join(", "))
}

#[cfg(unix)]
fn exec(program: &Path, args: &[OsString], trail: &OsStr) -> ExitCode {
    use std::os::unix::process::CommandExt;
    // exec only returns on failure. "Text file busy" is passing: a file just written (a
    // fresh install) stays open for writing in any process forked before the writer closed
    // it, until that process execs; cargo retries for the same reason.
    let mut tries = 0;
    let err = loop {
        let err = Command::new(program)
            .arg0("expr")
            .args(args)
            .env(TRAIL, trail)
            .exec();
        tries += 1;
        if err.kind() != io::ErrorKind::ExecutableFileBusy || tries == 50 {
            break err;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    eprintln!("expr: cannot run {}: {err}", program.display());
    ExitCode::from(EXPR_FAILURE)
}

#[cfg(not(unix))]
fn exec(program: &Path, args: &[OsString], trail: &OsStr) -> ExitCode {
    match Command::new(program).args(args).env(TRAIL, trail).status() {
        Ok(status) => ExitCode::from(status.code().unwrap_or(3).clamp(0, 255) as u8),
        Err(err) => {
            eprintln!("expr: cannot run {}: {err}", program.display());
            ExitCode::from(EXPR_FAILURE)
        }
    }
}

/// The running program's file. On Linux `/proc/self/exe` names it even after it was
/// replaced on disk (a `cargo install` while a script runs); elsewhere `current_exe`.
fn this_program() -> Option<PathBuf> {
    let proc_exe = Path::new("/proc/self/exe");
    if proc_exe.exists() {
        if let Ok(target) = proc_exe.read_link() {
            if target.exists() {
                return Some(target);
            }
        }
        return Some(proc_exe.to_path_buf());
    }
    std::env::current_exe().ok()
}

/// Where an `expr` may be: each PATH folder in order, then the usual places.
pub fn candidates(path: &OsStr) -> Vec<PathBuf> {
    std::env::split_paths(path)
        .map(|dir| dir.join("expr"))
        .chain([PathBuf::from("/usr/bin/expr"), PathBuf::from("/bin/expr")])
        .collect()
}

/// The first executable candidate that is neither this program (`me`) nor a file on the
/// trail, by identity or by content.
pub fn find_system_expr(
    candidates: impl IntoIterator<Item = PathBuf>,
    me: Option<&Path>,
    trail: &[PathBuf],
) -> Option<PathBuf> {
    let avoid: Vec<&Path> = me
        .into_iter()
        .chain(trail.iter().map(PathBuf::as_path))
        .collect();
    candidates
        .into_iter()
        .find(|c| is_executable(c) && !avoid.iter().any(|a| same_program(c, a)))
}

/// Whether two paths run the same program: one file, or two files with the same bytes.
pub fn same_program(a: &Path, b: &Path) -> bool {
    let (Ok(ma), Ok(mb)) = (a.metadata(), b.metadata()) else {
        return false;
    };
    if same_file(&ma, &mb) {
        return true;
    }
    // Sizes first: comparing bytes is only paid for a file that may be a copy.
    ma.len() == mb.len() && same_bytes(a, b).unwrap_or(false)
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(_: &std::fs::Metadata, _: &std::fs::Metadata) -> bool {
    false
}

fn same_bytes(a: &Path, b: &Path) -> io::Result<bool> {
    let (mut fa, mut fb) = (File::open(a)?, File::open(b)?);
    let (mut ba, mut bb) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    loop {
        let n = read_full(&mut fa, &mut ba)?;
        let m = read_full(&mut fb, &mut bb)?;
        if n != m || ba[..n] != bb[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

/// Fills `buf` unless the file ends first; returns how much was read.
fn read_full(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_exe(path: &Path, bytes: &[u8]) {
        std::fs::write(path, bytes).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }

    #[test]
    fn copies_links_and_trail_entries_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let me = dir.path().join("me");
        write_exe(&me, b"this program");
        let copy = dir.path().join("copy");
        write_exe(&copy, b"this program");
        let link = dir.path().join("link");
        #[cfg(unix)]
        std::os::unix::fs::symlink(&me, &link).unwrap();
        let wrapper = dir.path().join("wrapper");
        write_exe(&wrapper, b"exec me");
        let other = dir.path().join("other");
        write_exe(&other, b"this progran");
        let found = find_system_expr(
            [copy.clone(), link, wrapper.clone(), other.clone()],
            Some(&me),
            &[wrapper],
        );
        assert_eq!(found, Some(other));
        assert_eq!(find_system_expr([copy], Some(&me), &[]), None);
    }

    #[test]
    fn a_missing_or_unexecutable_candidate_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, b"data").unwrap();
        let missing = dir.path().join("missing");
        assert_eq!(find_system_expr([missing, plain], None, &[]), None);
    }
}
