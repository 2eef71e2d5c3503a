//! `expr`: our subcommands, or coreutils `expr` for everything else.

use std::process::ExitCode;

use clap::Parser;

// Training allocates and frees megabyte-sized buffers every step; glibc's
// malloc returns them to the OS each time (page faults dominate). mimalloc keeps them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().collect();
    if !expr::cli::is_ours(&args) {
        return expr::coreutils::hand_off(&args[1.min(args.len())..]);
    }
    expr::cli::main(expr::cli::Cli::parse())
}
