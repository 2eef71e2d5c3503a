//! Running our kernels in an AVX2 build when the CPU has AVX2.
//!
//! The crate is compiled for baseline x86-64 (SSE2), where our inner loops vectorise 4 wide;
//! AVX2 doubles that. A kernel entry point is declared with [`avx2_or_portable`], which wraps
//! an `#[inline(always)]` body in a `#[target_feature(enable = "avx2")]` function and picks
//! that build at run time. The kernels are `#[inline(always)]` down to the innermost loop so
//! that all of them are compiled into that build. None of them uses fused multiply-add or
//! reorders a sum, so both builds give bit-identical results.

/// `avx2_or_portable!(fn name(arg: Type, ...) => body);` defines `name`, which calls the
/// `#[inline(always)]` function `body` compiled for AVX2 when the CPU supports it.
macro_rules! avx2_or_portable {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? => $body:path) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                unsafe fn avx2($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU supports AVX2, checked just above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}
pub(crate) use avx2_or_portable;

/// [`avx2_or_portable`] with a third build, for AVX-512F, taken where our AVX-512 kernels run
/// ([`avx512_kernels`]): for loops long in arithmetic per value (GELU's `erf`), where 16
/// lanes halve the time of 8. The same code without fused multiply-adds, so all three builds
/// give the same bits.
macro_rules! avx512_or_avx2_or_portable {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? => $body:path) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                unsafe fn avx512($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                if $crate::ops::cpu::simd::avx512_kernels() {
                    // SAFETY: the CPU supports AVX-512F (`avx512_kernels` checked it).
                    return unsafe { avx512($($arg),*) };
                }
            }
            $crate::ops::cpu::simd::avx2_or_portable!(fn inner($($arg: $ty),*) $(-> $ret)? => $body);
            inner($($arg),*)
        }
    };
}
pub(crate) use avx512_or_avx2_or_portable;

/// Whether our AVX-512 kernels (the dense layer, the fused conv) run: the CPU has AVX-512F
/// and FMA, and `EXPR_PORTABLE` is not set. Setting it makes every machine take the portable
/// paths (our AVX2/SSE kernels, the blocked product's AVX2 build for the convs and the dense
/// layers where the CPU has AVX2 and FMA, dfdx's matmul where it has not), which is how CI
/// tests them on machines that have AVX-512. Read once per process.
pub(crate) fn avx512_kernels() -> bool {
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ENABLED.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            std::env::var_os("EXPR_PORTABLE").is_none()
                && std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("fma")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    })
}

/// Whether the blocked product's AVX2 build (`matmul::blocked`) runs where the AVX-512 one
/// does not: the CPU has AVX2 and FMA. `EXPR_PORTABLE` leaves it on: it is the AVX2 path's
/// product, which the variable forces on AVX-512 machines for testing. Read once per process.
pub(crate) fn avx2_product() -> bool {
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ENABLED.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    })
}

/// The kernel path this process computes with, for the run record: `avx512` (our AVX-512
/// and FMA kernels, see [`avx512_kernels`]), `avx2` or `portable`. Each rounds differently:
/// AVX-512's dense and fused conv kernels use fused multiply-adds, and so does the blocked
/// product's AVX2 build ([`avx2_product`]), which `portable` does not have.
pub(crate) fn kernel_path() -> &'static str {
    if avx512_kernels() {
        return "avx512";
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        return "avx2";
    }
    "portable"
}

/// Makes this thread's floating-point arithmetic treat denormal (subnormal) numbers as zero,
/// as inputs (DAZ) and as results (FTZ).
///
/// Training pushes some values there (Adam's second moments of tiny gradients, products of
/// small weights), and on x86 every operation on a denormal takes a microcode assist that
/// costs about a hundred cycles: without this, the tutorial's epochs after the first ran 15%
/// slower. TensorFlow runs its CPU kernels the same way (`ScopedFlushDenormal`); values below
/// 1.2e-38 carry no information a model can use. Results stay deterministic: the flags are set
/// on every thread that computes before it computes anything.
///
/// Constants that the compiler folds are still computed with denormals; none of our
/// arithmetic depends on that difference.
pub(crate) fn flush_denormals() {
    #[cfg(target_arch = "x86_64")]
    {
        /// MXCSR's flush-to-zero (bit 15) and denormals-are-zero (bit 6) flags.
        const FTZ_DAZ: u32 = (1 << 15) | (1 << 6);
        let mut csr: u32 = 0;
        // SAFETY: `stmxcsr` stores the 4-byte control register into `csr`, which is valid
        // for writes; it touches nothing else.
        unsafe {
            std::arch::asm!("stmxcsr [{}]", in(reg) &raw mut csr, options(nostack, preserves_flags));
        }
        csr |= FTZ_DAZ;
        // SAFETY: `ldmxcsr` loads the control register from `csr`; the value differs from the
        // current one only in the two denormal flags, which change results, not safety.
        unsafe {
            std::arch::asm!("ldmxcsr [{}]", in(reg) &raw const csr, options(nostack, readonly, preserves_flags));
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn denormals_become_zero_on_the_thread_that_asks() {
        use std::hint::black_box;
        let product = || black_box(1e-38f32) * black_box(0.01f32);
        std::thread::spawn(move || {
            assert!(product() > 0.0, "a denormal result by default");
            super::flush_denormals();
            assert_eq!(product(), 0.0, "flushed to zero");
            assert_eq!(
                black_box(f32::from_bits(1)) * 1e30,
                0.0,
                "denormal input read as zero"
            );
        })
        .join()
        .unwrap();
    }
}
