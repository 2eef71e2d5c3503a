//! Micro-benchmarks of each hot op of the tutorial's step, at its shapes: batch 64 of 1x28x28,
//! conv 32 3x3 + ReLU, max-pool 2, dense 5408→64 + ReLU, dense 64→10, sparse cross-entropy
//! from logits, and the Adam update of all 347,146 parameters.
//!
//! `cargo bench --bench ops` (all), `cargo bench --bench ops -- conv` (a group). Rayon's global
//! pool is set to `EXPR_BENCH_THREADS` threads (default 2, the comparison's setting).
//!
//! A backward pass is timed alone: criterion's `iter_batched` runs the taped forward pass (and
//! the sum that makes a scalar of its output) as untimed setup, and times `backward()`, which
//! includes the sum's own trivial backward (filling the output gradient with ones).

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{BatchSize, Criterion, Throughput};
use dfdx::prelude::*;

use expr::check::plan::{Loss, LossKind, OptimizerKind, Reduction};
use expr::lower::loss::{loss, Target};
use expr::lower::optimizer::OptimizerState;
use expr::ops::{
    conv2d, conv2d_flat_channels_last, pool2d, Conv2dSpec, Padding, Pool2dSpec, PoolKind,
};

const BATCH: usize = 64;

// The allocator and its setting of the `expr` binary (src/main.rs): with glibc's malloc every
// multi-megabyte gradient buffer would be a fresh mmap and page faults would dominate.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

type T4<T = NoneTape> = Tensor<(usize, usize, usize, usize), f32, Cpu, T>;
type T2<T = NoneTape> = Tensor<(usize, usize), f32, Cpu, T>;

/// Deterministic values in [-1, 1).
fn values(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s as f32 / u32::MAX as f32) * 2.0 - 1.0
        })
        .collect()
}

fn t4(dev: &Cpu, shape: (usize, usize, usize, usize), seed: u32) -> T4 {
    dev.tensor_from_vec(values(shape.0 * shape.1 * shape.2 * shape.3, seed), shape)
}

fn t2(dev: &Cpu, shape: (usize, usize), seed: u32) -> T2 {
    dev.tensor_from_vec(values(shape.0 * shape.1, seed), shape)
}

fn max_pool() -> Pool2dSpec {
    Pool2dSpec {
        kind: PoolKind::Max,
        size: (2, 2),
        stride: (2, 2),
        padding: Padding::Valid,
    }
}

fn conv_spec(pool: Option<Pool2dSpec>) -> Conv2dSpec {
    Conv2dSpec {
        stride: (1, 1),
        padding: Padding::Valid,
        relu: true,
        relu_slope: 0.0,
        // The data batch needs no gradient: the tutorial's conv computes none.
        input_grad: false,
        weight_grad: true,
        pool,
    }
}

fn conv<M: Measurement + 'static>(c: &mut Criterion<M>) {
    let dev = Cpu::default();
    let x = t4(&dev, (BATCH, 1, 28, 28), 1);
    let w = t4(&dev, (32, 1, 3, 3), 2).retaped::<NoneTape>() * 0.3;
    let b = dev.tensor_from_vec(values(32, 3), (32,));
    let mut g = c.benchmark_group("conv");
    for (name, spec) in [
        (
            "conv2d+relu+maxpool (fused, NCHW)",
            conv_spec(Some(max_pool())),
        ),
        ("conv2d+relu (unfused)", conv_spec(None)),
    ] {
        g.bench_function(format!("{name} forward"), |bench| {
            bench.iter(|| conv2d(x.clone(), &w, &b, &spec));
        });
        g.bench_function(format!("{name} backward"), |bench| {
            bench.iter_batched(
                || conv2d(x.clone().leaky_traced(), &w, &b, &spec).sum::<(), _>(),
                Backward::backward,
                BatchSize::SmallInput,
            );
        });
    }
    // As the model runs it before a dense layer: flat, channels-last, handed over to the dense
    // op, whose gradient comes back through the handoff (here a gradient of ones, put in
    // before backward runs from a scalar that carries the tape).
    let spec = conv_spec(Some(max_pool()));
    let name = "conv2d+relu+maxpool (fused, channels-last, handed over, as in the model)";
    g.bench_function(format!("{name} forward"), |bench| {
        bench.iter(|| conv2d_flat_channels_last(x.clone(), &w, &b, &spec, true));
    });
    g.bench_function(format!("{name} backward"), |bench| {
        bench.iter_batched(
            || {
                let (token, handoff) =
                    conv2d_flat_channels_last(x.clone().leaky_traced(), &w, &b, &spec, true);
                let handoff = handoff.expect("asked for");
                handoff.grad.put(vec![1.0; handoff.data.len()]);
                let (_, tape) = token.split_tape();
                dev.zeros::<Rank0>().put_tape(tape)
            },
            Backward::backward,
            BatchSize::SmallInput,
        );
    });
    // A second conv layer, as Keras' "Simple MNIST convnet" (experiments/keras_convnet.exp)
    // runs it: 32 input channels of 13x13, 64 filters, ReLU and max-pool, batch 128, and the
    // input gradient the first conv needs (the portable per-sample products).
    let x2 = t4(&dev, (128, 32, 13, 13), 4);
    let w2 = t4(&dev, (64, 32, 3, 3), 5).retaped::<NoneTape>() * 0.06;
    let b2 = dev.tensor_from_vec(values(64, 6), (64,));
    let spec2 = Conv2dSpec {
        input_grad: true,
        weight_grad: true,
        ..conv_spec(Some(max_pool()))
    };
    let name = "conv2d 32→64 on 13x13 + relu + maxpool, batch 128, input gradient";
    g.bench_function(format!("{name} forward"), |bench| {
        bench.iter(|| conv2d(x2.clone(), &w2, &b2, &spec2));
    });
    g.bench_function(format!("{name} backward"), |bench| {
        bench.iter_batched(
            || conv2d(x2.clone().leaky_traced(), &w2, &b2, &spec2).sum::<(), _>(),
            Backward::backward,
            BatchSize::SmallInput,
        );
    });
    // A residual block's conv (experiments/residual_mnist.exp; ResNet-20's first stage is the
    // same on 32x32): 16 channels in and out, 3x3 with same padding, ReLU, no pooling, batch
    // 64, and the input gradient. 57.8 MFLOP forward, twice that backward.
    let x3 = t4(&dev, (BATCH, 16, 14, 14), 7);
    let w3 = t4(&dev, (16, 16, 3, 3), 8).retaped::<NoneTape>() * 0.08;
    let b3 = dev.tensor_from_vec(values(16, 9), (16,));
    let spec3 = Conv2dSpec {
        padding: Padding::Same,
        input_grad: true,
        weight_grad: true,
        ..conv_spec(None)
    };
    let name = "conv2d 16→16 on 14x14, same padding + relu, batch 64, input gradient";
    g.bench_function(format!("{name} forward"), |bench| {
        bench.iter(|| conv2d(x3.clone(), &w3, &b3, &spec3));
    });
    g.bench_function(format!("{name} backward"), |bench| {
        bench.iter_batched(
            || conv2d(x3.clone().leaky_traced(), &w3, &b3, &spec3).sum::<(), _>(),
            Backward::backward,
            BatchSize::SmallInput,
        );
    });
    g.finish();
}

fn pool<M: Measurement + 'static>(c: &mut Criterion<M>) {
    let dev = Cpu::default();
    let y = t4(&dev, (BATCH, 32, 26, 26), 4);
    let spec = max_pool();
    let mut g = c.benchmark_group("pool");
    g.bench_function("maxpool 2x2 on 64x32x26x26 forward", |bench| {
        bench.iter(|| pool2d(y.clone(), &spec));
    });
    g.bench_function("maxpool 2x2 on 64x32x26x26 backward", |bench| {
        bench.iter_batched(
            || pool2d(y.clone().leaky_traced(), &spec).sum::<(), _>(),
            Backward::backward,
            BatchSize::SmallInput,
        );
    });
    g.finish();
}

/// `relu?(x · w + b)`, as the lowered model computes a dense layer: our AVX-512 op where the
/// CPU has it (reading the weight's host copy, the parameters' tensors empty tokens), dfdx's
/// matmul, broadcast add and ReLU where not.
fn dense<T: Tape<f32, Cpu>>(x: T2<T>, w: &Host2, b: &Host1, relu: bool) -> T2<T> {
    if expr::ops::dense::supported() {
        let dev = x.device().clone();
        let tokens = (
            dev.tensor_from_vec(Vec::new(), (0, 0)),
            dev.tensor_from_vec(Vec::new(), (0,)),
        );
        let params = expr::ops::dense::DenseParams {
            weight: (&tokens.0, &w.1),
            bias: Some((&tokens.1, &b.1)),
            units: b.1.len(),
            grads: true,
        };
        return expr::ops::dense::dense(x, None, params, relu, true);
    }
    let y = x.matmul(w.0.clone());
    let shape = *y.shape();
    let y = y + b
        .0
        .clone()
        .broadcast_like::<(usize, usize), Axis<0>>(&shape);
    if relu {
        y.relu()
    } else {
        y
    }
}

/// A parameter tensor with its host values, as the model keeps it.
type Host2 = (T2, std::sync::Arc<Vec<f32>>);
type Host1 = (Tensor<(usize,), f32, Cpu>, Vec<f32>);

fn dense_layers<M: Measurement + 'static>(c: &mut Criterion<M>) {
    let dev = Cpu::default();
    let mut g = c.benchmark_group("dense");
    for (inputs, units, relu) in [(5408, 64, true), (64, 10, false)] {
        let x = t2(&dev, (BATCH, inputs), 5);
        let w = t2(&dev, (inputs, units), 6) * 0.03;
        let w: Host2 = (w.clone(), std::sync::Arc::new(w.as_vec()));
        let b: Host1 = (
            dev.tensor_from_vec(values(units, 7), (units,)),
            values(units, 7),
        );
        let name = format!("dense {inputs}->{units}{}", if relu { "+relu" } else { "" });
        g.bench_function(format!("{name} forward"), |bench| {
            bench.iter(|| dense(x.clone(), &w, &b, relu));
        });
        g.bench_function(format!("{name} backward"), |bench| {
            bench.iter_batched(
                || dense(x.clone().leaky_traced(), &w, &b, relu).sum::<(), _>(),
                Backward::backward,
                BatchSize::SmallInput,
            );
        });
    }
    g.finish();
}

fn cross_entropy<M: Measurement + 'static>(c: &mut Criterion<M>) {
    let dev = Cpu::default();
    let logits = t2(&dev, (BATCH, 10), 8);
    let labels: Vec<usize> = (0..BATCH).map(|i| (i * 7) % 10).collect();
    let spec = Loss {
        name: "loss".into(),
        kind: LossKind::SparseCategoricalCrossentropy {
            from_logits: true,
            label_smoothing: 0.0,
        },
        reduction: Reduction::Mean,
        class_weight: None,
    };
    let target = Target::Labels(&labels);
    let mut g = c.benchmark_group("loss");
    g.bench_function("sparse cross-entropy 64x10 forward", |bench| {
        bench.iter(|| loss(&dev, &spec, logits.clone(), &target));
    });
    g.bench_function("sparse cross-entropy 64x10 backward", |bench| {
        bench.iter_batched(
            || loss(&dev, &spec, logits.clone().leaky_traced(), &target),
            Backward::backward,
            BatchSize::SmallInput,
        );
    });
    g.finish();
}

fn adam<M: Measurement + 'static>(c: &mut Criterion<M>) {
    let sizes = [32 * 9, 32, 5408 * 64, 64, 64 * 10, 10];
    let kind = OptimizerKind::Adam {
        beta1: 0.9,
        beta2: 0.999,
        epsilon: 1e-7,
        weight_decay: 0.0,
    };
    let mut state = OptimizerState::new(kind, 1e-3, &sizes);
    let mut params: Vec<Vec<f32>> = sizes.iter().zip(1..).map(|(&n, s)| values(n, s)).collect();
    let grads: Vec<Vec<f32>> = sizes
        .iter()
        .zip(11..)
        .map(|(&n, s)| values(n, s).iter().map(|g| g * 1e-2).collect())
        .collect();
    c.bench_function("adam step (347,146 parameters)", |bench| {
        bench.iter(|| {
            state.begin();
            for (k, (p, g)) in params.iter_mut().zip(&grads).enumerate() {
                state.apply(k, p, g);
            }
        });
    });
}

fn configure() -> Criterion {
    let threads = std::env::var("EXPR_BENCH_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(2);
    // Ignore the error of a pool that is already built (a second call in one process).
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global();
    Criterion::default()
        .sample_size(30)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2))
}

fn run_all<M: Measurement + 'static>(mut c: Criterion<M>) {
    c = c.configure_from_args();
    conv(&mut c);
    pool(&mut c);
    dense_layers(&mut c);
    cross_entropy(&mut c);
    adam(&mut c);
}

/// With `EXPR_BENCH_CLOCK=cpu`, times are the CPU time of the whole process (all threads)
/// instead of wall time: on a machine shared with other work, wall time varies with the load,
/// while CPU time measures the work itself (plus the pool's brief spinning with 2 threads).
fn main() {
    // SAFETY: sets a plain integer option, as src/main.rs does.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    if std::env::var("EXPR_BENCH_CLOCK").as_deref() == Ok("cpu") {
        run_all(configure().with_measurement(CpuTime));
    } else {
        run_all(configure());
    }
    Criterion::default().configure_from_args().final_summary();
}

/// The process's CPU time, in nanoseconds.
struct CpuTime;

fn process_cpu_ns() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a pointer to a live timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &raw mut ts) };
    ts.tv_sec as f64 * 1e9 + ts.tv_nsec as f64
}

impl Measurement for CpuTime {
    type Intermediate = f64;
    type Value = f64;
    fn start(&self) -> f64 {
        process_cpu_ns()
    }
    fn end(&self, start: f64) -> f64 {
        process_cpu_ns() - start
    }
    fn add(&self, a: &f64, b: &f64) -> f64 {
        a + b
    }
    fn zero(&self) -> f64 {
        0.0
    }
    fn to_f64(&self, v: &f64) -> f64 {
        *v
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

struct CpuFormatter;

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (div, unit) = if typical < 1e3 {
            (1.0, "ns cpu")
        } else if typical < 1e6 {
            (1e3, "µs cpu")
        } else {
            (1e6, "ms cpu")
        };
        for v in values.iter_mut() {
            *v /= div;
        }
        unit
    }
    fn scale_throughputs(&self, _: f64, _: &Throughput, values: &mut [f64]) -> &'static str {
        values.fill(0.0);
        "-"
    }
    fn scale_for_machines(&self, _: &mut [f64]) -> &'static str {
        "ns cpu"
    }
}
