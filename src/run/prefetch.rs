//! Batches of a streamed data set made ahead of the step, on threads of their own, so that
//! decoding files overlaps training.
//!
//! [`workers`] threads share a pass's batches in turn (batch `k` is worker `k % W`'s, of
//! `W`), and each keeps up to [`DEPTH`] finished batches in a queue of its own; the loop
//! takes them from the queues in the same turn. A batch is a function of the examples it holds
//! (files decode alike everywhere, augmentation draws by example, `data::augment`), so the
//! batches are the ones [`Batch::gather`] makes on the loop's thread, whatever thread made
//! them and however far ahead. The workers compute on the calling thread alone
//! (`Batch::gather_here`), leaving the pool to the step.

use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::check::plan::{Augment, Scaling};
use crate::data::augment::Draws;
use crate::data::{Batch, DataResult, Examples, Gather};

/// Threads that make batches: half the machine's cores, at least 2 and at most 8. Decoding
/// a batch of images on one core takes about as long as a step on all of them, so a
/// machine with more cores needs more decoders; the other half is the step's. How many
/// there are changes only how far ahead batches are made, never which batches.
pub fn workers() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    (cores / 2).clamp(2, 8)
}

/// Finished batches each worker keeps ready: with `W` workers, the loop can be up to
/// `W * (DEPTH + 1)` batches behind them.
pub const DEPTH: usize = 2;

/// What a batch of a pass is made of, owned so that workers can hold it.
#[derive(Clone)]
pub struct Recipe {
    pub examples: Arc<Examples>,
    pub scaling: Scaling,
    pub element_shape: Vec<usize>,
    pub one_hot_classes: Option<usize>,
    pub augment: Option<(Vec<Augment>, Draws)>,
}

impl Recipe {
    /// How to gather a batch by this recipe.
    pub fn how(&self) -> Gather<'_> {
        Gather {
            scaling: &self.scaling,
            element_shape: &self.element_shape,
            one_hot_classes: self.one_hot_classes,
            augment: self.augment.as_ref().map(|(ops, d)| (ops.as_slice(), *d)),
        }
    }
}

/// A pass's batches, from `first` on, being made ahead.
pub struct Prefetch {
    /// How many workers share the batches in turn (fewer may have started).
    turns: usize,
    queues: Vec<Receiver<DataResult<Batch>>>,
    workers: Vec<JoinHandle<()>>,
    /// Batches taken so far.
    taken: usize,
    /// Time [`Prefetch::next`] spent waiting for a batch not yet made.
    pub waited: Duration,
}

impl Prefetch {
    /// Starts the workers on the batches of `order` cut into `batch`-sized pieces, from
    /// batch `first` on (a resumed pass skips those before).
    pub fn start(recipe: &Recipe, order: &Arc<Vec<usize>>, batch: usize, first: usize) -> Self {
        let batch = batch.max(1);
        let count = order.len().div_ceil(batch);
        let turns = workers();
        let mut queues = Vec::with_capacity(turns);
        let mut workers = Vec::with_capacity(turns);
        for w in 0..turns {
            let (send, receive) = sync_channel(DEPTH);
            let (recipe, order) = (recipe.clone(), order.clone());
            let worker = std::thread::Builder::new()
                .name(format!("expr-prefetch-{w}"))
                .spawn(move || {
                    crate::lower::flush_denormals();
                    for k in (first + w..count).step_by(turns) {
                        let indices = &order[k * batch..((k + 1) * batch).min(order.len())];
                        let made = Batch::gather_here(&recipe.examples, indices, &recipe.how());
                        let failed = made.is_err();
                        // The loop has gone (stopped early): nothing more to make.
                        if send.send(made).is_err() || failed {
                            return;
                        }
                    }
                });
            match worker {
                Ok(handle) => {
                    queues.push(receive);
                    workers.push(handle);
                }
                // No thread to be had: the batches this worker would have made are made
                // on the loop's thread instead (see `next`).
                Err(_) => break,
            }
        }
        Prefetch {
            turns,
            queues,
            workers,
            taken: 0,
            waited: Duration::ZERO,
        }
    }

    /// The next batch, `indices` being its examples (made here if no worker could start).
    pub fn next(&mut self, recipe: &Recipe, indices: &[usize]) -> DataResult<Batch> {
        let turn = self.taken % self.turns;
        self.taken += 1;
        let started = Instant::now();
        let made = match self.queues.get(turn).map(Receiver::recv) {
            Some(Ok(made)) => made,
            // A worker that ends early has sent its error; one that never started, or
            // died, leaves its batches to this thread.
            Some(Err(_)) | None => Batch::gather(&recipe.examples, indices, &recipe.how()),
        };
        self.waited += started.elapsed();
        made
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        // Closing the queues first makes a worker blocked on a full one return.
        self.queues.clear();
        for worker in self.workers.drain(..) {
            // A worker's panic is a bug of ours, already printed by the panic hook; the
            // loop made its batch itself.
            let _ = worker.join();
        }
    }
}
