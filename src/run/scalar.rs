//! Scalar expressions of hooks (learning-rate schedules, log holes) and the
//! log format strings, evaluated against the loop's state.

use std::f64::consts::PI;

use crate::catalog::{Catalogued, Default, Value};
use crate::check::plan::{Format, FormatSpec, FormatStyle, Piece, ScalarExpr, ScalarFn, ScalarOp};

/// What a scalar expression can read.
pub struct LoopState<'a> {
    pub epoch: usize,
    /// How many epochs the run trains for.
    pub epochs: usize,
    pub global_step: u64,
    pub steps_per_epoch: usize,
    pub lrs: &'a [f64],
    pub metrics: &'a dyn Fn(usize) -> f64,
    /// The value of each `reduce_on_plateau` rule.
    pub plateaus: &'a [f64],
}

pub fn eval(e: &ScalarExpr, s: &LoopState<'_>) -> f64 {
    match e {
        ScalarExpr::Const(v) => *v,
        ScalarExpr::Epoch => s.epoch as f64,
        ScalarExpr::Epochs => s.epochs as f64,
        ScalarExpr::GlobalStep => s.global_step as f64,
        ScalarExpr::StepsPerEpoch => s.steps_per_epoch as f64,
        ScalarExpr::Lr(i) => s.lrs[*i],
        ScalarExpr::Metric(i) => (s.metrics)(*i),
        ScalarExpr::Plateau(i) => s.plateaus[*i],
        ScalarExpr::Neg(e) => -eval(e, s),
        ScalarExpr::Binary(op, l, r) => {
            let (l, r) = (eval(l, s), eval(r, s));
            match op {
                ScalarOp::Add => l + r,
                ScalarOp::Sub => l - r,
                ScalarOp::Mul => l * r,
                ScalarOp::Div => l / r,
                ScalarOp::Pow => l.powf(r),
            }
        }
        ScalarExpr::Call(f, args) => {
            let a: Vec<f64> = args.iter().map(|a| eval(a, s)).collect();
            let step = s.global_step as f64;
            match f {
                ScalarFn::Exp => a[0].exp(),
                ScalarFn::Log => a[0].ln(),
                ScalarFn::Sqrt => a[0].sqrt(),
                ScalarFn::Floor => a[0].floor(),
                ScalarFn::Cos => a[0].cos(),
                ScalarFn::Min => a[0].min(a[1]),
                ScalarFn::Max => a[0].max(a[1]),
                // Keras ExponentialDecay (not staircase).
                ScalarFn::Exponential => a[0] * a[1].powf(step / a[2]),
                ScalarFn::StepDecay => a[0] * a[1].powf((s.epoch as f64 / a[2]).floor()),
                // Keras CosineDecay: alpha is the floor as a fraction of the initial rate.
                ScalarFn::Cosine => {
                    let alpha = arg_or_default(*f, &a, 2);
                    let progress = (step / a[1]).min(1.0);
                    let cosine = 0.5 * (1.0 + (PI * progress).cos());
                    a[0] * ((1.0 - alpha) * cosine + alpha)
                }
                ScalarFn::Warmup => a[0] * ((step + 1.0) / a[1]).min(1.0),
                // Keras PolynomialDecay (`cycle = False`): held at `end` after `steps`.
                ScalarFn::PolynomialDecay => {
                    let (end, power) = (arg_or_default(*f, &a, 2), arg_or_default(*f, &a, 3));
                    let progress = step.min(a[1]) / a[1];
                    (a[0] - end) * (1.0 - progress).powf(power) + end
                }
                ScalarFn::OneCycle => one_cycle(*f, &a, step),
            }
        }
    }
}

/// Argument `i` of a call to `f`, or the catalogue's default where the call left it out.
fn arg_or_default(f: ScalarFn, a: &[f64], i: usize) -> f64 {
    a.get(i)
        .copied()
        .unwrap_or_else(|| match f.catalogued().entry().params[i].default {
            Default::Is(Value::Number(v)) => v,
            _ => unreachable!("check lets only arguments with a default be left out"),
        })
}

/// PyTorch's `OneCycleLR` at 0-based `step`, `three_phase = False`, cosine annealing:
/// up from `max_lr / div_factor` until step `pct_start * steps - 1`, then down to the floor
/// at step `steps - 1`, where it stays (PyTorch refuses to go on).
fn one_cycle(f: ScalarFn, a: &[f64], step: f64) -> f64 {
    let (max_lr, steps) = (a[0], a[1]);
    let pct_start = arg_or_default(f, a, 2);
    let initial = max_lr / arg_or_default(f, a, 3);
    let floor = initial / arg_or_default(f, a, 4);
    let anneal = |from: f64, to: f64, pct: f64| to + (from - to) / 2.0 * ((PI * pct).cos() + 1.0);
    let peak = pct_start * steps - 1.0;
    let last = steps - 1.0;
    if step <= peak && peak > 0.0 {
        anneal(initial, max_lr, step / peak)
    } else if last > peak.max(0.0) {
        anneal(
            max_lr,
            floor,
            ((step - peak.max(0.0)) / (last - peak.max(0.0))).min(1.0),
        )
    } else {
        floor
    }
}

pub fn render(format: &Format, s: &LoopState<'_>) -> String {
    let mut out = String::new();
    for piece in &format.pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Hole { value, spec } => out.push_str(&format_value(eval(value, s), *spec)),
        }
    }
    out
}

/// Python's format mini-language for the specs we accept.
pub fn format_value(v: f64, spec: FormatSpec) -> String {
    match spec.style {
        FormatStyle::Fixed => format!("{v:.*}", spec.precision.unwrap_or(6)),
        FormatStyle::Exponent => python_exponent(v, spec.precision.unwrap_or(6)),
        FormatStyle::Integer => format!("{}", v.round()),
        FormatStyle::Percent => format!("{:.*}%", spec.precision.unwrap_or(6), v * 100.0),
        FormatStyle::General => match spec.precision {
            Some(p) => format!("{v:.p$}"),
            None if v.fract() == 0.0 && v.abs() < 1e15 => format!("{v:.0}"),
            None => format!("{v}"),
        },
    }
}

/// `1.00e-03` rather than Rust's `1.00e-3`.
fn python_exponent(v: f64, precision: usize) -> String {
    let s = format!("{v:.precision$e}");
    match s.split_once('e') {
        Some((mantissa, exp)) => {
            let (sign, digits) = exp.strip_prefix('-').map_or(("+", exp), |d| ("-", d));
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(epoch: usize, step: u64) -> (usize, u64) {
        (epoch, step)
    }

    fn with<R>(epoch: usize, step: u64, f: impl FnOnce(&LoopState<'_>) -> R) -> R {
        let metrics = |_: usize| 0.5;
        let s = LoopState {
            epoch,
            epochs: 10,
            global_step: step,
            steps_per_epoch: 100,
            lrs: &[1e-3],
            metrics: &metrics,
            plateaus: &[],
        };
        f(&s)
    }

    /// `bench/reference/schedules.py`: PyTorch's `OneCycleLR` and Keras' `PolynomialDecay` at
    /// 0-based steps (Keras computes in float32).
    #[allow(clippy::unreadable_literal)]
    #[test]
    fn one_cycle_and_polynomial_decay_match_pytorch_and_keras() {
        let call = |f: ScalarFn, args: &[f64]| {
            ScalarExpr::Call(f, args.iter().map(|&v| ScalarExpr::Const(v)).collect())
        };
        let steps = [0u64, 1, 7, 29, 30, 31, 55, 99];
        #[rustfmt::skip]
        let cases: [(ScalarExpr, [f64; 8], f64); 4] = [
            (call(ScalarFn::OneCycle, &[0.1, 100.0]),
             [4.000000000000e-03, 4.281378056591e-03, 1.715221638769e-02, 1.000000000000e-01, 9.994965352845e-02, 9.979871550490e-02, 6.965137297769e-02, 4.000000000000e-07], 1e-12),
            (call(ScalarFn::OneCycle, &[0.05, 100.0, 0.25, 10.0, 100.0]),
             [5.000000000000e-03, 5.192490619089e-03, 1.380286784730e-02, 4.945423632833e-02, 4.921536444919e-02, 4.893405445086e-02, 3.174127251987e-02, 5.000000000000e-05], 1e-12),
            (call(ScalarFn::PolynomialDecay, &[0.1, 50.0]),
             [1.000000014901e-01, 9.800200164318e-02, 8.601400256157e-02, 4.205800220370e-02, 4.005999863148e-02, 3.806200250983e-02, 9.999999747379e-05, 9.999999747379e-05], 1e-7),
            (call(ScalarFn::PolynomialDecay, &[0.1, 50.0, 0.01, 2.0]),
             [1.000000014901e-01, 9.643600881100e-02, 7.656399905682e-02, 2.587600238621e-02, 2.439999952912e-02, 2.299600094557e-02, 9.999999776483e-03, 9.999999776483e-03], 1e-7),
        ];
        for (e, want, tol) in &cases {
            for (&step, w) in steps.iter().zip(want) {
                let got = with(0, step, |s| eval(e, s));
                assert!(
                    (got - w).abs() <= tol * w,
                    "{e:?} at step {step}: {got} against {w}"
                );
            }
        }
    }

    #[test]
    fn schedules_follow_keras() {
        let _ = state(0, 0);
        let e = ScalarExpr::Call(
            ScalarFn::Exponential,
            vec![
                ScalarExpr::Const(1.0),
                ScalarExpr::Const(0.5),
                ScalarExpr::Const(10.0),
            ],
        );
        assert!((with(0, 20, |s| eval(&e, s)) - 0.25).abs() < 1e-12);
        let c = ScalarExpr::Call(
            ScalarFn::Cosine,
            vec![ScalarExpr::Const(1.0), ScalarExpr::Const(100.0)],
        );
        assert!((with(0, 50, |s| eval(&c, s)) - 0.5).abs() < 1e-12);
        assert!(with(0, 500, |s| eval(&c, s)).abs() < 1e-12);
        let w = ScalarExpr::Call(
            ScalarFn::Warmup,
            vec![ScalarExpr::Const(1.0), ScalarExpr::Const(10.0)],
        );
        assert!((with(0, 4, |s| eval(&w, s)) - 0.5).abs() < 1e-12);
        let d = ScalarExpr::Call(
            ScalarFn::StepDecay,
            vec![
                ScalarExpr::Const(1.0),
                ScalarExpr::Const(0.1),
                ScalarExpr::Const(2.0),
            ],
        );
        assert!((with(3, 0, |s| eval(&d, s)) - 0.1).abs() < 1e-12);
    }

    #[test]
    fn a_log_line_reads_the_epoch_and_the_epoch_count() {
        let hole = |value| Piece::Hole {
            value,
            spec: FormatSpec::default(),
        };
        let format = Format {
            pieces: vec![
                Piece::Text("Epoch ".into()),
                hole(ScalarExpr::Binary(
                    ScalarOp::Add,
                    Box::new(ScalarExpr::Epoch),
                    Box::new(ScalarExpr::Const(1.0)),
                )),
                Piece::Text("/".into()),
                hole(ScalarExpr::Epochs),
            ],
        };
        assert_eq!(with(2, 0, |s| render(&format, s)), "Epoch 3/10");
    }

    #[test]
    fn format_specs_follow_python() {
        assert_eq!(
            format_value(
                0.14371,
                FormatSpec {
                    precision: Some(4),
                    style: FormatStyle::Fixed
                }
            ),
            "0.1437"
        );
        assert_eq!(
            format_value(
                95.714,
                FormatSpec {
                    precision: Some(2),
                    style: FormatStyle::Fixed
                }
            ),
            "95.71"
        );
        assert_eq!(
            format_value(
                0.001,
                FormatSpec {
                    precision: Some(2),
                    style: FormatStyle::Exponent
                }
            ),
            "1.00e-03"
        );
        assert_eq!(
            format_value(
                0.9571,
                FormatSpec {
                    precision: Some(1),
                    style: FormatStyle::Percent
                }
            ),
            "95.7%"
        );
        assert_eq!(format_value(3.0, FormatSpec::default()), "3");
    }
}
