//! Host kernels of the step functions that move values: `transpose`, `matmul`,
//! slicing and `argmax`. Shapes are whole (the batch axis first), data row-major.
//! Each backward is the forward's adjoint: a transpose by the inverse permutation,
//! a slice's gradient scattered back into zeros, a product's by the other factor.

/// Row-major strides of `shape`.
fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        s[d] = s[d + 1] * shape[d + 1];
    }
    s
}

/// `x` of `shape` with its axes permuted: output axis `d` is input axis `perm[d]`.
pub fn transpose(x: &[f32], shape: &[usize], perm: &[usize]) -> Vec<f32> {
    let from = strides(shape);
    let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    // The input stride of each output axis, walked as an odometer over the output.
    let step: Vec<usize> = perm.iter().map(|&p| from[p]).collect();
    let mut out = Vec::with_capacity(x.len());
    let mut index = vec![0usize; shape.len()];
    let mut at = 0usize;
    for _ in 0..x.len() {
        out.push(x[at]);
        for d in (0..index.len()).rev() {
            index[d] += 1;
            at += step[d];
            if index[d] < out_shape[d] {
                break;
            }
            at -= step[d] * out_shape[d];
            index[d] = 0;
        }
    }
    out
}

/// The permutation that undoes `perm`.
pub fn inverse(perm: &[usize]) -> Vec<usize> {
    let mut inv = vec![0; perm.len()];
    for (d, &p) in perm.iter().enumerate() {
        inv[p] = d;
    }
    inv
}

/// An element shape of rank 1 or 2 as the matrix `matmul` treats it: a vector is a row
/// on the left, a column on the right.
fn as_matrix(shape: &[usize], left: bool) -> (usize, usize) {
    match *shape {
        [m, n] => (m, n),
        [k] if left => (1, k),
        [k] => (k, 1),
        _ => unreachable!("check limits matmul to vectors and matrices, got {shape:?}"),
    }
}

/// `c += a · b` for row-major `a` (m, k) and `b` (k, n), or their transposes as asked:
/// `ta` reads `a` stored (k, m), `tb` reads `b` stored (n, k).
#[allow(clippy::too_many_arguments, clippy::many_single_char_names)]
fn gemm(c: &mut [f32], a: &[f32], b: &[f32], m: usize, k: usize, n: usize, ta: bool, tb: bool) {
    for i in 0..m {
        for p in 0..k {
            let av = if ta { a[p * m + i] } else { a[i * k + p] };
            if av == 0.0 {
                continue;
            }
            let row = &mut c[i * n..(i + 1) * n];
            for (j, cv) in row.iter_mut().enumerate() {
                let bv = if tb { b[j * k + p] } else { b[p * n + j] };
                *cv += av * bv;
            }
        }
    }
}

/// Each row's product of `a` (element shape `sa`) and `b` (`sb`), over `rows` rows.
pub fn matmul(a: &[f32], sa: &[usize], b: &[f32], sb: &[usize], rows: usize) -> Vec<f32> {
    let (m, k) = as_matrix(sa, true);
    let n = as_matrix(sb, false).1;
    let mut out = vec![0.0; rows * m * n];
    for r in 0..rows {
        gemm(
            &mut out[r * m * n..(r + 1) * m * n],
            &a[r * m * k..(r + 1) * m * k],
            &b[r * k * n..(r + 1) * k * n],
            m,
            k,
            n,
            false,
            false,
        );
    }
    out
}

/// The gradients of `matmul` for `a` and `b` from the output's `g`: `g · bᵀ`, `aᵀ · g`.
pub fn matmul_backward(
    (a, sa): (&[f32], &[usize]),
    (b, sb): (&[f32], &[usize]),
    g: &[f32],
    rows: usize,
) -> (Vec<f32>, Vec<f32>) {
    let (m, k) = as_matrix(sa, true);
    let n = as_matrix(sb, false).1;
    let mut ga = vec![0.0; a.len()];
    let mut gb = vec![0.0; b.len()];
    for r in 0..rows {
        let gr = &g[r * m * n..(r + 1) * m * n];
        let (ar, br) = (
            &a[r * m * k..(r + 1) * m * k],
            &b[r * k * n..(r + 1) * k * n],
        );
        gemm(
            &mut ga[r * m * k..(r + 1) * m * k],
            gr,
            br,
            m,
            n,
            k,
            false,
            true,
        );
        gemm(
            &mut gb[r * k * n..(r + 1) * k * n],
            ar,
            gr,
            k,
            m,
            n,
            true,
            false,
        );
    }
    (ga, gb)
}

/// Positions `start..end` of `axis` of `x` (whole `shape`).
pub fn slice(x: &[f32], shape: &[usize], axis: usize, start: usize, end: usize) -> Vec<f32> {
    let outer: usize = shape[..axis].iter().product();
    let inner: usize = shape[axis + 1..].iter().product();
    let size = shape[axis];
    let mut out = Vec::with_capacity(outer * (end - start) * inner);
    for o in 0..outer {
        let base = o * size * inner;
        out.extend_from_slice(&x[base + start * inner..base + end * inner]);
    }
    out
}

/// The gradient of [`slice`]: `g` in its positions, zeros elsewhere.
pub fn slice_backward(
    g: &[f32],
    shape: &[usize],
    axis: usize,
    start: usize,
    end: usize,
) -> Vec<f32> {
    let outer: usize = shape[..axis].iter().product();
    let inner: usize = shape[axis + 1..].iter().product();
    let size = shape[axis];
    let width = (end - start) * inner;
    let mut out = vec![0.0; outer * size * inner];
    for o in 0..outer {
        let base = o * size * inner + start * inner;
        out[base..base + width].copy_from_slice(&g[o * width..(o + 1) * width]);
    }
    out
}

/// The position of the largest value along `axis` (the first of equal ones, as NumPy's
/// `argmax`; NaN counts as the largest, as there), as a value.
pub fn argmax(x: &[f32], shape: &[usize], axis: usize) -> Vec<f32> {
    let outer: usize = shape[..axis].iter().product();
    let inner: usize = shape[axis + 1..].iter().product();
    let size = shape[axis];
    let mut out = Vec::with_capacity(outer * inner);
    for o in 0..outer {
        for i in 0..inner {
            let at = |p: usize| x[(o * size + p) * inner + i];
            let mut best = 0;
            for p in 1..size {
                let (v, b) = (at(p), at(best));
                if !b.is_nan() && (v > b || v.is_nan()) {
                    best = p;
                }
            }
            out.push(best as f32);
        }
    }
    out
}

#[cfg(test)]
mod tests;
