//! The SyncTalk portrait file format, version 1 (`.stk`).
//!
//! One little-endian file holds everything the browser needs for one avatar:
//! metadata, camera, canonical Gaussians, the learned deformation, the
//! head-pose track, layer images and the networks. It is a sequence of
//! chunks, each with its own length and CRC-32, so it can be parsed while it
//! streams in ([`StreamParser`]). The specification is
//! `docs/portrait-format.md` at the top of the repository.
//!
//! The reader checks every length, count, checksum and value before
//! allocating for it: a truncated, corrupt or hostile file gives a
//! [`PortraitError`] naming the chunk and field, never a panic.

mod chunks;
mod error;
mod model;
mod stream;

pub use chunks::{limits, MAGIC, VERSION_MAJOR, VERSION_MINOR};
pub use error::PortraitError;
pub use model::*;
pub use stream::{Chunk, Received, StreamParser};

use std::path::Path;
use synctalk_gaussians::Camera;

impl Portrait {
    /// Parses a whole portrait file held in memory.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PortraitError> {
        let mut p = StreamParser::new();
        p.push(bytes)?;
        p.finish()
    }

    /// Reads and parses a portrait file.
    pub fn read_file(path: &Path) -> Result<Self, PortraitError> {
        let bytes = std::fs::read(path).map_err(|source| PortraitError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_bytes(&bytes)
    }

    /// Serialises the portrait (validating it first).
    pub fn to_bytes(&self) -> Result<Vec<u8>, PortraitError> {
        chunks::write(self)
    }

    /// Writes the portrait to a file.
    pub fn write_file(&self, path: &Path) -> Result<(), PortraitError> {
        let bytes = self.to_bytes()?;
        std::fs::write(path, bytes).map_err(|source| PortraitError::Io {
            path: path.display().to_string(),
            source,
        })
    }

    /// The first layer with `role`, if any.
    pub fn layer(&self, role: LayerRole) -> Option<&Layer> {
        self.layers.iter().find(|l| l.role == role)
    }

    /// The torso layer for pose-track frame `frame`: the one with that index,
    /// else the first torso layer (a portrait may hold a single torso).
    pub fn torso(&self, frame: usize) -> Option<&Layer> {
        let mut torsos = self.layers.iter().filter(|l| l.role == LayerRole::Torso);
        let first = torsos.clone().next();
        torsos.find(|l| l.index as usize == frame).or(first)
    }

    /// The camera that sees the head as in pose-track frame `frame`: the
    /// portrait camera's world-to-camera composed with the frame's
    /// head-to-world. `None` without a pose track or past its end.
    pub fn frame_camera(&self, frame: usize) -> Option<Camera> {
        let pose = self.pose.as_ref()?.frames.get(frame)?;
        Some(compose(&self.camera, pose))
    }

    /// The camera that sees the head at a fractional `position` along the
    /// pose track (frame `k` at `k`): the poses of the two frames around it
    /// blended (quaternions normalised-linearly, the shorter way round;
    /// translations linearly), so a display faster than the track moves the
    /// head smoothly instead of in 25 Hz steps. Positions outside the track
    /// are clamped to it; `None` without a pose track or for a non-finite
    /// position.
    pub fn track_camera(&self, position: f64) -> Option<Camera> {
        Some(compose(&self.camera, &self.track_pose(position)?))
    }

    /// The head pose at a fractional `position` along the pose track, as
    /// [`Portrait::track_camera`] blends it.
    pub fn track_pose(&self, position: f64) -> Option<HeadPose> {
        let frames = &self.pose.as_ref()?.frames;
        if frames.is_empty() || !position.is_finite() {
            return None;
        }
        let x = position.clamp(0.0, (frames.len() - 1) as f64);
        let k = x.floor() as usize;
        let t = (x - k as f64) as f32;
        let a = &frames[k];
        let Some(b) = frames.get(k + 1).filter(|_| t > 0.0) else {
            return Some(*a);
        };
        let dot: f32 = a.rotation.iter().zip(&b.rotation).map(|(p, q)| p * q).sum();
        let sign = if dot < 0.0 { -1.0 } else { 1.0 };
        let mut pose = *a;
        for (r, (p, q)) in pose
            .rotation
            .iter_mut()
            .zip(a.rotation.iter().zip(&b.rotation))
        {
            *r = p * (1.0 - t) + sign * q * t;
        }
        for (v, (p, q)) in pose
            .translation
            .iter_mut()
            .zip(a.translation.iter().zip(&b.translation))
        {
            *v = p * (1.0 - t) + q * t;
        }
        Some(pose)
    }

    /// [`Portrait::track_camera`] with the head turned by `rotation` (a
    /// rotation vector in head space, radians: Head-Sync's nod) about
    /// `pivot` (head space, see [`Portrait::head_pivot`]).
    pub fn head_camera(
        &self,
        position: f64,
        rotation: [f32; 3],
        pivot: [f32; 3],
    ) -> Option<Camera> {
        let pose = self.track_pose(position)?;
        Some(compose(&self.camera, &turn(&pose, rotation, pivot)))
    }

    /// The point the head turns about, in head space (`META`
    /// `extra.head_pivot`: three numbers, the neck's joint as
    /// `synctalk-train` places it); the head space's origin when absent.
    pub fn head_pivot(&self) -> Result<[f32; 3], PortraitError> {
        let Some(v) = self.meta.extra.get("head_pivot") else {
            return Ok([0.0; 3]);
        };
        let bad = || {
            PortraitError::field(
                "META",
                "extra.head_pivot",
                format!("{v} is not a list of 3 numbers within ±1e4"),
            )
        };
        point3(v).ok_or_else(bad)
    }

    /// The neck warp (`synctalk_gaussians::neck`) for the head seen by
    /// `head` over the torso layer of pose-track frame `torso_frame` (at
    /// `head`'s image size), from the portrait's [`Portrait::jaw_line`]
    /// `jaw`; `None` without that frame or where the geometry gives none.
    pub fn neck_warp(
        &self,
        jaw: &[[f32; 3]],
        torso_frame: usize,
        head: &Camera,
    ) -> Option<synctalk_gaussians::neck::NeckWarp> {
        let torso = self
            .frame_camera(torso_frame)?
            .scaled(head.width, head.height);
        synctalk_gaussians::neck::NeckWarp::between(jaw, &torso, head)
    }

    /// The jaw line in head space (`META` `extra.jaw_line`: 2 to 64 points
    /// of 3 numbers, from one angle of the jaw through the chin to the
    /// other, as `synctalk train` writes them from the tracked face): what
    /// the renderer's neck warp needs (`synctalk_gaussians::neck`). `None`
    /// when absent.
    pub fn jaw_line(&self) -> Result<Option<Vec<[f32; 3]>>, PortraitError> {
        let Some(v) = self.meta.extra.get("jaw_line") else {
            return Ok(None);
        };
        let bad = || {
            PortraitError::field(
                "META",
                "extra.jaw_line",
                "not a list of 2 to 64 points of 3 numbers within ±1e4".to_string(),
            )
        };
        let list = v
            .as_array()
            .filter(|a| (2..=64).contains(&a.len()))
            .ok_or_else(bad)?;
        let out: Option<Vec<[f32; 3]>> = list.iter().map(point3).collect();
        out.map(Some).ok_or_else(bad)
    }

    /// The deformation coefficients for a condition vector (the controller
    /// MLP's output). Empty when the portrait has no deformation.
    pub fn coefficients(&self, condition: &[f32]) -> Result<Vec<f32>, PortraitError> {
        let Some(d) = &self.deformation else {
            return Ok(Vec::new());
        };
        if condition.len() != d.controller.input_dim {
            return Err(PortraitError::field(
                "DEFM",
                "input_dim",
                format!(
                    "the condition has {} values, the controller takes {}",
                    condition.len(),
                    d.controller.input_dim
                ),
            ));
        }
        if let Some(i) = condition.iter().position(|v| !v.is_finite()) {
            return Err(PortraitError::field(
                "DEFM",
                "condition",
                format!("value {i} is not finite"),
            ));
        }
        Ok(d.controller.evaluate(condition))
    }
}

/// A JSON list of 3 finite numbers within ±1e4 (a head-space point).
fn point3(v: &serde_json::Value) -> Option<[f32; 3]> {
    let list = v.as_array().filter(|a| a.len() == 3)?;
    let mut out = [0.0f32; 3];
    for (o, x) in out.iter_mut().zip(list) {
        *o = x.as_f64().filter(|x| x.is_finite() && x.abs() <= 1e4)? as f32;
    }
    Some(out)
}

/// Hamilton product of quaternions `(w, x, y, z)`.
fn quat_mul(a: [f64; 4], b: [f64; 4]) -> [f64; 4] {
    [
        a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3],
        a[0] * b[1] + a[1] * b[0] + a[2] * b[3] - a[3] * b[2],
        a[0] * b[2] - a[1] * b[3] + a[2] * b[0] + a[3] * b[1],
        a[0] * b[3] + a[1] * b[2] - a[2] * b[1] + a[3] * b[0],
    ]
}

/// `v` rotated by the unit quaternion `q`.
fn quat_rotate(q: [f64; 4], v: [f64; 3]) -> [f64; 3] {
    let r = quat_mul(
        quat_mul(q, [0.0, v[0], v[1], v[2]]),
        [q[0], -q[1], -q[2], -q[3]],
    );
    [r[1], r[2], r[3]]
}

/// `pose` (head-to-world) after turning the head by rotation vector `rv`
/// about `pivot`, both in head space: x ↦ R (Rₒ (x − p) + p) + t.
fn turn(pose: &HeadPose, rv: [f32; 3], pivot: [f32; 3]) -> HeadPose {
    let rv = rv.map(f64::from);
    let angle = (rv[0] * rv[0] + rv[1] * rv[1] + rv[2] * rv[2]).sqrt();
    if !(angle.is_finite() && angle > 0.0) {
        return *pose;
    }
    let s = (angle / 2.0).sin() / angle;
    let qo = [(angle / 2.0).cos(), rv[0] * s, rv[1] * s, rv[2] * s];
    let q = pose.rotation.map(f64::from);
    let n = (q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3])
        .sqrt()
        .max(1e-12);
    let q = q.map(|c| c / n);
    let p = pivot.map(f64::from);
    let rp = quat_rotate(qo, p);
    let shift = quat_rotate(q, [p[0] - rp[0], p[1] - rp[1], p[2] - rp[2]]);
    HeadPose {
        rotation: quat_mul(q, qo).map(|c| c as f32),
        translation: [0, 1, 2].map(|i| (f64::from(pose.translation[i]) + shift[i]) as f32),
    }
}

/// `camera` (world-to-camera) after `pose` (head-to-world): head-to-camera.
fn compose(camera: &Camera, pose: &HeadPose) -> Camera {
    let [w, x, y, z] = pose.rotation.map(f64::from);
    let n = (w * w + x * x + y * y + z * z).sqrt().max(1e-12);
    let (w, x, y, z) = (w / n, x / n, y / n, z / n);
    let h = [
        [
            1.0 - 2.0 * (y * y + z * z),
            2.0 * (x * y - w * z),
            2.0 * (x * z + w * y),
        ],
        [
            2.0 * (x * y + w * z),
            1.0 - 2.0 * (x * x + z * z),
            2.0 * (y * z - w * x),
        ],
        [
            2.0 * (x * z - w * y),
            2.0 * (y * z + w * x),
            1.0 - 2.0 * (x * x + y * y),
        ],
    ];
    let c = camera.rotation.map(|r| r.map(f64::from));
    let mut out = camera.clone();
    for (row, ci) in out.rotation.iter_mut().zip(&c) {
        for (j, v) in row.iter_mut().enumerate() {
            *v = (0..3).map(|k| ci[k] * h[k][j]).sum::<f64>() as f32;
        }
    }
    for ((t, ci), t0) in out.translation.iter_mut().zip(&c).zip(camera.translation) {
        *t = (ci
            .iter()
            .zip(pose.translation)
            .map(|(a, b)| a * f64::from(b))
            .sum::<f64>()
            + f64::from(t0)) as f32;
    }
    out
}
