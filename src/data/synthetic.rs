//! Data sets generated from a seed rather than read: the same seed gives the same examples,
//! bit for bit, on every machine (`ChaCha8` and rand's uniform draws are portable).

use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::examples::{Encoding, Examples, Inputs, Targets};

/// Hochreiter and Schmidhuber's adding problem (1997, experiment 4; as Le, Jaitly and
/// Hinton 2015 pose it): `examples` sequences of (2, `length`), laid out as expr holds a
/// sequence (features, steps). Row 0 holds values uniform in [0, 1); row 1 marks one step
/// in the first half and one in the second with 1. The target is the sum of the two marked
/// values.
///
/// Each example draws its values, then its first mark, then its second, in that order.
///
/// # Panics
/// If `length` is below 2 (the checker refuses it).
pub fn adding_problem(length: usize, examples: usize, seed: u64) -> Examples {
    assert!(length >= 2, "the adding problem needs two halves");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let half = length / 2;
    let mut inputs = Array2::zeros((examples, 2 * length));
    let mut targets = Array2::zeros((examples, 1));
    for (mut x, mut y) in inputs.rows_mut().into_iter().zip(targets.rows_mut()) {
        for t in 0..length {
            x[t] = rng.gen::<f32>();
        }
        let first = rng.gen_range(0..half);
        let second = rng.gen_range(half..length);
        x[length + first] = 1.0;
        x[length + second] = 1.0;
        y[0] = x[first] + x[second];
    }
    Examples {
        inputs: Inputs::F32(inputs),
        element_shape: vec![2, length],
        targets: Targets::Values(targets),
        source: format!("adding_problem(length = {length}, examples = {examples}, seed = {seed})"),
        encoding: Encoding::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_example_marks_one_step_per_half_and_sums_them() {
        let e = adding_problem(10, 200, 7);
        let (Inputs::F32(x), Targets::Values(y)) = (&e.inputs, &e.targets) else {
            unreachable!("the generator makes values")
        };
        for (x, y) in x.rows().into_iter().zip(y.rows()) {
            let (values, marks) = x.as_slice().unwrap().split_at(10);
            assert!(values.iter().all(|v| (0.0..1.0).contains(v)));
            let marked: Vec<usize> = (0..10).filter(|&t| marks[t] == 1.0).collect();
            assert_eq!(marked.len(), 2);
            assert!(marked[0] < 5 && marked[1] >= 5);
            assert!(marks.iter().all(|&m| m == 0.0 || m == 1.0));
            assert_eq!(y[0], values[marked[0]] + values[marked[1]]);
        }
    }

    #[test]
    fn the_seed_decides_the_examples() {
        let bits = |seed| {
            let e = adding_problem(6, 50, seed);
            match e.inputs {
                Inputs::F32(x) => x.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                Inputs::U8(_) | Inputs::Files(_) | Inputs::Mapped(_) => {
                    unreachable!("the generator makes values")
                }
            }
        };
        assert_eq!(bits(3), bits(3));
        assert_ne!(bits(3), bits(4));
    }
}
