//! `expr`: our subcommands, or coreutils `expr` for everything else.

use std::process::ExitCode;

use clap::Parser;

// Training allocates and frees megabyte-sized buffers every step; glibc's
// malloc returns them to the OS each time (page faults dominate). mimalloc keeps them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (mimalloc.h, v3); the Rust bindings do not name it.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> ExitCode {
    // By default mimalloc returns freed pages to the OS 10 ms later; a training step frees and
    // reallocates megabyte-sized buffers every few milliseconds, so it paid for page faults and
    // zeroing fresh pages every step (1.1-1.5 s of system time per MNIST epoch). Never purging
    // costs about 16 MB of peak RSS there.
    // SAFETY: sets a plain integer option; mimalloc allows this at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    let args: Vec<_> = std::env::args_os().collect();
    if !expr::cli::is_ours(&args) {
        return expr::cli::coreutils::hand_off(&args[1.min(args.len())..]);
    }
    expr::cli::main(expr::cli::Cli::parse())
}
