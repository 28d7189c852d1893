//! The trainable parameters as the trainer holds them (raw, before
//! activation), the deformation that offsets them per frame, and its
//! backward.

use glam::DVec3;
use synctalk_gaussians::{Deformation, Gaussians, DEFORM_CHANNELS};
use synctalk_reference::RawGaussian;

use super::CpuError;

/// SH coefficients per colour channel the parameters hold (degree 1).
pub const SH_COEFFS: usize = 4;

/// Highest SH degree the CPU reference differentiates.
pub const MAX_SH_DEGREE: u32 = 1;

/// Raw per-Gaussian parameters and deformation bases, in f64.
///
/// The same type holds gradients (see [`Gradients`]): every field then is
/// `dL/d` that field.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Params {
    /// SH degree used by the forward (0 or 1). At degree 0 the coefficients
    /// 1..4 are held but unused (zero gradient), as when torch_trainer.py warms up.
    pub sh_degree: u32,
    /// Number of deformation bases K.
    pub num_bases: usize,
    /// Centres.
    pub means: Vec<[f64; 3]>,
    /// Quaternions `(w, x, y, z)`, unnormalised.
    pub quats: Vec<[f64; 4]>,
    /// Natural logarithms of the axis scales.
    pub log_scales: Vec<[f64; 3]>,
    /// Opacity logits.
    pub opacity_logits: Vec<f64>,
    /// SH coefficients, DC first, RGB: `sh[i][k][channel]`.
    pub sh: Vec<[[f64; 3]; SH_COEFFS]>,
    /// Deformation bases, `bases[i * num_bases + k]`: channels 0..3
    /// position, 3..7 quaternion, 7..10 log-scale, 10 opacity logit
    /// (torch_trainer.py's `[n, K, 11]` layout).
    pub bases: Vec<[f64; DEFORM_CHANNELS]>,
}

/// Gradients of a scalar loss.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Gradients {
    /// `dL/d` every per-Gaussian parameter and basis.
    pub params: Params,
    /// `dL/dw`, the K deformation coefficients.
    pub coeffs: Vec<f64>,
    /// `dL/d` the 6-vector pose correction (in `POSE_UNITS`).
    pub pose: [f64; 6],
}

impl Params {
    /// Number of Gaussians.
    pub fn len(&self) -> usize {
        self.means.len()
    }

    /// Whether there are no Gaussians.
    pub fn is_empty(&self) -> bool {
        self.means.is_empty()
    }

    /// All zeros, with this one's sizes (the gradient accumulator).
    pub fn zeros_like(&self) -> Self {
        let n = self.len();
        Self {
            sh_degree: self.sh_degree,
            num_bases: self.num_bases,
            means: vec![[0.0; 3]; n],
            quats: vec![[0.0; 4]; n],
            log_scales: vec![[0.0; 3]; n],
            opacity_logits: vec![0.0; n],
            sh: vec![[[0.0; 3]; SH_COEFFS]; n],
            bases: vec![[0.0; DEFORM_CHANNELS]; n * self.num_bases],
        }
    }

    /// The parameters of a cloud (SH degree 0 or 1) and its optional basis.
    pub fn from_cloud(g: &Gaussians, deform: Option<&Deformation>) -> Result<Self, CpuError> {
        if g.sh_degree > MAX_SH_DEGREE {
            return Err(CpuError::ShDegree(g.sh_degree));
        }
        g.validate()?;
        let n = g.len();
        let coeffs = g.sh_coeffs();
        let num_bases = deform.map_or(0, |d| d.num_bases);
        if let Some(d) = deform {
            if !d.fits(n) {
                return Err(CpuError::Length {
                    what: "deformation bases",
                    got: d.bases.len(),
                    expected: d.num_bases * DEFORM_CHANNELS * n,
                });
            }
        }
        let f = |v: [f32; 3]| v.map(f64::from);
        let mut bases = vec![[0.0; DEFORM_CHANNELS]; n * num_bases];
        if let Some(d) = deform {
            for (j, b) in bases.iter_mut().enumerate() {
                let (i, k) = (j / num_bases, j % num_bases);
                for (c, v) in b.iter_mut().enumerate() {
                    *v = f64::from(d.bases[(k * DEFORM_CHANNELS + c) * n + i]);
                }
            }
        }
        Ok(Self {
            sh_degree: g.sh_degree,
            num_bases,
            means: g.positions.iter().map(|&p| f(p)).collect(),
            quats: g.rotations.iter().map(|q| q.map(f64::from)).collect(),
            log_scales: g.log_scales.iter().map(|&s| f(s)).collect(),
            opacity_logits: g.opacity_logits.iter().map(|&o| f64::from(o)).collect(),
            sh: (0..n)
                .map(|i| {
                    std::array::from_fn(|k| {
                        if k < coeffs {
                            f(g.sh[i * coeffs + k])
                        } else {
                            [0.0; 3]
                        }
                    })
                })
                .collect(),
            bases,
        })
    }

    /// Checks that the arrays agree, the SH degree is supported and `coeffs`
    /// holds one coefficient per basis.
    pub fn validate(&self, coeffs: &[f64]) -> Result<(), CpuError> {
        if self.sh_degree > MAX_SH_DEGREE {
            return Err(CpuError::ShDegree(self.sh_degree));
        }
        let n = self.len();
        for (what, got, expected) in [
            ("quats", self.quats.len(), n),
            ("log_scales", self.log_scales.len(), n),
            ("opacity_logits", self.opacity_logits.len(), n),
            ("sh", self.sh.len(), n),
            ("bases", self.bases.len(), n * self.num_bases),
            ("deformation coefficients", coeffs.len(), self.num_bases),
        ] {
            if got != expected {
                return Err(CpuError::Length {
                    what,
                    got,
                    expected,
                });
            }
        }
        Ok(())
    }

    /// The SH coefficients of Gaussian `i` the forward uses (degree 0: DC only).
    pub fn sh_used(&self, i: usize) -> &[[f64; 3]] {
        let used = if self.sh_degree == 0 { 1 } else { SH_COEFFS };
        &self.sh[i][..used]
    }

    /// Gaussian `i`'s raw parameters offset by its bases weighted by
    /// `coeffs`, summed in the order the reference renderer sums them.
    pub fn deformed(&self, i: usize, coeffs: &[f64]) -> RawGaussian {
        let k_n = self.num_bases;
        let off = |c: usize| -> f64 {
            (0..k_n)
                .map(|k| coeffs[k] * self.bases[i * k_n + k][c])
                .sum()
        };
        let [px, py, pz] = self.means[i];
        RawGaussian {
            position: DVec3::new(px, py, pz) + DVec3::new(off(0), off(1), off(2)),
            rotation: std::array::from_fn(|k| self.quats[i][k] + off(3 + k)),
            log_scale: std::array::from_fn(|k| self.log_scales[i][k] + off(7 + k)),
            opacity_logit: self.opacity_logits[i] + off(10),
        }
    }

    /// Accumulates the backward of [`Params::deformed`]: `raw` is `dL/d` the
    /// deformed parameters of Gaussian `i`; adds to `self` (a gradient) and
    /// to `grad_coeffs`.
    pub fn add_deformed_grad(
        &mut self,
        i: usize,
        raw: &RawGaussian,
        params: &Params,
        coeffs: &[f64],
        grad_coeffs: &mut [f64],
    ) {
        let mut flat = [0.0; DEFORM_CHANNELS];
        flat[..3].copy_from_slice(&raw.position.to_array());
        flat[3..7].copy_from_slice(&raw.rotation);
        flat[7..10].copy_from_slice(&raw.log_scale);
        flat[10] = raw.opacity_logit;
        for c in 0..3 {
            self.means[i][c] += flat[c];
            self.log_scales[i][c] += flat[7 + c];
        }
        for c in 0..4 {
            self.quats[i][c] += flat[3 + c];
        }
        self.opacity_logits[i] += flat[10];
        let k_n = self.num_bases;
        for k in 0..k_n {
            let b = &params.bases[i * k_n + k];
            let g = &mut self.bases[i * k_n + k];
            for c in 0..DEFORM_CHANNELS {
                g[c] += coeffs[k] * flat[c];
                grad_coeffs[k] += b[c] * flat[c];
            }
        }
    }

    /// Every parameter group by name, flattened: means, quats, log_scales,
    /// opacity_logits, sh, bases.
    pub fn groups(&self) -> [(&'static str, &[f64]); 6] {
        [
            ("means", self.means.as_flattened()),
            ("quats", self.quats.as_flattened()),
            ("log_scales", self.log_scales.as_flattened()),
            ("opacity_logits", &self.opacity_logits),
            ("sh", self.sh.as_flattened().as_flattened()),
            ("bases", self.bases.as_flattened()),
        ]
    }

    /// [`Params::groups`], mutable.
    pub fn groups_mut(&mut self) -> [(&'static str, &mut [f64]); 6] {
        [
            ("means", self.means.as_flattened_mut()),
            ("quats", self.quats.as_flattened_mut()),
            ("log_scales", self.log_scales.as_flattened_mut()),
            ("opacity_logits", &mut self.opacity_logits),
            ("sh", self.sh.as_flattened_mut().as_flattened_mut()),
            ("bases", self.bases.as_flattened_mut()),
        ]
    }
}

/// A zero gradient of the deformed parameters.
pub(crate) fn zero_raw() -> RawGaussian {
    RawGaussian {
        position: DVec3::ZERO,
        rotation: [0.0; 4],
        log_scale: [0.0; 3],
        opacity_logit: 0.0,
    }
}
