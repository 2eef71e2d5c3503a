//! Optimizer updates with Keras' exact formulas (Keras 3), applied per
//! parameter tensor on host slices. The slot buffers (moments, velocities)
//! are ours, so they can be checkpointed.
//!
//! Differences from dfdx's kernels, on purpose: Keras' Adam adds epsilon to
//! `sqrt(v)` before bias correction of the step size (dfdx adds it to
//! `sqrt(v_hat)`); Keras' RMSprop starts its square average at 0 (dfdx at 1).
//!
//! Differences from PyTorch's, where the two libraries disagree: Adadelta is the same
//! update in both (only the defaults differ); Adagrad adds epsilon inside the square root
//! and starts its sum at 0.1 (PyTorch: outside, at 0); Nadam is Keras' (Dozat's momentum
//! schedule, as PyTorch's `NAdam` with `momentum_decay = 0.004`, but its epsilon goes where
//! Adam's does). `weight_decay` on `sgd` and `adam` is PyTorch's coupled L2 (the gradient
//! gains `weight_decay * param`), where Keras' argument of that name decays the weights
//! directly, as `adamw` does.

use crate::check::plan::OptimizerKind;
use crate::ops::cpu::simd::avx2_or_portable;

/// State of one optimizer over all the parameters it updates.
#[derive(Debug, Clone)]
pub struct OptimizerState {
    pub kind: OptimizerKind,
    pub lr: f64,
    /// Updates applied so far (Keras' `iterations`).
    pub iterations: u64,
    /// Per parameter, the buffers `OptimizerKind::slot_names` names, each of the parameter's
    /// size.
    pub slots: Vec<Vec<Vec<f32>>>,
    /// Nadam's running product of its momentum schedule, and the update it is at: advanced
    /// one factor per update, recomputed from the start after a restore. Either way it is
    /// the same product in the same order, so a resumed run gets the same bits.
    nadam_product: (u64, f64),
}

impl OptimizerState {
    pub fn new(kind: OptimizerKind, lr: f64, sizes: &[usize]) -> Self {
        let slots = kind.slots();
        OptimizerState {
            kind,
            lr,
            iterations: 0,
            nadam_product: (0, 1.0),
            slots: sizes
                .iter()
                .map(|&n| vec![vec![kind.slot_start() as f32; n]; slots])
                .collect(),
        }
    }

    /// Starts an update: advances the iteration count shared by all parameters.
    pub fn begin(&mut self) {
        self.iterations += 1;
    }

    /// `prod_{i<=iterations} u_i` of Nadam's schedule, from the cache when it is at this
    /// update or the one before.
    fn nadam_product(&mut self, beta1: f64) -> f64 {
        let (at, product) = self.nadam_product;
        let t = self.iterations;
        let product = if at == t {
            product
        } else if at + 1 == t {
            product * nadam_schedule(beta1, t as i32)
        } else {
            (1..=t as i32).map(|i| nadam_schedule(beta1, i)).product()
        };
        self.nadam_product = (t, product);
        product
    }

    /// Applies one parameter's gradient.
    pub fn apply(&mut self, index: usize, param: &mut [f32], grad: &[f32]) {
        let rule = self.rule();
        update(param, grad, &mut self.slots[index], rule);
    }

    /// This update's scalars, the same for every parameter and element.
    fn rule(&mut self) -> Rule {
        let lr = self.lr as f32;
        let t = self.iterations as i32;
        match self.kind {
            OptimizerKind::Sgd {
                momentum,
                nesterov,
                weight_decay,
            } => Rule::Sgd {
                lr,
                momentum: momentum as f32,
                nesterov,
                weight_decay: weight_decay as f32,
            },
            OptimizerKind::Adam {
                beta1,
                beta2,
                epsilon,
                weight_decay,
            } => {
                let mut k = AdamCoefficients::new(lr, t, beta1, beta2, epsilon, 0.0);
                k.l2 = weight_decay as f32;
                Rule::Adam(k)
            }
            OptimizerKind::AdamW {
                beta1,
                beta2,
                epsilon,
                weight_decay,
            } => Rule::Adam(AdamCoefficients::new(
                lr,
                t,
                beta1,
                beta2,
                epsilon,
                weight_decay,
            )),
            OptimizerKind::RmsProp {
                rho,
                momentum,
                epsilon,
            } => Rule::RmsProp {
                lr,
                rho: rho as f32,
                momentum: momentum as f32,
                eps: epsilon as f32,
            },
            OptimizerKind::Adadelta { rho, epsilon } => Rule::Adadelta {
                lr,
                rho: rho as f32,
                eps: epsilon as f32,
            },
            OptimizerKind::Adagrad { epsilon, .. } => Rule::Adagrad {
                lr,
                eps: epsilon as f32,
            },
            OptimizerKind::Nadam {
                beta1,
                beta2,
                epsilon,
            } => {
                let product = self.nadam_product(beta1);
                Rule::Nadam {
                    k: NadamCoefficients::new(t, product, beta1, beta2),
                    lr,
                    eps: epsilon as f32,
                }
            }
            OptimizerKind::Adamax {
                beta1,
                beta2,
                epsilon,
            } => Rule::Adamax {
                lr,
                b1: beta1 as f32,
                b2: beta2 as f32,
                eps: epsilon as f32,
                correction: (1.0 - beta1.powi(t)) as f32,
            },
            OptimizerKind::Lion { beta1, beta2 } => Rule::Lion {
                lr,
                b1: beta1 as f32,
                b2: beta2 as f32,
            },
        }
    }
}

/// One update's rule and scalars (learning rate at this step, bias corrections), shared by
/// every element it updates.
#[derive(Clone, Copy)]
enum Rule {
    Sgd {
        lr: f32,
        momentum: f32,
        nesterov: bool,
        /// PyTorch's coupled L2: `g += weight_decay * p`.
        weight_decay: f32,
    },
    /// Adam, and AdamW (its `decay`).
    Adam(AdamCoefficients),
    RmsProp {
        lr: f32,
        rho: f32,
        momentum: f32,
        eps: f32,
    },
    Adadelta {
        lr: f32,
        rho: f32,
        eps: f32,
    },
    Adagrad {
        lr: f32,
        eps: f32,
    },
    Nadam {
        k: NadamCoefficients,
        lr: f32,
        eps: f32,
    },
    Adamax {
        lr: f32,
        b1: f32,
        b2: f32,
        eps: f32,
        /// `1 - beta1^t`.
        correction: f32,
    },
    Lion {
        lr: f32,
        b1: f32,
        b2: f32,
    },
}

/// Applies `rule` to one parameter and its slots (none, one or two, each of the parameter's
/// size). Elementwise, so a large parameter is split into one piece per worker thread: the
/// result does not depend on the split.
fn update(param: &mut [f32], grad: &[f32], slots: &mut [Vec<f32>], rule: Rule) {
    const CHUNK: usize = 16 * 1024;
    let (s0, s1): (&mut [f32], &mut [f32]) = match slots {
        [] => (&mut [], &mut []),
        [a] => (a, &mut []),
        [a, b, ..] => (a, b),
    };
    let threads = rayon::current_num_threads();
    if param.len() < 2 * CHUNK || threads == 1 {
        update_piece(param, grad, s0, s1, rule);
        return;
    }
    // Piece i always goes to thread i (see `ops::cpu::affinity`): the slots never leave that
    // core's cache for the other's, and the dense layer's weight gradient is cut the same way.
    let per = param.len().div_ceil(threads);
    let count = param.len().div_ceil(per);
    let pieces: Vec<_> = param
        .chunks_mut(per)
        .zip(grad.chunks(per))
        .zip(slot_pieces(s0, per, count))
        .zip(slot_pieces(s1, per, count))
        .collect();
    crate::ops::cpu::affinity::on_fixed_threads(pieces, |_, (((p, g), s0), s1)| {
        update_piece(p, g, s0, s1, rule);
    });
}

/// `count` pieces of `per` elements of a slot, or `count` empty ones where it is absent.
fn slot_pieces(slot: &mut [f32], per: usize, count: usize) -> Vec<&mut [f32]> {
    if slot.is_empty() {
        (0..count).map(|_| <&mut [f32]>::default()).collect()
    } else {
        slot.chunks_mut(per).collect()
    }
}

// Square roots and divisions dominate most updates; AVX2 does them 8 wide instead of SSE's
// 4. Both are correctly rounded and nothing is fused, so both builds give the same bits.
avx2_or_portable!(
    fn update_piece(p: &mut [f32], g: &[f32], s0: &mut [f32], s1: &mut [f32], rule: Rule)
        => update_piece_in
);

/// Each optimizer's formula, element by element, in loops over the slices that vectorise.
#[inline(always)]
fn update_piece_in(param: &mut [f32], grad: &[f32], s0: &mut [f32], s1: &mut [f32], rule: Rule) {
    match rule {
        Rule::Sgd {
            lr,
            momentum: m,
            nesterov,
            weight_decay: wd,
        } => {
            if m == 0.0 {
                for (p, &g) in param.iter_mut().zip(grad) {
                    let g = if wd == 0.0 { g } else { g + wd * *p };
                    *p -= lr * g;
                }
            } else {
                // v = m*v - lr*g; p += v (nesterov: p += m*v - lr*g).
                for ((p, &g), v) in param.iter_mut().zip(grad).zip(s0) {
                    let g = if wd == 0.0 { g } else { g + wd * *p };
                    *v = m * *v - lr * g;
                    *p += if nesterov { m * *v - lr * g } else { *v };
                }
            }
        }
        Rule::Adam(k) => adam(param, grad, s0, s1, k),
        Rule::RmsProp {
            lr,
            rho,
            momentum: mom,
            eps,
        } => {
            let step = |v: &mut f32, g: f32| {
                *v = rho * *v + (1.0 - rho) * g * g;
                lr * g / (v.sqrt() + eps)
            };
            if mom > 0.0 {
                for (((p, &g), v), m) in param.iter_mut().zip(grad).zip(s0).zip(s1) {
                    *m = mom * *m + step(v, g);
                    *p -= *m;
                }
            } else {
                for ((p, &g), v) in param.iter_mut().zip(grad).zip(s0) {
                    *p -= step(v, g);
                }
            }
        }
        Rule::Adadelta { lr, rho, eps } => adadelta(param, grad, s0, s1, lr, rho, eps),
        Rule::Adagrad { lr, eps } => {
            for ((p, &g), acc) in param.iter_mut().zip(grad).zip(s0) {
                *acc += g * g;
                *p -= lr * g / (*acc + eps).sqrt();
            }
        }
        Rule::Nadam { k, lr, eps } => nadam(param, grad, s0, s1, k, lr, eps),
        Rule::Adamax {
            lr,
            b1,
            b2,
            eps,
            correction,
        } => {
            for (((p, &g), m), u) in param.iter_mut().zip(grad).zip(s0).zip(s1) {
                *m += (g - *m) * (1.0 - b1);
                *u = (b2 * *u).max(g.abs());
                *p -= lr * *m / (correction * (*u + eps));
            }
        }
        Rule::Lion { lr, b1, b2 } => {
            for ((p, &g), m) in param.iter_mut().zip(grad).zip(s0) {
                let c = *m * b1 + g * (1.0 - b1);
                *p -= lr * sign(c);
                *m = *m * b2 + g * (1.0 - b2);
            }
        }
    }
}

/// `sign(x)` as Keras' and NumPy's: 0 at 0 (Rust's `signum` gives ±1 there).
#[inline(always)]
fn sign(x: f32) -> f32 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// Adadelta (Zeiler 2012), the same update in Keras and PyTorch:
/// `acc_g = rho acc_g + (1 - rho) g²`, `d = sqrt(acc_d + eps) / sqrt(acc_g + eps) * g`,
/// `acc_d = rho acc_d + (1 - rho) d²`, `p -= lr d`.
#[inline(always)]
fn adadelta(
    param: &mut [f32],
    grad: &[f32],
    acc_g: &mut [f32],
    acc_d: &mut [f32],
    lr: f32,
    rho: f32,
    eps: f32,
) {
    let elements = param.iter_mut().zip(grad).zip(acc_g.iter_mut()).zip(acc_d);
    for (((p, &g), ag), ad) in elements {
        *ag = rho * *ag + (1.0 - rho) * g * g;
        let d = (*ad + eps).sqrt() * g / (*ag + eps).sqrt();
        *ad = rho * *ad + (1.0 - rho) * d * d;
        *p -= lr * d;
    }
}

/// Nadam's scalars at update `t`: the momentum schedule `u_i = beta1 (1 - 0.5 * 0.96^i)`,
/// and its running product, which Keras keeps as a variable and we compute from `t` (so a
/// checkpoint needs no extra slot). The bias corrections are divided out in f64: `1 -
/// beta2^t` in float32 loses a few digits to cancellation.
#[derive(Clone, Copy)]
struct NadamCoefficients {
    /// `u_{t+1} / (1 - prod_{i<=t+1} u_i)`, the moment's share.
    m: f32,
    /// `(1 - u_t) / (1 - prod_{i<=t} u_i)`, the gradient's.
    g: f32,
    /// `1 - beta2^t`.
    v: f32,
    b1: f32,
    b2: f32,
}

impl NadamCoefficients {
    /// `product` is `prod_{i<=t} u_i` ([`nadam_schedule`]).
    fn new(t: i32, product: f64, beta1: f64, beta2: f64) -> Self {
        let u = |i| nadam_schedule(beta1, i);
        let product_next = product * u(t + 1);
        NadamCoefficients {
            m: (u(t + 1) / (1.0 - product_next)) as f32,
            g: ((1.0 - u(t)) / (1.0 - product)) as f32,
            v: (1.0 - beta2.powi(t)) as f32,
            b1: beta1 as f32,
            b2: beta2 as f32,
        }
    }
}

/// Nadam's momentum at update `i`: `beta1 * (1 - 0.5 * 0.96^i)`.
fn nadam_schedule(beta1: f64, i: i32) -> f64 {
    beta1 * (1.0 - 0.5 * 0.96f64.powi(i))
}

/// Keras' Nadam: Adam's moments, with the gradient's share of the momentum taken at this
/// step's schedule and the moment's at the next one.
#[inline(always)]
fn nadam(
    param: &mut [f32],
    grad: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    k: NadamCoefficients,
    lr: f32,
    eps: f32,
) {
    for (((p, &g), m), v) in param.iter_mut().zip(grad).zip(m.iter_mut()).zip(v) {
        *m += (g - *m) * (1.0 - k.b1);
        *v += (g * g - *v) * (1.0 - k.b2);
        let m_hat = k.m * *m + k.g * g;
        let v_hat = *v / k.v;
        *p -= m_hat * lr / (v_hat.sqrt() + eps);
    }
}

/// The scalars of one Adam update, shared by every element.
#[derive(Clone, Copy)]
struct AdamCoefficients {
    alpha: f32,
    b1: f32,
    b2: f32,
    eps: f32,
    decay: f32,
    /// PyTorch's coupled L2 (`adam`'s `weight_decay`): `g += l2 * p`.
    l2: f32,
}

impl AdamCoefficients {
    /// The scalars of update `t` (from 1) at learning rate `lr`; `weight_decay` is 0 for Adam.
    fn new(lr: f32, t: i32, beta1: f64, beta2: f64, epsilon: f64, weight_decay: f64) -> Self {
        let alpha = (f64::from(lr) * (1.0 - beta2.powi(t)).sqrt() / (1.0 - beta1.powi(t))) as f32;
        let (b1, b2, eps) = (beta1 as f32, beta2 as f32, epsilon as f32);
        // 1 - wd * lr, applied before the moment update (no-op for Adam).
        let decay = 1.0 - (weight_decay as f32) * lr;
        AdamCoefficients {
            alpha,
            b1,
            b2,
            eps,
            decay,
            l2: 0.0,
        }
    }
}

/// Keras Adam: alpha = lr * sqrt(1 - b2^t) / (1 - b1^t); p -= alpha * m / (sqrt(v) + eps).
/// AdamW first decays the weights: p -= p * wd * lr.
#[inline(always)]
fn adam(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], k: AdamCoefficients) {
    let elements = p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut());
    // Two loops, so that plain Adam's stays the one it always was.
    if k.l2 == 0.0 {
        for (((p, &g), m), v) in elements {
            adam_element(p, g, m, v, &k);
        }
    } else {
        for (((p, &g), m), v) in elements {
            adam_element(p, g + k.l2 * *p, m, v, &k);
        }
    }
}

#[inline(always)]
fn adam_element(p: &mut f32, g: f32, m: &mut f32, v: &mut f32, k: &AdamCoefficients) {
    let mi = *m + (g - *m) * (1.0 - k.b1);
    let vi = *v + (g * g - *v) * (1.0 - k.b2);
    *m = mi;
    *v = vi;
    *p = *p * k.decay - k.alpha * mi / (vi.sqrt() + k.eps);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(kind: OptimizerKind, lr: f64, grads: &[[f32; 2]]) -> Vec<f32> {
        let mut state = OptimizerState::new(kind, lr, &[2]);
        let mut p = vec![1.0f32, -2.0];
        for g in grads {
            state.begin();
            state.apply(0, &mut p, g);
        }
        p
    }

    fn close(a: &[f32], b: &[f64]) {
        for (x, y) in a.iter().zip(b) {
            // f32 arithmetic against an f64 reference: a few ulps of 1.
            assert!((f64::from(*x) - y).abs() < 5e-6, "{a:?} vs {b:?}");
        }
    }

    // Reference values computed by hand from Keras 3's formulas (keras/src/optimizers/*.py).
    #[test]
    fn adam_matches_keras_formula() {
        let kind = OptimizerKind::Adam {
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-7,
            weight_decay: 0.0,
        };
        let p = run(kind, 0.1, &[[0.5, -1.0], [0.25, 2.0]]);
        // step 1: m = 0.1g, v = 0.001g^2, alpha = 0.1*sqrt(0.001)/0.1 → p -= sign(g)*0.1 (approx).
        let mut expect = [1.0f64, -2.0];
        let mut m = [0.0f64; 2];
        let mut v = [0.0f64; 2];
        for (t, g) in [[0.5f64, -1.0], [0.25, 2.0]].iter().enumerate() {
            let t = (t + 1) as i32;
            let alpha = 0.1 * (1.0 - 0.999f64.powi(t)).sqrt() / (1.0 - 0.9f64.powi(t));
            for i in 0..2 {
                m[i] += (g[i] - m[i]) * 0.1;
                v[i] += (g[i] * g[i] - v[i]) * 0.001;
                expect[i] -= alpha * m[i] / (v[i].sqrt() + 1e-7);
            }
        }
        close(&p, &expect);
        // First step moves each weight by about lr against the gradient's sign.
        let p1 = run(kind, 0.1, &[[0.5, -1.0]]);
        close(&p1, &[0.9, -1.9]);
    }

    #[test]
    fn sgd_momentum_and_nesterov_match_keras() {
        let plain = run(
            OptimizerKind::Sgd {
                momentum: 0.0,
                nesterov: false,
                weight_decay: 0.0,
            },
            0.1,
            &[[1.0, 2.0]],
        );
        close(&plain, &[0.9, -2.2]);
        // v1 = -0.1g1, p += v1; v2 = 0.9 v1 - 0.1 g2, p += v2.
        let m = run(
            OptimizerKind::Sgd {
                momentum: 0.9,
                nesterov: false,
                weight_decay: 0.0,
            },
            0.1,
            &[[1.0, 1.0], [1.0, 1.0]],
        );
        close(&m, &[1.0 - 0.1 - 0.19, -2.0 - 0.1 - 0.19]);
        // nesterov: p += 0.9 v - 0.1 g: step1 v=-0.1, p += -0.09-0.1.
        let n = run(
            OptimizerKind::Sgd {
                momentum: 0.9,
                nesterov: true,
                weight_decay: 0.0,
            },
            0.1,
            &[[1.0, 1.0]],
        );
        close(&n, &[1.0 - 0.19, -2.0 - 0.19]);
    }

    #[test]
    fn rmsprop_starts_its_average_at_zero() {
        let p = run(
            OptimizerKind::RmsProp {
                rho: 0.9,
                momentum: 0.0,
                epsilon: 1e-7,
            },
            0.01,
            &[[2.0, -2.0]],
        );
        // v = 0.1 * 4 = 0.4; p -= 0.01 * 2 / sqrt(0.4).
        let d = 0.01 * 2.0 / 0.4f64.sqrt();
        close(&p, &[1.0 - d, -2.0 + d]);
    }

    #[test]
    fn adamw_decays_weights_before_adam() {
        let kind = OptimizerKind::AdamW {
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-7,
            weight_decay: 0.5,
        };
        let p = run(kind, 0.1, &[[0.0, 0.0]]);
        // Zero gradient: only the decay p -= p*0.5*0.1.
        close(&p, &[0.95, -1.9]);
    }

    /// Three steps from `P0` with `GRADS`, as `bench/reference/optimizers.py` runs them.
    const P0: [f32; 4] = [1.0, -2.0, 0.5, 0.0];
    const GRADS: [[f32; 4]; 3] = [
        [0.5, -1.0, 0.25, 0.0],
        [0.25, 2.0, -0.5, 1e-3],
        [-1.5, 0.75, 0.125, -2.0],
    ];

    fn three_steps(kind: OptimizerKind, lr: f64) -> Vec<f32> {
        let mut state = OptimizerState::new(kind, lr, &[4]);
        let mut p = P0.to_vec();
        for g in &GRADS {
            state.begin();
            state.apply(0, &mut p, g);
        }
        p
    }

    /// Within 1e-5 (relative, or of 0.1) of Keras' result. Keras computes its scalars in
    /// float32, where `1 - 0.999^t` keeps only four or five digits; we compute them in f64,
    /// so the two differ by up to a few 1e-6 after three steps (the f64 evaluation of the
    /// same formulas lies as close to ours).
    fn matches(kind: OptimizerKind, lr: f64, reference: [f64; 4]) {
        let p = three_steps(kind, lr);
        for (x, y) in p.iter().zip(reference) {
            let tolerance = 1e-5 * y.abs().max(0.1);
            assert!(
                (f64::from(*x) - y).abs() <= tolerance,
                "{kind:?}: {p:?} vs {reference:?}"
            );
        }
    }

    // The numbers below are Keras 3.15's and torch 2.x's (bench/reference/optimizers.py).

    #[test]
    fn adadelta_matches_keras_and_torch() {
        let keras_defaults = OptimizerKind::Adadelta {
            rho: 0.95,
            epsilon: 1e-7,
        };
        matches(
            keras_defaults,
            0.001,
            [
                0.999_999_701_976_776_1,
                -2.000_001_430_511_474_6,
                0.499_999_821_186_065_7,
                8.164_960_831_891_221e-7,
            ],
        );
        // PyTorch's examples/mnist: Adadelta(lr=1.0), rho 0.9, eps 1e-6. Keras with the
        // same values gives the same bits as torch.optim.Adadelta.
        let torch_defaults = OptimizerKind::Adadelta {
            rho: 0.9,
            epsilon: 1e-6,
        };
        matches(
            torch_defaults,
            1.0,
            [
                0.999_328_613_281_25,
                -2.002_877_473_831_176_8,
                0.499_501_764_774_322_5,
                0.002_349_423_943_087_458_6,
            ],
        );
    }

    #[test]
    fn adagrad_matches_keras() {
        let kind = OptimizerKind::Adagrad {
            initial_accumulator_value: 0.1,
            epsilon: 1e-7,
        };
        matches(
            kind,
            0.001,
            [
                0.999_684_870_243_072_5,
                -2.000_247_240_066_528_3,
                0.499_967_277_050_018_3,
                0.000_984_567_217_528_82,
            ],
        );
        matches(
            kind,
            0.1,
            [
                0.968_487_381_935_119_6,
                -2.024_733_304_977_417,
                0.496_728_539_466_857_9,
                0.098_456_725_478_172_3,
            ],
        );
    }

    #[test]
    fn nadam_matches_keras() {
        let kind = OptimizerKind::Nadam {
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-7,
        };
        matches(
            kind,
            0.001,
            [
                0.999_379_515_647_888_2,
                -2.000_198_841_094_970_7,
                0.499_626_755_714_416_5,
                4.699_116_107_076_406_5e-5,
            ],
        );
        matches(
            kind,
            0.1,
            [
                0.937_953_114_509_582_5,
                -2.019_886_732_101_440_4,
                0.462_674_677_371_978_76,
                0.004_699_118_435_382_843,
            ],
        );
    }

    /// A restored state (slots and iterations, as a checkpoint holds them) continues with
    /// the same bits: Nadam's product is recomputed from the update count.
    #[test]
    fn nadam_resumes_exactly() {
        let kind = OptimizerKind::Nadam {
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-7,
        };
        let straight = three_steps(kind, 0.1);
        let mut state = OptimizerState::new(kind, 0.1, &[4]);
        let mut p = P0.to_vec();
        for g in &GRADS[..2] {
            state.begin();
            state.apply(0, &mut p, g);
        }
        let mut resumed = OptimizerState::new(kind, 0.1, &[4]);
        resumed.slots.clone_from(&state.slots);
        resumed.iterations = state.iterations;
        resumed.begin();
        resumed.apply(0, &mut p, &GRADS[2]);
        assert_eq!(p, straight);
    }

    #[test]
    fn adamax_matches_keras() {
        let kind = OptimizerKind::Adamax {
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-7,
        };
        matches(
            kind,
            0.1,
            [
                0.847_644_269_466_400_1,
                -1.961_082_816_123_962_4,
                0.437_997_013_330_459_6,
                -0.015_742_551_535_367_966,
            ],
        );
    }

    #[test]
    fn lion_matches_keras() {
        let kind = OptimizerKind::Lion {
            beta1: 0.9,
            beta2: 0.99,
        };
        // Each step moves every weight by exactly lr (or not at all, where the
        // interpolated momentum is 0): the last weight goes 0, -0.1, 0.
        matches(kind, 0.1, [0.9, -2.1, 0.4, 0.0]);
    }

    #[test]
    fn weight_decay_on_sgd_and_adam_is_torchs_coupled_l2() {
        // torch.optim.SGD(lr=0.1, momentum=0.9, weight_decay=0.1) gives the same numbers.
        let sgd = OptimizerKind::Sgd {
            momentum: 0.9,
            nesterov: false,
            weight_decay: 0.1,
        };
        matches(
            sgd,
            0.1,
            [
                0.913_523_972_034_454_3,
                -2.074_548_006_057_739_3,
                0.487_387_001_514_434_8,
                0.199_810_996_651_649_48,
            ],
        );
        // Keras' Adam fed `g + 0.1 * p`; torch.optim.Adam(weight_decay=0.1) differs only in
        // where epsilon goes (0.8304143, -1.9596426, 0.4261300, -0.0105504).
        let adam = OptimizerKind::Adam {
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-7,
            weight_decay: 0.1,
        };
        matches(
            adam,
            0.1,
            [
                0.830_416_619_777_679_4,
                -1.959_643_125_534_057_6,
                0.426_131_248_474_121_1,
                -0.010_325_983_166_694_641,
            ],
        );
    }

    #[test]
    fn adagrad_slots_start_at_the_initial_value() {
        let kind = OptimizerKind::Adagrad {
            initial_accumulator_value: 0.25,
            epsilon: 1e-7,
        };
        let state = OptimizerState::new(kind, 0.1, &[3]);
        assert_eq!(state.slots[0], vec![vec![0.25; 3]]);
    }
}
