//! A prior on the deformation from the person's tracked face (issue 20,
//! docs/portrait-quality.md): each Gaussian near the face should move, for
//! a condition, as the tracked face's surface there moves.
//!
//! The deformation is learnt freely per Gaussian (`raw = base + Σ_k w_k
//! B_k`, `w` from the controller), so nothing keeps a surface closed for a
//! condition no training frame had: a speech's wide smile moved the cheek's
//! Gaussians apart and the mouth's inside showed through. The tracked face
//! does keep its surface: MediaPipe's 478 landmarks of each training frame,
//! taken back into head space with the frame's head pose (the image
//! position back along the camera ray to the depth of the same point of the
//! canonical face, posed: expression moves the face across the image far
//! more than in depth), are fitted by ridge regression as a linear function
//! of the normalised condition ([`FaceMotion`]). A Gaussian's prior motion
//! is that of its nearest landmarks (inverse squared distance weights),
//! trusted as `exp(−(d / reach)²)` of its distance `d` to the nearest one
//! (hair, the neck and the mouth's inside get little of it). The trainer
//! adds `λ Σ_i c_i |Δμ_i − M_i z|² / n` to the loss (`Δμ_i` the deformation's
//! offset of Gaussian `i`'s position, `z` the frame's normalised
//! condition), whose gradient `deform_bwd.wgsl` adds to the bases' and the
//! coefficients'.

use crate::cpu::Normalizer;
use crate::dataset::Dataset;
use crate::gpu::{StepState, TrainStep};
use crate::train::{Settings, TrainData, TrainError};

/// The ridge penalty of [`FaceMotion::fit`] per training frame, on the
/// normalised condition: on the demo's clip (180 frames) the held-out
/// frames' lip landmarks are predicted within 1.3 mm at 0.03 per frame
/// (penalty 5.4), 1.5 mm at 0.0006 and 2.0 mm at 1.1 (the mean shape:
/// 3.3 mm).
pub const RIDGE_PER_FRAME: f64 = 0.03;

/// How many landmarks a Gaussian's prior motion is interpolated from.
pub const NEIGHBOURS: usize = 4;
/// How many landmarks a landmark's surface normal is fitted to.
const NORMAL_NEIGHBOURS: usize = 8;
/// How deep behind the face's surface (cm, along the nearest landmark's
/// normal) a Gaussian is still skin; deeper, its trust falls off over
/// [`BEHIND_FALLOFF`]: the mouth's inside (teeth, tongue) does not move
/// as the lips around it do.
const SKIN_DEPTH: f64 = 0.2;
/// See [`SKIN_DEPTH`] (cm).
const BEHIND_FALLOFF: f64 = 0.3;

/// The tracked landmarks of frame `t` in head space (cm): each landmark's
/// image position (continuous pixel coordinates) back along its camera ray
/// to the camera-space depth of the same point of the canonical face,
/// posed by the frame's head-to-camera transform. `None` when the dataset
/// has no canonical face of the landmarks' count, or the pose is singular.
pub fn head_space_landmarks(ds: &Dataset, t: usize) -> Option<Vec<[f64; 3]>> {
    let lm = ds.landmarks_of(t);
    if ds.canonical_face.len() != lm.len() || lm.is_empty() {
        return None;
    }
    let m = &ds.head_to_camera[t];
    let rot = glam::DMat3::from_cols(
        glam::DVec3::new(m[0][0], m[1][0], m[2][0]),
        glam::DVec3::new(m[0][1], m[1][1], m[2][1]),
        glam::DVec3::new(m[0][2], m[1][2], m[2][2]),
    );
    let tr = glam::DVec3::new(m[0][3], m[1][3], m[2][3]);
    if rot.determinant().abs() < 1e-9 {
        return None;
    }
    let inv = rot.inverse();
    lm.iter()
        .zip(&ds.canonical_face)
        .map(|(l, c)| {
            let z = (rot * glam::DVec3::from(c.map(f64::from)) + tr).z;
            if z.is_nan() || z <= 0.0 {
                return None;
            }
            let cam = glam::DVec3::new(
                (f64::from(l[0]) - ds.cx) / ds.fx * z,
                (f64::from(l[1]) - ds.cy) / ds.fy * z,
                z,
            );
            Some((inv * (cam - tr)).to_array())
        })
        .collect()
}

/// The tracked face's landmarks (head space) as a linear function of the
/// normalised condition `z`: `rest + D z`.
#[derive(Clone, Debug, PartialEq)]
pub struct FaceMotion {
    /// The landmarks at `z = 0`.
    pub rest: Vec<[f64; 3]>,
    /// `D`, landmark-major: `d[(l * 3 + axis) * dim + j]`.
    pub d: Vec<f64>,
    /// The condition's length.
    pub dim: usize,
}

/// Solves `a x = b` for square `a` (`n × n`, row-major) and `m` right-hand
/// sides (`b`: `n × m`, row-major) by Gaussian elimination with partial
/// pivoting, in place; `None` if `a` is singular. Hand-written: one ridge
/// system of about 53 unknowns, not worth a linear-algebra dependency.
fn solve(a: &mut [f64], b: &mut [f64], n: usize, m: usize) -> Option<()> {
    for col in 0..n {
        let pivot =
            (col..n).max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs()))?;
        if a[pivot * n + col].abs() < 1e-12 {
            return None;
        }
        for k in 0..n {
            a.swap(col * n + k, pivot * n + k);
        }
        for k in 0..m {
            b.swap(col * m + k, pivot * m + k);
        }
        for row in col + 1..n {
            let f = a[row * n + col] / a[col * n + col];
            if f == 0.0 {
                continue;
            }
            for k in col..n {
                a[row * n + k] -= f * a[col * n + k];
            }
            for k in 0..m {
                b[row * m + k] -= f * b[col * m + k];
            }
        }
    }
    for col in (0..n).rev() {
        for k in 0..m {
            let mut v = b[col * m + k];
            for j in col + 1..n {
                v -= a[col * n + j] * b[j * m + k];
            }
            b[col * m + k] = v / a[col * n + col];
        }
    }
    Some(())
}

impl FaceMotion {
    /// The ridge fit (penalty `ridge` on `D`, none on `rest`) of frames'
    /// landmarks `landmarks[f]` on their normalised conditions `conds[f]`.
    /// `None` without frames, with frames of different sizes, or a
    /// singular system.
    pub fn fit(landmarks: &[Vec<[f64; 3]>], conds: &[Vec<f64>], ridge: f64) -> Option<Self> {
        let frames = landmarks.len();
        let (lm, dim) = (landmarks.first()?.len(), conds.first()?.len());
        if frames != conds.len()
            || landmarks.iter().any(|l| l.len() != lm)
            || conds.iter().any(|c| c.len() != dim)
        {
            return None;
        }
        // Unknowns: D's row for each output (dim) and the intercept.
        let n = dim + 1;
        let m = lm * 3;
        let row = |c: &[f64], j: usize| if j < dim { c[j] } else { 1.0 };
        let mut a = vec![0.0; n * n];
        let mut b = vec![0.0; n * m];
        for (frame, c) in landmarks.iter().zip(conds) {
            for i in 0..n {
                let ri = row(c, i);
                for j in 0..n {
                    a[i * n + j] += ri * row(c, j);
                }
                for (l, p) in frame.iter().enumerate() {
                    for (axis, v) in p.iter().enumerate() {
                        b[i * m + l * 3 + axis] += ri * v;
                    }
                }
            }
        }
        for i in 0..dim {
            a[i * n + i] += ridge;
        }
        solve(&mut a, &mut b, n, m)?;
        let rest = (0..lm)
            .map(|l| std::array::from_fn(|axis| b[dim * m + l * 3 + axis]))
            .collect();
        let mut d = vec![0.0; m * dim];
        for j in 0..dim {
            for o in 0..m {
                d[o * dim + j] = b[j * m + o];
            }
        }
        Some(Self { rest, d, dim })
    }

    /// The landmarks for normalised condition `z`.
    pub fn landmarks(&self, z: &[f64]) -> Vec<[f64; 3]> {
        self.rest
            .iter()
            .enumerate()
            .map(|(l, r)| {
                std::array::from_fn(|axis| {
                    let row = &self.d[(l * 3 + axis) * self.dim..(l * 3 + axis + 1) * self.dim];
                    r[axis] + row.iter().zip(z).map(|(a, b)| a * b).sum::<f64>()
                })
            })
            .collect()
    }

    /// Each rest landmark's outward normal: the direction in which its
    /// [`NORMAL_NEIGHBOURS`] nearest landmarks spread least (power
    /// iteration on `tr(C) I − C`, `C` their covariance), turned away from
    /// the landmarks' centroid (which lies behind a face).
    pub fn normals(&self) -> Vec<[f64; 3]> {
        let n = self.rest.len();
        let centroid: [f64; 3] =
            std::array::from_fn(|a| self.rest.iter().map(|p| p[a]).sum::<f64>() / n.max(1) as f64);
        let dist2 = |p: &[f64; 3], q: &[f64; 3]| (0..3).map(|a| (p[a] - q[a]).powi(2)).sum::<f64>();
        self.rest
            .iter()
            .map(|p| {
                let mut near: Vec<(f64, usize)> = self
                    .rest
                    .iter()
                    .enumerate()
                    .map(|(l, q)| (dist2(p, q), l))
                    .collect();
                let k = (NORMAL_NEIGHBOURS + 1).min(n);
                near.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0));
                let pts: Vec<&[f64; 3]> = near[..k].iter().map(|&(_, l)| &self.rest[l]).collect();
                let mean: [f64; 3] =
                    std::array::from_fn(|a| pts.iter().map(|q| q[a]).sum::<f64>() / k as f64);
                let mut c = [[0.0f64; 3]; 3];
                for q in &pts {
                    for (i, row) in c.iter_mut().enumerate() {
                        for (j, v) in row.iter_mut().enumerate() {
                            *v += (q[i] - mean[i]) * (q[j] - mean[j]);
                        }
                    }
                }
                let trace = c[0][0] + c[1][1] + c[2][2];
                let mut v = [0.577f64, 0.577, 0.577];
                for _ in 0..64 {
                    let w: [f64; 3] = std::array::from_fn(|i| {
                        trace * v[i] - (0..3).map(|j| c[i][j] * v[j]).sum::<f64>()
                    });
                    let len = (w[0] * w[0] + w[1] * w[1] + w[2] * w[2]).sqrt();
                    if len.is_nan() || len <= 0.0 {
                        break;
                    }
                    v = w.map(|x| x / len);
                }
                let out: f64 = (0..3).map(|a| (p[a] - centroid[a]) * v[a]).sum();
                if out < 0.0 {
                    v.map(|x| -x)
                } else {
                    v
                }
            })
            .collect()
    }

    /// Each Gaussian's prior: `M_i` (`3 × dim`, row-major, f32: `m[i * 3
    /// * dim ..]`) interpolated from its [`NEIGHBOURS`] nearest rest
    /// landmarks, and its trust: `exp(−(d / reach)²)` of its distance `d`
    /// to the nearest, times `exp(−(b / BEHIND_FALLOFF)²)` of how far `b`
    /// it lies more than [`SKIN_DEPTH`] behind the face there.
    pub fn per_gaussian(&self, positions: &[[f32; 3]], reach: f64) -> (Vec<f32>, Vec<f32>) {
        let normals = self.normals();
        let per = 3 * self.dim;
        let mut m = vec![0f32; positions.len() * per];
        let mut trust = vec![0f32; positions.len()];
        let mut near: Vec<(f64, usize)> = Vec::with_capacity(self.rest.len());
        for (i, p) in positions.iter().enumerate() {
            let p = p.map(f64::from);
            near.clear();
            near.extend(self.rest.iter().enumerate().map(|(l, r)| {
                (
                    (r[0] - p[0]).powi(2) + (r[1] - p[1]).powi(2) + (r[2] - p[2]).powi(2),
                    l,
                )
            }));
            let k = NEIGHBOURS.min(near.len());
            if k == 0 {
                continue;
            }
            near.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0));
            let nearest = &mut near[..k];
            nearest.sort_by(|a, b| a.0.total_cmp(&b.0));
            let weights: Vec<f64> = nearest.iter().map(|(d2, _)| 1.0 / (d2 + 1e-6)).collect();
            let total: f64 = weights.iter().sum();
            let out = &mut m[i * per..(i + 1) * per];
            for ((_, l), w) in nearest.iter().zip(&weights) {
                for (o, v) in out.iter_mut().zip(&self.d[l * per..(l + 1) * per]) {
                    *o += (w / total * v) as f32;
                }
            }
            let (d2, l0) = nearest[0];
            let depth: f64 = (0..3)
                .map(|a| (p[a] - self.rest[l0][a]) * normals[l0][a])
                .sum();
            let behind = (-depth - SKIN_DEPTH).max(0.0) / BEHIND_FALLOFF;
            trust[i] = ((-(d2 / (reach * reach))).exp() * (-(behind * behind)).exp()) as f32;
        }
        (m, trust)
    }
}

/// Why [`fit_face`] found no face.
#[derive(Debug, thiserror::Error)]
pub enum FaceFitError {
    /// A frame has no tracked landmarks in head space.
    #[error("frame {0}: no tracked landmarks in head space (none, or its posed face lies behind the camera)")]
    Landmarks(usize),
    /// The ridge system was singular or the frames disagreed in size.
    #[error("the face fit failed (inconsistent landmarks)")]
    Fit,
}

/// The tracked face fitted on `frames` of `data` as the trainer fits it
/// (their normalised conditions, ridge [`RIDGE_PER_FRAME`] per frame), with
/// those conditions.
pub fn fit_face(
    data: &impl TrainData,
    frames: &[usize],
    norm: &Normalizer,
) -> Result<(FaceMotion, Vec<Vec<f64>>), FaceFitError> {
    let mut landmarks = Vec::with_capacity(frames.len());
    let mut conds = Vec::with_capacity(frames.len());
    for &t in frames {
        landmarks.push(
            data.head_space_landmarks(t)
                .ok_or(FaceFitError::Landmarks(t))?,
        );
        let c: Vec<f64> = data.condition(t).iter().map(|&v| f64::from(v)).collect();
        conds.push(norm.apply(&c));
    }
    let ridge = RIDGE_PER_FRAME * frames.len() as f64;
    let fit = FaceMotion::fit(&landmarks, &conds, ridge).ok_or(FaceFitError::Fit)?;
    Ok((fit, conds))
}

/// The face fitted on the training frames for the trainer, when the
/// settings ask for the prior (`None` when they do not); an error naming
/// the setting out of range, or the frame without tracked landmarks.
pub(crate) fn fit_for(
    data: &impl TrainData,
    train_frames: &[usize],
    norm: &Normalizer,
    settings: &Settings,
) -> Result<Option<FaceMotion>, TrainError> {
    let (lambda, reach) = (settings.mesh_prior, settings.mesh_reach);
    if !(lambda.is_finite() && (0.0..=1e4).contains(&lambda)) {
        return Err(TrainError::Setting {
            what: "mesh-prior",
            why: "a number from 0 to 10000".into(),
        });
    }
    if !(reach.is_finite() && reach > 0.0 && reach <= 50.0) {
        return Err(TrainError::Setting {
            what: "mesh-reach",
            why: "a number of cm above 0, at most 50".into(),
        });
    }
    if lambda == 0.0 {
        return Ok(None);
    }
    let (fit, _) = fit_face(data, train_frames, norm).map_err(|e| {
        TrainError::Data(format!(
            "--mesh-prior needs the dataset's tracked landmarks, head poses and canonical face ({e})"
        ))
    })?;
    if fit.dim > crate::gpu::MAX_PRIOR_DIM {
        return Err(TrainError::Data(format!(
            "the mesh prior takes at most {} condition channels, not {}",
            crate::gpu::MAX_PRIOR_DIM,
            fit.dim
        )));
    }
    Ok(Some(fit))
}

/// Gives `step` (made for `state`'s Gaussians) the prior of `motion` at the
/// Gaussians' base positions (nothing without a motion). The factor is
/// `2 λ / n`: the prior is a mean over the Gaussians, so each one's pull
/// against its image gradient eases as densification adds Gaussians.
pub(crate) fn apply(
    step: &mut TrainStep,
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    motion: Option<&FaceMotion>,
    state: &StepState,
    settings: &Settings,
) -> Result<(), TrainError> {
    let Some(motion) = motion else {
        return Ok(());
    };
    let positions: Vec<[f32; 3]> = state
        .params
        .gauss
        .chunks(3)
        .map(|g| [g[0][0], g[0][1], g[0][2]])
        .collect();
    let (m, trust) = motion.per_gaussian(&positions, settings.mesh_reach);
    let scale = (2.0 * settings.mesh_prior / positions.len().max(1) as f64) as f32;
    step.set_mesh_prior(device, queue, scale, motion.dim, &m, &trust)?;
    Ok(())
}

/// The prior's loss `λ Σ_i c_i |Δμ_i − M_i z|² / n` and its gradient, in
/// f64 (the reference `deform_bwd.wgsl` is tested against): `bases` in the
/// bases' layout (`11 K n`, [`synctalk_gaussians::DEFORM_CHANNELS`]
/// channels, position first), `coeffs` (`K`), `z` (`D`), `m` (`3 D n`),
/// `trust` (`n`). Returns `(loss, dL/d bases, dL/dw)`.
pub fn loss_and_gradient(
    lambda: f64,
    bases: &[f32],
    coeffs: &[f32],
    z: &[f32],
    m: &[f32],
    trust: &[f32],
) -> (f64, Vec<f64>, Vec<f64>) {
    const CH: usize = synctalk_gaussians::DEFORM_CHANNELS;
    let (n, k_n, dim) = (trust.len(), coeffs.len(), z.len());
    let mut loss = 0.0;
    let mut d_bases = vec![0.0; bases.len()];
    let mut d_coeffs = vec![0.0; k_n];
    for i in 0..n {
        for a in 0..3 {
            let offset: f64 = (0..k_n)
                .map(|k| f64::from(coeffs[k]) * f64::from(bases[(k * CH + a) * n + i]))
                .sum();
            let prior: f64 = (0..dim)
                .map(|j| f64::from(m[(i * 3 + a) * dim + j]) * f64::from(z[j]))
                .sum();
            let r = offset - prior;
            let c = lambda * f64::from(trust[i]) / n as f64;
            loss += c * r * r;
            for k in 0..k_n {
                d_bases[(k * CH + a) * n + i] += 2.0 * c * r * f64::from(coeffs[k]);
                d_coeffs[k] += 2.0 * c * r * f64::from(bases[(k * CH + a) * n + i]);
            }
        }
    }
    (loss, d_bases, d_coeffs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fit_recovers_a_linear_face_and_the_ridge_shrinks_it() {
        // 3 landmarks moving linearly with a 2-channel condition, 7 frames.
        let rest = [[0.0, 1.0, 2.0], [1.0, -1.0, 0.5], [-2.0, 0.0, 3.0]];
        let d =
            |l: usize, axis: usize, j: usize| ((l * 3 + axis) as f64 * 0.37 + j as f64 * 1.3).sin();
        let conds: Vec<Vec<f64>> = (0..7)
            .map(|f| vec![(f as f64 * 0.9).cos(), f as f64 * 0.2 - 0.5])
            .collect();
        let landmarks: Vec<Vec<[f64; 3]>> = conds
            .iter()
            .map(|z| {
                (0..3)
                    .map(|l| {
                        std::array::from_fn(|a| rest[l][a] + d(l, a, 0) * z[0] + d(l, a, 1) * z[1])
                    })
                    .collect()
            })
            .collect();
        let fit = FaceMotion::fit(&landmarks, &conds, 0.0).expect("fit");
        for (l, want) in rest.iter().enumerate() {
            for (a, v) in want.iter().enumerate() {
                assert!((fit.rest[l][a] - v).abs() < 1e-9);
                for j in 0..2 {
                    assert!((fit.d[(l * 3 + a) * 2 + j] - d(l, a, j)).abs() < 1e-9);
                }
            }
        }
        let z = [0.3, -0.7];
        let want: Vec<[f64; 3]> = (0..3)
            .map(|l| std::array::from_fn(|a| rest[l][a] + d(l, a, 0) * z[0] + d(l, a, 1) * z[1]))
            .collect();
        for (g, w) in fit.landmarks(&z).iter().zip(&want) {
            for a in 0..3 {
                assert!((g[a] - w[a]).abs() < 1e-9);
            }
        }
        let shrunk = FaceMotion::fit(&landmarks, &conds, 10.0).expect("fit");
        let norm = |f: &FaceMotion| f.d.iter().map(|v| v * v).sum::<f64>();
        assert!(norm(&shrunk) < 0.9 * norm(&fit), "the ridge shrinks D");
        assert!(
            FaceMotion::fit(&landmarks, &conds[..6], 0.0).is_none(),
            "frame counts differ"
        );
    }

    #[test]
    fn the_reference_gradient_is_the_loss_s_by_finite_differences() {
        let (n, k_n, dim) = (5usize, 3usize, 4usize);
        let wave = |s: usize, scale: f32| (s as f32 * 0.731).sin() * scale;
        let bases: Vec<f32> = (0..11 * k_n * n).map(|s| wave(s, 0.8)).collect();
        let coeffs: Vec<f32> = (0..k_n).map(|s| wave(s + 100, 1.2)).collect();
        let z: Vec<f32> = (0..dim).map(|s| wave(s + 200, 1.5)).collect();
        let m: Vec<f32> = (0..3 * dim * n).map(|s| wave(s + 300, 0.4)).collect();
        let trust: Vec<f32> = (0..n).map(|s| 0.2 + 0.15 * s as f32).collect();
        let (_, d_bases, d_coeffs) = loss_and_gradient(0.7, &bases, &coeffs, &z, &m, &trust);
        let h = 1e-3f32;
        let loss = |b: &[f32], w: &[f32]| loss_and_gradient(0.7, b, w, &z, &m, &trust).0;
        for at in 0..bases.len() {
            let (mut up, mut down) = (bases.clone(), bases.clone());
            up[at] += h;
            down[at] -= h;
            let fd = (loss(&up, &coeffs) - loss(&down, &coeffs)) / (2.0 * f64::from(h));
            assert!(
                (fd - d_bases[at]).abs() < 1e-5,
                "dB[{at}]: {fd} vs {}",
                d_bases[at]
            );
        }
        for k in 0..k_n {
            let (mut up, mut down) = (coeffs.clone(), coeffs.clone());
            up[k] += h;
            down[k] -= h;
            let fd = (loss(&bases, &up) - loss(&bases, &down)) / (2.0 * f64::from(h));
            assert!(
                (fd - d_coeffs[k]).abs() < 1e-5,
                "dw[{k}]: {fd} vs {}",
                d_coeffs[k]
            );
        }
        // Only the position channels feel it.
        assert!(d_bases
            .iter()
            .enumerate()
            .all(|(at, v)| (at / n) % 11 < 3 || *v == 0.0));
    }

    #[test]
    fn a_gaussian_behind_the_face_is_not_trusted() {
        // A shallow dome of landmarks facing +z (its centroid behind it).
        let rest: Vec<[f64; 3]> = (-5..=5)
            .flat_map(|x| (-5..=5).map(move |y| (x as f64 * 0.5, y as f64 * 0.5)))
            .map(|(x, y)| [x, y, -0.05 * (x * x + y * y)])
            .collect();
        let fit = FaceMotion {
            d: vec![0.0; rest.len() * 3],
            rest,
            dim: 1,
        };
        let n = fit.normals();
        let centre = n[60];
        assert!(centre[2] > 0.99, "the dome's centre faces +z: {centre:?}");
        let (_, trust) =
            fit.per_gaussian(&[[0.1, 0.1, 0.15], [0.1, 0.1, -0.1], [0.1, 0.1, -0.8]], 1.5);
        assert!(trust[0] > 0.95 && trust[1] > 0.95, "at the skin: {trust:?}");
        assert!(trust[2] < 0.05, "0.8 cm behind it: {trust:?}");
    }

    #[test]
    fn a_gaussian_on_a_landmark_takes_its_motion_and_a_far_one_is_not_trusted() {
        let fit = FaceMotion {
            rest: vec![
                [0.0, 0.0, 0.0],
                [10.0, 0.0, 0.0],
                [0.0, 10.0, 0.0],
                [0.0, 0.0, 10.0],
                [10.0, 10.0, 10.0],
            ],
            d: (0..5 * 3).map(|o| o as f64).collect(),
            dim: 1,
        };
        let (m, trust) =
            fit.per_gaussian(&[[0.0, 0.0, 0.0], [0.0, 0.0, -40.0], [5.0, 5.0, 5.0]], 1.5);
        assert!(
            (m[0] - 0.0).abs() < 1e-4 && (m[1] - 1.0).abs() < 1e-4 && (m[2] - 2.0).abs() < 1e-4,
            "{m:?}"
        );
        assert!((trust[0] - 1.0).abs() < 1e-6 && trust[1] < 1e-6);
        // Equidistant from all five: a convex mix of four of their rows.
        for axis in 0..3 {
            let v = f64::from(m[2 * 3 + axis]);
            assert!((0.0..=14.0).contains(&v));
        }
    }
}
