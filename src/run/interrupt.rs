//! Ctrl-C, SIGTERM and SIGHUP: the first asks the loop to stop after the current step
//! (so that nothing is left half-written); the second exits at once.
//!
//! signal-hook's flags are async-signal-safe; the loop polls them between steps, and data
//! loading and downloads poll them as they go, and say which signal stopped the run, for
//! the run record.
//!
//! SIGHUP is what a closed terminal or a dropped ssh session sends. The run is then handled
//! as for SIGTERM, checkpoint and `interrupted` record included, but the terminal is gone:
//! writing to it fails (EIO), and Rust's `eprintln!` panics on a failed write, which would
//! turn an orderly stop into a `failed` run. So the SIGHUP handler also points standard
//! output and error at /dev/null where they are terminals (files and pipes are kept).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

struct Flags {
    int: Arc<AtomicBool>,
    term: Arc<AtomicBool>,
    hup: Arc<AtomicBool>,
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
            hup: Arc::new(AtomicBool::new(false)),
        };
        #[cfg(target_os = "linux")] // `__errno_location` is glibc's and musl's
        {
            // First, so that the terminal is let go of before anything else runs.
            // SAFETY: the action only calls open, isatty, dup2 and close, which are
            // async-signal-safe, and touches no memory of ours.
            let _ = unsafe { signal_hook::low_level::register(SIGHUP, detach_terminal) };
        }
        for signal in [SIGINT, SIGTERM, SIGHUP] {
            // Registered first, so they see the flags as they were before this
            // signal: a second signal of any of these kinds exits with 130 at once.
            for earlier in [&flags.int, &flags.term, &flags.hup] {
                let _ = signal_hook::flag::register_conditional_shutdown(
                    signal,
                    130,
                    Arc::clone(earlier),
                );
            }
        }
        let _ = signal_hook::flag::register(SIGINT, Arc::clone(&flags.int));
        let _ = signal_hook::flag::register(SIGTERM, Arc::clone(&flags.term));
        let _ = signal_hook::flag::register(SIGHUP, Arc::clone(&flags.hup));
        flags
    });
}

/// Points standard output and error at /dev/null where they are a terminal that hung up.
/// A hung-up terminal is a character device on which `isatty` fails with EIO; a live one
/// (`kill -HUP` from another shell) is left alone, and so are files and pipes.
#[cfg(target_os = "linux")]
fn detach_terminal() {
    // SAFETY: plain system calls on file descriptors, and errno saved and restored for the
    // code this handler interrupted; a failure leaves things as they were.
    unsafe {
        let errno = libc::__errno_location();
        let saved = *errno;
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY);
        if null >= 0 {
            for fd in [libc::STDOUT_FILENO, libc::STDERR_FILENO] {
                let mut stat: libc::stat = std::mem::zeroed();
                let is_char = libc::fstat(fd, &raw mut stat) == 0
                    && stat.st_mode & libc::S_IFMT == libc::S_IFCHR;
                if is_char && libc::isatty(fd) == 0 && *errno == libc::EIO {
                    libc::dup2(null, fd);
                }
            }
            libc::close(null);
        }
        *errno = saved;
    }
}

/// The signal that asked the run to stop, if any: `"SIGINT"`, `"SIGTERM"` or `"SIGHUP"`.
pub fn requested() -> Option<&'static str> {
    let flags = FLAGS.get()?;
    if flags.int.load(Ordering::SeqCst) {
        Some("SIGINT")
    } else if flags.term.load(Ordering::SeqCst) {
        Some("SIGTERM")
    } else if flags.hup.load(Ordering::SeqCst) {
        Some("SIGHUP")
    } else {
        None
    }
}
