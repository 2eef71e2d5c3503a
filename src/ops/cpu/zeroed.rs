//! Output buffers zeroed by all the cores.
//!
//! `vec![0.0; n]` of an activation's size is a serial `memset` (and, for a fresh
//! allocation, the page faults that come with first touching it) on the thread that runs the
//! step, while the other workers wait: in ResNet-20 the conv and batch-norm outputs made
//! about 5% of a step's samples this way (BENCHMARKS.md, attempt 48). Zeroing each piece on
//! a worker also first touches its pages where they will be written.

use std::mem::MaybeUninit;

use rayon::prelude::*;

/// Below this many elements a buffer is zeroed on the calling thread: a task would cost
/// more than it saves.
const PARALLEL_FROM: usize = 1 << 16;

/// Elements zeroed per rayon task.
const CHUNK: usize = 1 << 15;

/// `vec![0.0; len]`, zeroed in parallel when it is large.
pub fn zeroed(len: usize) -> Vec<f32> {
    if len < PARALLEL_FROM {
        return vec![0.0; len];
    }
    let mut v = Vec::with_capacity(len);
    v.spare_capacity_mut()[..len]
        .par_chunks_mut(CHUNK)
        .for_each(|c| c.fill(MaybeUninit::new(0.0)));
    // SAFETY: the chunks above cover the first `len` elements, and each was written.
    unsafe { v.set_len(len) };
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_element_is_zero_at_every_size() {
        for len in [0, 1, PARALLEL_FROM - 1, PARALLEL_FROM, 3 * CHUNK + 5] {
            // A freed buffer of ones first, so that a reused allocation is not zero by luck.
            drop(vec![1.0f32; len]);
            let v = zeroed(len);
            assert_eq!(v.len(), len);
            assert!(v.iter().all(|&x| x.to_bits() == 0), "{len}");
        }
    }
}
