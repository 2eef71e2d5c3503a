//! Ctrl-C and SIGTERM: the first asks the loop to stop after the current step
//! (so that nothing is left half-written); the second exits at once.
//!
//! signal-hook's flags are async-signal-safe; the loop polls them between steps
//! and says which signal stopped the run, for the run record.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use signal_hook::consts::{SIGINT, SIGTERM};

struct Flags {
    int: Arc<AtomicBool>,
    term: Arc<AtomicBool>,
}

static FLAGS: OnceLock<Flags> = OnceLock::new();

/// Installs the handlers once per process. Failure to install leaves the
/// default behaviour (exit at once), which is safe: files are only ever
/// replaced by rename.
pub fn install() {
    FLAGS.get_or_init(|| {
        let flags = Flags {
            int: Arc::new(AtomicBool::new(false)),
            term: Arc::new(AtomicBool::new(false)),
        };
        for signal in [SIGINT, SIGTERM] {
            // Registered first, so they see the flags as they were before this
            // signal: a second signal of either kind exits with 130 at once.
            for earlier in [&flags.int, &flags.term] {
                let _ = signal_hook::flag::register_conditional_shutdown(
                    signal,
                    130,
                    Arc::clone(earlier),
                );
            }
        }
        let _ = signal_hook::flag::register(SIGINT, Arc::clone(&flags.int));
        let _ = signal_hook::flag::register(SIGTERM, Arc::clone(&flags.term));
        flags
    });
}

/// The signal that asked the run to stop, if any: `"SIGINT"` or `"SIGTERM"`.
pub fn requested() -> Option<&'static str> {
    let flags = FLAGS.get()?;
    if flags.int.load(Ordering::SeqCst) {
        Some("SIGINT")
    } else if flags.term.load(Ordering::SeqCst) {
        Some("SIGTERM")
    } else {
        None
    }
}
