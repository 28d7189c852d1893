//! How far a trained deformation departs from the tracked face's motion:
//! a measure for choosing among training settings (issue 20), on any run
//! whose dataset has tracked landmarks, with the mesh prior or without.
//!
//! The deformation moves each Gaussian's position by `Δμ_i(z) = Σ_k w_k(z)
//! B_k,i` for the normalised condition `z`; the tracked face
//! ([`super::mesh_prior::FaceMotion`]) says how the face near it moves,
//! `M_i z`. Their root-mean-square difference, weighted by each Gaussian's
//! trust (its nearness to the face), is taken over three sets of
//! conditions: the training frames' own; recombined ones, each channel's
//! value taken from another training frame (each blendshape within its
//! trained range, the combination new: what a speech asks for, as the
//! candidate demo's streak showed, docs/portrait-quality.md); and the
//! training frames' moved 1.5 times as far from the mean. `synctalk
//! face-motion` takes it to a portrait file and a speech's own conditions.

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use serde::Serialize;

use super::mesh_prior::{fit_face, FaceMotion};
use super::{Settings, TrainData};
use crate::cpu::{Controller, Normalizer};
use crate::gpu::{ControllerState, StepState};

/// Recombined and extrapolated conditions drawn.
const DRAWN: usize = 128;

/// The deformation against the tracked face, millimetres (trust-weighted
/// root-mean-square of `Δμ_i − M_i z` over the Gaussians and conditions).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct FaceAgreement {
    /// At the training frames' conditions.
    pub trained_mm: f64,
    /// At recombined conditions (each channel from another training frame).
    pub recombined_mm: f64,
    /// At the training frames' conditions 1.5 times as far from the mean.
    pub extrapolated_mm: f64,
    /// The Gaussians' mean trust (how much of the head lies near the face).
    pub mean_trust: f64,
}

/// A deformation and the face it is measured against: Gaussian positions
/// (head space), bases in the bases' layout (`[k][channel][gaussian]`,
/// [`synctalk_gaussians::DEFORM_CHANNELS`] channels, position first), and
/// each Gaussian's prior (`m`, `3 D` each) and trust.
pub struct Departure<'a> {
    bases: &'a [f32],
    num_bases: usize,
    n: usize,
    dim: usize,
    m: Vec<f32>,
    trust: Vec<f32>,
    trust_sum: f64,
}

/// One condition's departure: the trust-weighted RMS (mm) and the Gaussian
/// that departs most (trust times distance), with that distance (mm).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ConditionDeparture {
    /// Trust-weighted RMS over the Gaussians, mm.
    pub rms_mm: f64,
    /// The Gaussian with the largest trust × distance.
    pub worst: usize,
    /// Its distance, mm.
    pub worst_mm: f64,
}

impl<'a> Departure<'a> {
    /// `None` without Gaussians, bases, or any Gaussian near the face.
    pub fn new(
        motion: &FaceMotion,
        positions: &[[f32; 3]],
        bases: &'a [f32],
        num_bases: usize,
        reach: f64,
    ) -> Option<Self> {
        let n = positions.len();
        if n == 0
            || num_bases == 0
            || bases.len() != synctalk_gaussians::DEFORM_CHANNELS * num_bases * n
        {
            return None;
        }
        let (m, trust) = motion.per_gaussian(positions, reach);
        let trust_sum: f64 = trust.iter().map(|&c| f64::from(c)).sum();
        if trust_sum.is_nan() || trust_sum <= 0.0 {
            return None;
        }
        Some(Self {
            bases,
            num_bases,
            n,
            dim: motion.dim,
            m,
            trust,
            trust_sum,
        })
    }

    /// The Gaussians' mean trust.
    pub fn mean_trust(&self) -> f64 {
        self.trust_sum / self.n as f64
    }

    /// The departure for coefficients `w` and normalised condition `z`.
    pub fn at(&self, w: &[f64], z: &[f64]) -> ConditionDeparture {
        const CH: usize = synctalk_gaussians::DEFORM_CHANNELS;
        let (n, dim) = (self.n, self.dim);
        let mut sum = 0.0;
        let mut worst = (0.0f64, 0usize, 0.0f64);
        for i in 0..n {
            let c = f64::from(self.trust[i]);
            if c == 0.0 {
                continue;
            }
            let mut d2 = 0.0;
            for a in 0..3 {
                let offset: f64 = (0..self.num_bases.min(w.len()))
                    .map(|k| w[k] * f64::from(self.bases[(k * CH + a) * n + i]))
                    .sum();
                let row = &self.m[(i * 3 + a) * dim..(i * 3 + a + 1) * dim];
                let prior: f64 = row.iter().zip(z).map(|(&mv, &zv)| f64::from(mv) * zv).sum();
                d2 += (offset - prior).powi(2);
            }
            sum += c * d2;
            if c * d2.sqrt() > worst.0 {
                worst = (c * d2.sqrt(), i, 10.0 * d2.sqrt());
            }
        }
        ConditionDeparture {
            rms_mm: 10.0 * (sum / self.trust_sum).sqrt(),
            worst: worst.1,
            worst_mm: worst.2,
        }
    }

    /// The trust-weighted RMS (mm) over several conditions `(w, z)`.
    pub fn rms_over(&self, conds: &[(Vec<f64>, Vec<f64>)]) -> f64 {
        let total: f64 = conds
            .iter()
            .map(|(w, z)| self.at(w, z).rms_mm.powi(2))
            .sum();
        (total / conds.len().max(1) as f64).sqrt()
    }
}

/// The training frames' normalised conditions, and as many recombined
/// (each channel from another frame) and extrapolated (1.5 times as far
/// from the mean) ones as [`DRAWN`], seeded.
pub fn condition_sets(z: &[Vec<f64>]) -> [Vec<Vec<f64>>; 2] {
    let mut rng = Pcg64::seed_from_u64(0x6661_6365);
    let dim = z.first().map_or(0, Vec::len);
    let recombined = (0..DRAWN)
        .map(|_| {
            (0..dim)
                .map(|j| z[rng.random_range(0..z.len())][j])
                .collect()
        })
        .collect();
    let extrapolated = (0..DRAWN)
        .map(|_| {
            z[rng.random_range(0..z.len())]
                .iter()
                .map(|v| 1.5 * v)
                .collect()
        })
        .collect();
    [recombined, extrapolated]
}

/// The agreement of a trained state with the face tracked in `data`'s
/// training frames; `None` when the data has no tracked landmarks or the
/// state has no deformation.
pub fn face_agreement(
    data: &impl TrainData,
    norm: &Normalizer,
    state: &StepState,
    controller: &ControllerState,
    settings: &Settings,
) -> Option<FaceAgreement> {
    let p = &state.params;
    let frames = data.train_frames();
    let (motion, z) = fit_face(data, &frames, norm).ok()?;
    let positions: Vec<[f32; 3]> = p
        .gauss
        .chunks(3)
        .map(|g| [g[0][0], g[0][1], g[0][2]])
        .collect();
    let departure = Departure::new(
        &motion,
        &positions,
        &p.bases,
        p.num_bases,
        settings.mesh_reach,
    )?;
    let net = Controller {
        input: motion.dim,
        hidden: settings.hidden,
        bases: p.num_bases,
        theta: controller.theta.iter().map(|&v| f64::from(v)).collect(),
    };
    let with_w = |conds: &[Vec<f64>]| -> Option<Vec<(Vec<f64>, Vec<f64>)>> {
        conds
            .iter()
            .map(|zc| Some((net.forward(zc).ok()?.w, zc.clone())))
            .collect()
    };
    let [recombined, extrapolated] = condition_sets(&z);
    Some(FaceAgreement {
        trained_mm: departure.rms_over(&with_w(&z)?),
        recombined_mm: departure.rms_over(&with_w(&recombined)?),
        extrapolated_mm: departure.rms_over(&with_w(&extrapolated)?),
        mean_trust: departure.mean_trust(),
    })
}
