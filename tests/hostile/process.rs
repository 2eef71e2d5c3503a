//! See `tests/hostile.rs`. The process around a run, one file per concern.

/// `expr 1 + 2` reaches coreutils, never another copy of us.
#[path = "process/coreutils.rs"]
mod coreutils;

/// `expr diff` never lets git read a spec as an option.
#[path = "process/git.rs"]
mod git;

/// SIGHUP like SIGTERM; interrupts during data loading and downloads honoured at once.
#[path = "process/signals.rs"]
mod signals;

/// A learning rate set by a hook is checked: a written one by `expr check`, a computed one
/// each time the hook runs.
#[path = "process/learning_rate.rs"]
mod learning_rate;
