//! Hostile input: experiments, paths, run records, checkpoints, signals and
//! environments that a stranger (or bad luck) can hand to `expr`. Each test is
//! one fault from issue 20 or a variant of it; `docs/security.md` and
//! `docs/reliability.md` say what the user sees for each.

#![allow(clippy::unwrap_used)]

mod common;

/// Where an experiment may write and read: confinement to the run directory,
/// regular files only, sizes checked before reading, `after` losing nothing.
#[path = "hostile/paths.rs"]
mod paths;

/// Checkpoints and run records that were tampered with, and resume at any kill point.
#[path = "hostile/resume.rs"]
mod resume;

/// Files that try to crash the front end: deep expressions, long lines, odd bytes, huge numbers.
#[path = "hostile/input.rs"]
mod input;

/// The process around a run: the coreutils passthrough, git arguments, signals, downloads.
#[path = "hostile/process.rs"]
mod process;
