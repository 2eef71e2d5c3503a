//! Gradient accumulation (`optimizer opt = adam(accumulate = 4)`): the gradients of
//! consecutive updates of one optimizer are summed, and their mean is applied once the group
//! is whole, as Keras 3's `gradient_accumulation_steps` does. For a loss that is a mean over
//! the batch, a group of N batches of B is then the gradient of one batch of N·B (up to the
//! order of the sums). The sums and their count are state: checkpoints carry both.

/// One optimizer's gradients summed since its last applied update.
#[derive(Debug, Clone)]
pub struct Accumulator {
    /// Updates per applied update (1: no accumulation, and no buffers).
    pub group: usize,
    /// Gradients summed so far in the group in progress.
    pub count: usize,
    /// Per parameter the optimizer updates, the sum of its gradients (engine layout).
    pub sums: Vec<Vec<f32>>,
}

impl Accumulator {
    pub fn new(group: usize, sizes: &[usize]) -> Self {
        let sums = if group > 1 {
            sizes.iter().map(|&n| vec![0.0; n]).collect()
        } else {
            Vec::new()
        };
        Accumulator {
            group,
            count: 0,
            sums,
        }
    }

    pub fn accumulates(&self) -> bool {
        self.group > 1
    }

    /// Adds one update's gradients; true when the group is whole.
    pub fn add(&mut self, grads: &[Vec<f32>]) -> bool {
        for (sum, g) in self.sums.iter_mut().zip(grads) {
            for (s, &v) in sum.iter_mut().zip(g) {
                *s += v;
            }
        }
        self.count += 1;
        self.count >= self.group
    }

    /// The mean of the gradients summed so far (a whole group, or the partial one an epoch
    /// ends with: the mean over the updates it has), and a fresh group.
    pub fn take_mean(&mut self) -> Vec<Vec<f32>> {
        let n = self.count.max(1) as f32;
        self.count = 0;
        self.sums
            .iter_mut()
            .map(|sum| {
                let mean = sum.iter().map(|s| s / n).collect();
                sum.fill(0.0);
                mean
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::Accumulator;

    #[test]
    fn a_group_applies_the_mean_of_its_gradients_then_starts_again() {
        let mut a = Accumulator::new(3, &[2]);
        assert!(!a.add(&[vec![1.0, 2.0]]));
        assert!(!a.add(&[vec![2.0, 4.0]]));
        assert!(a.add(&[vec![3.0, 9.0]]));
        assert_eq!(a.take_mean(), vec![vec![2.0, 5.0]]);
        assert_eq!((a.count, &a.sums), (0, &vec![vec![0.0, 0.0]]));
        // A partial group: the mean over the updates it has.
        a.add(&[vec![4.0, 1.0]]);
        assert_eq!(a.take_mean(), vec![vec![4.0, 1.0]]);
        assert!(!Accumulator::new(1, &[2]).accumulates());
    }
}
