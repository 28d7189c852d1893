//! Pinhole cameras and the INRIA `cameras.json` format.

use std::path::Path;

/// Largest image side accepted anywhere (WebGPU's default texture limit).
pub const MAX_IMAGE_SIDE: u32 = 8192;

/// A pinhole camera in OpenCV/COLMAP convention (x right, y down, z forward).
#[derive(Clone, Debug, PartialEq)]
pub struct Camera {
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Focal length in pixels, x.
    pub fx: f32,
    /// Focal length in pixels, y.
    pub fy: f32,
    /// Principal point in pixels, x (continuous coordinates: the image spans 0..width).
    pub cx: f32,
    /// Principal point in pixels, y.
    pub cy: f32,
    /// World-to-camera rotation, row-major: `x_cam = R x_world + t`.
    pub rotation: [[f32; 3]; 3],
    /// World-to-camera translation.
    pub translation: [f32; 3],
    /// Gaussians whose view-space depth is at or below this are culled
    /// (the original rasterizer uses 0.2).
    pub near: f32,
}

/// Errors reading or validating cameras.
#[derive(Debug, thiserror::Error)]
pub enum CameraError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The JSON is malformed or lacks fields.
    #[error("{path}: not a cameras.json list: {source}")]
    Json {
        /// The file.
        path: String,
        /// The cause.
        source: serde_json::Error,
    },
    /// A camera index past the end of the list.
    #[error("camera index {index} out of range: the file has {count} cameras")]
    Index {
        /// The requested index.
        index: usize,
        /// Cameras in the file.
        count: usize,
    },
    /// A field with an unusable value.
    #[error("camera field `{field}` is invalid: {why}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        why: String,
    },
}

impl Camera {
    /// The same camera drawing a `width` × `height` image of the same view:
    /// focal lengths and principal point scaled with the image.
    pub fn scaled(&self, width: u32, height: u32) -> Self {
        let sx = width as f32 / self.width.max(1) as f32;
        let sy = height as f32 / self.height.max(1) as f32;
        Self {
            width,
            height,
            fx: self.fx * sx,
            fy: self.fy * sy,
            cx: self.cx * sx,
            cy: self.cy * sy,
            ..self.clone()
        }
    }

    /// A camera at the origin looking down +z with the principal point centred.
    pub fn centered(width: u32, height: u32, fx: f32, fy: f32) -> Self {
        Self {
            width,
            height,
            fx,
            fy,
            cx: width as f32 / 2.0,
            cy: height as f32 / 2.0,
            rotation: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            translation: [0.0; 3],
            near: 0.2,
        }
    }

    /// Checks sizes, focal lengths and that the rotation is orthonormal.
    pub fn validate(&self) -> Result<(), CameraError> {
        let invalid = |field, why: String| Err(CameraError::Invalid { field, why });
        for (field, v) in [("width", self.width), ("height", self.height)] {
            if v == 0 || v > MAX_IMAGE_SIDE {
                return invalid(field, format!("{v} is outside 1..={MAX_IMAGE_SIDE}"));
            }
        }
        for (field, v) in [("fx", self.fx), ("fy", self.fy)] {
            if !(v.is_finite() && v > 0.0) {
                return invalid(field, format!("{v} is not a positive number"));
            }
        }
        for (field, v) in [("cx", self.cx), ("cy", self.cy), ("near", self.near)] {
            if !v.is_finite() {
                return invalid(field, format!("{v} is not finite"));
            }
        }
        if self.translation.iter().any(|v| !v.is_finite()) {
            return invalid("translation", "not finite".into());
        }
        let r = glam::Mat3::from_cols_array_2d(&self.rotation).transpose();
        let err = (r * r.transpose() - glam::Mat3::IDENTITY)
            .abs()
            .to_cols_array()
            .iter()
            .fold(0f32, |a, &b| a.max(b));
        // NaN-safe: a NaN error or determinant fails these checks.
        let orthonormal = err < 1e-3;
        let proper = r.determinant() > 0.0;
        if !orthonormal || !proper {
            return invalid(
                "rotation",
                format!("not a proper rotation (orthonormality error {err})"),
            );
        }
        Ok(())
    }

    /// The camera centre in world coordinates.
    pub fn position(&self) -> [f32; 3] {
        let r = glam::Mat3::from_cols_array_2d(&self.rotation).transpose();
        (-(r.transpose() * glam::Vec3::from(self.translation))).to_array()
    }
}

/// One entry of the INRIA trainer's `cameras.json`.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
pub struct InriaCamera {
    /// Camera id.
    #[serde(default)]
    pub id: i64,
    /// Image name.
    #[serde(default)]
    pub img_name: String,
    /// Image width.
    pub width: u32,
    /// Image height.
    pub height: u32,
    /// Camera centre in world coordinates.
    pub position: [f64; 3],
    /// Camera-to-world rotation, row-major.
    pub rotation: [[f64; 3]; 3],
    /// Focal length x in pixels.
    pub fx: f64,
    /// Focal length y in pixels.
    pub fy: f64,
}

impl InriaCamera {
    /// Reads every camera of a `cameras.json` file.
    pub fn load_all(path: &Path) -> Result<Vec<Self>, CameraError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| CameraError::Io {
            path: p.clone(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| CameraError::Json { path: p, source })
    }

    /// Reads camera `index` of a `cameras.json` file as a validated [`Camera`].
    pub fn load(path: &Path, index: usize) -> Result<Camera, CameraError> {
        let all = Self::load_all(path)?;
        let count = all.len();
        all.get(index)
            .ok_or(CameraError::Index { index, count })?
            .to_camera()
    }

    /// Converts to a world-to-camera [`Camera`] with a centred principal point.
    pub fn to_camera(&self) -> Result<Camera, CameraError> {
        let c2w = glam::DMat3::from_cols_array_2d(&self.rotation).transpose();
        let w2c = c2w.transpose();
        let t = -(w2c * glam::DVec3::from(self.position));
        let rows = w2c.transpose().to_cols_array_2d();
        let mut cam = Camera::centered(self.width, self.height, self.fx as f32, self.fy as f32);
        cam.rotation = rows.map(|r| r.map(|v| v as f32));
        cam.translation = t.to_array().map(|v| v as f32);
        cam.validate()?;
        Ok(cam)
    }

    /// The inverse of [`Self::to_camera`], for writing `cameras.json`.
    pub fn from_camera(id: i64, img_name: &str, cam: &Camera) -> Self {
        let w2c =
            glam::DMat3::from_cols_array_2d(&cam.rotation.map(|r| r.map(f64::from))).transpose();
        let c2w = w2c.transpose();
        let pos = -(c2w * glam::DVec3::from(cam.translation.map(f64::from)));
        Self {
            id,
            img_name: img_name.to_string(),
            width: cam.width,
            height: cam.height,
            position: pos.to_array(),
            rotation: c2w.transpose().to_cols_array_2d(),
            fx: f64::from(cam.fx),
            fy: f64::from(cam.fy),
        }
    }
}
