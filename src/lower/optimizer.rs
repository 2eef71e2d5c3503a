//! Optimizer updates with Keras' exact formulas (Keras 3), applied per
//! parameter tensor on host slices. The slot buffers (moments, velocities)
//! are ours, so they can be checkpointed.
//!
//! Differences from dfdx's kernels, on purpose: Keras' Adam adds epsilon to
//! `sqrt(v)` before bias correction of the step size (dfdx adds it to
//! `sqrt(v_hat)`); Keras' RMSprop starts its square average at 0 (dfdx at 1).

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
}

impl OptimizerState {
    pub fn new(kind: OptimizerKind, lr: f64, sizes: &[usize]) -> Self {
        let slots = kind.slots();
        OptimizerState {
            kind,
            lr,
            iterations: 0,
            slots: sizes.iter().map(|&n| vec![vec![0.0; n]; slots]).collect(),
        }
    }

    /// Starts an update: advances the iteration count shared by all parameters.
    pub fn begin(&mut self) {
        self.iterations += 1;
    }

    /// Applies one parameter's gradient.
    pub fn apply(&mut self, index: usize, param: &mut [f32], grad: &[f32]) {
        let lr = self.lr as f32;
        let t = self.iterations as i32;
        let slots = &mut self.slots[index];
        match self.kind {
            OptimizerKind::Sgd { momentum, nesterov } => {
                let m = momentum as f32;
                if m == 0.0 {
                    for (p, g) in param.iter_mut().zip(grad) {
                        *p -= lr * g;
                    }
                } else {
                    // v = m*v - lr*g; p += v (nesterov: p += m*v - lr*g).
                    for ((p, g), v) in param.iter_mut().zip(grad).zip(slots[0].iter_mut()) {
                        *v = m * *v - lr * g;
                        *p += if nesterov { m * *v - lr * g } else { *v };
                    }
                }
            }
            OptimizerKind::Adam {
                beta1,
                beta2,
                epsilon,
            } => {
                let [m, v] = &mut slots[..] else {
                    unreachable!("adam keeps two slots")
                };
                let k = AdamCoefficients::new(lr, t, beta1, beta2, epsilon, 0.0);
                adam(param, grad, m, v, k);
            }
            OptimizerKind::AdamW {
                beta1,
                beta2,
                epsilon,
                weight_decay,
            } => {
                let [m, v] = &mut slots[..] else {
                    unreachable!("adamw keeps two slots")
                };
                let k = AdamCoefficients::new(lr, t, beta1, beta2, epsilon, weight_decay);
                adam(param, grad, m, v, k);
            }
            OptimizerKind::RmsProp {
                rho,
                momentum,
                epsilon,
            } => {
                let (rho, mom, eps) = (rho as f32, momentum as f32, epsilon as f32);
                let [s1, s2] = &mut slots[..] else {
                    unreachable!("rmsprop keeps two slots")
                };
                for (i, (p, g)) in param.iter_mut().zip(grad).enumerate() {
                    let v = &mut s1[i];
                    *v = rho * *v + (1.0 - rho) * g * g;
                    let step = lr * g / (v.sqrt() + eps);
                    if mom > 0.0 {
                        let m = &mut s2[i];
                        *m = mom * *m + step;
                        *p -= *m;
                    } else {
                        *p -= step;
                    }
                }
            }
        }
    }
}

/// Keras Adam: alpha = lr * sqrt(1 - b2^t) / (1 - b1^t); p -= alpha * m / (sqrt(v) + eps).
/// AdamW first decays the weights: p -= p * wd * lr.
///
/// Elementwise, so it is split into chunks over the worker threads: the
/// result does not depend on the split.
fn adam(param: &mut [f32], grad: &[f32], m: &mut [f32], v: &mut [f32], k: AdamCoefficients) {
    const CHUNK: usize = 16 * 1024;
    let threads = rayon::current_num_threads();
    if param.len() < 2 * CHUNK || threads == 1 {
        adam_chunk(param, grad, m, v, k);
        return;
    }
    // Piece i always goes to thread i (see `ops::cpu::affinity`): Adam's moments never leave that
    // core's cache for the other's, and the dense layer's weight gradient is cut the same way.
    let per = param.len().div_ceil(threads);
    let pieces: Vec<_> = param
        .chunks_mut(per)
        .zip(grad.chunks(per))
        .zip(m.chunks_mut(per))
        .zip(v.chunks_mut(per))
        .collect();
    crate::ops::cpu::affinity::on_fixed_threads(pieces, |_, (((p, g), m), v)| {
        adam_chunk(p, g, m, v, k);
    });
}

/// The scalars of one Adam update, shared by every element.
#[derive(Clone, Copy)]
struct AdamCoefficients {
    alpha: f32,
    b1: f32,
    b2: f32,
    eps: f32,
    decay: f32,
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
        }
    }
}

// Square root and division dominate the update; AVX2 does them 8 wide instead of SSE's 4.
// Both are correctly rounded and nothing is fused, so both builds give the same bits.
avx2_or_portable!(
    fn adam_chunk(
        p: &mut [f32],
        g: &[f32],
        m: &mut [f32],
        v: &mut [f32],
        k: AdamCoefficients,
    ) => adam_chunk_in
);

#[inline(always)]
fn adam_chunk_in(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], k: AdamCoefficients) {
    let AdamCoefficients {
        alpha,
        b1,
        b2,
        eps,
        decay,
    } = k;
    for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        let mi = *m + (g - *m) * (1.0 - b1);
        let vi = *v + (g * g - *v) * (1.0 - b2);
        *m = mi;
        *v = vi;
        *p = *p * decay - alpha * mi / (vi.sqrt() + eps);
    }
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
}
