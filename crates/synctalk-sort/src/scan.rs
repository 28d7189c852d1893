//! Exclusive prefix sum over a `u32` buffer whose length is read on the GPU.

use crate::layout::{entries, pipeline, pipeline_with, storage};

/// Elements handled by one workgroup of the scan kernels.
pub const SCAN_BLOCK: u32 = 1024;
/// Up to this many elements, one workgroup scans the whole array in a
/// single dispatch (one workgroup-wide scan); beyond, three dispatches spread
/// it over the GPU. Measured on an H100: each further 4096 values cost the
/// single workgroup about 6 µs, more than the two extra dispatches.
pub const SINGLE_PASS_MAX: u32 = 4096;

/// Pipelines for an in-place exclusive prefix sum (`scan.wgsl`).
///
/// The array length and the indirect workgroup count are read from a
/// 16-byte "scan info" buffer: `[len, groups, 1, 1]` with
/// `groups = ceil(len / 1024)`. The caller's kernels write it, so the sum
/// runs without a CPU round trip.
pub struct PrefixSum {
    layout: wgpu::BindGroupLayout,
    reduce: wgpu::ComputePipeline,
    /// `scan_single` over the per-block partial sums.
    scan_groups: wgpu::ComputePipeline,
    scan_add: wgpu::ComputePipeline,
    scan_single: wgpu::ComputePipeline,
}

/// The buffers one prefix sum runs over, bound once.
pub struct ScanTarget {
    bind_group: wgpu::BindGroup,
    /// The partials bound as the array to scan (three-dispatch variant).
    partials_group: wgpu::BindGroup,
    max_len: u32,
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
            scan_groups: pipeline_with(
                device,
                &module,
                &layout,
                "scan_single",
                &[("SCAN_GROUPS", 1.0)],
            ),
            scan_add: pipeline(device, &module, &layout, "scan_add"),
            scan_single: pipeline(device, &module, &layout, "scan_single"),
            layout,
        }
    }

    /// Size in bytes of the partial-sums buffer needed for `max_len` elements.
    pub fn partials_size(max_len: u32) -> u64 {
        u64::from(max_len.div_ceil(SCAN_BLOCK).max(1)) * 4
    }

    /// Binds `data` (scanned in place; at most `max_len` elements at run
    /// time), a scratch buffer of at least [`Self::partials_size`] bytes and
    /// the scan info buffer (see type docs).
    pub fn target(
        &self,
        device: &wgpu::Device,
        data: &wgpu::Buffer,
        partials: &wgpu::Buffer,
        info: &wgpu::Buffer,
        max_len: u32,
    ) -> ScanTarget {
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("scan"),
            layout: &self.layout,
            entries: &entries(&[data, partials, info]),
        });
        // The partials are scanned as `data`; `scan_single` never touches
        // binding 1, but WebGPU refuses one writable buffer bound twice in a
        // dispatch, so a 4-byte stand-in fills it.
        let unused = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("scan unused"),
            size: 4,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        });
        let partials_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("scan partials"),
            layout: &self.layout,
            entries: &entries(&[partials, &unused, info]),
        });
        ScanTarget {
            bind_group,
            partials_group,
            max_len,
        }
    }

    /// Records the scan (one dispatch for arrays up to [`SINGLE_PASS_MAX`],
    /// three beyond); `info` must be the buffer bound in `target`.
    pub fn encode(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        target: &ScanTarget,
        info: &wgpu::Buffer,
    ) {
        pass.set_bind_group(0, &target.bind_group, &[]);
        if target.max_len <= SINGLE_PASS_MAX {
            pass.set_pipeline(&self.scan_single);
            pass.dispatch_workgroups(1, 1, 1);
            return;
        }
        pass.set_pipeline(&self.reduce);
        pass.dispatch_workgroups_indirect(info, 4);
        pass.set_bind_group(0, &target.partials_group, &[]);
        pass.set_pipeline(&self.scan_groups);
        pass.dispatch_workgroups(1, 1, 1);
        pass.set_bind_group(0, &target.bind_group, &[]);
        pass.set_pipeline(&self.scan_add);
        pass.dispatch_workgroups_indirect(info, 4);
    }
}
