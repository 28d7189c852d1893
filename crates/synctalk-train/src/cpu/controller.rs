//! The controller MLP of torch_trainer.py (`build`): `Linear(D → H)`, ReLU,
//! `Linear(H → H)`, ReLU, `Linear(H → K)` on the normalised condition
//! ([`Normalizer`], torch_trainer.py's), giving the deformation coefficients `w`;
//! its backward from `dL/dw`, its L2 term
//! `reg_w · 1e-2 · Σ_θ mean θ²`, and the per-frame pose Adam rule.

use super::regular::{adam_step, AdamConfig};
use super::CpuError;

/// The L2 weight of the controller's parameters inside torch_trainer.py's `reg`.
pub const CONTROLLER_L2: f64 = 1e-2;

/// torch_trainer.py's condition normalisation: `(x − mean) · scale`, with the mean
/// and `scale = 1 / (std + 0.05)` (population std, numpy's default) over
/// the training frames' conditions.
#[derive(Clone, Debug, PartialEq)]
pub struct Normalizer {
    /// Per-channel mean.
    pub mean: Vec<f64>,
    /// Per-channel `1 / (std + 0.05)`.
    pub scale: Vec<f64>,
}

impl Normalizer {
    /// From the training frames' conditions (each `dim` long; at least one).
    pub fn fit(conds: &[Vec<f64>]) -> Result<Self, CpuError> {
        let dim = conds.first().map_or(0, Vec::len);
        if conds.is_empty() {
            return Err(CpuError::Length {
                what: "conditions",
                got: 0,
                expected: 1,
            });
        }
        for c in conds {
            if c.len() != dim {
                return Err(CpuError::Length {
                    what: "condition",
                    got: c.len(),
                    expected: dim,
                });
            }
        }
        let t = conds.len() as f64;
        let mean: Vec<f64> = (0..dim)
            .map(|d| conds.iter().map(|c| c[d]).sum::<f64>() / t)
            .collect();
        let scale = (0..dim)
            .map(|d| {
                let var = conds.iter().map(|c| (c[d] - mean[d]).powi(2)).sum::<f64>() / t;
                1.0 / (var.sqrt() + 0.05)
            })
            .collect();
        Ok(Self { mean, scale })
    }

    /// The normalised condition.
    pub fn apply(&self, cond: &[f64]) -> Vec<f64> {
        cond.iter()
            .zip(self.mean.iter().zip(&self.scale))
            .map(|(&x, (&m, &s))| (x - m) * s)
            .collect()
    }

    /// The condition a normalised one came from: [`Normalizer::apply`]
    /// undone.
    pub fn unapply(&self, z: &[f64]) -> Vec<f64> {
        z.iter()
            .zip(self.mean.iter().zip(&self.scale))
            .map(|(&v, (&m, &s))| v / s + m)
            .collect()
    }
}

/// The controller's parameters (or gradients of the same shape), torch's
/// layout: weights `[out][in]` row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Controller {
    /// Condition channels `D`.
    pub input: usize,
    /// Hidden width `H`.
    pub hidden: usize,
    /// Bases `K`.
    pub bases: usize,
    /// `W1` (`H × D`), `b1` (`H`), `W2` (`H × H`), `b2` (`H`), `W3`
    /// (`K × H`), `b3` (`K`), concatenated: [`Controller::flat`]'s order,
    /// the GPU buffer's.
    pub theta: Vec<f64>,
}

/// The activations of one forward.
#[derive(Clone, Debug, PartialEq)]
pub struct ControllerForward {
    /// The (normalised) input.
    pub x: Vec<f64>,
    /// First hidden layer after ReLU.
    pub h1: Vec<f64>,
    /// Second hidden layer after ReLU.
    pub h2: Vec<f64>,
    /// The coefficients `w`.
    pub w: Vec<f64>,
}

impl Controller {
    /// All zeros.
    pub fn zeros(input: usize, hidden: usize, bases: usize) -> Self {
        let len = Self::len_of(input, hidden, bases);
        Self {
            input,
            hidden,
            bases,
            theta: vec![0.0; len],
        }
    }

    /// Words of the flat parameter vector.
    pub fn len_of(input: usize, hidden: usize, bases: usize) -> usize {
        hidden * input + hidden + hidden * hidden + hidden + bases * hidden + bases
    }

    /// The six tensors' `(offset, length)` in [`Controller::theta`]:
    /// `W1, b1, W2, b2, W3, b3`.
    pub fn segments(&self) -> [(usize, usize); 6] {
        let (d, h, k) = (self.input, self.hidden, self.bases);
        let lens = [h * d, h, h * h, h, k * h, k];
        let mut out = [(0, 0); 6];
        let mut off = 0;
        for (o, &l) in out.iter_mut().zip(&lens) {
            *o = (off, l);
            off += l;
        }
        out
    }

    /// The flat parameters.
    pub fn flat(&self) -> &[f64] {
        &self.theta
    }

    fn seg(&self, i: usize) -> &[f64] {
        let (o, l) = self.segments()[i];
        &self.theta[o..o + l]
    }

    /// `w = W3 relu(W2 relu(W1 x + b1) + b2) + b3` for the normalised
    /// condition `x` (`input` long).
    pub fn forward(&self, x: &[f64]) -> Result<ControllerForward, CpuError> {
        if x.len() != self.input {
            return Err(CpuError::Length {
                what: "controller input",
                got: x.len(),
                expected: self.input,
            });
        }
        if self.theta.len() != Self::len_of(self.input, self.hidden, self.bases) {
            return Err(CpuError::Length {
                what: "controller parameters",
                got: self.theta.len(),
                expected: Self::len_of(self.input, self.hidden, self.bases),
            });
        }
        let dense = |w: &[f64], b: &[f64], x: &[f64], relu: bool| -> Vec<f64> {
            b.iter()
                .enumerate()
                .map(|(o, &bo)| {
                    let z = bo
                        + w[o * x.len()..(o + 1) * x.len()]
                            .iter()
                            .zip(x)
                            .map(|(a, b)| a * b)
                            .sum::<f64>();
                    if relu {
                        z.max(0.0)
                    } else {
                        z
                    }
                })
                .collect()
        };
        let h1 = dense(self.seg(0), self.seg(1), x, true);
        let h2 = dense(self.seg(2), self.seg(3), &h1, true);
        let w = dense(self.seg(4), self.seg(5), &h2, false);
        Ok(ControllerForward {
            x: x.to_vec(),
            h1,
            h2,
            w,
        })
    }

    /// `dL/dθ` from `dL/dw` (`bases` long) through the forward `f`, torch's
    /// ReLU rule (no gradient where the pre-activation is ≤ 0).
    pub fn backward(&self, f: &ControllerForward, dw: &[f64]) -> Result<Controller, CpuError> {
        if dw.len() != self.bases {
            return Err(CpuError::Length {
                what: "dL/dw",
                got: dw.len(),
                expected: self.bases,
            });
        }
        let (h, d) = (self.hidden, self.input);
        let mut g = Self::zeros(self.input, self.hidden, self.bases);
        let seg = self.segments();
        let w2 = self.seg(2);
        let w3 = self.seg(4);
        // Layer 3.
        for (k, &gk) in dw.iter().enumerate() {
            for (j, &a) in f.h2.iter().enumerate() {
                g.theta[seg[4].0 + k * h + j] = gk * a;
            }
            g.theta[seg[5].0 + k] = gk;
        }
        let dz2: Vec<f64> = (0..h)
            .map(|j| {
                let s: f64 = (0..self.bases).map(|k| w3[k * h + j] * dw[k]).sum();
                if f.h2[j] > 0.0 {
                    s
                } else {
                    0.0
                }
            })
            .collect();
        for (j, &gj) in dz2.iter().enumerate() {
            for (i, &a) in f.h1.iter().enumerate() {
                g.theta[seg[2].0 + j * h + i] = gj * a;
            }
            g.theta[seg[3].0 + j] = gj;
        }
        let dz1: Vec<f64> = (0..h)
            .map(|i| {
                let s: f64 = (0..h).map(|j| w2[j * h + i] * dz2[j]).sum();
                if f.h1[i] > 0.0 {
                    s
                } else {
                    0.0
                }
            })
            .collect();
        for (i, &gi) in dz1.iter().enumerate() {
            for (c, &a) in f.x.iter().enumerate() {
                g.theta[seg[0].0 + i * d + c] = gi * a;
            }
            g.theta[seg[1].0 + i] = gi;
        }
        Ok(g)
    }

    /// torch_trainer.py's controller term of the loss, `reg_w · 1e-2 · Σ_θ mean θ²`
    /// over the six tensors, and its gradient.
    pub fn l2(&self, reg_w: f64) -> (f64, Controller) {
        let mut g = Self::zeros(self.input, self.hidden, self.bases);
        let mut loss = 0.0;
        for (o, l) in self.segments() {
            let c = reg_w * CONTROLLER_L2 / l.max(1) as f64;
            for i in o..o + l {
                loss += c * self.theta[i] * self.theta[i];
                g.theta[i] = 2.0 * c * self.theta[i];
            }
        }
        (loss, g)
    }

    /// The L2 gradient's factor per tensor, `2 reg_w 1e-2 / numel`.
    pub fn l2_factors(&self, reg_w: f64) -> [f64; 6] {
        self.segments()
            .map(|(_, l)| 2.0 * reg_w * CONTROLLER_L2 / l.max(1) as f64)
    }
}

/// torch_trainer.py's per-frame pose step: one torch Adam step over all `T` rows of
/// the pose corrections, where only `frame`'s row has a gradient (`grad`;
/// the other rows' are zero, so their moments decay), after which every
/// other row is put back: only `frame`'s correction moves. `t` is the pose
/// optimiser's step (1 for its first; one counter for all rows).
#[allow(clippy::too_many_arguments)]
pub fn pose_adam_step(
    cfg: &AdamConfig,
    t: u32,
    poses: &mut [[f64; 6]],
    m: &mut [[f64; 6]],
    v: &mut [[f64; 6]],
    frame: usize,
    grad: &[f64; 6],
) -> Result<(), CpuError> {
    for (what, got) in [("pose moments", m.len()), ("pose moments", v.len())] {
        if got != poses.len() {
            return Err(CpuError::Length {
                what,
                got,
                expected: poses.len(),
            });
        }
    }
    if frame >= poses.len() {
        return Err(CpuError::Length {
            what: "pose frame index",
            got: frame,
            expected: poses.len(),
        });
    }
    for (r, ((p, mr), vr)) in poses
        .iter_mut()
        .zip(m.iter_mut())
        .zip(v.iter_mut())
        .enumerate()
    {
        for c in 0..6 {
            let g = if r == frame { grad[c] } else { 0.0 };
            let mut q = p[c];
            adam_step(cfg, t, &mut q, g, &mut mr[c], &mut vr[c]);
            if r == frame {
                p[c] = q;
            }
        }
    }
    Ok(())
}
