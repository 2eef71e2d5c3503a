//! conv2d against the naive f64 reference: forward values, gradients by central differences,
//! bit-identical reruns, and shape errors.

use dfdx::prelude::*;

use super::avx512::Avx512;
use super::backward::{backward_with, Grads, Params};
use super::forward::{forward_with, Saved};
use super::plan::ConvPlan;
use super::{conv2d, conv2d_flat_channels_last, try_conv2d, Conv2dSpec};
use crate::ops::pool2d::NO_ARGMAX;
use crate::ops::reference::{
    assert_close, assert_gradient, backward_of_functional, conv, finite_differences, functional,
    pool, random, relu, tensor4, widen, Shape4,
};
use crate::ops::{OpsError, Padding, Pool2dSpec, PoolKind};

struct Case {
    x: Shape4,
    w: Shape4,
    spec: Conv2dSpec,
}

#[allow(clippy::unnecessary_wraps)] // it fills a conv's `pool: Option<Pool2dSpec>`
fn pool_spec(kind: PoolKind, size: usize, stride: usize, padding: Padding) -> Option<Pool2dSpec> {
    Some(Pool2dSpec {
        kind,
        size: (size, size),
        stride: (stride, stride),
        padding,
    })
}

fn case(x: Shape4, (o, kh, kw): (usize, usize, usize), stride: usize, padding: Padding) -> Case {
    Case {
        x,
        w: (o, x.1, kh, kw),
        spec: Conv2dSpec {
            stride: (stride, stride),
            padding,
            relu: false,
            relu_slope: 0.0,
            input_grad: true,
            weight_grad: true,
            pool: None,
        },
    }
}

fn with(mut c: Case, relu: bool, pool: Option<Pool2dSpec>) -> Case {
    c.spec.relu = relu;
    c.spec.pool = pool;
    c
}

/// Valid and same padding, non-square inputs and kernels, strides 1 to 3, odd and even
/// padding totals, no/ReLU, no/max/avg pooling with and without overlap and padding.
fn cases() -> Vec<Case> {
    use Padding::{Same, Valid};
    use PoolKind::{Avg, Max};
    vec![
        case((2, 1, 6, 6), (3, 3, 3), 1, Valid),
        with(case((2, 3, 7, 5), (4, 3, 2), 1, Valid), true, None),
        case((1, 2, 9, 8), (3, 3, 3), 2, Valid),
        // Same, kernel 4 x 3: padding totals 3 (odd) and 2 (even).
        with(case((2, 2, 7, 6), (2, 4, 3), 1, Same), true, None),
        // Same, stride 2 on 8 x 7: totals 1 (odd) and 2 (even).
        case((2, 2, 8, 7), (3, 3, 3), 2, Same),
        with(
            case((3, 1, 10, 10), (4, 3, 3), 1, Valid),
            true,
            pool_spec(Max, 2, 2, Valid),
        ),
        with(
            case((2, 2, 9, 7), (3, 3, 3), 1, Same),
            true,
            pool_spec(Avg, 3, 2, Same),
        ),
        with(
            case((2, 3, 8, 8), (2, 1, 1), 1, Valid),
            false,
            pool_spec(Max, 3, 2, Same),
        ),
        // Stride 3 over a 2 x 2 kernel skips inputs; overlapping average windows.
        with(
            case((1, 2, 11, 9), (3, 2, 2), 3, Valid),
            true,
            pool_spec(Avg, 2, 1, Valid),
        ),
        with(
            case((2, 1, 6, 6), (2, 3, 3), 1, Same),
            false,
            pool_spec(Max, 3, 1, Same),
        ),
        with(
            case((2, 2, 7, 7), (3, 3, 3), 1, Valid),
            true,
            pool_spec(Max, 2, 3, Valid),
        ),
        // 72 taps: the products go to gemm instead of our small kernels.
        with(
            case((2, 8, 6, 5), (3, 3, 3), 1, Same),
            true,
            pool_spec(Max, 2, 2, Same),
        ),
        // A 1 x 1 image under a 3 x 3 same kernel, batch 1.
        with(case((1, 2, 1, 1), (2, 3, 3), 1, Same), true, None),
        // The AVX-512 path's plans (where the CPU has it): 16 or 32 channels, stride 1, valid.
        with(
            case((2, 1, 8, 9), (16, 3, 3), 1, Valid),
            true,
            pool_spec(Max, 2, 2, Valid),
        ),
        with(
            case((2, 2, 7, 8), (32, 2, 3), 1, Valid),
            false,
            pool_spec(Max, 2, 2, Valid),
        ),
        with(case((2, 2, 7, 9), (32, 2, 2), 1, Valid), true, None),
    ]
}

struct Operands {
    x: Vec<f32>,
    w: Vec<f32>,
    b: Vec<f32>,
}

fn operands(c: &Case, seed: u64) -> Operands {
    let len = |s: Shape4| s.0 * s.1 * s.2 * s.3;
    Operands {
        x: random(len(c.x), seed),
        w: random(len(c.w), seed + 1),
        b: random(c.w.0, seed + 2),
    }
}

/// The whole fused layer in f64.
fn reference(c: &Case, x: &[f64], w: &[f64], b: &[f64]) -> Vec<f64> {
    let (mut out, shape) = conv(x, c.x, w, c.w, b, c.spec.stride, c.spec.padding);
    if c.spec.relu {
        relu(&mut out);
    }
    match &c.spec.pool {
        Some(p) => pool(&out, shape, p.kind, p.size, p.stride, p.padding).0,
        None => out,
    }
}

#[test]
fn forward_matches_the_direct_reference() {
    let dev = Cpu::default();
    for (i, c) in cases().iter().enumerate() {
        let v = operands(c, 10 * i as u64);
        let want = reference(c, &widen(&v.x), &widen(&v.w), &widen(&v.b));
        let w = tensor4(&dev, &v.w, c.w);
        let b = dev.tensor_from_vec(v.b.clone(), (c.w.0,));
        let plain = conv2d(tensor4(&dev, &v.x, c.x), &w, &b, &c.spec);
        assert_close(&format!("case {i}"), &plain.as_vec(), &want, 1e-5);
        let traced = conv2d(tensor4(&dev, &v.x, c.x).leaky_traced(), &w, &b, &c.spec);
        assert_eq!(
            traced.as_vec(),
            plain.as_vec(),
            "case {i}: tape changes the output"
        );
    }
}

/// Runs the op on the tape and returns the gradients of `Σ out · r` for x (if asked), w, b.
fn tape_gradients(c: &Case, v: &Operands, r: &[f32]) -> (Option<Vec<f32>>, Vec<f32>, Vec<f32>) {
    let dev = Cpu::default();
    let x = tensor4(&dev, &v.x, c.x);
    let w = tensor4(&dev, &v.w, c.w);
    let b = dev.tensor_from_vec(v.b.clone(), (c.w.0,));
    let out = conv2d(x.clone().leaky_traced(), &w, &b, &c.spec);
    let grads = backward_of_functional(out, r);
    let dx = c.spec.input_grad.then(|| grads.get(&x).as_vec());
    (dx, grads.get(&w).as_vec(), grads.get(&b).as_vec())
}

/// Tolerance on gradients, relative to the largest entry of each: f32 sums of up to a few
/// hundred products against exact f64 differences.
const GRAD_TOL: f64 = 1e-4;
/// Small enough that no ReLU or max switches within the step for these seeds; the functional
/// is piecewise linear, so the difference quotient is exact between switches.
const EPS: f64 = 1e-6;

#[test]
fn gradients_match_finite_differences() {
    for (i, mut c) in cases().into_iter().enumerate() {
        let v = operands(&c, 100 + i as u64);
        let (x, w, b) = (widen(&v.x), widen(&v.w), widen(&v.b));
        let out_len = reference(&c, &x, &w, &b).len();
        let r = random(out_len, 200 + i as u64);
        let fd_x = finite_differences(&x, EPS, |x| functional(&reference(&c, x, &w, &b), &r));
        let fd_w = finite_differences(&w, EPS, |w| functional(&reference(&c, &x, w, &b), &r));
        let fd_b = finite_differences(&b, EPS, |b| functional(&reference(&c, &x, &w, b), &r));
        for input_grad in [true, false] {
            c.spec.input_grad = input_grad;
            let (dx, dw, db) = tape_gradients(&c, &v, &r);
            let what = |t: &str| format!("case {i} input_grad {input_grad} d{t}");
            if let Some(dx) = dx {
                assert_gradient(&what("x"), &dx, &fd_x, GRAD_TOL);
            }
            assert_gradient(&what("w"), &dw, &fd_w, GRAD_TOL);
            assert_gradient(&what("b"), &db, &fd_b, GRAD_TOL);
        }
    }
}

#[test]
fn skipped_weight_gradients_are_not_computed_and_leave_the_input_gradient() {
    let dev = Cpu::default();
    for (i, mut c) in cases().into_iter().enumerate() {
        let v = operands(&c, 300 + i as u64);
        let out_len = reference(&c, &widen(&v.x), &widen(&v.w), &widen(&v.b)).len();
        let r = random(out_len, 400 + i as u64);
        let mut run = |weight_grad: bool| {
            c.spec.weight_grad = weight_grad;
            let x = tensor4(&dev, &v.x, c.x);
            let w = tensor4(&dev, &v.w, c.w);
            let b = dev.tensor_from_vec(v.b.clone(), (c.w.0,));
            let out = conv2d(x.clone().leaky_traced(), &w, &b, &c.spec);
            let mut g = backward_of_functional(out, &r);
            // A gradient nobody computed reads as zeros.
            let read = |t: Vec<f32>| t.iter().any(|&v| v != 0.0).then_some(t);
            let dw = read(g.get_or_alloc_mut(&w).unwrap().to_vec());
            let db = read(g.get_or_alloc_mut(&b).unwrap().to_vec());
            (g.get(&x).as_vec(), dw, db)
        };
        let (dx, dw, db) = run(true);
        assert!(dw.is_some() && db.is_some(), "case {i}");
        assert_eq!(run(false), (dx, None, None), "case {i}");
    }
}

#[test]
fn parameter_gradients_accumulate_over_uses() {
    let c = with(case((2, 2, 6, 6), (3, 3, 3), 1, Padding::Valid), true, None);
    let v = operands(&c, 7);
    let dev = Cpu::default();
    let (w, b) = (
        tensor4(&dev, &v.w, c.w),
        dev.tensor_from_vec(v.b.clone(), (3,)),
    );
    let x = tensor4(&dev, &v.x, c.x);
    let once = conv2d(x.clone().leaky_traced(), &w, &b, &c.spec)
        .sum::<(), _>()
        .backward();
    let twice = conv2d(x.clone().leaky_traced(), &w, &b, &c.spec).sum::<(), _>()
        + conv2d(x.clone().leaky_traced(), &w, &b, &c.spec).sum::<(), _>();
    let twice = twice.backward();
    let doubled: Vec<f32> = once.get(&w).as_vec().iter().map(|g| 2.0 * g).collect();
    assert_eq!(twice.get(&w).as_vec(), doubled);
}

#[test]
fn reruns_are_bit_identical() {
    // The tutorial's layer on a batch large enough to spread over several tasks.
    let spec = Conv2dSpec {
        stride: (1, 1),
        padding: Padding::Valid,
        relu: true,
        relu_slope: 0.0,
        input_grad: false,
        weight_grad: true,
        pool: pool_spec(PoolKind::Max, 2, 2, Padding::Valid),
    };
    let mut c = Case {
        x: (37, 1, 28, 28),
        w: (32, 1, 3, 3),
        spec,
    };
    let v = operands(&c, 3);
    let r = random(37 * 32 * 13 * 13, 4);
    for input_grad in [false, true] {
        c.spec.input_grad = input_grad;
        let first = tape_gradients(&c, &v, &r);
        let second = tape_gradients(&c, &v, &r);
        assert_eq!(first, second, "input_grad {input_grad}");
    }
}

#[test]
fn shape_errors_are_reported() {
    let dev = Cpu::default();
    let x = tensor4(&dev, &[0.0; 2 * 3 * 5 * 5], (2, 3, 5, 5));
    let b = dev.tensor_from_vec(vec![0.0; 4], (4,));
    let spec = case((2, 3, 5, 5), (4, 3, 3), 1, Padding::Valid).spec;
    let w = tensor4(&dev, &[0.0; 4 * 2 * 3 * 3], (4, 2, 3, 3));
    let err = try_conv2d(x.clone(), &w, &b, &spec)
        .map(|_| ())
        .unwrap_err();
    assert!(
        matches!(err, OpsError::ShapeMismatch { what: "weight", .. }),
        "{err}"
    );
    let w = tensor4(&dev, &[0.0; 4 * 3 * 6 * 3], (4, 3, 6, 3));
    let err = try_conv2d(x, &w, &b, &spec).map(|_| ()).unwrap_err();
    assert!(matches!(err, OpsError::EmptyOutput { .. }), "{err}");
}

/// Whether this machine runs the AVX-512 path (unless `EXPR_CONV_PORTABLE` turns it off).
fn fast_path_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::env::var_os("EXPR_CONV_PORTABLE").is_none()
            && std::env::var_os("EXPR_PORTABLE").is_none()
            && std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

fn plan_of(c: &Case) -> ConvPlan {
    ConvPlan::new(c.x, c.w, (c.w.0,), &c.spec).unwrap()
}

/// Plans the AVX-512 path supports: 16, 32 and 48 (a 32 and a 16 block) channels, 4 to 32
/// taps (the backward in tap groups), odd and even conv planes, rows of positions that are
/// not a multiple of 4.
fn fast_cases() -> Vec<Case> {
    use Padding::Valid;
    use PoolKind::Max;
    vec![
        // The tutorial's layer.
        with(
            case((5, 1, 28, 28), (32, 3, 3), 1, Valid),
            true,
            pool_spec(Max, 2, 2, Valid),
        ),
        // A 9 x 9 conv plane, whose last row and column are not pooled.
        with(
            case((3, 2, 11, 10), (48, 3, 2), 1, Valid),
            true,
            pool_spec(Max, 2, 2, Valid),
        ),
        with(
            case((2, 2, 9, 9), (16, 4, 4), 1, Valid),
            false,
            pool_spec(Max, 2, 2, Valid),
        ),
        // Rows of 11 positions: 4 + 4 + 3.
        with(case((2, 1, 10, 13), (32, 3, 3), 1, Valid), true, None),
        with(case((1, 2, 7, 6), (48, 2, 2), 1, Valid), false, None),
    ]
}

#[test]
fn fast_path_is_taken_exactly_for_supported_plans() {
    use Padding::{Same, Valid};
    use PoolKind::{Avg, Max};
    if !fast_path_available() {
        eprintln!("no AVX-512F and FMA here: the fast path is not tested");
        return;
    }
    for (i, c) in fast_cases().iter().enumerate() {
        assert!(Avx512::new(&plan_of(c)).is_some(), "fast case {i}");
    }
    // Of the general cases, those with a multiple of 16 channels (all valid, stride 1).
    for (i, c) in cases().iter().enumerate() {
        let fast = c.w.0.is_multiple_of(16);
        assert_eq!(Avx512::new(&plan_of(c)).is_some(), fast, "case {i}");
    }
    for c in [
        // Stride 2, same padding, average or overlapping pooling, too many taps.
        case((1, 1, 9, 9), (16, 3, 3), 2, Valid),
        case((1, 1, 9, 9), (16, 3, 3), 1, Same),
        with(
            case((1, 1, 9, 9), (16, 3, 3), 1, Valid),
            true,
            pool_spec(Avg, 2, 2, Valid),
        ),
        with(
            case((1, 1, 9, 9), (16, 3, 3), 1, Valid),
            true,
            pool_spec(Max, 3, 2, Valid),
        ),
        case((1, 8, 9, 9), (16, 3, 3), 1, Valid),
    ] {
        assert!(Avx512::new(&plan_of(&c)).is_none(), "{:?}", c.spec);
    }
}

/// Checks the fast path's argmax against the portable one's: they may differ only where two
/// conv values of a window tie within rounding, or where the pooled value is 0 within rounding
/// (ReLU on one side and not the other).
fn assert_argmax_equivalent(what: &str, c: &Case, v: &Operands, out: &[f32], a: &[u32], b: &[u32]) {
    let x = widen(&v.x);
    let (z, shape) = conv(
        &x,
        c.x,
        &widen(&v.w),
        c.w,
        &widen(&v.b),
        (1, 1),
        Padding::Valid,
    );
    let conv_plane = shape.2 * shape.3;
    let out_plane = a.len() / (shape.0 * shape.1);
    let mut differ = 0;
    for (q, (&a, &b)) in a.iter().zip(b).enumerate() {
        if a == b {
            continue;
        }
        differ += 1;
        if a == NO_ARGMAX || b == NO_ARGMAX {
            assert!(
                out[q].abs() <= 1e-5,
                "{what}[{q}]: argmax {a} vs {b}, output {}",
                out[q]
            );
        } else {
            let plane = &z[q / out_plane * conv_plane..][..conv_plane];
            let (za, zb) = (plane[a as usize], plane[b as usize]);
            assert!(
                (za - zb).abs() <= 1e-5,
                "{what}[{q}]: argmax {a} ({za}) vs {b} ({zb})"
            );
        }
    }
    assert!(
        differ * 100 <= a.len(),
        "{what}: {differ} of {} argmaxes differ",
        a.len()
    );
}

#[test]
fn fast_path_matches_the_portable_path() {
    if !fast_path_available() {
        eprintln!("no AVX-512F and FMA here: the fast path is not tested");
        return;
    }
    for (i, c) in fast_cases().iter().enumerate() {
        let plan = plan_of(c);
        let fast = Avx512::new(&plan).expect("a supported plan");
        let v = operands(c, 300 + i as u64);
        let what = |t: &str| format!("fast case {i} {t}");
        let (out_p, saved_p) = forward_with(&plan, &v.x, &v.w, &v.b, true, None);
        let (out_f, saved_f) = forward_with(&plan, &v.x, &v.w, &v.b, true, Some(&fast));
        assert_close(&what("output"), &out_f, &widen(&out_p), 1e-5);
        let (untraced, _) = forward_with(&plan, &v.x, &v.w, &v.b, false, Some(&fast));
        assert_eq!(untraced, out_f, "{}", what("untraced output"));
        assert_eq!(saved_f.mask.len(), saved_p.mask.len());
        assert!(saved_p.codes.is_empty() && saved_f.argmax.is_empty());
        assert_eq!(saved_f.codes.len(), saved_p.argmax.len());
        let argmax_f = saved_f.argmax(&plan);
        let (a, b) = (&saved_p.argmax, &argmax_f);
        assert_argmax_equivalent(&what("argmax"), c, &v, &out_p, a, b);
        for (q, (&mf, &mp)) in saved_f.mask.iter().zip(&saved_p.mask).enumerate() {
            assert!(mf == mp || out_p[q].abs() <= 1e-5, "{}[{q}]", what("mask"));
        }
        // Backward from the portable forward's saved state, so that both route each gradient
        // to the same place.
        let g = random(out_p.len(), 400 + i as u64);
        let grads = |fast: Option<&Avx512>, saved: &Saved| {
            let (mut dw, mut db) = (vec![0.0; v.w.len()], vec![0.0; v.b.len()]);
            let params = Params { x: &v.x, w: &v.w };
            let grads = Grads {
                dx: &mut [],
                dw: &mut dw,
                db: &mut db,
            };
            backward_with(&plan, params, saved, &g, grads, fast);
            (dw, db)
        };
        let (dw_p, db_p) = grads(None, &saved_p);
        let (dw_f, db_f) = grads(Some(&fast), &saved_p);
        assert_gradient(&what("dw"), &dw_f, &widen(&dw_p), 1e-5);
        assert_gradient(&what("db"), &db_f, &widen(&db_p), 1e-5);
        // And from its own forward (with window codes), on both paths, where its argmax
        // matched.
        if *argmax_f == saved_p.argmax {
            let own = grads(Some(&fast), &saved_f);
            assert_eq!(own, (dw_f, db_f), "{}", what("own argmax"));
            let portable = grads(None, &saved_f);
            assert_eq!(portable, (dw_p, db_p), "{}", what("portable, own argmax"));
        }
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let mut c = fast_cases().swap_remove(0);
    c.x.0 = 37;
    let v = operands(&c, 5);
    let r = random(37 * 32 * 13 * 13, 6);
    for input_grad in [false, true] {
        c.spec.input_grad = input_grad;
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let dev = Cpu::default();
                let w = tensor4(&dev, &v.w, c.w);
                let b = dev.tensor_from_vec(v.b.clone(), (c.w.0,));
                let out = conv2d(tensor4(&dev, &v.x, c.x), &w, &b, &c.spec).as_vec();
                (out, tape_gradients(&c, &v, &r))
            })
        };
        let one = run(1);
        for threads in [2, 3] {
            assert_eq!(
                run(threads),
                one,
                "input_grad {input_grad}, {threads} threads"
            );
        }
    }
}

#[test]
fn fast_transpose_moves_every_element() {
    if !fast_path_available() {
        eprintln!("no AVX-512F and FMA here: the fast path is not tested");
        return;
    }
    let c = fast_cases().swap_remove(0);
    let fast = Avx512::new(&plan_of(&c)).unwrap();
    for (rows, cols) in [
        (1, 1),
        (5, 3),
        (16, 16),
        (17, 33),
        (169, 32),
        (32, 169),
        (9, 48),
    ] {
        let src: Vec<u32> = (0..rows * cols).map(|i| i as u32 * 7 + 1).collect();
        let mut dst = vec![0.0f32; rows * cols];
        fast.transpose(&src, rows, cols, &mut dst);
        for r in 0..rows {
            for col in 0..cols {
                let got = dst[col * rows + r].to_bits();
                assert_eq!(got, src[r * cols + col], "{rows} x {cols} at ({r}, {col})");
            }
        }
    }
}

/// `nchw` (samples of `channels x positions`) as samples of `positions x channels`.
fn channels_last(nchw: &[f32], channels: usize, positions: usize) -> Vec<f32> {
    let mut out = vec![0.0; nchw.len()];
    for (o, s) in out
        .chunks_mut(channels * positions)
        .zip(nchw.chunks(channels * positions))
    {
        for c in 0..channels {
            for q in 0..positions {
                o[q * channels + c] = s[c * positions + q];
            }
        }
    }
    out
}

#[test]
fn channels_last_output_is_the_nchw_output_reordered() {
    // Both paths (the general cases run the portable kernels, the fast ones AVX-512 where
    // the CPU has it), with and without the input gradient: the values and every gradient
    // are the same bits as the NCHW op's.
    let dev = Cpu::default();
    for (i, mut c) in cases().into_iter().chain(fast_cases()).enumerate() {
        let v = operands(&c, 500 + i as u64);
        let w = tensor4(&dev, &v.w, c.w);
        let b = dev.tensor_from_vec(v.b.clone(), (c.w.0,));
        let nchw = conv2d(tensor4(&dev, &v.x, c.x), &w, &b, &c.spec);
        let (n, o, h, wd) = *nchw.shape();
        let want = channels_last(&nchw.as_vec(), o, h * wd);
        let (flat, handoff) =
            conv2d_flat_channels_last(tensor4(&dev, &v.x, c.x), &w, &b, &c.spec, false);
        assert_eq!(*flat.shape(), (n, o * h * wd), "case {i}");
        assert_eq!(flat.as_vec(), want, "case {i}: output");
        assert!(handoff.is_none());
        let (token, handoff) =
            conv2d_flat_channels_last(tensor4(&dev, &v.x, c.x), &w, &b, &c.spec, true);
        assert_eq!(*token.shape(), (n, 0), "case {i}");
        assert_eq!(
            handoff.expect("asked for").data,
            want,
            "case {i}: handed over"
        );
        let r = random(want.len(), 600 + i as u64);
        let r_cl = channels_last(&r, o, h * wd);
        for input_grad in [true, false] {
            c.spec.input_grad = input_grad;
            let (dx, dw, db) = tape_gradients(&c, &v, &r);
            let x = tensor4(&dev, &v.x, c.x);
            let (flat, _) =
                conv2d_flat_channels_last(x.clone().leaky_traced(), &w, &b, &c.spec, false);
            let r_cl = dev.tensor_from_vec(r_cl.clone(), *flat.shape());
            let grads = (flat * r_cl.clone()).sum::<(), _>().backward();
            let what = format!("case {i} input_grad {input_grad}");
            if let Some(dx) = &dx {
                assert_eq!(&grads.get(&x).as_vec(), dx, "{what}: dx");
            }
            assert_eq!(grads.get(&w).as_vec(), dw, "{what}: dw");
            assert_eq!(grads.get(&b).as_vec(), db, "{what}: db");
            // Handed over, with the gradient coming back through the cell.
            let (token, handoff) =
                conv2d_flat_channels_last(x.clone().leaky_traced(), &w, &b, &c.spec, true);
            handoff.expect("asked for").grad.put(r_cl.as_vec());
            // The token is empty: the tape moves to a scalar to run backward from.
            let (_, tape) = token.split_tape();
            let grads = dev.zeros::<Rank0>().put_tape(tape).backward();
            if let Some(dx) = &dx {
                assert_eq!(&grads.get(&x).as_vec(), dx, "{what}: handed over, dx");
            }
            assert_eq!(grads.get(&w).as_vec(), dw, "{what}: handed over, dw");
            assert_eq!(grads.get(&b).as_vec(), db, "{what}: handed over, db");
        }
    }
}

/// The products that read the padded input in place (`shifted`) give the bits of the im2col
/// products, forward and backward, with and without the input gradient, on the cases above
/// and a residual block's conv (the weight gradient of few taps to rounding).
#[test]
fn shifted_products_give_the_bits_of_im2col() {
    use super::shifted::IM2COL_ONLY;
    let mut all = cases();
    all.push(with(
        case((3, 16, 14, 14), (16, 3, 3), 1, Padding::Same),
        true,
        None,
    ));
    all.push(with(
        case((2, 12, 9, 11), (20, 3, 5), 1, Padding::Same),
        true,
        pool_spec(PoolKind::Max, 2, 2, Padding::Valid),
    ));
    all.push(case((2, 16, 6, 6), (8, 1, 1), 1, Padding::Valid));
    // Strided: the phase planes. Keras' `same` pads 5x5 stride 2 on 14x14 by 1 before and 2
    // after; `valid` on 13x11 leaves a remainder; a 1x1 kernel reads one phase of four.
    all.push(case((2, 4, 14, 14), (16, 5, 5), 2, Padding::Same));
    all.push(with(
        case((2, 8, 13, 11), (16, 3, 3), 2, Padding::Valid),
        true,
        None,
    ));
    all.push(case((2, 20, 8, 8), (16, 1, 1), 2, Padding::Valid));
    all.push(case((1, 3, 17, 16), (5, 4, 5), 3, Padding::Same));
    let mut tall = case((2, 6, 12, 9), (7, 3, 2), 1, Padding::Same);
    tall.spec.stride = (3, 1);
    all.push(tall);
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for (i, mut c) in all.into_iter().enumerate() {
        let v = operands(&c, 300 + i as u64);
        let dev = Cpu::default();
        let (x, w) = (tensor4(&dev, &v.x, c.x), tensor4(&dev, &v.w, c.w));
        let b = dev.tensor_from_vec(v.b.clone(), (c.w.0,));
        for input_grad in [true, false] {
            c.spec.input_grad = input_grad;
            let run = |im2col: bool| {
                IM2COL_ONLY.set(im2col);
                let out = conv2d(x.clone(), &w, &b, &c.spec).as_vec();
                let r = random(out.len(), 400 + i as u64);
                let (dx, dw, db) = tape_gradients(&c, &v, &r);
                IM2COL_ONLY.set(false);
                (bits(&out), dx.map(|dx| bits(&dx)), bits(&dw), bits(&db))
            };
            let (shifted, im2col) = (run(false), run(true));
            assert!(
                shifted.0 == im2col.0,
                "case {i} input_grad {input_grad}: output"
            );
            assert!(
                shifted.1 == im2col.1,
                "case {i} input_grad {input_grad}: dx"
            );
            // The im2col weight gradient of at most `matmul::SMALL` taps took the dot-product
            // kernel, whose lanes hold other partial sums: equal to rounding there.
            if c.w.1 * c.w.2 * c.w.3 > 64 {
                assert!(
                    shifted.2 == im2col.2,
                    "case {i} input_grad {input_grad}: dw"
                );
            } else {
                let want: Vec<f64> = im2col
                    .2
                    .iter()
                    .map(|&b| f64::from(f32::from_bits(b)))
                    .collect();
                let got: Vec<f32> = shifted.2.iter().map(|&b| f32::from_bits(b)).collect();
                assert_close(&format!("case {i} dw"), &got, &want, 1e-5);
            }
            assert!(
                shifted.3 == im2col.3,
                "case {i} input_grad {input_grad}: db"
            );
        }
    }
}

/// A leaky ReLU fused into the conv (`Conv2dSpec::relu_slope`) gives the bits of the conv and
/// `ops::pointwise`'s leaky ReLU apart, forward and backward: on the small products' path,
/// and on the shifted one (16+ taps, stride 1 and 2, as a GAN's discriminator has).
#[test]
fn a_fused_leaky_relu_gives_the_bits_of_one_apart() {
    use crate::ops::{pointwise, Pointwise};
    let alpha = 0.2;
    for (i, c) in [
        case((2, 2, 7, 6), (3, 3, 3), 1, Padding::Same),
        case((2, 8, 10, 10), (16, 3, 3), 1, Padding::Same),
        case((3, 4, 14, 14), (16, 5, 5), 2, Padding::Same),
    ]
    .into_iter()
    .enumerate()
    {
        let v = operands(&c, 300 + i as u64);
        let run = |fused: bool| {
            let dev = Cpu::default();
            let x = tensor4(&dev, &v.x, c.x);
            let w = tensor4(&dev, &v.w, c.w);
            let b = dev.tensor_from_vec(v.b.clone(), (c.w.0,));
            let spec = Conv2dSpec {
                relu: fused,
                relu_slope: if fused { alpha } else { 0.0 },
                ..c.spec.clone()
            };
            let y = conv2d(x.clone().leaky_traced(), &w, &b, &spec);
            let y = if fused {
                y
            } else {
                pointwise(y, Pointwise::LeakyRelu { alpha })
            };
            let values = y.as_vec();
            let r = random(values.len(), 7);
            let grads = backward_of_functional(y, &r);
            let dx = grads.get(&x).as_vec();
            (values, [dx, grads.get(&w).as_vec(), grads.get(&b).as_vec()])
        };
        let (fused, apart) = (run(true), run(false));
        assert!(
            fused.0.iter().any(|&v| v < 0.0),
            "case {i}: some values leak"
        );
        assert_eq!(fused.0, apart.0, "case {i}: values");
        assert_eq!(fused.1, apart.1, "case {i}: dx, dw, db");
    }
}
