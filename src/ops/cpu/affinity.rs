//! Running piece `i` of a job on rayon's thread `i`, step after step.
//!
//! Rayon hands tasks to whichever thread is free, so a buffer written by one core in one op is
//! often read by the other in the next, and its cache lines cross between the cores. For the
//! few memory-bound passes over the same large buffers every step (the dense weight's
//! gradient and Adam's moments), a fixed thread per piece keeps each piece in one core's cache.
//! Results never depend on which thread runs a piece.

use std::sync::Mutex;

/// Runs `f(i, piece)` for each piece, piece `i` on thread `i` of the current rayon pool
/// (pieces beyond the thread count on the last thread, in order).
pub fn on_fixed_threads<P: Send>(pieces: Vec<P>, f: impl Fn(usize, P) + Sync) {
    let threads = rayon::current_num_threads();
    if threads < 2 || pieces.len() < 2 {
        for (i, p) in pieces.into_iter().enumerate() {
            f(i, p);
        }
        return;
    }
    let count = pieces.len();
    let slots: Vec<Mutex<Option<P>>> = pieces.into_iter().map(|p| Mutex::new(Some(p))).collect();
    rayon::broadcast(|ctx| {
        let mine = if ctx.index() + 1 == threads {
            ctx.index()..count
        } else {
            ctx.index()..(ctx.index() + 1).min(count)
        };
        for i in mine {
            let piece = slots[i].lock().ok().and_then(|mut p| p.take());
            if let Some(piece) = piece {
                f(i, piece);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::on_fixed_threads;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn every_piece_runs_once_on_its_thread() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        pool.install(|| {
            for count in [1, 2, 3, 5] {
                let seen: Vec<AtomicUsize> = (0..count).map(|_| AtomicUsize::new(0)).collect();
                let on: Vec<AtomicUsize> =
                    (0..count).map(|_| AtomicUsize::new(usize::MAX)).collect();
                on_fixed_threads((0..count).collect(), |i, p: usize| {
                    assert_eq!(i, p);
                    seen[i].fetch_add(1, Ordering::Relaxed);
                    on[i].store(rayon::current_thread_index().unwrap(), Ordering::Relaxed);
                });
                for i in 0..count {
                    assert_eq!(seen[i].load(Ordering::Relaxed), 1, "piece {i} of {count}");
                    if count > 1 {
                        assert_eq!(
                            on[i].load(Ordering::Relaxed),
                            i.min(2),
                            "piece {i} of {count}"
                        );
                    }
                }
            }
        });
    }
}
