//! Host kernels of the step operations whose shapes dfdx cannot name at compile time:
//! broadcasting arithmetic, reductions over any axes, softmax along an axis, clipping.
//! Each works on a row-major `&[f32]` of a full shape (batch first) and has its
//! backward beside its forward; `tape.rs` puts them on dfdx's tape. Every output
//! element is computed in a fixed order, so results do not depend on threads.

use crate::check::plan::{Reduce, TensorOp};

/// Row-major strides of `shape`.
fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        s[d] = s[d + 1] * shape[d + 1];
    }
    s
}

/// For each element of `out` (row-major), the position of the element of a tensor of
/// `shape` (same rank, each axis equal to `out`'s or 1) that it reads.
fn sources(out: &[usize], shape: &[usize]) -> Vec<usize> {
    let st: Vec<usize> = strides(shape)
        .into_iter()
        .zip(shape)
        .map(|(s, &d)| if d == 1 { 0 } else { s })
        .collect();
    let n: usize = out.iter().product();
    let mut idx = vec![0usize; out.len()];
    let mut map = Vec::with_capacity(n);
    for _ in 0..n {
        map.push(idx.iter().zip(&st).map(|(i, s)| i * s).sum());
        for d in (0..out.len()).rev() {
            idx[d] += 1;
            if idx[d] < out[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    map
}

/// The shape `a op b` broadcasts to (equal ranks; each axis equal or 1).
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Vec<usize> {
    a.iter().zip(b).map(|(&x, &y)| x.max(y)).collect()
}

pub fn binary_forward(op: TensorOp, a: &[f32], sa: &[usize], b: &[f32], sb: &[usize]) -> Vec<f32> {
    let out = broadcast_shape(sa, sb);
    let (ma, mb) = (sources(&out, sa), sources(&out, sb));
    ma.iter()
        .zip(&mb)
        .map(|(&i, &j)| {
            let (x, y) = (a[i], b[j]);
            match op {
                TensorOp::Add => x + y,
                TensorOp::Sub => x - y,
                TensorOp::Mul => x * y,
                TensorOp::Div => x / y,
            }
        })
        .collect()
}

/// The gradients of `a op b` for `a` and `b`: an axis broadcast sums its gradient.
pub fn binary_backward(
    op: TensorOp,
    (a, sa): (&[f32], &[usize]),
    (b, sb): (&[f32], &[usize]),
    grad: &[f32],
) -> (Vec<f32>, Vec<f32>) {
    let out = broadcast_shape(sa, sb);
    let (ma, mb) = (sources(&out, sa), sources(&out, sb));
    let (mut ga, mut gb) = (vec![0.0; a.len()], vec![0.0; b.len()]);
    for ((&i, &j), &g) in ma.iter().zip(&mb).zip(grad) {
        let (x, y) = (a[i], b[j]);
        let (da, db) = match op {
            TensorOp::Add => (g, g),
            TensorOp::Sub => (g, -g),
            TensorOp::Mul => (g * y, g * x),
            TensorOp::Div => (g / y, -g * x / (y * y)),
        };
        ga[i] += da;
        gb[j] += db;
    }
    (ga, gb)
}

/// `shape` with the `axes` set to 1.
pub fn kept_shape(shape: &[usize], axes: &[usize]) -> Vec<usize> {
    shape
        .iter()
        .enumerate()
        .map(|(d, &n)| if axes.contains(&d) { 1 } else { n })
        .collect()
}

/// The reduction of `x` (of `shape`) over `axes`, in the layout of `kept_shape`.
pub fn reduce_forward(op: Reduce, x: &[f32], shape: &[usize], axes: &[usize]) -> Vec<f32> {
    let kept = kept_shape(shape, axes);
    let map = sources(shape, &kept);
    let n_out: usize = kept.iter().product();
    let start = match op {
        Reduce::Mean | Reduce::Sum => 0.0,
        Reduce::Max => f32::NEG_INFINITY,
        Reduce::Min => f32::INFINITY,
    };
    let mut out = vec![start; n_out];
    for (&o, &v) in map.iter().zip(x) {
        out[o] = match op {
            Reduce::Mean | Reduce::Sum => out[o] + v,
            Reduce::Max => out[o].max(v),
            Reduce::Min => out[o].min(v),
        };
    }
    if op == Reduce::Mean {
        let count = (x.len() / n_out.max(1)) as f32;
        for v in &mut out {
            *v /= count;
        }
    }
    out
}

/// The gradient of a reduction for its input. For `max` and `min`, the elements equal
/// to the result share its gradient equally, as in TensorFlow's `reduce_max`.
pub fn reduce_backward(
    op: Reduce,
    x: &[f32],
    shape: &[usize],
    axes: &[usize],
    out: &[f32],
    grad: &[f32],
) -> Vec<f32> {
    let kept = kept_shape(shape, axes);
    let map = sources(shape, &kept);
    match op {
        Reduce::Sum => map.iter().map(|&o| grad[o]).collect(),
        Reduce::Mean => {
            let count = (x.len() / out.len().max(1)) as f32;
            map.iter().map(|&o| grad[o] / count).collect()
        }
        Reduce::Max | Reduce::Min => {
            let mut ties = vec![0.0f32; out.len()];
            for (&o, &v) in map.iter().zip(x) {
                if v == out[o] {
                    ties[o] += 1.0;
                }
            }
            map.iter()
                .zip(x)
                .map(|(&o, &v)| if v == out[o] { grad[o] / ties[o] } else { 0.0 })
                .collect()
        }
    }
}

/// `shape` cut around `axis`: the elements before it, along it, after it.
fn around(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    let outer = shape[..axis].iter().product();
    let inner = shape[axis + 1..].iter().product();
    (outer, shape[axis], inner)
}

/// Softmax (or its log) along `axis`, with the maximum subtracted first so that
/// `exp` cannot overflow.
pub fn softmax_forward(x: &[f32], shape: &[usize], axis: usize, log: bool) -> Vec<f32> {
    let (outer, n, inner) = around(shape, axis);
    let mut out = vec![0.0; x.len()];
    for o in 0..outer {
        for i in 0..inner {
            let at = |k: usize| o * n * inner + k * inner + i;
            let max = (0..n).map(|k| x[at(k)]).fold(f32::NEG_INFINITY, f32::max);
            let sum: f32 = (0..n).map(|k| (x[at(k)] - max).exp()).sum();
            for k in 0..n {
                let z = x[at(k)] - max;
                out[at(k)] = if log { z - sum.ln() } else { z.exp() / sum };
            }
        }
    }
    out
}

/// The gradient of softmax (`s * (g - sum(g * s))`) or log-softmax
/// (`g - softmax * sum(g)`) from its output `out`.
pub fn softmax_backward(
    out: &[f32],
    shape: &[usize],
    axis: usize,
    log: bool,
    grad: &[f32],
) -> Vec<f32> {
    let (outer, n, inner) = around(shape, axis);
    let mut dx = vec![0.0; out.len()];
    for o in 0..outer {
        for i in 0..inner {
            let at = |k: usize| o * n * inner + k * inner + i;
            if log {
                let total: f32 = (0..n).map(|k| grad[at(k)]).sum();
                for k in 0..n {
                    dx[at(k)] = grad[at(k)] - out[at(k)].exp() * total;
                }
            } else {
                let dot: f32 = (0..n).map(|k| grad[at(k)] * out[at(k)]).sum();
                for k in 0..n {
                    dx[at(k)] = out[at(k)] * (grad[at(k)] - dot);
                }
            }
        }
    }
    dx
}

pub fn clip_forward(x: &[f32], lo: f32, hi: f32) -> Vec<f32> {
    x.iter().map(|v| v.clamp(lo, hi)).collect()
}

/// As TensorFlow's `clip_by_value`: the gradient passes where `lo <= x <= hi`.
pub fn clip_backward(x: &[f32], lo: f32, hi: f32, grad: &[f32]) -> Vec<f32> {
    x.iter()
        .zip(grad)
        .map(|(&v, &g)| if (lo..=hi).contains(&v) { g } else { 0.0 })
        .collect()
}

#[cfg(test)]
mod tests;
