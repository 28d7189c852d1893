//! The Gaussian → splat map of a compacted forward (`invert_ids.wgsl`):
//! the projection backward runs per Gaussian (so that its sums over
//! Gaussians have a fixed order whatever the compaction did) and needs
//! each Gaussian's splat; the renderer's preprocess knows only splat →
//! Gaussian, if it writes the Gaussian's index into the last word of its
//! `Splat` (the `_pad` field, as a u32).

use super::kernel::{Bind, Kernel};

/// The buffers of [`InvertIds`], all storage.
pub struct IdBuffers<'a> {
    /// `u32`s; the first is the number of visible splats.
    pub counters: &'a wgpu::Buffer,
    /// The splats ([`super::GpuSplat`], 10 words), each with its Gaussian's
    /// index as the u32 bits of its last word.
    pub splats: &'a wgpu::Buffer,
    /// Written: per Gaussian, its splat index + 1 (0: culled). Must be
    /// cleared to 0 before.
    pub splat_of: &'a wgpu::Buffer,
}

/// The compiled scatter from splat → Gaussian to Gaussian → splat.
pub struct InvertIds {
    kernel: Kernel,
}

impl InvertIds {
    /// Compiles the kernel on `device`.
    pub fn new(device: &wgpu::Device) -> Self {
        Self {
            kernel: Kernel::new(
                device,
                include_str!("invert_ids.wgsl"),
                "invert_ids",
                &[Bind::Read, Bind::Read, Bind::Write],
            ),
        }
    }

    /// A bind group over `b`.
    pub fn bind(&self, device: &wgpu::Device, b: &IdBuffers<'_>) -> wgpu::BindGroup {
        self.kernel
            .bind(device, &[b.counters, b.splats, b.splat_of])
    }

    /// Encodes the scatter for up to `capacity` splat slots (threads past
    /// `counters[0]` do nothing); clear `splat_of` before.
    pub fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        group: &wgpu::BindGroup,
        capacity: u32,
    ) {
        self.kernel
            .encode_threads(encoder, group, "invert_ids", capacity);
    }
}
