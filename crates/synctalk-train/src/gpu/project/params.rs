//! The trainer's parameters and their gradients in the kernels' layouts.

use synctalk_gaussians::DEFORM_CHANNELS;

use super::{POSE_WORDS, SH_FLOATS, VIEW_WORDS};
use crate::cpu;
use crate::gpu::GpuError;

/// The trainer's parameters in the kernels' layouts (f32): the renderer's
/// `gauss` (three vec4 per Gaussian: position and opacity logit, quaternion
/// `(w, x, y, z)`, log-scale and 0) and bases (`[basis][channel][gaussian]`),
/// and f32 SH ([`SH_FLOATS`] per Gaussian). The same type holds their
/// gradients.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GpuParams {
    /// SH degree used (0 or 1).
    pub sh_degree: u32,
    /// Deformation bases `K`.
    pub num_bases: usize,
    /// `3 n` vec4.
    pub gauss: Vec<[f32; 4]>,
    /// `12 n` floats.
    pub sh: Vec<f32>,
    /// `11 K n` floats.
    pub bases: Vec<f32>,
}

impl GpuParams {
    /// `p` rounded to f32.
    pub fn from_cpu(p: &cpu::Params) -> Self {
        let n = p.len();
        let k_n = p.num_bases;
        let f = |v: f64| v as f32;
        let mut gauss = Vec::with_capacity(3 * n);
        let mut sh = Vec::with_capacity(SH_FLOATS * n);
        for i in 0..n {
            let [x, y, z] = p.means[i];
            let [lx, ly, lz] = p.log_scales[i];
            gauss.push([f(x), f(y), f(z), f(p.opacity_logits[i])]);
            gauss.push(p.quats[i].map(f));
            gauss.push([f(lx), f(ly), f(lz), 0.0]);
            sh.extend(p.sh[i].as_flattened().iter().map(|&v| f(v)));
        }
        let mut bases = vec![0f32; DEFORM_CHANNELS * k_n * n];
        for (j, b) in p.bases.iter().enumerate() {
            let (i, k) = (j / k_n, j % k_n);
            for (c, &v) in b.iter().enumerate() {
                bases[(k * DEFORM_CHANNELS + c) * n + i] = f(v);
            }
        }
        Self {
            sh_degree: p.sh_degree,
            num_bases: k_n,
            gauss,
            sh,
            bases,
        }
    }

    /// These values in f64 as [`cpu::Params`].
    pub fn to_cpu(&self) -> cpu::Params {
        let n = self.len();
        let k_n = self.num_bases;
        let d = f64::from;
        let mut out = cpu::Params {
            sh_degree: self.sh_degree,
            num_bases: k_n,
            ..Default::default()
        };
        for i in 0..n {
            let [g0, g1, g2] =
                [0, 1, 2].map(|r| self.gauss.get(3 * i + r).copied().unwrap_or_default());
            out.means.push([d(g0[0]), d(g0[1]), d(g0[2])]);
            out.opacity_logits.push(d(g0[3]));
            out.quats.push(g1.map(d));
            out.log_scales.push([d(g2[0]), d(g2[1]), d(g2[2])]);
            out.sh.push(std::array::from_fn(|k| {
                std::array::from_fn(|c| {
                    self.sh
                        .get(i * SH_FLOATS + 3 * k + c)
                        .copied()
                        .map_or(0.0, d)
                })
            }));
        }
        out.bases = (0..n * k_n)
            .map(|j| {
                let (i, k) = (j / k_n, j % k_n);
                std::array::from_fn(|c| {
                    self.bases
                        .get((k * DEFORM_CHANNELS + c) * n + i)
                        .copied()
                        .map_or(0.0, d)
                })
            })
            .collect();
        out
    }

    /// Number of Gaussians (`gauss.len() / 3`).
    pub fn len(&self) -> usize {
        self.gauss.len() / 3
    }

    /// Whether there are no Gaussians.
    pub fn is_empty(&self) -> bool {
        self.gauss.is_empty()
    }

    /// Checks the arrays' lengths against each other.
    pub fn validate(&self) -> Result<(), GpuError> {
        let n = self.len();
        for (what, got, expected) in [
            ("gauss (vec4)", self.gauss.len(), 3 * n),
            ("sh", self.sh.len(), SH_FLOATS * n),
            (
                "bases",
                self.bases.len(),
                DEFORM_CHANNELS * self.num_bases * n,
            ),
        ] {
            if got != expected {
                return Err(GpuError::Length {
                    what,
                    got,
                    expected,
                });
            }
        }
        Ok(())
    }
}

/// What the projection backward produces.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GpuGradients {
    /// `dL/d` every parameter (base values, SH, bases).
    pub params: GpuParams,
    /// `dL/dw`, one per basis.
    pub coeffs: Vec<f32>,
    /// `dL/d` the refined view: rotation (column-major) and translation.
    pub view: [f32; VIEW_WORDS],
    /// `dL/d` the pose 6-vector.
    pub pose: [f32; POSE_WORDS],
}

impl GpuGradients {
    /// In f64 as the oracle's [`cpu::Gradients`].
    pub fn to_cpu(&self) -> cpu::Gradients {
        cpu::Gradients {
            params: self.params.to_cpu(),
            coeffs: self.coeffs.iter().map(|&v| f64::from(v)).collect(),
            pose: self.pose.map(f64::from),
        }
    }
}
