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
//! training frames' moved 1.5 times as far from the mean.

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use serde::Serialize;

use super::mesh_prior::{FaceMotion, RIDGE_PER_FRAME};
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
    let (n, k_n) = (p.len(), p.num_bases);
    if n == 0 || k_n == 0 {
        return None;
    }
    let frames = data.train_frames();
    let z: Vec<Vec<f64>> = frames
        .iter()
        .map(|&t| {
            norm.apply(
                &data
                    .condition(t)
                    .iter()
                    .map(|&v| f64::from(v))
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let landmarks: Option<Vec<_>> = frames
        .iter()
        .map(|&t| data.head_space_landmarks(t))
        .collect();
    let motion = FaceMotion::fit(&landmarks?, &z, RIDGE_PER_FRAME * frames.len() as f64)?;
    let positions: Vec<[f32; 3]> = p
        .gauss
        .chunks(3)
        .map(|g| [g[0][0], g[0][1], g[0][2]])
        .collect();
    let (m, trust) = motion.per_gaussian(&positions, settings.mesh_reach);
    let net = Controller {
        input: motion.dim,
        hidden: settings.hidden,
        bases: k_n,
        theta: controller.theta.iter().map(|&v| f64::from(v)).collect(),
    };
    let trust_sum: f64 = trust.iter().map(|&c| f64::from(c)).sum();
    if trust_sum.is_nan() || trust_sum <= 0.0 {
        return None;
    }
    let rms = |conds: &[Vec<f64>]| -> Option<f64> {
        let mut sum = 0.0;
        for zc in conds {
            let w = net.forward(zc).ok()?.w;
            for i in 0..n {
                let c = f64::from(trust[i]);
                if c == 0.0 {
                    continue;
                }
                for a in 0..3 {
                    let offset: f64 = (0..k_n)
                        .map(|k| w[k] * f64::from(p.bases[(k * 11 + a) * n + i]))
                        .sum();
                    let row = &m[(i * 3 + a) * motion.dim..(i * 3 + a + 1) * motion.dim];
                    let prior: f64 = row
                        .iter()
                        .zip(zc)
                        .map(|(&mv, &zv)| f64::from(mv) * zv)
                        .sum();
                    sum += c * (offset - prior).powi(2);
                }
            }
        }
        Some(10.0 * (sum / (trust_sum * conds.len() as f64)).sqrt())
    };
    let mut rng = Pcg64::seed_from_u64(0x6661_6365);
    let recombined: Vec<Vec<f64>> = (0..DRAWN)
        .map(|_| {
            (0..motion.dim)
                .map(|j| z[rng.random_range(0..z.len())][j])
                .collect()
        })
        .collect();
    let extrapolated: Vec<Vec<f64>> = (0..DRAWN)
        .map(|_| {
            z[rng.random_range(0..z.len())]
                .iter()
                .map(|v| 1.5 * v)
                .collect()
        })
        .collect();
    Some(FaceAgreement {
        trained_mm: rms(&z)?,
        recombined_mm: rms(&recombined)?,
        extrapolated_mm: rms(&extrapolated)?,
        mean_trust: trust_sum / n as f64,
    })
}
