//! The input pipeline: the order examples are visited in, and how that order is cut into batches.
//!
//! The shuffle follows tf.data's `shuffle(buffer_size)`, so that an experiment ported from Keras
//! keeps the same statistical behaviour: a small buffer only mixes nearby examples, a buffer as
//! large as the data set is a full shuffle.

use rand::Rng;

use super::augment::{self, Augment, Draws};
use super::error::DataResult;
use super::examples::Examples;
use crate::check::plan::Scaling;

/// Deterministic tf.data-style shuffle of `0..n`.
///
/// A buffer holds the first `buffer` inputs; each output draws a uniform slot from the buffer and
/// refills that slot with the next input, and once the input is exhausted the buffer shrinks
/// until empty. `buffer >= n` is a full shuffle (every permutation equally likely); `buffer` 1
/// (or 0, read as 1) is the identity. The same `rng` state always gives the same order, on every
/// platform: slots are drawn as `u64`, not `usize`.
pub fn shuffle_order(n: usize, buffer: usize, rng: &mut impl Rng) -> Vec<usize> {
    let size = buffer.max(1).min(n);
    let mut pool: Vec<usize> = (0..size).collect();
    let mut next = size;
    let mut order = Vec::with_capacity(n);
    while !pool.is_empty() {
        let slot = draw(rng, pool.len());
        if next < n {
            order.push(std::mem::replace(&mut pool[slot], next));
            next += 1;
        } else {
            // Draining: which slot takes the hole does not matter, the draws stay uniform.
            order.push(pool.swap_remove(slot));
        }
    }
    order
}

/// Batches of indices over `order`; the last batch may be short (tf.data's
/// `drop_remainder=False`). A `batch` of 0 is read as 1; `check` rejects it before this point.
pub fn batches(order: &[usize], batch: usize) -> impl Iterator<Item = &[usize]> {
    order.chunks(batch.max(1))
}

/// A uniform index in `0..len`, drawn the same way on 32- and 64-bit targets.
fn draw(rng: &mut impl Rng, len: usize) -> usize {
    if len == 1 {
        // No draw: a buffer of one consumes no randomness, so identity costs nothing.
        return 0;
    }
    let slot = rng.gen_range(0..len as u64);
    usize::try_from(slot).unwrap_or_else(|_| unreachable!("slot is below a usize length"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn is_permutation(order: &[usize], n: usize) -> bool {
        let mut sorted = order.to_vec();
        sorted.sort_unstable();
        sorted == (0..n).collect::<Vec<_>>()
    }

    #[test]
    fn every_buffer_size_gives_a_permutation() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for n in [0, 1, 2, 5, 100] {
            for buffer in [0, 1, 2, 3, 10, 100, 1000] {
                let order = shuffle_order(n, buffer, &mut rng);
                assert!(
                    is_permutation(&order, n),
                    "n={n} buffer={buffer}: {order:?}"
                );
            }
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_order() {
        let a = shuffle_order(1000, 64, &mut ChaCha8Rng::seed_from_u64(42));
        let b = shuffle_order(1000, 64, &mut ChaCha8Rng::seed_from_u64(42));
        let c = shuffle_order(1000, 64, &mut ChaCha8Rng::seed_from_u64(43));
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn the_order_for_a_fixed_seed_is_pinned() {
        // Guards against a change in the draw that would silently reorder every experiment.
        let order = shuffle_order(10, 4, &mut ChaCha8Rng::seed_from_u64(0));
        assert_eq!(order, [0, 2, 3, 6, 7, 5, 1, 9, 8, 4]);
    }

    #[test]
    fn buffer_one_is_identity() {
        let order = shuffle_order(50, 1, &mut ChaCha8Rng::seed_from_u64(1));
        assert_eq!(order, (0..50).collect::<Vec<_>>());
    }

    #[test]
    fn output_i_comes_from_the_first_buffer_plus_i_inputs() {
        // With buffer B, output i has seen only inputs 0..B+i, so it is below B + i.
        let buffer = 8;
        for seed in 0..50 {
            let order = shuffle_order(200, buffer, &mut ChaCha8Rng::seed_from_u64(seed));
            assert!(order[0] < buffer, "seed {seed}: first output {}", order[0]);
            for (i, &x) in order.iter().enumerate() {
                assert!(x < buffer + i, "seed {seed}: output {i} is {x}");
            }
        }
    }

    #[test]
    fn a_small_buffer_keeps_examples_near_their_position() {
        // An element leaves the buffer after a geometric wait of mean B, so it cannot drift
        // earlier than B-1 places, and a large buffer moves elements much further on average.
        let n = 2000;
        let displacement = |buffer| {
            let order = shuffle_order(n, buffer, &mut ChaCha8Rng::seed_from_u64(3));
            order
                .iter()
                .enumerate()
                .map(|(i, &x)| i.abs_diff(x))
                .sum::<usize>() as f64
                / n as f64
        };
        let small = displacement(4);
        let full = displacement(n);
        assert!(small < 10.0, "mean displacement with buffer 4 is {small}");
        assert!(
            full > 500.0,
            "mean displacement with a full buffer is {full}"
        );
    }

    #[test]
    fn a_full_buffer_puts_each_element_first_about_equally_often() {
        let (n, trials) = (5, 20_000);
        let mut first = [0usize; 5];
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for _ in 0..trials {
            first[shuffle_order(n, n, &mut rng)[0]] += 1;
        }
        // Expected 4000 each; 5 sigma of a binomial(20000, 0.2) is about 283.
        for count in first {
            assert!((3700..=4300).contains(&count), "{first:?}");
        }
    }

    #[test]
    fn batches_cover_the_order_with_a_short_last_batch() {
        let order: Vec<usize> = (0..10).rev().collect();
        let got: Vec<&[usize]> = batches(&order, 4).collect();
        assert_eq!(got, [&[9, 8, 7, 6][..], &[5, 4, 3, 2], &[1, 0]]);
        assert_eq!(batches(&order, 10).count(), 1);
        assert_eq!(batches(&[], 3).count(), 0);
    }
}

/// A batch as a step sees it: inputs, and labels as class indices or as rows of numbers
/// (one-hot rows where the data asks for them, or regression targets).
#[derive(Clone, Debug)]
pub struct Batch {
    /// Inputs, row-major, `shape[0]` rows.
    pub x: Vec<f32>,
    pub shape: Vec<usize>,
    /// Class indices; empty when the targets are values.
    pub labels: Vec<usize>,
    /// `y` as rows of numbers: one-hot labels when the data asks for them, or the target
    /// values of a regression.
    pub dense_y: Option<Vec<f32>>,
}

impl Batch {
    /// The examples at `indices`, each stored value as `value * scale + shift` (`scaling`'s,
    /// per channel where it has one pair per channel), each element
    /// of `element_shape`, then augmented by `augment` (with each example's own draws);
    /// one-hot labels of `one_hot_classes` classes when given, or the target values where
    /// the targets are values. Only streamed inputs can fail (an unreadable file).
    pub fn gather(examples: &Examples, indices: &[usize], how: &Gather<'_>) -> DataResult<Batch> {
        Batch::build(examples, indices, how, true)
    }

    /// [`Batch::gather`] on the calling thread alone (a prefetch worker's): the same
    /// values, since every example is filled and augmented on its own.
    pub fn gather_here(
        examples: &Examples,
        indices: &[usize],
        how: &Gather<'_>,
    ) -> DataResult<Batch> {
        Batch::build(examples, indices, how, false)
    }

    fn build(
        examples: &Examples,
        indices: &[usize],
        how: &Gather<'_>,
        parallel: bool,
    ) -> DataResult<Batch> {
        use rayon::prelude::*;

        let element_shape = how.element_shape;
        let features: usize = element_shape.iter().product();
        let mut x = vec![0.0f32; indices.len() * features];
        if parallel {
            examples.fill_batch(indices, how.scaling, &mut x)?;
        } else {
            examples.fill_batch_here(indices, how.scaling, &mut x)?;
        }
        if let (Some((ops, draws)), true) = (how.augment, features > 0) {
            // A 0 byte (black) after the scaling, in each channel: what uncovered pixels
            // are filled with.
            let black = &how.scaling.shift;
            let one = |(row, &i): (&mut [f32], &usize)| {
                augment::apply(ops, row, element_shape, black, draws, i);
            };
            if parallel {
                x.par_chunks_mut(features)
                    .zip(indices.par_iter())
                    .for_each(one);
            } else {
                x.chunks_mut(features).zip(indices).for_each(one);
            }
        }
        let mut labels = Vec::with_capacity(indices.len());
        let dense_y = match examples.target_values(indices) {
            Some(values) => Some(values),
            None => {
                examples.fill_labels(indices, &mut labels);
                how.one_hot_classes.map(|classes| one_hot(&labels, classes))
            }
        };
        let mut shape = vec![indices.len()];
        shape.extend(element_shape);
        Ok(Batch {
            x,
            shape,
            labels,
            dense_y,
        })
    }
}

/// How [`Batch::gather`] makes a batch of a data set's examples.
#[derive(Clone, Copy, Debug)]
pub struct Gather<'a> {
    pub scaling: &'a Scaling,
    pub element_shape: &'a [usize],
    /// One-hot labels of this many classes.
    pub one_hot_classes: Option<usize>,
    /// The augmentation and where each example's draws come from.
    pub augment: Option<(&'a [Augment], Draws)>,
}

impl<'a> Gather<'a> {
    /// Scaled examples as they are: no augmentation, labels as class indices.
    pub fn plain(scaling: &'a Scaling, element_shape: &'a [usize]) -> Gather<'a> {
        Gather {
            scaling,
            element_shape,
            one_hot_classes: None,
            augment: None,
        }
    }
}

/// Class labels as rows of `classes` values, 1.0 at the label (no 1.0 for a label out of
/// range).
pub fn one_hot(labels: &[usize], classes: usize) -> Vec<f32> {
    let mut v = vec![0.0; labels.len() * classes];
    for (row, &c) in labels.iter().enumerate() {
        if c < classes {
            v[row * classes + c] = 1.0;
        }
    }
    v
}
