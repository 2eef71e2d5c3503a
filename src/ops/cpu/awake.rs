//! Keeping rayon's other workers awake through a pass over the data.
//!
//! A training step alternates parallel ops with short serial stretches (the loss, the
//! metrics, the next batch). Rayon's idle workers go to sleep after about fifty microseconds
//! without work, and waking one costs a futex call and, in a virtual machine, an
//! inter-processor interrupt: in the tutorial about six per step, a tenth of an epoch. While
//! the loop runs, each other worker instead runs a poller that takes any job there is
//! (`rayon::yield_now`) and otherwise spins, so a parallel op finds it awake.
//!
//! Which thread runs which job never changes a result (every op splits its work by shape and
//! sums in a fixed order), so this changes timing only.

use std::sync::atomic::{AtomicBool, Ordering};

/// Runs `f` on this thread with the pool's other workers polling for jobs until it returns.
/// Does nothing special unless this thread is itself one of rayon's workers (the CLI's main
/// thread is, see `RunOptions::caller_joins_pool`) and the pool has others.
pub fn with_workers_awake<R>(f: impl FnOnce() -> R) -> R {
    let Some(me) = rayon::current_thread_index() else {
        return f();
    };
    let threads = rayon::current_num_threads();
    if threads < 2 {
        return f();
    }
    let done = AtomicBool::new(false);
    rayon::in_place_scope(|scope| {
        for _ in 1..threads {
            scope.spawn(|_| {
                // A poller that this thread itself picks up (while waiting inside `f`) must
                // return at once: it would otherwise wait for `f`, which waits for it.
                if rayon::current_thread_index() == Some(me) {
                    return;
                }
                let mut idle = 0u32;
                while !done.load(Ordering::Acquire) {
                    if rayon::yield_now() == Some(rayon::Yield::Executed) {
                        idle = 0;
                    } else if idle < 64 {
                        idle += 1;
                        std::hint::spin_loop();
                    } else {
                        // Long serial stretches (a checkpoint, the test pass's set-up) leave
                        // the core to other programs.
                        std::thread::yield_now();
                    }
                }
            });
        }
        // Set however `f` ends: a panic unwinding through here must not leave the scope
        // waiting for pollers that never stop.
        let _stop = Stop(&done);
        f()
    })
}

struct Stop<'a>(&'a AtomicBool);

impl Drop for Stop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use rayon::prelude::*;

    use super::with_workers_awake;

    fn pool() -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .expect("a thread pool")
    }

    #[test]
    fn parallel_work_inside_completes_and_the_result_comes_back() {
        let sum = pool().install(|| {
            with_workers_awake(|| {
                (0..20)
                    .map(|_| (0..10_000u64).into_par_iter().sum::<u64>())
                    .sum::<u64>()
            })
        });
        assert_eq!(sum, 20 * (10_000 * 9_999 / 2));
    }

    #[test]
    fn a_panic_inside_stops_the_pollers_and_propagates() {
        let pool = pool();
        let caught = pool.install(|| {
            std::panic::catch_unwind(|| with_workers_awake(|| panic!("inside the loop")))
        });
        assert!(caught.is_err());
        // The pool still runs jobs: no poller was left spinning on a worker.
        assert_eq!(
            pool.install(|| (0..100u32).into_par_iter().sum::<u32>()),
            4950
        );
    }

    #[test]
    fn outside_a_pool_it_just_runs() {
        assert_eq!(
            std::thread::spawn(|| with_workers_awake(|| 7))
                .join()
                .unwrap(),
            7
        );
    }
}
