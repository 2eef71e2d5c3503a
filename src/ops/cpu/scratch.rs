//! Reused working memory and the fixed split of a batch into tasks.
//!
//! Every op call needs per-sample buffers (im2col columns, a conv output plane set) of tens to
//! hundreds of kilobytes. Allocating them per call per sample costs page faults on every step,
//! so each thread keeps one growing buffer and hands out slices of it.

use std::cell::RefCell;

thread_local! {
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with `K` scratch slices of the given lengths, carved out of this thread's buffer.
///
/// The slices hold stale data from earlier calls: `f` must write every element before reading
/// it, which keeps results independent of what ran before on the thread. If the buffer is
/// already lent out (a nested call on the same thread), a fresh one is allocated instead.
pub(crate) fn with_scratch<const K: usize, R>(
    lens: [usize; K],
    f: impl FnOnce([&mut [f32]; K]) -> R,
) -> R {
    let total: usize = lens.iter().sum();
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < total {
                buf.resize(total, 0.0);
            }
            f(split(&mut buf[..total], lens))
        }
        Err(_) => {
            let mut buf = vec![0.0; total];
            f(split(&mut buf, lens))
        }
    })
}

fn split<const K: usize>(mut buf: &mut [f32], lens: [usize; K]) -> [&mut [f32]; K] {
    lens.map(|len| {
        let (head, tail) = std::mem::take(&mut buf).split_at_mut(len);
        buf = tail;
        head
    })
}

/// The number of samples each parallel task handles.
///
/// It depends on the batch size only, never on the thread count: per-task partial sums are
/// added in task order, so gradients are bit-identical on any machine and any run.
pub(crate) fn samples_per_task(batch: usize) -> usize {
    const TASKS: usize = 16;
    batch.div_ceil(TASKS).max(1)
}

/// Splits `buf` into `count` consecutive slices of `len` elements each, or into `count` empty
/// slices when `buf` is empty (an optional saved buffer that this call does not need).
pub(crate) fn split_chunks<T>(buf: &mut [T], len: usize, count: usize) -> Vec<&mut [T]> {
    if buf.is_empty() || len == 0 {
        (0..count).map(|_| <&mut [T]>::default()).collect()
    } else {
        buf.chunks_mut(len).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_have_the_requested_lengths() {
        let lens = with_scratch([3, 0, 5], |[a, b, c]| [a.len(), b.len(), c.len()]);
        assert_eq!(lens, [3, 0, 5]);
    }

    #[test]
    fn nested_use_gets_a_separate_buffer() {
        with_scratch([4], |[outer]| {
            outer.fill(1.0);
            with_scratch([4], |[inner]| inner.fill(2.0));
            assert_eq!(outer, &[1.0; 4]);
        });
    }

    #[test]
    fn tasks_depend_on_the_batch_only() {
        assert_eq!(samples_per_task(1), 1);
        assert_eq!(samples_per_task(64), 4);
        assert_eq!(samples_per_task(65), 5);
    }

    #[test]
    fn empty_buffers_split_into_empty_slices() {
        let mut empty: Vec<u32> = Vec::new();
        assert_eq!(split_chunks(&mut empty, 4, 3).len(), 3);
        let mut full = vec![0u32; 8];
        assert_eq!(split_chunks(&mut full, 4, 2).len(), 2);
    }
}
