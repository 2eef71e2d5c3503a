//! A 16 x 16 transpose of floats in AVX-512 registers, for the kernels that turn rows into
//! columns while they copy (the dense layer's weight, the matrix product's packed panels).

use std::arch::x86_64::__m512;

/// Transposes the 16 x 16 block at `src` (rows `src_stride` apart) into `dst` (rows
/// `dst_stride` apart), in registers: pairs of rows interleaved by 32 bits, then 64 bits, then
/// 128-bit lanes twice.
///
/// # Safety
/// AVX-512F; both blocks lie inside their allocations.
#[inline(always)]
pub(crate) unsafe fn transpose16(
    src: *const f32,
    src_stride: usize,
    dst: *mut f32,
    dst_stride: usize,
) {
    transpose16_rows(|i| src.add(i * src_stride), dst, dst_stride);
}

/// [`transpose16`] with the block's rows anywhere: row `i` at `row(i)`.
///
/// # Safety
/// AVX-512F; each row holds 16 floats and `dst` 16 rows of 16 `dst_stride` apart.
#[inline(always)]
pub(crate) unsafe fn transpose16_rows(
    row: impl Fn(usize) -> *const f32,
    dst: *mut f32,
    dst_stride: usize,
) {
    use std::arch::x86_64::{
        _mm512_castpd_ps, _mm512_castps_pd, _mm512_loadu_ps, _mm512_shuffle_f32x4,
        _mm512_storeu_ps, _mm512_unpackhi_pd, _mm512_unpackhi_ps, _mm512_unpacklo_pd,
        _mm512_unpacklo_ps,
    };
    let r: [__m512; 16] = std::array::from_fn(|i| _mm512_loadu_ps(row(i)));
    let t: [__m512; 16] = std::array::from_fn(|i| {
        let (a, b) = (r[i & !1], r[i | 1]);
        if i % 2 == 0 {
            _mm512_unpacklo_ps(a, b)
        } else {
            _mm512_unpackhi_ps(a, b)
        }
    });
    // Within each group of four: (t0, t2) and (t1, t3) interleaved by 64 bits.
    let u: [__m512; 16] = std::array::from_fn(|i| {
        let g = i & !3;
        let (a, b) = match i % 4 {
            0 | 1 => (t[g], t[g + 2]),
            _ => (t[g + 1], t[g + 3]),
        };
        let (a, b) = (_mm512_castps_pd(a), _mm512_castps_pd(b));
        _mm512_castpd_ps(if i % 2 == 0 {
            _mm512_unpacklo_pd(a, b)
        } else {
            _mm512_unpackhi_pd(a, b)
        })
    });
    // u[4g + j] holds column j + 4q of rows 4g..4g+4 in 128-bit lane q.
    let v: [__m512; 16] = std::array::from_fn(|i| {
        let (h, j) = (i / 8, i % 4);
        let (a, b) = (u[8 * h + j], u[8 * h + 4 + j]);
        if i % 8 < 4 {
            _mm512_shuffle_f32x4::<0x88>(a, b)
        } else {
            _mm512_shuffle_f32x4::<0xDD>(a, b)
        }
    });
    let out: [__m512; 16] = std::array::from_fn(|i| {
        let j = i % 8;
        let (a, b) = (v[j], v[8 + j]);
        if i < 8 {
            _mm512_shuffle_f32x4::<0x88>(a, b)
        } else {
            _mm512_shuffle_f32x4::<0xDD>(a, b)
        }
    });
    for (i, o) in out.iter().enumerate() {
        _mm512_storeu_ps(dst.add(i * dst_stride), *o);
    }
}

/// The 8 x 8 block whose row `i` starts at `row(i)`, transposed into `dst` (rows
/// `dst_stride` apart), in AVX registers: the AVX2 build's [`transpose16_rows`].
///
/// # Safety
/// AVX; each row holds 8 floats and `dst` 8 rows of 8 `dst_stride` apart.
#[inline(always)]
pub(crate) unsafe fn transpose8_rows(
    row: impl Fn(usize) -> *const f32,
    dst: *mut f32,
    dst_stride: usize,
) {
    use std::arch::x86_64::{
        __m256, _mm256_loadu_ps, _mm256_permute2f128_ps, _mm256_shuffle_ps, _mm256_storeu_ps,
        _mm256_unpackhi_ps, _mm256_unpacklo_ps,
    };
    let r: [__m256; 8] = std::array::from_fn(|i| _mm256_loadu_ps(row(i)));
    // Pairs of rows interleaved by 32 bits, then by 64, then the 128-bit halves swapped.
    let t: [__m256; 8] = std::array::from_fn(|i| {
        let (a, b) = (r[i & !1], r[i | 1]);
        if i % 2 == 0 {
            _mm256_unpacklo_ps(a, b)
        } else {
            _mm256_unpackhi_ps(a, b)
        }
    });
    let u: [__m256; 8] = std::array::from_fn(|i| {
        let g = i & !3;
        let (a, b) = match i % 4 {
            0 | 1 => (t[g], t[g + 2]),
            _ => (t[g + 1], t[g + 3]),
        };
        if i % 2 == 0 {
            _mm256_shuffle_ps::<0x44>(a, b)
        } else {
            _mm256_shuffle_ps::<0xEE>(a, b)
        }
    });
    for j in 0..4 {
        let low = _mm256_permute2f128_ps::<0x20>(u[j], u[j + 4]);
        let high = _mm256_permute2f128_ps::<0x31>(u[j], u[j + 4]);
        _mm256_storeu_ps(dst.add(j * dst_stride), low);
        _mm256_storeu_ps(dst.add((j + 4) * dst_stride), high);
    }
}
