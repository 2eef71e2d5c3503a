//! Samples laid side by side for one matrix product (see `ConvPlan::group`): a group of `s`
//! samples of `(rows, plane)` each, consecutive in a batch, is the `(rows, s * plane)` matrix
//! whose column block `k` is sample `k`.

/// Copies the `s = src.len() / (rows * plane)` samples of `src` side by side into `dst`.
#[inline(always)]
pub(super) fn side_by_side(src: &[f32], (rows, plane): (usize, usize), dst: &mut [f32]) {
    let s = src.len() / (rows * plane);
    for (k, sample) in src.chunks_exact(rows * plane).enumerate() {
        for (r, row) in sample.chunks_exact(plane).enumerate() {
            dst[(r * s + k) * plane..][..plane].copy_from_slice(row);
        }
    }
}

/// The adjoint of [`side_by_side`]: adds column block `k` of `src` onto sample `k` of `dst`.
#[inline(always)]
pub(super) fn add_apart(src: &[f32], (rows, plane): (usize, usize), dst: &mut [f32]) {
    let s = dst.len() / (rows * plane);
    for (k, sample) in dst.chunks_exact_mut(rows * plane).enumerate() {
        for (r, row) in sample.chunks_exact_mut(plane).enumerate() {
            for (d, v) in row.iter_mut().zip(&src[(r * s + k) * plane..][..plane]) {
                *d += v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn side_by_side_puts_sample_k_in_column_block_k() {
        // Two samples of 2 rows x 3 positions.
        let src: Vec<f32> = (0..12).map(|v| v as f32).collect();
        let mut wide = vec![0.0; 12];
        side_by_side(&src, (2, 3), &mut wide);
        let expected = [0., 1., 2., 6., 7., 8., 3., 4., 5., 9., 10., 11.];
        assert_eq!(wide, expected);
        let mut back = vec![1.0; 12];
        add_apart(&wide, (2, 3), &mut back);
        let plus_one: Vec<f32> = src.iter().map(|v| v + 1.0).collect();
        assert_eq!(back, plus_one);
    }
}
