//! What the trainer reads of a dataset ([`TrainData`]): per frame the
//! target with its masks, the layer under the head, the tracked view and
//! the condition. `crate::dataset::Dataset` implements it for a
//! `synctalk-prepare` dataset; tests implement it for rendered scenes.

use synctalk_reference::View;

use crate::dataset::Dataset;

/// A dataset the trainer can take its steps from.
pub trait TrainData {
    /// Image width and height in pixels.
    fn size(&self) -> (u32, u32);
    /// Frames in all (the pose table has one row per frame).
    fn frames(&self) -> usize;
    /// The frames training draws from.
    fn train_frames(&self) -> Vec<usize>;
    /// The tracked head-to-camera of frame `t` as a view (the camera's
    /// intrinsics and near plane included).
    fn view(&self, t: usize) -> View;
    /// The condition (blendshapes) of frame `t`.
    fn condition(&self, t: usize) -> &[f32];
    /// Frame `t` packed for the loss ([`crate::gpu::pack_target`]).
    fn target(&self, t: usize) -> &[u32];
    /// The opaque layer under the head of frame `t` (torso over the
    /// background plate), `[r, g, b, 255]` little-endian per pixel.
    fn under(&self, t: usize) -> &[u32];
    /// Frame `t`'s tracked face landmarks in head space, for the mesh
    /// prior ([`crate::train::mesh_prior`]); `None` where there are none.
    fn head_space_landmarks(&self, _t: usize) -> Option<Vec<[f64; 3]>> {
        None
    }
}

/// The near plane of every portrait camera (the portrait format's and
/// torch_trainer.py's 0.2 head-space units).
pub const NEAR: f64 = 0.2;

/// The view of a row-major head-to-camera matrix `m` through a camera of
/// focal lengths and principal point `(fx, fy, cx, cy)` and image size.
pub fn view_of(m: &[[f64; 4]; 4], intrinsics: [f64; 4], width: u32, height: u32) -> View {
    let col = |j: usize| glam::DVec3::new(m[0][j], m[1][j], m[2][j]);
    View {
        rotation: glam::DMat3::from_cols(col(0), col(1), col(2)),
        translation: col(3),
        fx: intrinsics[0],
        fy: intrinsics[1],
        cx: intrinsics[2],
        cy: intrinsics[3],
        width,
        height,
        near: NEAR,
    }
}

/// Unpacks an opaque packed layer into the premultiplied f32 the loss
/// kernels take.
pub(crate) fn unpack_under(packed: &[u32], out: &mut Vec<[f32; 4]>) {
    out.clear();
    out.extend(packed.iter().map(|&p| {
        let [r, g, b, a] = p.to_le_bytes();
        let f = |v: u8| f32::from(v) / 255.0;
        let alpha = f(a);
        [f(r) * alpha, f(g) * alpha, f(b) * alpha, alpha]
    }));
}

impl TrainData for Dataset {
    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn frames(&self) -> usize {
        self.frame_count()
    }

    fn train_frames(&self) -> Vec<usize> {
        self.train.clone()
    }

    fn view(&self, t: usize) -> View {
        view_of(
            &self.head_to_camera[t],
            [self.fx, self.fy, self.cx, self.cy],
            self.width,
            self.height,
        )
    }

    fn condition(&self, t: usize) -> &[f32] {
        self.blendshapes_of(t)
    }

    fn target(&self, t: usize) -> &[u32] {
        &self.frames[t].target
    }

    fn under(&self, t: usize) -> &[u32] {
        &self.frames[t].under
    }

    fn head_space_landmarks(&self, t: usize) -> Option<Vec<[f64; 3]>> {
        super::mesh_prior::head_space_landmarks(self, t)
    }
}
