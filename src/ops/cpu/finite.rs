//! Whether a buffer holds only finite numbers: the training step checks every gradient
//! before an update, so this reads every gradient once per step and must be fast.

use std::sync::atomic::{AtomicBool, Ordering};

/// Whether no value is NaN or infinite. Branch-free within chunks, so that it vectorises: a
/// short-circuiting `any` checked the tutorial's dense weights one at a time. Large buffers are
/// checked in parallel.
pub fn all_finite(values: &[f32]) -> bool {
    if values.len() < 1 << 16 {
        return values.chunks(1024).all(chunk_finite);
    }
    // Cut as the dense op and the optimizer cut their pieces, each on its thread, so that a
    // thread reads the gradient rows its core just wrote (`affinity`).
    let per = values.len().div_ceil(rayon::current_num_threads());
    let ok = AtomicBool::new(true);
    super::affinity::on_fixed_threads(values.chunks(per).collect(), |_, piece| {
        if !piece.chunks(1 << 14).all(chunk_finite) {
            ok.store(false, Ordering::Relaxed);
        }
    });
    ok.into_inner()
}

/// One chunk of [`all_finite`], 16 wide where the CPU has AVX-512 (the baseline build is 4
/// wide).
fn chunk_finite(c: &[f32]) -> bool {
    #[inline(always)]
    fn body(c: &[f32]) -> bool {
        c.iter().fold(true, |ok, v| ok & v.is_finite())
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f")]
        fn wide(c: &[f32]) -> bool {
            body(c)
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, checked just above.
            return unsafe { wide(c) };
        }
    }
    body(c)
}

#[cfg(test)]
mod tests {
    use super::all_finite;

    #[test]
    fn finds_a_nan_or_infinity_anywhere_in_small_and_large_buffers() {
        for n in [0, 1, 1000, 70_000, 300_000] {
            let mut v = vec![1.0f32; n];
            assert!(all_finite(&v), "{n} finite values");
            if n > 0 {
                for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                    v[n - 1] = bad;
                    assert!(!all_finite(&v), "{bad} at the end of {n}");
                    v[n - 1] = 1.0;
                    v[n / 2] = bad;
                    assert!(!all_finite(&v), "{bad} in the middle of {n}");
                    v[n / 2] = 1.0;
                }
            }
        }
    }
}
