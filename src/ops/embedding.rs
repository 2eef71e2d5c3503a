//! Token and position embeddings on dfdx's tape: a lookup of rows of a table and an addition
//! of a table's first rows, each with its backward pass (a scatter-add into the table's
//! gradient). Sequences come out as the engine holds them, `(batch, width, 1, length)`.
//!
//! The tables are read on the host (their tensors are tokens naming the gradient, see
//! `Param::read_on_host`), as the dense op reads its weight.

use dfdx::prelude::*;

use super::{host_data, tensor_from_output, HostTensor, T4};

/// A table, `(rows, width)`: its tensor (a token naming its gradient) and host values.
pub type Table<'a> = HostTensor<'a, (usize, usize)>;

/// The row of `table` at each token id of `ids` (batch, length), as `(batch, width, 1,
/// length)`. Ids are the whole numbers the data holds; one outside the table (which the
/// checker rules out for the data it can see) gives a row of zeros and no gradient.
pub fn embedding<T: Tape<f32, Cpu>>(
    ids: Tensor<(usize, usize), f32, Cpu, T>,
    table: Table<'_>,
    width: usize,
) -> T4<T> {
    let (batch, length) = *ids.shape();
    let (ids, mut tape) = ids.split_tape();
    let (table_tensor, values) = (table.tensor, table.value);
    let rows = values.len() / width.max(1);
    let index: Vec<Option<usize>> = host_data(&ids)
        .into_iter()
        .map(|v| {
            let row = v as usize;
            (v >= 0.0 && row < rows && v == row as f32).then_some(row)
        })
        .collect();
    let mut out = vec![0.0; batch * width * length];
    for (b, tokens) in index.chunks_exact(length.max(1)).enumerate() {
        let out = &mut out[b * width * length..][..width * length];
        for (t, row) in tokens.iter().enumerate() {
            if let Some(row) = row {
                for (d, &v) in values[row * width..][..width].iter().enumerate() {
                    out[d * length + t] = v;
                }
            }
        }
    }
    let out = tensor_from_output(ids.device(), out, (batch, width, 1, length));
    if T::OWNS_TAPE {
        let (table_ghost, out_ghost) = (table_tensor.ghost(), out.ghost());
        let table_len = values.len();
        tape.add_backward_op(move |grads| {
            let dy = std::mem::take(&mut **grads.get_or_alloc_mut(&out_ghost)?);
            let dw = grads.get_or_alloc_mut(&table_ghost)?;
            if dw.is_empty() {
                dw.resize(table_len, 0.0);
            }
            for (b, tokens) in index.chunks_exact(length.max(1)).enumerate() {
                let dy = &dy[b * width * length..][..width * length];
                for (t, row) in tokens.iter().enumerate() {
                    if let Some(row) = row {
                        for (d, g) in dw[row * width..][..width].iter_mut().enumerate() {
                            *g += dy[d * length + t];
                        }
                    }
                }
            }
            Ok(())
        });
    }
    out.put_tape(tape)
}

/// `x + table[t]` at each position `t` of a sequence `x` (batch, width, 1, length): a learned
/// position embedding, the table's first `length` rows of `width` values.
pub fn add_positions<T: Tape<f32, Cpu>>(x: T4<T>, table: Table<'_>) -> T4<T> {
    let (batch, width, _, length) = *x.shape();
    let (x, mut tape) = x.split_tape();
    let (table_tensor, values) = (table.tensor, table.value);
    let mut out = host_data(&x);
    for example in out.chunks_exact_mut(width * length) {
        for (d, row) in example.chunks_exact_mut(length).enumerate() {
            for (t, v) in row.iter_mut().enumerate() {
                *v += values[t * width + d];
            }
        }
    }
    let out = tensor_from_output(x.device(), out, (batch, width, 1, length));
    if T::OWNS_TAPE {
        let (x_ghost, table_ghost, out_ghost) = (x.ghost(), table_tensor.ghost(), out.ghost());
        let table_len = values.len();
        tape.add_backward_op(move |grads| {
            let dy = std::mem::take(&mut **grads.get_or_alloc_mut(&out_ghost)?);
            let dw = grads.get_or_alloc_mut(&table_ghost)?;
            if dw.is_empty() {
                dw.resize(table_len, 0.0);
            }
            for example in dy.chunks_exact(width * length) {
                for (d, row) in example.chunks_exact(length).enumerate() {
                    for (t, g) in row.iter().enumerate() {
                        dw[t * width + d] += g;
                    }
                }
            }
            super::add_into(grads.get_or_alloc_mut(&x_ghost)?, &dy);
            Ok(())
        });
    }
    out.put_tape(tape)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    type Token = Tensor<(usize, usize), f32, Cpu>;

    /// A table of `rows` by `width` values and its token tensor.
    fn table(dev: &Cpu, rows: usize, width: usize) -> (Token, Arc<Vec<f32>>) {
        let values: Vec<f32> = (0..rows * width).map(|i| (i as f32 * 0.37).sin()).collect();
        (dev.tensor_from_vec(Vec::new(), (0, 0)), Arc::new(values))
    }

    #[test]
    fn looks_up_rows_and_scatters_their_gradients() {
        let dev = Cpu::default();
        let (token, values) = table(&dev, 5, 3);
        // Two examples of 4 tokens; 9 is out of the table and 1.5 is no token id.
        let ids = dev.tensor_from_vec(vec![0.0, 4.0, 4.0, 9.0, 2.0, 1.5, 0.0, 1.0], (2, 4));
        let y = embedding(
            ids.leaky_trace(),
            HostTensor {
                tensor: &token,
                value: &values,
            },
            3,
        );
        let out = y.as_vec();
        // out[b, d, 0, t] = table[ids[b, t], d].
        assert_eq!(out[2 * 4 + 1], values[4 * 3 + 2]);
        assert_eq!(out[4 + 3], 0.0, "an id outside the table gives zeros");
        assert_eq!(out[12 + 4 + 1], 0.0, "1.5 is no token id");
        // The loss sum(y * c) has gradient c at each looked-up place: table row 4 gets the
        // sum of positions 1 and 2 of example 0, row 0 positions 0 of both examples.
        let c: Vec<f32> = (0..24).map(|i| i as f32).collect();
        let loss = (y * dev.tensor_from_vec(c.clone(), (2, 3, 1, 4))).sum();
        let mut g = loss.backward();
        let dw = g.get_or_alloc_mut(&token).unwrap().to_vec();
        let at = |b: usize, d: usize, t: usize| c[b * 12 + d * 4 + t];
        for d in 0..3 {
            assert_eq!(dw[4 * 3 + d], at(0, d, 1) + at(0, d, 2));
            assert_eq!(dw[d], at(0, d, 0) + at(1, d, 2));
            assert_eq!(dw[3 + d], at(1, d, 3));
            assert_eq!(dw[2 * 3 + d], at(1, d, 0));
        }
    }

    #[test]
    fn adds_positions_with_gradients_against_finite_differences() {
        let dev = Cpu::default();
        let (token, values) = table(&dev, 6, 2);
        let x: Vec<f32> = (0..2 * 2 * 4).map(|i| (i as f32 * 0.11).cos()).collect();
        let c: Vec<f32> = (0..16).map(|i| (i as f32 * 0.7).sin()).collect();
        let loss_of = |x: &[f32], table: &Arc<Vec<f32>>| -> f32 {
            let y = add_positions(
                dev.tensor_from_vec(x.to_vec(), (2, 2, 1, 4)),
                HostTensor {
                    tensor: &token,
                    value: table,
                },
            );
            y.as_vec()
                .iter()
                .zip(&c)
                .map(|(a, b)| (a * b).powi(2))
                .sum()
        };
        let xt = dev.tensor_from_vec(x.clone(), (2, 2, 1, 4));
        let y = add_positions(
            xt.leaky_trace(),
            HostTensor {
                tensor: &token,
                value: &values,
            },
        );
        let cc = dev.tensor_from_vec(c.clone(), (2, 2, 1, 4));
        let mut g = (y * cc).square().sum().backward();
        let dx = g.get_or_alloc_mut(&xt).unwrap().to_vec();
        let dw = g.get_or_alloc_mut(&token).unwrap().to_vec();
        let h = 1e-2;
        for i in 0..x.len() {
            let (mut up, mut down) = (x.clone(), x.clone());
            up[i] += h;
            down[i] -= h;
            let fd = (loss_of(&up, &values) - loss_of(&down, &values)) / (2.0 * h);
            assert!((fd - dx[i]).abs() < 2e-3, "dx[{i}]: {fd} vs {}", dx[i]);
        }
        for i in 0..values.len() {
            let (mut up, mut down) = ((*values).clone(), (*values).clone());
            up[i] += h;
            down[i] -= h;
            let fd = (loss_of(&x, &Arc::new(up)) - loss_of(&x, &Arc::new(down))) / (2.0 * h);
            // Rows 4 and 5 are past the sequence: no gradient.
            assert!((fd - dw[i]).abs() < 2e-3, "dw[{i}]: {fd} vs {}", dw[i]);
        }
    }
}
