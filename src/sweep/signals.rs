//! The signals of a process that watches points run: it counts them rather than stopping,
//! so that it can pass the first on to its runs (each then checkpoints and stops) and
//! force the stop on the second. `run::interrupt` is the runs' own handling.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};

struct Counts {
    /// SIGINT, SIGTERM and SIGHUP.
    stops: AtomicUsize,
    /// SIGUSR1: Slurm's warning before a time limit (`--signal=B:USR1@90`).
    usr1: AtomicBool,
}

static COUNTS: OnceLock<Counts> = OnceLock::new();

fn counts() -> &'static Counts {
    COUNTS.get_or_init(|| Counts {
        stops: AtomicUsize::new(0),
        usr1: AtomicBool::new(false),
    })
}

/// Installs the handlers once per process.
pub fn install() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let counts = counts();
        for signal in [SIGINT, SIGTERM, SIGHUP] {
            // SAFETY: the action is one atomic add, which is async-signal-safe.
            let _ = unsafe {
                signal_hook::low_level::register(signal, || {
                    counts.stops.fetch_add(1, Ordering::SeqCst);
                })
            };
        }
        // SAFETY: as above, one atomic store.
        let _ = unsafe {
            signal_hook::low_level::register(SIGUSR1, || counts.usr1.store(true, Ordering::SeqCst))
        };
    });
}

/// How many of SIGINT, SIGTERM and SIGHUP arrived.
pub fn stops() -> usize {
    counts().stops.load(Ordering::SeqCst)
}

/// Whether SIGUSR1 arrived.
pub fn usr1() -> bool {
    counts().usr1.load(Ordering::SeqCst)
}

/// Asks the process `pid` to stop (SIGTERM: its run checkpoints and ends `interrupted`),
/// or with `now`, kills it.
pub fn stop(pid: u32, now: bool) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    let signal = if now { libc::SIGKILL } else { libc::SIGTERM };
    // SAFETY: kill(2) on a child of ours that we have not yet waited for, so the pid is
    // still ours and cannot have been reused.
    unsafe {
        libc::kill(pid, signal);
    }
}
