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

#[test]
#[ignore = "timing harness; run with --ignored --nocapture"]
fn timing_batch_norm() {
    use super::{batch_norm, BatchNormSpec, Statistics};
    let dev = Cpu::default();
    // The output of a 32-filter conv on a batch of 64 MNIST images.
    let shape = (64, 32, 26, 26);
    let n = 64 * 32 * 26 * 26;
    let x = tensor4(&dev, &random(n, 1), shape);
    let r = tensor4(&dev, &random(n, 2), shape);
    let (gv, bv) = (random(32, 3), random(32, 4));
    let g = dev.tensor_from_vec(gv.clone(), (32,));
    let b = dev.tensor_from_vec(bv.clone(), (32,));
    let spec = BatchNormSpec {
        statistics: Statistics::Batch,
        epsilon: 1e-3,
        gamma: Some((&g, &gv)),
        beta: Some((&b, &bv)),
        input_grad: true,
        rectifier: None,
    };
    println!(
        "threads {}; (median wall ms, mean CPU ms)",
        rayon::current_num_threads()
    );
    let ours = median_ms(|| {
        let (out, _) = batch_norm(x.clone().leaky_traced(), &spec);
        let grads = (out * r.clone()).sum::<(), _>().backward();
        drop(grads.get(&x));
    });
    println!("batch_norm op, training forward+backward (incl. mul+sum)  {ours:.3?} ms");
    let forward = median_ms(|| drop(batch_norm(x.clone(), &spec)));
    println!("  its forward alone (no tape)                             {forward:.3?} ms");
    // The same with dfdx's own ops: normalise over (batch, h, w), then gamma and beta.
    let composite = median_ms(|| {
        let y = x.clone().leaky_traced().normalize::<Axes3<0, 2, 3>>(1e-3);
        let y = y * g.clone().broadcast_like::<_, Axes3<0, 2, 3>>(&shape)
            + b.clone().broadcast_like::<_, Axes3<0, 2, 3>>(&shape);
        let grads = (y * r.clone()).sum::<(), _>().backward();
        drop(grads.get(&x));
    });
    println!("dfdx composite, forward+backward (incl. mul+sum)          {composite:.3?} ms");
    let functional = median_ms(|| {
        drop(
            (x.clone().leaky_traced() * r.clone())
                .sum::<(), _>()
                .backward(),
        );
    });
    println!("  the functional alone (mul+sum+backward)                 {functional:.3?} ms");
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
