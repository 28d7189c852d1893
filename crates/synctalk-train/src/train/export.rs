//! The trained state as a portrait ([`portrait`]), as torch_trainer.py's `export`
//! writes it: the Gaussians that can be seen (opacity above 1/255), f16
//! storage, the deformation bases with the controller (its input
//! normalisation folded into the first layer), the pose track (the refined
//! pose for training frames, the tracked one for held-out frames), the
//! background plate and one torso layer per frame, and the metadata the
//! runtime reads (`condition_range`, `head_pivot`). Networks are added by
//! `synctalk-create` (or `synctalk add-network`).
//!
//! Privacy: the metadata names the source video by its file name only.

use glam::{DMat3, DQuat};
use serde_json::{json, Map, Value};
use synctalk_gaussians::{Camera, Deformation, Gaussians, Image, DEFORM_CHANNELS};
use synctalk_portrait::{
    Activation, Controller, Dense, HeadPose, Layer, LayerRole, LearnedDeformation, Metadata,
    Portrait, PortraitError, PoseTrack, Precision,
};

use super::{Settings, NEAR};
use crate::cpu::{pose_delta, Normalizer};
use crate::dataset::Dataset;
use crate::gpu::{ControllerState, StepState, SH_FLOATS};

/// MediaPipe landmarks on the face's outline at the ears.
const EAR_CONTOUR: [usize; 2] = [234, 454];
/// The neck's joint below the ears, head-space units (cm).
const PIVOT_BELOW_EARS: f64 = 2.0;

/// Who made the portrait and under which terms.
#[derive(Clone, Debug, Default)]
pub struct Credits {
    /// Display name (default: the dataset folder's name).
    pub name: String,
    /// Licence.
    pub licence: String,
    /// Attribution.
    pub attribution: String,
    /// The tool, e.g. `synctalk train 0.1.0`.
    pub created_by: String,
}

/// The jaw line in head space (`META` `jaw_line`, the renderer's neck
/// warp): the canonical face's [`crate::eval::neck::JAW`] points, from one
/// angle of the jaw through the chin to the other; `None` for a face
/// without them.
pub fn jaw_line(canonical: &[[f32; 3]]) -> Option<Vec<[f64; 3]>> {
    crate::eval::neck::JAW
        .iter()
        .map(|&j| {
            canonical
                .get(j)
                .map(|p| p.map(|v| (f64::from(v) * 1e4).round() / 1e4))
        })
        .collect()
}

/// The point the head turns about (head space): between the ear outline
/// points and 2 cm below (the toolchain's `headsync.pivot`).
pub fn head_pivot(canonical: &[[f32; 3]]) -> Option<[f64; 3]> {
    let mut p = [0f64; 3];
    for &i in &EAR_CONTOUR {
        let v = canonical.get(i)?;
        for k in 0..3 {
            p[k] += f64::from(v[k]) / EAR_CONTOUR.len() as f64;
        }
    }
    p[1] += PIVOT_BELOW_EARS;
    Some(p.map(|v| (v * 1000.0).round() / 1000.0))
}

fn round5(v: f32) -> f64 {
    (f64::from(v) * 1e5).round() / 1e5
}

fn row_major(m: &[[f64; 4]; 4]) -> (DMat3, glam::DVec3) {
    let col = |j: usize| glam::DVec3::new(m[0][j], m[1][j], m[2][j]);
    (DMat3::from_cols(col(0), col(1), col(2)), col(3))
}

/// The pose of frame `t`: `H_t @ delta(pose_t)` for training frames.
fn pose_of(ds: &Dataset, c: &ControllerState, t: usize) -> HeadPose {
    let (mut r, mut tr) = row_major(&ds.head_to_camera[t]);
    if ds.train.contains(&t) {
        if let Some(d) = c.poses.get(t) {
            let (dr, dt) = pose_delta(&d.map(f64::from));
            tr += r * dt;
            r *= dr;
        }
    }
    let mut q = DQuat::from_mat3(&r).normalize();
    if q.w < 0.0 {
        q = -q;
    }
    HeadPose {
        rotation: [q.w as f32, q.x as f32, q.y as f32, q.z as f32],
        translation: [tr.x as f32, tr.y as f32, tr.z as f32],
    }
}

/// The controller's layers with `(x − mean) · scale` folded into the first.
fn controller(
    theta: &[f32],
    norm: &Normalizer,
    input: usize,
    hidden: usize,
    bases: usize,
) -> Controller {
    let shapes = [(input, hidden), (hidden, hidden), (hidden, bases)];
    let mut layers = Vec::new();
    let mut off = 0;
    for (l, &(fan_in, fan_out)) in shapes.iter().enumerate() {
        let mut weights: Vec<f32> = theta[off..off + fan_in * fan_out].to_vec();
        off += fan_in * fan_out;
        let mut bias: Vec<f32> = theta[off..off + fan_out].to_vec();
        off += fan_out;
        if l == 0 {
            for o in 0..fan_out {
                let row = &mut weights[o * fan_in..(o + 1) * fan_in];
                let mut shift = 0f64;
                for (d, w) in row.iter_mut().enumerate() {
                    shift += f64::from(*w) * norm.mean[d] * norm.scale[d];
                    *w = (f64::from(*w) * norm.scale[d]) as f32;
                }
                bias[o] = (f64::from(bias[o]) - shift) as f32;
            }
        }
        layers.push(Dense {
            inputs: fan_in,
            outputs: fan_out,
            activation: if l + 1 < shapes.len() {
                Activation::Relu
            } else {
                Activation::Linear
            },
            weights,
            bias,
        });
    }
    Controller {
        input_dim: input,
        layers,
    }
}

fn image(width: u32, height: u32, pixels: impl Iterator<Item = [u8; 4]>) -> Image {
    Image {
        width,
        height,
        data: pixels.flatten().collect(),
    }
}

/// The portrait of a trained state.
pub fn portrait(
    ds: &Dataset,
    settings: &Settings,
    state: &StepState,
    ctrl: &ControllerState,
    norm: &Normalizer,
    credits: &Credits,
    extra: Map<String, Value>,
) -> Result<Portrait, PortraitError> {
    let p = &state.params;
    let n = p.len();
    let keep: Vec<usize> = (0..n)
        .filter(|&i| 1.0 / (1.0 + (-p.gauss[3 * i][3]).exp()) > 1.0 / 255.0)
        .collect();
    let m = keep.len();
    let coeffs = synctalk_gaussians::sh_coeffs_for_degree(settings.sh_degree);
    let mut g = Gaussians {
        sh_degree: settings.sh_degree,
        positions: Vec::with_capacity(m),
        rotations: Vec::with_capacity(m),
        log_scales: Vec::with_capacity(m),
        opacity_logits: Vec::with_capacity(m),
        sh: Vec::with_capacity(m * coeffs),
    };
    for &i in &keep {
        let [x, y, z, o] = p.gauss[3 * i];
        let l = p.gauss[3 * i + 2];
        g.positions.push([x, y, z]);
        g.rotations.push(p.gauss[3 * i + 1]);
        g.log_scales.push([l[0], l[1], l[2]]);
        g.opacity_logits.push(o);
        for k in 0..coeffs {
            let b = SH_FLOATS * i + 3 * k;
            g.sh.push([p.sh[b], p.sh[b + 1], p.sh[b + 2]]);
        }
    }
    let k_n = p.num_bases;
    let mut bases = vec![0f32; DEFORM_CHANNELS * k_n * m];
    for r in 0..DEFORM_CHANNELS * k_n {
        for (j, &i) in keep.iter().enumerate() {
            bases[r * m + j] = p.bases[r * n + i];
        }
    }
    let input = ds.blendshape_names.len();
    let deformation = LearnedDeformation {
        basis: Deformation {
            num_bases: k_n,
            bases,
        },
        controller: controller(&ctrl.theta, norm, input, settings.hidden, k_n),
    };
    let pose = PoseTrack {
        fps: ds.fps as f32,
        frames: (0..ds.frame_count())
            .map(|t| pose_of(ds, ctrl, t))
            .collect(),
    };
    let (w, h) = (ds.width, ds.height);
    let mut layers = vec![Layer::from_image(
        LayerRole::Background,
        0,
        &image(w, h, ds.background.iter().map(|c| [c[0], c[1], c[2], 255])),
    )?];
    for (t, f) in ds.frames.iter().enumerate() {
        layers.push(Layer::from_image(
            LayerRole::Torso,
            t as u32,
            &image(w, h, f.torso.iter().copied()),
        )?);
    }
    let mut lo = vec![f32::INFINITY; input];
    let mut hi = vec![f32::NEG_INFINITY; input];
    for &t in &ds.train {
        for (d, &v) in ds.blendshapes_of(t).iter().enumerate() {
            lo[d] = lo[d].min(v);
            hi[d] = hi[d].max(v);
        }
    }
    let source = std::path::Path::new(&ds.source)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut meta_extra = Map::new();
    meta_extra.insert(
        "condition".into(),
        json!("MediaPipe blendshapes (52, MediaPipe order, `_neutral` first)"),
    );
    meta_extra.insert("condition_names".into(), json!(ds.blendshape_names));
    meta_extra.insert(
        "condition_range".into(),
        json!({
            "min": lo.iter().map(|&v| round5(v)).collect::<Vec<_>>(),
            "max": hi.iter().map(|&v| round5(v)).collect::<Vec<_>>(),
        }),
    );
    if let Some(pivot) = head_pivot(&ds.canonical_face) {
        meta_extra.insert("head_pivot".into(), json!(pivot));
    }
    if let Some(jaw) = jaw_line(&ds.canonical_face) {
        meta_extra.insert("jaw_line".into(), json!(jaw));
    }
    meta_extra.insert("source".into(), json!(source));
    meta_extra.insert("gaussians".into(), json!(m));
    meta_extra.insert("bases".into(), json!(k_n));
    meta_extra.extend(extra);
    let name = if credits.name.is_empty() {
        ds.root
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    } else {
        credits.name.clone()
    };
    Ok(Portrait {
        meta: Metadata {
            name,
            licence: credits.licence.clone(),
            attribution: credits.attribution.clone(),
            created_by: credits.created_by.clone(),
            extra: meta_extra,
        },
        camera: Camera {
            width: w,
            height: h,
            fx: ds.fx as f32,
            fy: ds.fy as f32,
            cx: ds.cx as f32,
            cy: ds.cy as f32,
            rotation: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            translation: [0.0; 3],
            near: NEAR as f32,
        },
        gaussians: g,
        precision: Precision::F16,
        deformation: Some(deformation),
        pose: Some(pose),
        layers,
        networks: Vec::new(),
    })
}
