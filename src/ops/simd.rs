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
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) => $body:path) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                unsafe fn avx2($($arg: $ty),*) {
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
