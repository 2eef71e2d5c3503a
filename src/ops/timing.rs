//! A timing harness for the tutorial's first layer, run on demand:
//! `cargo test --release timing -- --ignored --nocapture`. Prints median milliseconds.

use std::time::Instant;

use dfdx::prelude::*;

use super::reference::{random, tensor4};
use super::{conv2d, pool2d, Conv2dSpec, Padding, Pool2dSpec, PoolKind};

const RUNS: usize = 50;

/// `(median wall ms, mean CPU ms over all threads)` per call of `f`. The CPU figure is what
/// a loaded machine cannot distort much; the wall figure is what an idle one would show.
fn median_ms(mut f: impl FnMut()) -> (f64, f64) {
    for _ in 0..5 {
        f();
    }
    let cpu_start = cpu_ns();
    let mut times: Vec<f64> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    let cpu = (cpu_ns() - cpu_start) as f64 / 1e6 / RUNS as f64;
    times.sort_by(f64::total_cmp);
    (times[RUNS / 2], cpu)
}

/// CPU time of all this process's threads, from the scheduler's per-thread statistics.
fn cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

fn max_pool_2x2() -> Pool2dSpec {
    Pool2dSpec {
        kind: PoolKind::Max,
        size: (2, 2),
        stride: (2, 2),
        padding: Padding::Valid,
    }
}

#[test]
#[ignore = "timing harness; run with --ignored --nocapture"]
fn timing_tutorial_conv_layer() {
    let dev = Cpu::default();
    let shape = (64, 1, 28, 28);
    let x = tensor4(&dev, &random(64 * 784, 1), shape);
    let w = tensor4(&dev, &random(32 * 9, 2), (32, 1, 3, 3));
    let b = dev.tensor_from_vec(random(32, 3), (32,));
    let r = dev.tensor_from_vec(random(64 * 32 * 169, 4), (64, 32, 13, 13));
    let fused = |input_grad| Conv2dSpec {
        stride: (1, 1),
        padding: Padding::Valid,
        relu: true,
        relu_slope: 0.0,
        input_grad,
        weight_grad: true,
        pool: Some(max_pool_2x2()),
    };
    let threads = rayon::current_num_threads();
    println!("threads {threads}; figures are (median wall ms, mean CPU ms)");

    let spec = fused(false);
    let fwd = median_ms(|| drop(conv2d(x.clone(), &w, &b, &spec)));
    println!("fused conv+relu+maxpool forward (no tape)      {fwd:.3?} ms");
    let step = median_ms(|| {
        let out = conv2d(x.clone().leaky_traced(), &w, &b, &spec);
        let grads = (out * r.clone()).sum::<(), _>().backward();
        drop(grads.get(&w));
    });
    println!("fused forward+backward, no dX (incl. mul+sum)  {step:.3?} ms");
    let (rest_fwd, rest) = functional_only(&dev, &r);
    println!("  of which the functional (mul+sum+backward)    {rest:.3?} ms (fwd {rest_fwd:.3?})");

    let spec = fused(true);
    let step_dx = median_ms(|| {
        let out = conv2d(x.clone().leaky_traced(), &w, &b, &spec);
        let grads = (out * r.clone()).sum::<(), _>().backward();
        drop(grads.get(&x));
    });
    println!("fused forward+backward with dX                 {step_dx:.3?} ms");

    let unfused = Conv2dSpec {
        pool: None,
        ..fused(false)
    };
    let step_unfused = median_ms(|| {
        let y = conv2d(x.clone().leaky_traced(), &w, &b, &unfused);
        let out = pool2d(y, &max_pool_2x2());
        let grads = (out * r.clone()).sum::<(), _>().backward();
        drop(grads.get(&w));
    });
    println!("conv+relu, then pool2d, forward+backward       {step_unfused:.3?} ms");
}

/// The cost of the test functional alone, to subtract from the step figures.
fn functional_only(
    dev: &Cpu,
    r: &Tensor<(usize, usize, usize, usize), f32, Cpu>,
) -> ((f64, f64), (f64, f64)) {
    let y = tensor4(dev, &random(64 * 32 * 169, 5), (64, 32, 13, 13));
    let fwd = median_ms(|| drop((y.clone().leaky_traced() * r.clone()).sum::<(), _>()));
    let all = median_ms(|| {
        drop(
            (y.clone().leaky_traced() * r.clone())
                .sum::<(), _>()
                .backward(),
        );
    });
    (fwd, all)
}

/// Batch norm, forward and backward with the input's gradient, at two shapes: the output of
/// a 32-filter conv on a batch of 64 MNIST images (against dfdx's composite of the same), and
/// ResNet-20's first stage (128 images, 16 channels of 32x32) with its fused ReLU.
#[test]
#[ignore = "timing harness; run with --ignored --nocapture"]
fn timing_batch_norm() {
    println!(
        "threads {}; (median wall ms, mean CPU ms)",
        rayon::current_num_threads()
    );
    println!("(64, 32, 26, 26), no rectifier:");
    time_batch_norm((64, 32, 26, 26), None);
    println!("(128, 16, 32, 32), ReLU:");
    time_batch_norm((128, 16, 32, 32), Some(0.0));
}

fn time_batch_norm(shape: (usize, usize, usize, usize), rectifier: Option<f32>) {
    use super::{batch_norm, BatchNormSpec, Statistics};
    let dev = Cpu::default();
    let (n, c) = (shape.0 * shape.1 * shape.2 * shape.3, shape.1);
    let x = tensor4(&dev, &random(n, 1), shape);
    let r = tensor4(&dev, &random(n, 2), shape);
    let (gv, bv) = (random(c, 3), random(c, 4));
    let g = dev.tensor_from_vec(gv.clone(), (c,));
    let b = dev.tensor_from_vec(bv.clone(), (c,));
    let spec = BatchNormSpec {
        statistics: Statistics::Batch,
        epsilon: 1e-3,
        gamma: Some((&g, &gv)),
        beta: Some((&b, &bv)),
        input_grad: true,
        rectifier,
    };
    let ours = median_ms(|| {
        let (out, _) = batch_norm(x.clone().leaky_traced(), &spec);
        let grads = (out * r.clone()).sum::<(), _>().backward();
        drop(grads.get(&x));
    });
    println!("  batch_norm op, training forward+backward (incl. mul+sum)  {ours:.3?} ms");
    let forward = median_ms(|| drop(batch_norm(x.clone(), &spec)));
    println!("    its forward alone (no tape)                             {forward:.3?} ms");
    if rectifier.is_none() {
        // The same with dfdx's own ops: normalise over (batch, h, w), then gamma and beta.
        let composite = median_ms(|| {
            let y = x.clone().leaky_traced().normalize::<Axes3<0, 2, 3>>(1e-3);
            let y = y * g.clone().broadcast_like::<_, Axes3<0, 2, 3>>(&shape)
                + b.clone().broadcast_like::<_, Axes3<0, 2, 3>>(&shape);
            let grads = (y * r.clone()).sum::<(), _>().backward();
            drop(grads.get(&x));
        });
        println!("  dfdx composite, forward+backward (incl. mul+sum)          {composite:.3?} ms");
    }
    let functional = median_ms(|| {
        drop(
            (x.clone().leaky_traced() * r.clone())
                .sum::<(), _>()
                .backward(),
        );
    });
    println!("    the functional alone (mul+sum+backward)                 {functional:.3?} ms");
}

/// `attention` at nanoGPT's CPU size (batch 12, width 128, length 64, 4 heads, causal): the
/// whole layer (input projection, heads, output projection) and the heads alone, forward and
/// backward with the input's gradient; `bench/attention_bench.py` times PyTorch's.
#[test]
#[ignore = "timing harness; run with --ignored --nocapture"]
fn timing_attention() {
    use std::sync::Arc;

    use super::{attention, positionwise, AttentionSpec, HostTensor};
    let dev = Cpu::default();
    let (batch, d, t, heads) = (12, 128, 64, 4);
    let x = tensor4(&dev, &random(batch * d * t, 1), (batch, d, 1, t));
    let r = tensor4(&dev, &random(batch * d * t, 2), (batch, d, 1, t));
    let qkv = tensor4(&dev, &random(batch * 3 * d * t, 3), (batch, 3 * d, 1, t));
    let (w_in, b_in) = (Arc::new(random(3 * d * d, 4)), Arc::new(random(3 * d, 5)));
    let (w_out, b_out) = (Arc::new(random(d * d, 6)), Arc::new(random(d, 7)));
    let token2 = || dev.zeros_like(&(0, 0));
    let token1 = || dev.zeros_like(&(0,));
    let (tw_in, tb_in, tw_out, tb_out) = (token2(), token1(), token2(), token1());
    let (w, b) = (
        |tensor, value| HostTensor { tensor, value },
        |tensor, value| HostTensor { tensor, value },
    );
    let in_proj = projection(w(&tw_in, &w_in), b(&tb_in, &b_in), 3 * d);
    let out_proj = projection(w(&tw_out, &w_out), b(&tb_out, &b_out), d);
    let spec = AttentionSpec {
        heads,
        key_dim: d / heads,
        causal: true,
        dropout: None,
    };
    println!(
        "threads {}; (median wall ms, mean CPU ms)",
        rayon::current_num_threads()
    );
    let layer = median_ms(|| {
        let h = positionwise(x.clone().leaky_traced(), &in_proj);
        let y = positionwise(attention(h, &spec, None), &out_proj);
        let grads = (y * r.clone()).sum::<(), _>().backward();
        drop(grads.get(&x));
    });
    println!("attention layer, forward+backward (incl. mul+sum)  {layer:.3?} ms");
    let core = median_ms(|| {
        let y = attention(qkv.clone().leaky_traced(), &spec, None);
        let grads = (y * r.clone()).sum::<(), _>().backward();
        drop(grads.get(&qkv));
    });
    println!("  the heads alone (ops::attention)                 {core:.3?} ms");
    let forward = median_ms(|| {
        let h = positionwise(x.clone(), &in_proj);
        drop(positionwise(attention(h, &spec, None), &out_proj));
    });
    println!("  the layer's forward alone (no tape)              {forward:.3?} ms");
    let functional = median_ms(|| {
        drop(
            (x.clone().leaky_traced() * r.clone())
                .sum::<(), _>()
                .backward(),
        );
    });
    println!("  the functional alone (mul+sum+backward)          {functional:.3?} ms");
}

/// An `(out, in)` projection of `units` outputs read on the host, with its bias.
fn projection<'a>(
    weight: super::HostTensor<'a, (usize, usize)>,
    bias: super::HostTensor<'a, (usize,)>,
    units: usize,
) -> super::PositionwiseSpec<'a> {
    super::PositionwiseSpec {
        weight,
        layout: super::WeightLayout::OutIn,
        bias: Some(bias),
        units,
        first_unit: 0,
        input_grad: true,
    }
}

/// The LSTM of `experiments/lstm_adding.exp` on one batch, forward and backward
/// (BENCHMARKS.md compares `bench/reference/lstm_timing.py`, torch.nn.LSTM on 2 threads).
#[test]
#[ignore = "timing harness; run with --ignored --nocapture"]
fn timing_lstm() {
    use std::sync::Arc;
    let (b, f, u, t) = (32, 2, 64, 50);
    let dev = Cpu::default();
    let x = random(b * f * t, 1);
    let host = [
        random(4 * u * f, 2),
        random(4 * u * u, 3),
        random(4 * u, 4),
        random(4 * u, 5),
    ]
    .map(|v| Arc::new(v.iter().map(|v| v * 0.1).collect::<Vec<f32>>()));
    let w_ih = dev.tensor_from_vec(host[0].to_vec(), (4 * u, f));
    let w_hh = dev.tensor_from_vec(host[1].to_vec(), (4 * u, u));
    let b_ih = dev.tensor_from_vec(host[2].to_vec(), (4 * u,));
    let b_hh = dev.tensor_from_vec(host[3].to_vec(), (4 * u,));
    let (wall, cpu) = median_ms(|| {
        let params = super::RecurrentParams {
            w_ih: (&w_ih, &host[0]),
            w_hh: (&w_hh, &host[1]),
            b_ih: (&b_ih, &host[2]),
            b_hh: (&b_hh, &host[3]),
        };
        let xt = tensor4(&dev, &x, (b, f, 1, t));
        let y = super::lstm(xt.leaky_traced(), params, false, super::Reading::default());
        let _ = y.sum().backward();
    });
    println!("lstm B{b} F{f} U{u} T{t} forward+backward: {wall:.3} ms wall, {cpu:.3} ms CPU");
}

/// The transformer block's MLP of `experiments/char_gpt.exp` (dense 128 → 512 with GELU, then
/// 512 → 128, over batch 12 of length 64), forward and backward with the input's gradient;
/// `bench/attention_bench.py` times PyTorch's.
#[test]
#[ignore = "timing harness; run with --ignored --nocapture"]
fn timing_mlp() {
    use std::sync::Arc;

    use super::{pointwise, positionwise, HostTensor, Pointwise, PositionwiseSpec, WeightLayout};
    let dev = Cpu::default();
    let (batch, d, t, hidden) = (12, 128, 64, 512);
    let x = tensor4(&dev, &random(batch * d * t, 1), (batch, d, 1, t));
    let r = tensor4(&dev, &random(batch * d * t, 2), (batch, d, 1, t));
    // Weights of a trained model's scale (GELU's inputs mostly within ±2).
    let small = |len, seed| Arc::new(random(len, seed).iter().map(|v| v * 0.1).collect());
    let (w1, b1) = (small(d * hidden, 3), small(hidden, 4));
    let (w2, b2) = (small(hidden * d, 5), small(d, 6));
    let token2 = || dev.zeros_like(&(0, 0));
    let token1 = || dev.zeros_like(&(0,));
    let (tw1, tb1, tw2, tb2) = (token2(), token1(), token2(), token1());
    // The dense layer's storage, (in, out).
    let layer = |w, b, units| PositionwiseSpec {
        weight: w,
        layout: WeightLayout::InOut,
        bias: Some(b),
        units,
        first_unit: 0,
        input_grad: true,
    };
    let fc1 = layer(
        HostTensor {
            tensor: &tw1,
            value: &w1,
        },
        HostTensor {
            tensor: &tb1,
            value: &b1,
        },
        hidden,
    );
    let fc2 = layer(
        HostTensor {
            tensor: &tw2,
            value: &w2,
        },
        HostTensor {
            tensor: &tb2,
            value: &b2,
        },
        d,
    );
    println!(
        "threads {}; (median wall ms, mean CPU ms)",
        rayon::current_num_threads()
    );
    let all = median_ms(|| {
        let h = pointwise(
            positionwise(x.clone().leaky_traced(), &fc1),
            Pointwise::Gelu,
        );
        let y = positionwise(h, &fc2);
        let grads = (y * r.clone()).sum::<(), _>().backward();
        drop(grads.get(&x));
    });
    println!("MLP 128-512-128 (GELU), forward+backward (incl. mul+sum) {all:.3?} ms");
    let forward = median_ms(|| {
        let h = pointwise(positionwise(x.clone(), &fc1), Pointwise::Gelu);
        drop(positionwise(h, &fc2));
    });
    println!("  its forward alone (no tape)                            {forward:.3?} ms");
    let first = median_ms(|| drop(positionwise(x.clone(), &fc1)));
    println!("  the first dense forward alone                          {first:.3?} ms");
    let h = positionwise(x.clone(), &fc1);
    let gelu = median_ms(|| drop(pointwise(h.clone(), Pointwise::Gelu)));
    println!("  GELU forward alone                                     {gelu:.3?} ms");
    let h = pointwise(h, Pointwise::Gelu);
    let second = median_ms(|| drop(positionwise(h.clone(), &fc2)));
    println!("  the second dense forward alone                         {second:.3?} ms");
}

/// The per-position dense layer's three products at the char GPT's sizes, each alone, in
/// GFLOP/s (2 threads): where the layer's time goes.
#[test]
#[ignore = "timing harness; run with --ignored --nocapture"]
fn timing_positionwise_products() {
    use super::positionwise::{weight_grad, Dims, WeightLayout};
    let (batch, t) = (12, 64);
    for (features, units, layout) in [
        (128, 512, WeightLayout::InOut),
        (512, 128, WeightLayout::InOut),
        (128, 384, WeightLayout::OutIn),
    ] {
        let d = Dims {
            features,
            units,
            length: t,
            layout,
        };
        let x = random(batch * features * t, 1);
        let g = random(batch * units * t, 2);
        let mut dw = vec![0.0; features * units];
        let flop = 2.0 * (batch * features * units * t) as f64;
        let (wall, _) = median_ms(|| weight_grad(&d, &x, &g, &mut dw));
        println!(
            "{features:>4} -> {units:>4} {layout:?}: weight gradient {wall:.3} ms, {:.0} GFLOP/s",
            flop / wall / 1e6
        );
    }
}

/// The blocked product (AVX-512 where the CPU has it) alone on one thread, at the shapes of the per-position layers'
/// products (`m x n x k`, row-major operands or a transposed right one), in GFLOP/s.
#[test]
#[ignore = "timing harness; run with --ignored --nocapture"]
fn timing_products() {
    use super::matmul::{matmul_packed, View};
    for (m, n, k, transposed) in [
        (64, 128, 64, true),
        (64, 128, 256, true),
        (64, 128, 768, true),
        (384, 64, 128, false),
        (128, 64, 512, false),
        (512, 64, 128, false),
        (512, 768, 128, false),
    ] {
        let (a, b) = (random(m * k, 1), random(k * n, 2));
        let mut dst = vec![0.0; m * n];
        let rhs = if transposed {
            View::transposed(&b, k)
        } else {
            View::rows(&b, n)
        };
        let (wall, _) = median_ms(|| {
            for _ in 0..10 {
                matmul_packed((m, n, k), &mut dst, true, View::rows(&a, k), rhs);
            }
        });
        let flop = 20.0 * (m * n * k) as f64;
        println!(
            "{m:>4} x {n:>4} x {k:>4} (rhs {}): {:.0} GFLOP/s",
            if transposed { "transposed" } else { "rows" },
            flop / wall / 1e6
        );
    }
}

/// The DCGAN's heaviest layers (`experiments/dcgan.exp`) at batch 16, forward and forward +
/// backward with the input's gradient, in GFLOP/s of the layer's own multiply-adds (the
/// products' padded columns not counted); `bench/conv_bench.py` times PyTorch's.
#[test]
#[ignore = "timing harness; run with --ignored --nocapture"]
fn timing_dcgan_layers() {
    use super::{conv2d_transpose, Conv2dTransposeSpec, T4};
    type Layer<'a> = &'a dyn Fn(T4<NoneTape>) -> T4<NoneTape>;
    type TracedLayer<'a> = &'a dyn Fn(T4<OwnedTape<f32, Cpu>>) -> T4<OwnedTape<f32, Cpu>>;
    let dev = Cpu::default();
    let n = 16;
    println!("threads {}; batch {n}", rayon::current_num_threads());
    // Times one layer of input `(n, i, side, side)` and output `(n, o, out, out)`.
    let time = |name: &str,
                (i, o, side, out): (usize, usize, usize, usize),
                f: Layer,
                g: TracedLayer| {
        let x = tensor4(&dev, &random(n * i * side * side, 1), (n, i, side, side));
        let r = tensor4(&dev, &random(n * o * out * out, 3), (n, o, out, out));
        // Each output of a transposed conv takes, over its input, the same multiply-adds as
        // the conv's output from the conv's input: `i * o * 25` per position of the smaller.
        let macs = (n * i * o * 25 * (side * side).min(out * out)) as f64;
        let (fwd, _) = median_ms(|| drop(f(x.clone())));
        let (step, _) = median_ms(|| {
            let grads = (g(x.clone().leaky_traced()) * r.clone())
                .sum::<(), _>()
                .backward();
            drop(grads.get(&x));
        });
        println!(
            "{name}: forward {fwd:.2} ms ({:.0} GFLOP/s), forward+backward {step:.2} ms ({:.0} GFLOP/s)",
            2.0 * macs / fwd / 1e6,
            6.0 * macs / step / 1e6
        );
    };
    // The generator's two 5x5 transposed convs.
    for (i, o, side, stride) in [(256, 128, 7, 1), (128, 64, 7, 2)] {
        let w = tensor4(&dev, &random(i * o * 25, 2), (i, o, 5, 5));
        let b = dev.tensor_from_vec(vec![0.0; o], (o,));
        let spec = Conv2dTransposeSpec {
            stride: (stride, stride),
            padding: Padding::Same,
            output_padding: None,
            input_grad: true,
        };
        time(
            &format!("conv2d_transpose {i}->{o} on {side}x{side} stride {stride}"),
            (i, o, side, side * stride),
            &|x| conv2d_transpose(x, &w, &b, &spec),
            &|x| conv2d_transpose(x, &w, &b, &spec),
        );
    }
    // The discriminator's second conv.
    let (i, o) = (64, 128);
    let w = tensor4(&dev, &random(o * i * 25, 2), (o, i, 5, 5));
    let b = dev.tensor_from_vec(vec![0.0; o], (o,));
    let spec = Conv2dSpec {
        stride: (2, 2),
        padding: Padding::Same,
        relu: false,
        relu_slope: 0.0,
        input_grad: true,
        weight_grad: true,
        pool: None,
    };
    time(
        "conv2d 64->128 on 14x14 stride 2",
        (i, o, 14, 7),
        &|x| conv2d(x, &w, &b, &spec),
        &|x| conv2d(x, &w, &b, &spec),
    );
}
