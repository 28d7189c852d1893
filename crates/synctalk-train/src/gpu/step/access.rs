//! A [`TrainStep`]'s sizes and the buffers other kernels and read-backs
//! use.

use super::TrainStep;

impl TrainStep {
    /// `[pairs used, pairs needed, 0, 0]` (u32) after a step; a read-back
    /// source (`COPY_SRC`). See the module docs for growing.
    pub fn stats(&self) -> &wgpu::Buffer {
        &self.buffers.stats
    }

    /// The loss terms after a step: 4 f32, `[total, l1, ssim, alpha]` as
    /// [`crate::gpu::GpuLoss::terms`]; `COPY_SRC`.
    pub fn loss(&self) -> &wgpu::Buffer {
        &self.buffers.loss
    }

    /// The Gaussians' parameter buffer (`3 n` vec4, [`crate::gpu::GpuParams::gauss`]),
    /// for kernels that change it between steps (MCMC noise).
    pub fn gauss(&self) -> &wgpu::Buffer {
        &self.buffers.gauss
    }

    /// Image width in pixels.
    pub fn width(&self) -> u32 {
        self.config.width
    }

    /// Image height in pixels.
    pub fn height(&self) -> u32 {
        self.config.height
    }

    /// The intersection capacity.
    pub fn isect_capacity(&self) -> u32 {
        self.config.isect_capacity
    }

    /// The number of Gaussians.
    pub fn num_gaussians(&self) -> u32 {
        self.n
    }

    /// Words of the pose gradient ([`crate::gpu::POSE_WORDS`]) in the step's `d_pose`
    /// buffer, for a pose optimiser outside the step.
    pub fn d_pose(&self) -> &wgpu::Buffer {
        &self.buffers.d_pose
    }
}
