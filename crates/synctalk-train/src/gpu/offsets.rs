//! The per-splat emit offsets the backward's record slots need, from the
//! renderer's per-rank arrays (`splat_offsets.wgsl`): its emit.wgsl indexes
//! `tile_offsets` by depth rank, the backward indexes by splat.

use super::kernel::{Bind, Kernel};

/// The buffers of [`SplatOffsets`], all storage.
pub struct OffsetBuffers<'a> {
    /// `u32`s; the first is the number of visible splats (ranks in use).
    pub counters: &'a wgpu::Buffer,
    /// Rank → splat index.
    pub depth_vals: &'a wgpu::Buffer,
    /// Rank → first intersection in emit order.
    pub tile_offsets: &'a wgpu::Buffer,
    /// Written: splat index → first intersection in emit order.
    pub isect_offsets: &'a wgpu::Buffer,
}

/// The compiled scatter of emit offsets from depth rank to splat.
pub struct SplatOffsets {
    kernel: Kernel,
}

impl SplatOffsets {
    /// Compiles the kernel on `device`.
    pub fn new(device: &wgpu::Device) -> Self {
        Self {
            kernel: Kernel::new(
                device,
                include_str!("splat_offsets.wgsl"),
                "splat_offsets",
                &[Bind::Read, Bind::Read, Bind::Read, Bind::Write],
            ),
        }
    }

    /// A bind group over `b`.
    pub fn bind(&self, device: &wgpu::Device, b: &OffsetBuffers<'_>) -> wgpu::BindGroup {
        self.kernel.bind(
            device,
            &[b.counters, b.depth_vals, b.tile_offsets, b.isect_offsets],
        )
    }

    /// Encodes the scatter for up to `capacity` ranks (threads past
    /// `counters[0]` do nothing).
    pub fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        group: &wgpu::BindGroup,
        capacity: u32,
    ) {
        self.kernel
            .encode_threads(encoder, group, "splat_offsets", capacity);
    }
}
