//! The projection kernels' uniforms: the renderer's frame uniform, the
//! reduction's, the pose's.

use bytemuck::{Pod, Zeroable};
use synctalk_gaussians::DEFORM_CHANNELS;
use synctalk_reference::View;

use super::{MAX_BASES, SH_FLOATS, VIEW_WORDS};
use crate::cpu;
use crate::gpu::raster::dispatch_1d;
use crate::gpu::GpuError;

/// The renderer's per-frame uniform (`Frame` in its common.wgsl and in
/// frame.wgsl here), field for field: one buffer can serve the renderer's
/// preprocess and the trainer's projection.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct FrameParams {
    /// World-to-camera, column-major, pose correction included.
    pub view: [[f32; 4]; 4],
    /// Camera centre in the Gaussians' space, `w = 1`.
    pub cam_pos: [f32; 4],
    /// Focal lengths in pixels.
    pub focal: [f32; 2],
    /// Principal point in pixels.
    pub principal: [f32; 2],
    /// Tangent limits of the EWA clamp, positive side `(x, y)`.
    pub lim_pos: [f32; 2],
    /// Tangent limits of the EWA clamp, negative side `(x, y)`.
    pub lim_neg: [f32; 2],
    /// Image width and height.
    pub image_size: [u32; 2],
    /// Tiles across and down.
    pub tiles: [u32; 2],
    /// Gaussians.
    pub num_gaussians: u32,
    /// SH degree used (0 or 1 here).
    pub sh_degree: u32,
    /// Deformation bases `K`.
    pub num_bases: u32,
    /// Near plane.
    pub near: f32,
    /// The renderer's intersection capacity (unused here).
    pub isect_capacity: u32,
    /// SH words per Gaussian: the renderer's packed f16 words; the trainer's
    /// kernels read [`SH_FLOATS`] f32 and ignore it.
    pub sh_stride: u32,
    /// Workgroups along x of the folded per-Gaussian dispatch.
    pub preprocess_groups_x: u32,
    /// Unused.
    pub pad: u32,
    /// Deformation coefficients, 4 per vec4.
    pub coeffs: [[f32; 4]; 8],
}

fn too_large(what: &'static str, got: usize, max: usize) -> GpuError {
    GpuError::TooLarge {
        what,
        got: got as u64,
        max: max as u64,
    }
}

impl FrameParams {
    /// The uniform of `view` (the refined head-to-camera, in f64, rounded to
    /// f32 here) for `num_gaussians` Gaussians, SH degree `sh_degree` (0 or
    /// 1) and coefficients `coeffs` (one per basis).
    pub fn new(
        view: &View,
        num_gaussians: usize,
        sh_degree: u32,
        coeffs: &[f32],
    ) -> Result<Self, GpuError> {
        if sh_degree > cpu::MAX_SH_DEGREE {
            return Err(too_large(
                "SH degree",
                sh_degree as usize,
                cpu::MAX_SH_DEGREE as usize,
            ));
        }
        if coeffs.len() > MAX_BASES {
            return Err(too_large("deformation bases", coeffs.len(), MAX_BASES));
        }
        // The kernels index bases as (k * 11 + c) * n + i and the
        // per-Gaussian arrays as 12 i + j in u32.
        let max_n = u32::MAX as usize / (DEFORM_CHANNELS * MAX_BASES).max(SH_FLOATS);
        if num_gaussians > max_n {
            return Err(too_large("Gaussians", num_gaussians, max_n));
        }
        let f = |v: f64| v as f32;
        let r = view.rotation;
        let t = view.translation;
        let col = |c: glam::DVec3| [f(c.x), f(c.y), f(c.z), 0.0];
        let pos = view.position();
        let (xp, xn, yp, yn) = view.fov_limits();
        let (tiles_x, tiles_y) = view.tiles();
        let mut c = [[0f32; 4]; 8];
        for (k, &v) in coeffs.iter().enumerate() {
            c[k / 4][k % 4] = v;
        }
        let (groups_x, _) = dispatch_1d(num_gaussians as u32);
        Ok(Self {
            view: [
                col(r.x_axis),
                col(r.y_axis),
                col(r.z_axis),
                [f(t.x), f(t.y), f(t.z), 1.0],
            ],
            cam_pos: [f(pos.x), f(pos.y), f(pos.z), 1.0],
            focal: [f(view.fx), f(view.fy)],
            principal: [f(view.cx), f(view.cy)],
            lim_pos: [f(xp), f(yp)],
            lim_neg: [f(xn), f(yn)],
            image_size: [view.width, view.height],
            tiles: [tiles_x as u32, tiles_y as u32],
            num_gaussians: num_gaussians as u32,
            sh_degree,
            num_bases: coeffs.len() as u32,
            near: f(view.near),
            isect_capacity: 0,
            sh_stride: SH_FLOATS as u32,
            preprocess_groups_x: groups_x.max(1),
            pad: 0,
            coeffs: c,
        })
    }

    /// Workgroups `(x, y)` of the per-Gaussian kernels.
    pub fn groups(&self) -> (u32, u32) {
        dispatch_1d(self.num_gaussians)
    }

    /// Rows of the backward's partial sums: one per dispatched workgroup
    /// (at least 1).
    pub fn partial_rows(&self) -> usize {
        let (x, y) = self.groups();
        (x as usize * y as usize).max(1)
    }

    /// Floats per row of the partial sums, and of the totals:
    /// [`VIEW_WORDS`] + `K`.
    pub fn partial_width(&self) -> usize {
        VIEW_WORDS + self.num_bases as usize
    }

    /// The uniform of the partial sums' reduction.
    pub fn reduce_params(&self) -> ReduceParams {
        ReduceParams {
            rows: self.partial_rows() as u32,
            width: self.partial_width() as u32,
            pad: [0; 2],
        }
    }
}

/// `reduce.wgsl`'s uniform.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct ReduceParams {
    /// Rows of partial sums.
    pub rows: u32,
    /// Floats per row.
    pub width: u32,
    /// Unused.
    pub pad: [u32; 2],
}

/// `pose_bwd.wgsl`'s uniform: the tracked head-to-camera rotation and the
/// pose 6-vector the view was refined with.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct PoseParams {
    /// `H_R` by columns (`w` unused).
    pub head_rotation: [[f32; 4]; 3],
    /// The 6-vector in [`cpu::POSE_UNITS`], then two unused words.
    pub delta: [f32; 8],
}

impl PoseParams {
    /// The uniform of the unrefined `head` view (its rotation) and `pose`.
    pub fn new(head: &View, pose: &[f64; 6]) -> Self {
        let r = head.rotation;
        let col = |c: glam::DVec3| [c.x as f32, c.y as f32, c.z as f32, 0.0];
        let mut delta = [0f32; 8];
        for (d, &p) in delta.iter_mut().zip(pose) {
            *d = p as f32;
        }
        Self {
            head_rotation: [col(r.x_axis), col(r.y_axis), col(r.z_axis)],
            delta,
        }
    }
}

/// The most condition channels the mesh prior's uniform holds.
pub const MAX_PRIOR_DIM: usize = 64;

/// `deform_bwd.wgsl`'s `MeshPrior`: the mesh prior's weight and the
/// frame's normalised condition (`crate::train::mesh_prior`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
pub struct MeshPriorParams {
    /// `2 λ / n`: the prior's gradient factor (0: no prior).
    pub scale: f32,
    /// The condition's length, at most [`MAX_PRIOR_DIM`].
    pub dim: u32,
    /// Padding.
    pub _pad: [u32; 2],
    /// The frame's normalised condition, 4 per vec4 (the trainer copies the
    /// controller's condition here each step).
    pub z: [[f32; 4]; MAX_PRIOR_DIM / 4],
}

impl Default for MeshPriorParams {
    fn default() -> Self {
        Zeroable::zeroed()
    }
}

impl MeshPriorParams {
    /// The byte offset of [`MeshPriorParams::z`].
    pub const Z_OFFSET: u64 = 16;

    /// With condition `z` (at most [`MAX_PRIOR_DIM`] long).
    pub fn new(scale: f32, z: &[f32]) -> Result<Self, GpuError> {
        if z.len() > MAX_PRIOR_DIM {
            return Err(GpuError::TooLarge {
                what: "mesh prior condition",
                got: z.len() as u64,
                max: MAX_PRIOR_DIM as u64,
            });
        }
        let mut p = Self {
            scale,
            dim: z.len() as u32,
            ..Self::default()
        };
        for (j, v) in z.iter().enumerate() {
            p.z[j / 4][j % 4] = *v;
        }
        Ok(p)
    }
}
