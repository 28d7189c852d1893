//! The parameter-only terms of torch_trainer.py's loss (no image involved), their
//! gradients, and the f64 Adam step the GPU optimiser is tested against.
//!
//! ```text
//! R = reg_w mean|bases|                         (the controller's L2 aside)
//!   + 0.01 mean sigmoid(opacity_logits) + 0.01 mean exp(log_scales)
//!   + 1e-3 |d|²
//! ```
//! on the undeformed parameters and this frame's pose 6-vector `d`; every
//! gradient is elementwise. `sign(0) = 0` for `|bases|` as torch.

use super::params::{Gradients, Params};

/// Weight of the MCMC opacity and scale terms (torch_trainer.py's `mcmc`).
pub const MCMC_WEIGHT: f64 = 0.01;
/// Weight of the pose term.
pub const POSE_WEIGHT: f64 = 1e-3;

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// `R` (with `reg_w` the `--reg-weight`, default 1e-3) and its gradient
/// (SH and `dL/dw` zero).
pub fn regularisers(params: &Params, pose: &[f64; 6], reg_w: f64) -> (f64, Gradients) {
    let n = params.len();
    let mut g = Gradients {
        params: params.zeros_like(),
        coeffs: vec![0.0; params.num_bases],
        pose: [0.0; 6],
    };
    let mut value = 0.0;
    if n > 0 {
        let c = MCMC_WEIGHT / n as f64;
        for (o, d) in params
            .opacity_logits
            .iter()
            .zip(&mut g.params.opacity_logits)
        {
            let s = sigmoid(*o);
            value += c * s;
            *d = c * s * (1.0 - s);
        }
        let c = MCMC_WEIGHT / (3 * n) as f64;
        for (l, d) in params.log_scales.iter().zip(&mut g.params.log_scales) {
            for k in 0..3 {
                let e = l[k].exp();
                value += c * e;
                d[k] = c * e;
            }
        }
    }
    let words = params.bases.len() * params.bases.first().map_or(0, |b| b.len());
    if words > 0 {
        let c = reg_w / words as f64;
        for (b, d) in params.bases.iter().zip(&mut g.params.bases) {
            for (v, dv) in b.iter().zip(d.iter_mut()) {
                value += c * v.abs();
                *dv = c * if *v > 0.0 {
                    1.0
                } else if *v < 0.0 {
                    -1.0
                } else {
                    0.0
                };
            }
        }
    }
    for (d, gd) in pose.iter().zip(&mut g.pose) {
        value += POSE_WEIGHT * d * d;
        *gd = 2.0 * POSE_WEIGHT * d;
    }
    (value, g)
}

/// Adam's hyper-parameters for one parameter group (torch defaults but
/// `lr` and `eps`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f64,
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Added to the bias-corrected root of the second moment.
    pub eps: f64,
}

impl AdamConfig {
    /// torch's betas (0.9, 0.999) with `lr` and `eps`.
    pub fn new(lr: f64, eps: f64) -> Self {
        Self {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps,
        }
    }
}

/// One torch Adam step (no weight decay, no AMSGrad) of `p` with gradient
/// `g` and moments `m`, `v` at step `t` (1 for the first).
pub fn adam_step(cfg: &AdamConfig, t: u32, p: &mut f64, g: f64, m: &mut f64, v: &mut f64) {
    *m = cfg.beta1 * *m + (1.0 - cfg.beta1) * g;
    *v = cfg.beta2 * *v + (1.0 - cfg.beta2) * g * g;
    let bc1 = 1.0 - cfg.beta1.powi(t as i32);
    let bc2 = 1.0 - cfg.beta2.powi(t as i32);
    let denom = v.sqrt() / bc2.sqrt() + cfg.eps;
    *p -= cfg.lr / bc1 * *m / denom;
}
