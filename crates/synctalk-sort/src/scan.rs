//! Exclusive prefix sum over a `u32` buffer whose length is read on the GPU.

use crate::layout::{entries, pipeline, storage};

/// Elements handled by one workgroup of the scan kernels.
pub const SCAN_BLOCK: u32 = 1024;

/// Pipelines for an in-place exclusive prefix sum (`scan.wgsl`).
///
/// The array length and the indirect workgroup count are read from a
/// 16-byte "scan info" buffer: `[len, groups, 1, 1]` with
/// `groups = ceil(len / 1024)`. The caller's kernels write it, so the sum
/// runs without a CPU round trip.
pub struct PrefixSum {
    layout: wgpu::BindGroupLayout,
    reduce: wgpu::ComputePipeline,
    scan_partials: wgpu::ComputePipeline,
    scan_add: wgpu::ComputePipeline,
}

/// The buffers one prefix sum runs over, bound once.
pub struct ScanTarget {
    bind_group: wgpu::BindGroup,
}

impl PrefixSum {
    /// Compiles the scan pipelines.
    pub fn new(device: &wgpu::Device) -> Self {
        let module = device.create_shader_module(wgpu::include_wgsl!("shaders/scan.wgsl"));
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("scan"),
            entries: &[storage(0, false), storage(1, false), storage(2, true)],
        });
        Self {
            reduce: pipeline(device, &module, &layout, "reduce"),
            scan_partials: pipeline(device, &module, &layout, "scan_partials"),
            scan_add: pipeline(device, &module, &layout, "scan_add"),
            layout,
        }
    }

    /// Size in bytes of the partial-sums buffer needed for `max_len` elements.
    pub fn partials_size(max_len: u32) -> u64 {
        u64::from(max_len.div_ceil(SCAN_BLOCK).max(1)) * 4
    }

    /// Binds `data` (scanned in place), a scratch buffer of at least
    /// [`Self::partials_size`] bytes and the scan info buffer (see type docs).
    pub fn target(
        &self,
        device: &wgpu::Device,
        data: &wgpu::Buffer,
        partials: &wgpu::Buffer,
        info: &wgpu::Buffer,
    ) -> ScanTarget {
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("scan"),
            layout: &self.layout,
            entries: &entries(&[data, partials, info]),
        });
        ScanTarget { bind_group }
    }

    /// Records the three scan dispatches; `info` must be the buffer bound in `target`.
    pub fn encode(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        target: &ScanTarget,
        info: &wgpu::Buffer,
    ) {
        pass.set_bind_group(0, &target.bind_group, &[]);
        pass.set_pipeline(&self.reduce);
        pass.dispatch_workgroups_indirect(info, 4);
        pass.set_pipeline(&self.scan_partials);
        pass.dispatch_workgroups(1, 1, 1);
        pass.set_pipeline(&self.scan_add);
        pass.dispatch_workgroups_indirect(info, 4);
    }
}
