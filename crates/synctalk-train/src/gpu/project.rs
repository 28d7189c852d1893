//! Dispatch of the projection kernels: the training forward
//! (`project_fwd.wgsl`) and the backward from per-splat gradients to the
//! trainer's parameters, the deformation coefficients and the pose
//! (`project_bwd.wgsl`, `deform_bwd.wgsl`, `reduce.wgsl`, `pose_bwd.wgsl`).
//! [`ProjectKernels`] encodes them on buffers the caller owns;
//! [`project_forward`] and [`project_backward`] run them on host data, for
//! tests and tools.

use bytemuck::{Pod, Zeroable};
use synctalk_gaussians::DEFORM_CHANNELS;
use synctalk_reference::View;

use super::kernel::{Bind, Kernel};
use super::raster::dispatch_1d;
use super::GpuError;
use crate::cpu::{self, SH_COEFFS};

/// f32 SH words per Gaussian: degree 1 at most, 4 coefficients × RGB,
/// coefficient-major (`sh[i * 12 + 3 k + channel]`).
pub const SH_FLOATS: usize = SH_COEFFS * 3;

/// Leading columns of a row of the backward's partial sums: `dL/d` the
/// view rotation (9, column-major) and translation (3); the `K`
/// coefficient columns follow.
pub const VIEW_WORDS: usize = 12;

/// The most deformation bases the frame uniform holds (the renderer's
/// `MAX_BASES`).
pub const MAX_BASES: usize = 32;

/// Words of the pose gradient.
pub const POSE_WORDS: usize = 6;

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

/// The buffers the projection kernels bind. `n` Gaussians, `S` splats
/// (`n` for [`ProjectKernels::encode_forward`]'s output), `K` bases,
/// `R` = [`FrameParams::partial_rows`], `W` = [`FrameParams::partial_width`].
pub struct ProjectBuffers<'a> {
    /// Uniform: [`FrameParams`].
    pub frame: &'a wgpu::Buffer,
    /// Uniform: [`ReduceParams`] ([`FrameParams::reduce_params`]).
    pub reduce: &'a wgpu::Buffer,
    /// Uniform: [`PoseParams`].
    pub pose: &'a wgpu::Buffer,
    /// `3 n` × `vec4<f32>` ([`GpuParams::gauss`]).
    pub gauss: &'a wgpu::Buffer,
    /// `12 n` × `f32`.
    pub sh: &'a wgpu::Buffer,
    /// `11 K n` × `f32` (at least 4 bytes).
    pub bases: &'a wgpu::Buffer,
    /// Written by the forward: `n` × [`super::GpuSplat`].
    pub splats: &'a wgpu::Buffer,
    /// Written by the forward: `n` × `u32` depth bits (culled: `u32::MAX`).
    pub depth_keys: &'a wgpu::Buffer,
    /// Written by the forward: `n` × `vec2<u32>` packed tile rectangles.
    pub tile_rects: &'a wgpu::Buffer,
    /// Written by the forward, read by the backward: `n` × `u32`, each
    /// Gaussian's splat index + 1, 0 when culled.
    pub splat_of: &'a wgpu::Buffer,
    /// `S` × [`super::RasterGrad`]: the raster backward's per-splat sums.
    pub splat_grads: &'a wgpu::Buffer,
    /// Written: `3 n` × `vec4<f32>`, `dL/d` the deformed (= base) values.
    pub d_gauss: &'a wgpu::Buffer,
    /// Written: `12 n` × `f32`.
    pub d_sh: &'a wgpu::Buffer,
    /// Written: `11 K n` × `f32` (at least 4 bytes).
    pub d_bases: &'a wgpu::Buffer,
    /// Scratch: `R W` × `f32`.
    pub partials: &'a wgpu::Buffer,
    /// Written: `W` × `f32`, `dL/d` the view ([`VIEW_WORDS`]) then `dL/dw`.
    pub sums: &'a wgpu::Buffer,
    /// Written: [`POSE_WORDS`] × `f32`.
    pub d_pose: &'a wgpu::Buffer,
}

/// Bind groups of [`ProjectKernels`] over one set of [`ProjectBuffers`].
pub struct ProjectBindGroups {
    forward: wgpu::BindGroup,
    backward: wgpu::BindGroup,
    deform: wgpu::BindGroup,
    reduce: wgpu::BindGroup,
    pose: wgpu::BindGroup,
}

/// The compiled projection kernels.
pub struct ProjectKernels {
    forward: Kernel,
    backward: Kernel,
    deform: Kernel,
    reduce: Kernel,
    pose: Kernel,
}

const FRAME: &str = include_str!("frame.wgsl");
const GAUSSIAN: &str = include_str!("gaussian.wgsl");

impl ProjectKernels {
    /// Compiles the kernels on `device`. They need no features and fit
    /// WebGPU's default limits (at most 8 storage buffers per stage, 12 KiB
    /// of workgroup memory).
    pub fn new(device: &wgpu::Device) -> Self {
        use Bind::{Read, Uniform, Write};
        Self {
            forward: Kernel::from_parts(
                device,
                &[FRAME, GAUSSIAN, include_str!("project_fwd.wgsl")],
                "project_fwd",
                &[Uniform, Read, Read, Read, Write, Write, Write, Write],
            ),
            backward: Kernel::from_parts(
                device,
                &[FRAME, GAUSSIAN, include_str!("project_bwd.wgsl")],
                "project_bwd",
                &[Uniform, Read, Read, Read, Read, Read, Write, Write, Write],
            ),
            deform: Kernel::from_parts(
                device,
                &[FRAME, include_str!("deform_bwd.wgsl")],
                "deform_bwd",
                &[Uniform, Read, Read, Write, Write],
            ),
            reduce: Kernel::new(
                device,
                include_str!("reduce.wgsl"),
                "reduce",
                &[Uniform, Read, Write],
            ),
            pose: Kernel::new(
                device,
                include_str!("pose_bwd.wgsl"),
                "pose_bwd",
                &[Uniform, Read, Write],
            ),
        }
    }

    /// Bind groups over `b`.
    pub fn bind(&self, device: &wgpu::Device, b: &ProjectBuffers<'_>) -> ProjectBindGroups {
        ProjectBindGroups {
            forward: self.forward.bind(
                device,
                &[
                    b.frame,
                    b.gauss,
                    b.sh,
                    b.bases,
                    b.splats,
                    b.depth_keys,
                    b.tile_rects,
                    b.splat_of,
                ],
            ),
            backward: self.backward.bind(
                device,
                &[
                    b.frame,
                    b.gauss,
                    b.sh,
                    b.bases,
                    b.splat_of,
                    b.splat_grads,
                    b.d_gauss,
                    b.d_sh,
                    b.partials,
                ],
            ),
            deform: self.deform.bind(
                device,
                &[b.frame, b.bases, b.d_gauss, b.d_bases, b.partials],
            ),
            reduce: self.reduce.bind(device, &[b.reduce, b.partials, b.sums]),
            pose: self.pose.bind(device, &[b.pose, b.sums, b.d_pose]),
        }
    }

    /// Encodes the forward projection of `frame.num_gaussians` Gaussians.
    pub fn encode_forward(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        groups: &ProjectBindGroups,
        frame: &FrameParams,
    ) {
        let (x, y) = frame.groups();
        if x == 0 {
            return;
        }
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("project_fwd"),
            timestamp_writes: None,
        });
        pass.set_pipeline(&self.forward.pipeline);
        pass.set_bind_group(0, &groups.forward, &[]);
        pass.dispatch_workgroups(x, y, 1);
    }

    /// Encodes the whole backward: projection, deformation, the reduction
    /// of their partial sums, the pose. The reduce uniform bound in
    /// `groups` must hold `frame.reduce_params()`.
    pub fn encode_backward(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        groups: &ProjectBindGroups,
        frame: &FrameParams,
    ) {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("project_bwd"),
            timestamp_writes: None,
        });
        let (x, y) = frame.groups();
        if x > 0 {
            pass.set_pipeline(&self.backward.pipeline);
            pass.set_bind_group(0, &groups.backward, &[]);
            pass.dispatch_workgroups(x, y, 1);
            if frame.num_bases > 0 {
                pass.set_pipeline(&self.deform.pipeline);
                pass.set_bind_group(0, &groups.deform, &[]);
                pass.dispatch_workgroups(x, y, 1);
            }
        }
        self.dispatch_reduce_and_pose(&mut pass, groups);
    }

    /// Encodes only the deformation backward and the reduction (the view
    /// columns of `partials` must hold valid values, e.g. zeros).
    pub fn encode_deform(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        groups: &ProjectBindGroups,
        frame: &FrameParams,
    ) {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("deform_bwd"),
            timestamp_writes: None,
        });
        let (x, y) = frame.groups();
        if x > 0 && frame.num_bases > 0 {
            pass.set_pipeline(&self.deform.pipeline);
            pass.set_bind_group(0, &groups.deform, &[]);
            pass.dispatch_workgroups(x, y, 1);
        }
        pass.set_pipeline(&self.reduce.pipeline);
        pass.set_bind_group(0, &groups.reduce, &[]);
        pass.dispatch_workgroups(1, 1, 1);
    }

    /// Encodes only the pose backward from `sums`.
    pub fn encode_pose(&self, encoder: &mut wgpu::CommandEncoder, groups: &ProjectBindGroups) {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("pose_bwd"),
            timestamp_writes: None,
        });
        pass.set_pipeline(&self.pose.pipeline);
        pass.set_bind_group(0, &groups.pose, &[]);
        pass.dispatch_workgroups(1, 1, 1);
    }

    fn dispatch_reduce_and_pose(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        groups: &ProjectBindGroups,
    ) {
        pass.set_pipeline(&self.reduce.pipeline);
        pass.set_bind_group(0, &groups.reduce, &[]);
        pass.dispatch_workgroups(1, 1, 1);
        pass.set_pipeline(&self.pose.pipeline);
        pass.set_bind_group(0, &groups.pose, &[]);
        pass.dispatch_workgroups(1, 1, 1);
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub use host::{
    deform_backward, invert_ids, pose_backward, project_backward, project_forward, ProjectInputs,
    ProjectOutput,
};

#[cfg(not(target_arch = "wasm32"))]
mod host;
