//! Ctrl-C and SIGTERM: the first asks the loop to stop after the current step
//! (so that nothing is left half-written); the second exits at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

static REQUESTED: AtomicBool = AtomicBool::new(false);
static INSTALL: Once = Once::new();

/// Installs the handler once per process. Failure to install (another
/// handler owns the signal) leaves the default behaviour, which is safe.
pub fn install() {
    INSTALL.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            if REQUESTED.swap(true, Ordering::SeqCst) {
                // Second signal: the user insists. Files are only ever
                // replaced by rename, so exiting mid-write corrupts nothing.
                std::process::exit(130);
            }
            eprintln!("\ninterrupted: stopping after this step (press Ctrl-C again to quit now)");
        });
    });
}

pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}
