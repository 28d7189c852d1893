//! Dispatch of the projection kernels: the training forward
//! (`project_fwd.wgsl`) and the backward from per-splat gradients to the
//! trainer's parameters, the deformation coefficients and the pose
//! (`project_bwd.wgsl`, `deform_bwd.wgsl`, `reduce.wgsl`, `pose_bwd.wgsl`).
//! [`ProjectKernels`] encodes them on buffers the caller owns;
//! [`project_forward`] and [`project_backward`] run them on host data, for
//! tests and tools.

use super::kernel::{Bind, Kernel};
use crate::cpu::SH_COEFFS;

mod params;
mod uniforms;

pub use params::{GpuGradients, GpuParams};
pub use uniforms::{FrameParams, MeshPriorParams, PoseParams, ReduceParams, MAX_PRIOR_DIM};

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
    /// Uniform: [`MeshPriorParams`] (`scale` 0: no prior).
    pub prior: &'a wgpu::Buffer,
    /// The mesh prior's `M_i`: `3 D n` × `f32`, Gaussian-major (at least 4
    /// bytes).
    pub prior_m: &'a wgpu::Buffer,
    /// The mesh prior's trust per Gaussian: `n` × `f32` (at least 4 bytes).
    pub prior_trust: &'a wgpu::Buffer,
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
const QUAT: &str = include_str!("quat.wgsl");

impl ProjectKernels {
    /// Compiles the kernels on `device`. They need no features and fit
    /// WebGPU's default limits (at most 8 storage buffers per stage, 12 KiB
    /// of workgroup memory).
    pub fn new(device: &wgpu::Device) -> Self {
        use Bind::{Read, Uniform, Write};
        Self {
            forward: Kernel::from_parts(
                device,
                &[FRAME, QUAT, GAUSSIAN, include_str!("project_fwd.wgsl")],
                "project_fwd",
                &[Uniform, Read, Read, Read, Write, Write, Write, Write],
            ),
            backward: Kernel::from_parts(
                device,
                &[FRAME, QUAT, GAUSSIAN, include_str!("project_bwd.wgsl")],
                "project_bwd",
                &[Uniform, Read, Read, Read, Read, Read, Write, Write, Write],
            ),
            deform: Kernel::from_parts(
                device,
                &[FRAME, include_str!("deform_bwd.wgsl")],
                "deform_bwd",
                &[Uniform, Read, Read, Write, Write, Uniform, Read, Read],
            ),
            reduce: Kernel::new(
                device,
                include_str!("reduce.wgsl"),
                "reduce",
                &[Uniform, Read, Write],
            ),
            pose: Kernel::from_parts(
                device,
                &[include_str!("rotation.wgsl"), include_str!("pose_bwd.wgsl")],
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
                &[
                    b.frame,
                    b.bases,
                    b.d_gauss,
                    b.d_bases,
                    b.partials,
                    b.prior,
                    b.prior_m,
                    b.prior_trust,
                ],
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
    deform_backward, deform_backward_prior, invert_ids, pose_backward, project_backward,
    project_forward, ProjectInputs, ProjectOutput,
};

#[cfg(not(target_arch = "wasm32"))]
mod host;
