//! Inverted dropout, with dfdx's masks and bits, in parallel.
//!
//! dfdx 0.13's dropout draws its mask one element after another from a `StdRng` seeded by
//! the device, on one thread, and draws it again in the backward pass; in the DCGAN that was
//! 6% of a step while the other core waited. The mask is the same here, element for element:
//! `StdRng` is `ChaCha12Rng`, whose stream can be entered at any word, so each chunk of elements
//! seeks to the words dfdx would have drawn for it (one `u64`, two words, per element). The
//! mask is kept as bits for the backward pass rather than drawn again.
//!
//! Keeping dfdx's mask keeps every earlier run's numbers: a checkpoint resumes to the same
//! bits, and the figures measured before this op still hold.

use dfdx::prelude::{Cpu, HasShape, PutTape, Shape, SplitTape, Tape, Tensor, TensorFromVec};
use dfdx::tensor::RandomU64;
use rand::distributions::{Bernoulli, Distribution};
use rand::SeedableRng;
use rand_chacha::ChaCha12Rng;
use rayon::prelude::*;

use super::storage;
use crate::ops::cpu::zeroed::zeroed;

/// Elements per task: a whole number of mask words, and enough work to outweigh a task's
/// cost and a generator's seek.
const CHUNK: usize = 1 << 14;

/// `x` with each element zeroed with probability `rate`, the others divided by `1 - rate`,
/// as dfdx's `x.dropout(rate)`: the same seed drawn from the device, the same mask, the same
/// bits forward and backward.
///
/// # Panics
/// If `rate` is not in `[0, 1]`; the checker rules this out.
pub fn dropout<S: Shape, T: Tape<f32, Cpu>>(
    x: Tensor<S, f32, Cpu, T>,
    rate: f64,
) -> Tensor<S, f32, Cpu, T> {
    let (x, mut tape) = x.split_tape();
    let seed = x.device().random_u64();
    let dist = Bernoulli::new(rate).expect("dropout rate in [0, 1]");
    let data = storage(&x);
    let mut mask = vec![0u64; data.len().div_ceil(64)];
    let mut out = zeroed(data.len());
    // dfdx divides by `1 - rate` in the forward pass and multiplies by its inverse backward.
    let keep = (1.0 - rate) as f32;
    out.par_chunks_mut(CHUNK)
        .zip(mask.par_chunks_mut(CHUNK / 64))
        .zip(data.par_chunks(CHUNK))
        .enumerate()
        .for_each(|(chunk, ((out, mask), x))| {
            let mut rng = ChaCha12Rng::seed_from_u64(seed);
            rng.set_word_pos(2 * (chunk * CHUNK) as u128);
            for (i, (out, &x)) in out.iter_mut().zip(x).enumerate() {
                let dropped = dist.sample(&mut rng);
                mask[i / 64] |= u64::from(dropped) << (i % 64);
                *out = if dropped { 0.0 } else { x / keep };
            }
        });
    let out = x
        .device()
        .try_tensor_from_vec(out, *x.shape())
        .unwrap_or_else(|_| unreachable!("the output has the input's size"));
    if T::OWNS_TAPE {
        let scale = (1.0 - rate).recip() as f32;
        let (x_ghost, out_ghost) = (x.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let grad_out = std::mem::take(&mut **grads.get_or_alloc_mut(&out_ghost)?);
            let dx = grads.get_or_alloc_mut(&x_ghost)?;
            dx.par_chunks_mut(CHUNK)
                .zip(mask.par_chunks(CHUNK / 64))
                .zip(grad_out.par_chunks(CHUNK))
                .for_each(|((dx, mask), g)| {
                    for (i, (dx, &g)) in dx.iter_mut().zip(g).enumerate() {
                        let dropped = mask[i / 64] >> (i % 64) & 1 == 1;
                        // `0 * g`, not `0`, as dfdx: a NaN gradient stays NaN.
                        *dx += if dropped { 0.0 } else { scale } * g;
                    }
                });
            Ok(())
        });
    }
    out.put_tape(tape)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfdx::prelude::*;

    /// Outputs and input gradients of ours and dfdx's from one device seed.
    fn both(len: usize, rate: f32, seed: u64) -> [(Vec<f32>, Vec<f32>); 2] {
        let x: Vec<f32> = (0..len).map(|i| (i % 23) as f32 * 0.37 - 4.0).collect();
        let g: Vec<f32> = (0..len).map(|i| (i % 19) as f32 * 0.11 - 1.0).collect();
        let run = |ours: bool| {
            let dev = Cpu::seed_from_u64(seed);
            let t = dev.tensor_from_vec(x.clone(), (len,));
            let y = if ours {
                super::dropout(t.leaky_trace(), f64::from(rate))
            } else {
                t.leaky_trace().dropout(rate)
            };
            let values = y.as_vec();
            let weights = dev.tensor_from_vec(g.clone(), (len,));
            let grads = (y * weights).sum().backward();
            (values, grads.get(&t).as_vec())
        };
        [run(true), run(false)]
    }

    #[test]
    fn masks_and_bits_are_dfdxs() {
        // One element, part of a mask word, several chunks with a ragged end.
        for (len, rate, seed) in [
            (1, 0.5, 0),
            (100, 0.3, 1),
            (3 * CHUNK + 77, 0.3, 2),
            (CHUNK, 0.9, 3),
        ] {
            let [ours, theirs] = both(len, rate, seed);
            assert_eq!(ours.0, theirs.0, "outputs, {len} at {rate}");
            assert_eq!(ours.1, theirs.1, "gradients, {len} at {rate}");
            if len > 1 {
                let zeros = ours.0.iter().filter(|&&v| v == 0.0).count();
                assert!(zeros > 0 && zeros < len, "some dropped, some kept");
            }
        }
    }

    #[test]
    fn another_seed_gives_another_mask() {
        let [a, _] = both(1000, 0.5, 7);
        let [b, _] = both(1000, 0.5, 8);
        assert_ne!(a.0, b.0);
    }
}
