//! `conv2d_transpose` against PyTorch's numbers placed as Keras places them
//! (`bench/reference/conv2d_transpose.py`), against a naive f64 scatter by finite differences,
//! and across thread counts.

use dfdx::prelude::*;

use super::{conv2d_transpose, try_conv2d_transpose, Conv2dTransposeSpec};
use crate::ops::geometry::Axis;
use crate::ops::reference::{
    assert_close, assert_gradient, backward_of_functional, finite_differences, functional, random,
    tensor4, widen, Shape4,
};
use crate::ops::{OpsError, Padding};

#[path = "transpose_reference.rs"]
mod reference_numbers;
use reference_numbers::REFERENCES;

/// `((i * mul) % modulus - off) / scale`: the script's exact binary fractions.
fn fill(n: usize, mul: usize, modulus: usize, off: i64, scale: f32) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * mul % modulus) as i64 - off) as f32 / scale)
        .collect()
}

struct Case {
    x: Shape4,
    /// (in, out, kh, kw), PyTorch's layout.
    w: Shape4,
    spec: Conv2dTransposeSpec,
}

fn spec(stride: usize, same: bool, output_padding: Option<usize>) -> Conv2dTransposeSpec {
    Conv2dTransposeSpec {
        stride: (stride, stride),
        padding: if same { Padding::Same } else { Padding::Valid },
        output_padding,
        input_grad: true,
    }
}

/// The output and the gradients of `Σ y · r` for x, w, b, through the tape.
fn run(c: &Case, x: &[f32], w: &[f32], b: &[f32], r: &[f32]) -> [Vec<f32>; 4] {
    let dev = Cpu::default();
    let xt = tensor4(&dev, x, c.x);
    let wt = tensor4(&dev, w, c.w);
    let bt = dev.tensor_from_vec(b.to_vec(), (c.w.1,));
    let y = conv2d_transpose(xt.clone().leaky_traced(), &wt, &bt, &c.spec);
    let out = y.as_vec();
    let grads = backward_of_functional(y, r);
    let dx = if c.spec.input_grad {
        grads.get(&xt).as_vec()
    } else {
        Vec::new()
    };
    [out, dx, grads.get(&wt).as_vec(), grads.get(&bt).as_vec()]
}

#[test]
fn matches_pytorch_placed_as_keras() {
    for (i, t) in REFERENCES.iter().enumerate() {
        let (n, ci, h, w) = t.x;
        let c = Case {
            x: t.x,
            w: (ci, t.out_ch, t.kernel, t.kernel),
            spec: spec(t.stride, t.same, t.output_padding),
        };
        let x = fill(n * ci * h * w, 37, 101, 50, 64.0);
        let wv = fill(ci * t.out_ch * t.kernel * t.kernel, 53, 97, 48, 128.0);
        let b = fill(t.out_ch, 7, 5, 2, 4.0);
        let r = fill(t.y.len(), 29, 89, 44, 64.0);
        let [y, dx, dw, db] = run(&c, &x, &wv, &b, &r);
        let hw = crate::ops::conv2d_transpose_output_hw(
            (h, w),
            (t.kernel, t.kernel),
            c.spec.stride,
            c.spec.padding,
            t.output_padding,
        );
        assert_eq!(hw, Some(t.y_shape), "config {i}: output size");
        for (what, got, want) in [
            ("y", y, t.y),
            ("dx", dx, t.dx),
            ("dw", dw, t.dw),
            ("db", db, t.db),
        ] {
            assert_close(&format!("config {i} {what}"), &got, &widen(want), 1e-5);
        }
    }
}

/// The transposed conv as its definition: every input scatters `x * w` onto the output at
/// `position * stride + tap - pad_before`, in f64.
fn reference(c: &Case, x: &[f64], w: &[f64], b: &[f64]) -> Vec<f64> {
    let (n, ci, h, wd) = c.x;
    let (_, o, kh, kw) = c.w;
    let s = c.spec.stride;
    let ah = Axis::transposed(h, kh, s.0, c.spec.padding, c.spec.output_padding).unwrap();
    let aw = Axis::transposed(wd, kw, s.1, c.spec.padding, c.spec.output_padding).unwrap();
    let (oh, ow) = (ah.input, aw.input);
    let mut y = vec![0.0; n * o * oh * ow];
    for s_ in 0..n {
        for oc in 0..o {
            y[(s_ * o + oc) * oh * ow..][..oh * ow].fill(b[oc]);
        }
        for ic in 0..ci {
            for iy in 0..h {
                for ix in 0..wd {
                    let v = x[((s_ * ci + ic) * h + iy) * wd + ix];
                    for oc in 0..o {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let yy = (iy * s.0 + ky) as i64 - ah.pad_before as i64;
                                let yx = (ix * s.1 + kx) as i64 - aw.pad_before as i64;
                                if yy < 0 || yx < 0 || yy >= oh as i64 || yx >= ow as i64 {
                                    continue;
                                }
                                let wv = w[((ic * o + oc) * kh + ky) * kw + kx];
                                y[((s_ * o + oc) * oh + yy as usize) * ow + yx as usize] += v * wv;
                            }
                        }
                    }
                }
            }
        }
    }
    y
}

/// Strides 1 to 3, non-square inputs and kernels, same and valid, with and without
/// `output_padding`, a kernel smaller than its stride.
fn cases() -> Vec<Case> {
    vec![
        Case {
            x: (2, 3, 4, 3),
            w: (3, 2, 3, 2),
            spec: spec(1, true, None),
        },
        Case {
            x: (2, 2, 3, 4),
            w: (2, 3, 5, 5),
            spec: spec(2, true, None),
        },
        Case {
            x: (1, 2, 3, 3),
            w: (2, 2, 3, 3),
            spec: spec(2, false, Some(1)),
        },
        Case {
            x: (1, 2, 3, 2),
            w: (2, 1, 2, 2),
            spec: spec(3, false, None),
        },
        Case {
            x: (2, 1, 2, 3),
            w: (1, 2, 4, 3),
            spec: spec(2, true, Some(1)),
        },
        // Enough taps for the products without im2col (`conv2d::shifted`), where the CPU has
        // them: the forward pass as a stride-1 conv, the backward reading phase planes.
        Case {
            x: (2, 4, 4, 3),
            w: (4, 6, 3, 3),
            spec: spec(1, true, None),
        },
        Case {
            x: (2, 5, 3, 4),
            w: (5, 4, 5, 5),
            spec: spec(2, true, None),
        },
        Case {
            x: (1, 3, 3, 3),
            w: (3, 4, 3, 2),
            spec: spec(2, false, Some(1)),
        },
        // Input channels enough for the strided forward pass to add its columns into phase
        // planes.
        Case {
            x: (1, 16, 3, 2),
            w: (16, 2, 3, 3),
            spec: spec(2, true, None),
        },
        // Samples enough for tasks of three (`samples_per_task`), whose weight gradients the
        // shifted path takes as one product, at stride 1 and 2.
        Case {
            x: (40, 3, 3, 4),
            w: (3, 4, 5, 5),
            spec: spec(1, true, None),
        },
        Case {
            x: (35, 2, 3, 3),
            w: (2, 3, 3, 3),
            spec: spec(2, true, Some(1)),
        },
    ]
}

#[test]
fn shifted_products_give_the_results_of_im2col() {
    use super::super::shifted::IM2COL_ONLY;
    use super::ONE_PRODUCT_ALWAYS;
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for (i, c) in cases().into_iter().enumerate() {
        let xs = c.x.0 * c.x.1 * c.x.2 * c.x.3;
        let x = random(xs, 50 + i as u64);
        let w = random(c.w.0 * c.w.1 * c.w.2 * c.w.3, 60 + i as u64);
        let b = random(c.w.1, 70 + i as u64);
        let dev = Cpu::default();
        let y = conv2d_transpose(
            tensor4(&dev, &x, c.x),
            &tensor4(&dev, &w, c.w),
            &dev.tensor_from_vec(b.clone(), (c.w.1,)),
            &c.spec,
        );
        let r = random(y.shape().num_elements(), 80 + i as u64);
        let run_with = |im2col: bool| {
            IM2COL_ONLY.set(im2col);
            let out = run(&c, &x, &w, &b, &r);
            IM2COL_ONLY.set(false);
            out
        };
        let ([y, dx, dw, db], [y0, dx0, dw0, db0]) = (run_with(false), run_with(true));
        // A task's samples in one weight-gradient product, as large weights take them.
        ONE_PRODUCT_ALWAYS.set(true);
        let [_, dx1, dw1, _] = run_with(false);
        ONE_PRODUCT_ALWAYS.set(false);
        assert_eq!(bits(&dx1), bits(&dx), "case {i} dx, one product");
        assert_eq!(bits(&dw1), bits(&dw), "case {i} dw, one product");
        // The forward conv sums each output in another order than col2im's scatter.
        let y0: Vec<f64> = y0.iter().map(|&v| f64::from(v)).collect();
        assert_close(&format!("case {i} y"), &y, &y0, 1e-6);
        // Backward sums as the one-sample im2col products do, but for a weight gradient of
        // at most `matmul::SMALL` taps, which im2col gives the dot-product kernel.
        assert_eq!(bits(&dx), bits(&dx0), "case {i} dx");
        if c.w.1 * c.w.2 * c.w.3 > 64 {
            assert_eq!(bits(&dw), bits(&dw0), "case {i} dw");
        } else {
            let dw0: Vec<f64> = dw0.iter().map(|&v| f64::from(v)).collect();
            assert_close(&format!("case {i} dw"), &dw, &dw0, 1e-6);
        }
        assert_eq!(bits(&db), bits(&db0), "case {i} db");
    }
}

#[test]
fn gradients_match_finite_differences() {
    for (i, mut c) in cases().into_iter().enumerate() {
        let xs = c.x.0 * c.x.1 * c.x.2 * c.x.3;
        let (xv, wv, bv) = (
            random(xs, 10 + i as u64),
            random(c.w.0 * c.w.1 * c.w.2 * c.w.3, 20 + i as u64),
            random(c.w.1, 30 + i as u64),
        );
        let (x, w, b) = (widen(&xv), widen(&wv), widen(&bv));
        let want = reference(&c, &x, &w, &b);
        let r = random(want.len(), 40 + i as u64);
        let fd_x = finite_differences(&x, 1e-6, |x| functional(&reference(&c, x, &w, &b), &r));
        let fd_w = finite_differences(&w, 1e-6, |w| functional(&reference(&c, &x, w, &b), &r));
        let fd_b = finite_differences(&b, 1e-6, |b| functional(&reference(&c, &x, &w, b), &r));
        for input_grad in [true, false] {
            c.spec.input_grad = input_grad;
            let [y, dx, dw, db] = run(&c, &xv, &wv, &bv, &r);
            let what = |t: &str| format!("case {i} input_grad {input_grad} {t}");
            assert_close(&what("y"), &y, &want, 1e-5);
            if input_grad {
                assert_gradient(&what("dx"), &dx, &fd_x, 1e-4);
            }
            assert_gradient(&what("dw"), &dw, &fd_w, 1e-4);
            assert_gradient(&what("db"), &db, &fd_b, 1e-4);
        }
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    // The DCGAN generator's middle layer, narrowed, on a batch spread over several tasks.
    let c = Case {
        x: (37, 8, 7, 7),
        w: (8, 4, 5, 5),
        spec: spec(2, true, None),
    };
    let x = random(37 * 8 * 49, 1);
    let w = random(8 * 4 * 25, 2);
    let b = random(4, 3);
    let r = random(37 * 4 * 14 * 14, 4);
    let run_on = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| run(&c, &x, &w, &b, &r))
    };
    let one = run_on(1);
    for threads in [2, 3] {
        assert_eq!(run_on(threads), one, "{threads} threads");
    }
}

#[test]
fn shape_errors_are_reported() {
    let dev = Cpu::default();
    let x = tensor4(&dev, &[0.0; 2 * 3 * 5 * 5], (2, 3, 5, 5));
    let b = dev.tensor_from_vec(vec![0.0; 4], (4,));
    let good = tensor4(&dev, &[0.0; 3 * 4 * 9], (3, 4, 3, 3));
    let wrong_in = tensor4(&dev, &[0.0; 2 * 4 * 9], (2, 4, 3, 3));
    let s = spec(2, true, None);
    let err = try_conv2d_transpose(x.clone(), &wrong_in, &b, &s).unwrap_err();
    assert!(
        matches!(err, OpsError::ShapeMismatch { what: "weight", .. }),
        "{err}"
    );
    let err = try_conv2d_transpose(
        x.clone(),
        &good,
        &dev.tensor_from_vec(vec![0.0; 3], (3,)),
        &s,
    )
    .unwrap_err();
    assert!(
        matches!(err, OpsError::ShapeMismatch { what: "bias", .. }),
        "{err}"
    );
    let err = try_conv2d_transpose(x, &good, &b, &spec(2, true, Some(2))).unwrap_err();
    assert!(matches!(err, OpsError::EmptyOutput { .. }), "{err}");
}
