//! The machine's fp32 arithmetic peak: fused multiply-adds on independent registers, with
//! nothing to load, the widest vectors the CPU has (AVX-512, else AVX2 with FMA, else
//! scalar), on each of N threads at once. `cargo run --release --example fma_peak -- 2`
//! prints `fma peak, 2 threads: median X GFLOP/s`. `bench/suite.py` divides each model's
//! rate by it: no product can run faster, whatever library computes it. (PyTorch's sgemm,
//! the other reference, runs MKL's AVX2 kernels on AMD CPUs, far below this.)

use std::time::Instant;

/// Multiply-adds per accumulator per call.
const ROUNDS: usize = 20_000_000;
/// Independent accumulators: enough to cover the FMA latency on two pipes.
const ACC: usize = 12;

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn avx512() -> f32 {
    use std::arch::x86_64::{_mm512_add_ps, _mm512_fmadd_ps, _mm512_reduce_add_ps, _mm512_set1_ps};
    let (a, b) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
    let mut acc = [_mm512_set1_ps(1.0); ACC];
    for _ in 0..ROUNDS {
        for v in &mut acc {
            *v = _mm512_fmadd_ps(*v, a, b);
        }
    }
    let total = acc
        .iter()
        .fold(_mm512_set1_ps(0.0), |s, v| _mm512_add_ps(s, *v));
    _mm512_reduce_add_ps(total)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2() -> f32 {
    use std::arch::x86_64::{_mm256_fmadd_ps, _mm256_set1_ps, _mm256_storeu_ps};
    let (a, b) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
    let mut acc = [_mm256_set1_ps(1.0); ACC];
    for _ in 0..ROUNDS {
        for v in &mut acc {
            *v = _mm256_fmadd_ps(*v, a, b);
        }
    }
    let mut out = [0.0f32; 8];
    _mm256_storeu_ps(out.as_mut_ptr(), acc[0]);
    out.iter().sum()
}

/// One thread's run: (lanes per vector, a value that keeps the loop from being removed).
fn one() -> (usize, f32) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, checked just above.
            return (16, unsafe { avx512() });
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has AVX2 and FMA, checked just above.
            return (8, unsafe { avx2() });
        }
    }
    let mut acc = [1.0f32; ACC];
    for _ in 0..ROUNDS {
        for v in &mut acc {
            *v = v.mul_add(0.999_999, 1e-7);
        }
    }
    (1, acc.iter().sum())
}

fn main() {
    let threads: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1);
    let mut rates: Vec<f64> = (0..5)
        .map(|_| {
            let start = Instant::now();
            let runs: Vec<(usize, f32)> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads).map(|_| s.spawn(one)).collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("a run"))
                    .collect()
            });
            let seconds = start.elapsed().as_secs_f64();
            std::hint::black_box(&runs);
            let lanes = runs[0].0 as f64;
            // Two operations per lane per fused multiply-add.
            2.0 * lanes * (ROUNDS * ACC * threads) as f64 / seconds / 1e9
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    println!(
        "fma peak, {threads} threads: median {:.1} GFLOP/s",
        rates[rates.len() / 2]
    );
}
