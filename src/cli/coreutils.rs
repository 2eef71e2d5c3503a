//! The hand-off to the system's `expr`: installed ahead of coreutils on PATH,
//! our binary must leave `expr 1 + 2` and `expr length abc` to it, untouched.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// Runs the system `expr` with these arguments and returns its exit status.
pub fn hand_off(args: &[OsString]) -> ExitCode {
    let Some(system) = find_system_expr() else {
        eprintln!(
            "expr: no system `expr` found on PATH to run `expr {}`; expr's own commands are: run, check, help",
            args.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" ")
        );
        // GNU expr's status for a usage problem.
        return ExitCode::from(2);
    };
    exec(&system, args)
}

#[cfg(unix)]
fn exec(program: &Path, args: &[OsString]) -> ExitCode {
    use std::os::unix::process::CommandExt;
    // exec only returns on failure.
    let err = Command::new(program).arg0("expr").args(args).exec();
    eprintln!("expr: cannot run {}: {err}", program.display());
    ExitCode::from(2)
}

#[cfg(not(unix))]
fn exec(program: &Path, args: &[OsString]) -> ExitCode {
    match Command::new(program).args(args).status() {
        Ok(status) => ExitCode::from(status.code().unwrap_or(2).clamp(0, 255) as u8),
        Err(err) => {
            eprintln!("expr: cannot run {}: {err}", program.display());
            ExitCode::from(2)
        }
    }
}

/// The first `expr` on PATH that is not this program, else the usual places.
pub fn find_system_expr() -> Option<PathBuf> {
    let me = std::env::current_exe()
        .ok()
        .and_then(|p| p.canonicalize().ok());
    let path = std::env::var_os("PATH").unwrap_or_default();
    let candidates = std::env::split_paths(&path)
        .map(|dir| dir.join("expr"))
        .chain([PathBuf::from("/usr/bin/expr"), PathBuf::from("/bin/expr")]);
    for candidate in candidates {
        let Ok(real) = candidate.canonicalize() else {
            continue;
        };
        if Some(&real) != me.as_ref() && is_executable(&real) {
            return Some(candidate);
        }
    }
    None
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
