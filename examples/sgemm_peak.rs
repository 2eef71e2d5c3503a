//! The machine's fp32 matrix-multiply peak through the `gemm` crate expr links (the same
//! kernels dfdx's matmul and our conv use): `cargo run --release --example sgemm_peak -- 2`
//! prints GFLOP/s for 2048x2048 products on 2 threads (median of 10 timed calls after 3 warm-up
//! calls). `bench/compare.py` divides expr's achieved rate by it.

use std::time::Instant;

const N: usize = 2048;

fn main() {
    let threads: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1);
    let a: Vec<f32> = (0..N * N).map(|i| (i % 17) as f32 * 0.01).collect();
    let b: Vec<f32> = (0..N * N).map(|i| (i % 13) as f32 * 0.02).collect();
    let mut c = vec![0.0f32; N * N];
    let parallelism = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool");
    let n = N as isize;
    let mut times: Vec<f64> = pool.install(|| {
        (0..13)
            .map(|_| {
                let start = Instant::now();
                // SAFETY: three distinct N x N row-major buffers, strides within them.
                unsafe {
                    gemm::gemm(
                        N,
                        N,
                        N,
                        c.as_mut_ptr(),
                        1,
                        n,
                        false,
                        a.as_ptr(),
                        1,
                        n,
                        b.as_ptr(),
                        1,
                        n,
                        0.0,
                        1.0,
                        false,
                        false,
                        false,
                        parallelism,
                    );
                }
                start.elapsed().as_secs_f64()
            })
            .skip(3)
            .collect()
    });
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let best = times[0];
    let flop = 2.0 * (N as f64).powi(3);
    println!(
        "sgemm {N}x{N}, {threads} threads: median {:.1} GFLOP/s, best {:.1} GFLOP/s",
        flop / median / 1e9,
        flop / best / 1e9
    );
    std::hint::black_box(&c);
}
