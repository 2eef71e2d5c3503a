//! Ctrl-C and SIGTERM during a run: the record is marked `interrupted` before the process ends.
//!
//! A signal handler may do almost nothing safely, so ours only writes the signal number into
//! a pipe. A watcher thread blocked on the pipe's other end does the real work: it calls the
//! active run's callback (which writes `run.yaml` atomically, under the recorder's lock, so it
//! never races a regular update), then exits with the shell's code for the signal (128 + n).
//! Outside a run the previous signal dispositions are restored.

use std::sync::{Arc, Mutex};

/// Called with the signal's name (`SIGINT`) when a run is interrupted.
pub type OnSignal = Arc<dyn Fn(&str) + Send + Sync>;

static ACTIVE: Mutex<Option<OnSignal>> = Mutex::new(None);

/// While alive, SIGINT and SIGTERM go to `on_signal` and then end the process.
pub struct Guard {
    #[cfg(unix)]
    previous: Option<imp::Previous>,
}

/// Routes SIGINT/SIGTERM to `on_signal` until the guard is dropped.
pub fn watch(on_signal: OnSignal) -> Guard {
    if let Ok(mut active) = ACTIVE.lock() {
        *active = Some(on_signal);
    }
    Guard {
        #[cfg(unix)]
        previous: imp::install(),
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Ok(mut active) = ACTIVE.lock() {
            *active = None;
        }
        #[cfg(unix)]
        if let Some(previous) = self.previous.take() {
            imp::restore(&previous);
        }
    }
}

fn dispatch(signal: i32) -> ! {
    let name = match signal {
        2 => "SIGINT",
        15 => "SIGTERM",
        _ => "signal",
    };
    let callback = ACTIVE.lock().ok().and_then(|a| a.clone());
    if let Some(callback) = callback {
        callback(name);
    }
    std::process::exit(128 + signal);
}

#[cfg(unix)]
mod imp {
    use std::sync::atomic::{AtomicI32, Ordering};
    use std::sync::Once;

    static WRITE_END: AtomicI32 = AtomicI32::new(-1);
    static START: Once = Once::new();

    /// The dispositions we replaced, to put back when the run ends.
    pub struct Previous {
        int: libc::sigaction,
        term: libc::sigaction,
    }

    extern "C" fn on_signal(signal: libc::c_int) {
        let byte = signal as u8;
        let fd = WRITE_END.load(Ordering::Relaxed);
        // SAFETY: write(2) is async-signal-safe; the buffer is one byte on this stack.
        unsafe {
            libc::write(fd, std::ptr::addr_of!(byte).cast(), 1);
        }
    }

    /// Starts the watcher once, then points SIGINT and SIGTERM at the pipe.
    pub fn install() -> Option<Previous> {
        START.call_once(start_watcher);
        if WRITE_END.load(Ordering::Relaxed) < 0 {
            return None;
        }
        // SAFETY: sigaction with a handler that only calls write(2); the structs are zeroed
        // plain C data, filled before use.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            libc::sigemptyset(&raw mut action.sa_mask);
            action.sa_flags = libc::SA_RESTART;
            let mut int: libc::sigaction = std::mem::zeroed();
            let mut term: libc::sigaction = std::mem::zeroed();
            libc::sigaction(libc::SIGINT, &raw const action, &raw mut int);
            libc::sigaction(libc::SIGTERM, &raw const action, &raw mut term);
            Some(Previous { int, term })
        }
    }

    pub fn restore(previous: &Previous) {
        // SAFETY: puts back dispositions that sigaction itself returned.
        unsafe {
            libc::sigaction(libc::SIGINT, &raw const previous.int, std::ptr::null_mut());
            libc::sigaction(
                libc::SIGTERM,
                &raw const previous.term,
                std::ptr::null_mut(),
            );
        }
    }

    fn start_watcher() {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: pipe(2) fills the two-element array.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            return;
        }
        let read_end = fds[0];
        let spawned = std::thread::Builder::new()
            .name("expr-signals".into())
            .spawn(move || loop {
                let mut byte = 0u8;
                // SAFETY: reads one byte into a local.
                let n = unsafe { libc::read(read_end, std::ptr::addr_of_mut!(byte).cast(), 1) };
                if n == 1 {
                    super::dispatch(i32::from(byte));
                }
                if n == 0 {
                    return;
                }
            });
        if spawned.is_ok() {
            WRITE_END.store(fds[1], Ordering::Relaxed);
        }
    }
}
