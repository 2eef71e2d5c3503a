//! Rayon's global thread pool, sized once per process, with every computing thread
//! flushing denormals to zero (see [`super::simd::flush_denormals`]).

/// Sizes rayon's global pool to `n` threads. With `caller_joins`, the calling thread becomes
/// one of the workers (see `run::RunOptions::caller_joins_pool`).
///
/// # Errors
/// When a pool of another size already runs in this process; the message says which.
pub fn start(n: usize, caller_joins: bool) -> Result<(), String> {
    // The global pool can be built once per process (asking its size builds it too). A second
    // run in the same process (tests) keeps the first pool, which is fine as long as its size
    // matches. The calling thread flushes denormals now, rayon's workers as they start.
    super::simd::flush_denormals();
    let mut builder = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .start_handler(|_| super::simd::flush_denormals());
    if caller_joins {
        builder = builder.use_current_thread();
    }
    match builder.build_global() {
        Ok(()) => Ok(()),
        Err(_) if rayon::current_num_threads() == n => Ok(()),
        Err(e) => Err(format!("{e} with {} threads", rayon::current_num_threads())),
    }
}
