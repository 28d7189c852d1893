//! One compute kernel: its pipeline and explicit bind group layout.

use super::raster::dispatch_1d;

/// A binding of a trainer kernel, numbered in order.
#[derive(Clone, Copy)]
pub(crate) enum Bind {
    Uniform,
    Read,
    Write,
}

pub(crate) struct Kernel {
    pub pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
}

const COMMON: &str = include_str!("common.wgsl");

impl Kernel {
    /// Compiles `entry` of `source` (with `common.wgsl` prepended).
    pub fn new(device: &wgpu::Device, source: &str, entry: &str, binds: &[Bind]) -> Self {
        Self::from_parts(device, &[source], entry, binds)
    }

    /// Compiles `entry` of the concatenation of `parts` (with `common.wgsl`
    /// prepended): preludes first, the kernel last.
    pub fn from_parts(device: &wgpu::Device, parts: &[&str], entry: &str, binds: &[Bind]) -> Self {
        let code = std::iter::once(COMMON)
            .chain(parts.iter().copied())
            .collect::<Vec<_>>()
            .join("\n");
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(entry),
            source: wgpu::ShaderSource::Wgsl(code.into()),
        });
        let entries: Vec<wgpu::BindGroupLayoutEntry> = binds
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupLayoutEntry {
                binding: i as u32,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: match b {
                        Bind::Uniform => wgpu::BufferBindingType::Uniform,
                        Bind::Read => wgpu::BufferBindingType::Storage { read_only: true },
                        Bind::Write => wgpu::BufferBindingType::Storage { read_only: false },
                    },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            })
            .collect();
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some(entry),
            entries: &entries,
        });
        let pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(entry),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(entry),
            layout: Some(&pl),
            module: &module,
            entry_point: Some(entry),
            compilation_options: Default::default(),
            cache: None,
        });
        Self { pipeline, layout }
    }

    /// Records this kernel over `threads` threads (workgroups of 256 laid
    /// out by [`dispatch_1d`]) in `pass`; nothing when `threads` is 0.
    pub fn dispatch_threads(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        group: &wgpu::BindGroup,
        threads: u32,
    ) {
        let (x, y) = dispatch_1d(threads);
        if x == 0 {
            return;
        }
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, group, &[]);
        pass.dispatch_workgroups(x, y, 1);
    }

    /// [`Self::dispatch_threads`] in a compute pass of its own named
    /// `label` (no pass when `threads` is 0).
    pub fn encode_threads(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        group: &wgpu::BindGroup,
        label: &str,
        threads: u32,
    ) {
        if threads == 0 {
            return;
        }
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some(label),
            timestamp_writes: None,
        });
        self.dispatch_threads(&mut pass, group, threads);
    }

    /// A bind group of `buffers` (whole), numbered in order.
    pub fn bind(&self, device: &wgpu::Device, buffers: &[&wgpu::Buffer]) -> wgpu::BindGroup {
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: b.as_entire_binding(),
            })
            .collect();
        device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &self.layout,
            entries: &entries,
        })
    }
}
