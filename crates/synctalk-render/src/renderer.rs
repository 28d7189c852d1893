//! The renderer's compiled pipelines: one [`Renderer`] per device.

use crate::kernel::{Bind, Kernel};
use crate::view::{HEAD_FORMAT, OUTPUT_FORMAT, QUAD_HEAD_FORMAT};
use crate::GpuContext;
use synctalk_sort::{PrefixSum, RadixSort};

pub(crate) struct Kernels {
    pub(crate) preprocess: Kernel,
    pub(crate) setup_visible: Kernel,
    pub(crate) count_tiles: Kernel,
    pub(crate) setup_isect: Kernel,
    pub(crate) emit: Kernel,
    pub(crate) ranges: Kernel,
    pub(crate) rasterize: Kernel,
    pub(crate) composite: Kernel,
}

/// Which kernel rasterizes the tiles of [`crate::RasterMode::Tiles`]: two
/// implementations of the same blending, pixel for pixel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TileKernel {
    /// One thread per pixel (`rasterize.wgsl`): for GPUs.
    PerPixel,
    /// Eight threads per tile, two columns (32 pixels) each
    /// (`rasterize_columns.wgsl`): for CPU adapters, whose SIMD lanes read
    /// workgroup memory one lane at a time (about 15x faster on lavapipe).
    Columns,
}

impl TileKernel {
    /// The kernel for an adapter: [`TileKernel::Columns`] on a CPU adapter
    /// (lavapipe, SwiftShader), [`TileKernel::PerPixel`] elsewhere.
    pub fn for_adapter(info: &wgpu::AdapterInfo) -> Self {
        if info.device_type == wgpu::DeviceType::Cpu {
            Self::Columns
        } else {
            Self::PerPixel
        }
    }
}

/// Compiled pipelines for rendering; create once per device.
pub struct Renderer {
    pub(crate) ctx: GpuContext,
    pub(crate) k: Kernels,
    pub(crate) sort: RadixSort,
    pub(crate) scan: PrefixSum,
    pub(crate) quads: Quads,
    pub(crate) tile_kernel: TileKernel,
}

/// The instanced-quad rasterizer's pipeline (`quads.wgsl`).
pub(crate) struct Quads {
    pub(crate) layout: wgpu::BindGroupLayout,
    pub(crate) pipeline: wgpu::RenderPipeline,
}

impl Quads {
    fn new(d: &wgpu::Device) -> Self {
        let code = format!(
            "{}\n{}",
            include_str!("shaders/common.wgsl"),
            include_str!("shaders/quads.wgsl")
        );
        let module = d.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("quads"),
            source: wgpu::ShaderSource::Wgsl(code.into()),
        });
        let entry = |binding, ty| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::VERTEX,
            ty,
            count: None,
        };
        let storage = wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only: true },
            has_dynamic_offset: false,
            min_binding_size: None,
        };
        let uniform = wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Uniform,
            has_dynamic_offset: false,
            min_binding_size: None,
        };
        let layout = d.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("quads"),
            entries: &[entry(0, uniform), entry(1, storage), entry(2, storage)],
        });
        let pl = d.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("quads"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        // Front to back: dst += (1 - dst.a) * src, src premultiplied.
        let under = wgpu::BlendComponent {
            src_factor: wgpu::BlendFactor::OneMinusDstAlpha,
            dst_factor: wgpu::BlendFactor::One,
            operation: wgpu::BlendOperation::Add,
        };
        let pipeline = d.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("quads"),
            layout: Some(&pl),
            vertex: wgpu::VertexState {
                module: &module,
                entry_point: Some("quad_vertex"),
                compilation_options: Default::default(),
                buffers: &[],
            },
            primitive: wgpu::PrimitiveState {
                topology: wgpu::PrimitiveTopology::TriangleStrip,
                ..Default::default()
            },
            depth_stencil: None,
            multisample: Default::default(),
            fragment: Some(wgpu::FragmentState {
                module: &module,
                entry_point: Some("quad_fragment"),
                compilation_options: Default::default(),
                targets: &[Some(wgpu::ColorTargetState {
                    format: QUAD_HEAD_FORMAT,
                    blend: Some(wgpu::BlendState {
                        color: under,
                        alpha: under,
                    }),
                    write_mask: wgpu::ColorWrites::ALL,
                })],
            }),
            multiview_mask: None,
            cache: None,
        });
        Self { layout, pipeline }
    }
}

impl Renderer {
    /// Compiles every kernel for `ctx`'s device, with the tile kernel of
    /// its adapter ([`TileKernel::for_adapter`]).
    pub fn new(ctx: GpuContext) -> Self {
        let tiles = TileKernel::for_adapter(&ctx.adapter_handle.get_info());
        Self::with_tile_kernel(ctx, tiles)
    }

    /// Compiles every kernel for `ctx`'s device, rasterizing tiles with
    /// `tiles` whatever the adapter (tests compare the two kernels).
    pub fn with_tile_kernel(ctx: GpuContext, tiles: TileKernel) -> Self {
        use Bind::*;
        let d = &ctx.device;
        let k = Kernels {
            preprocess: Kernel::new(
                d,
                include_str!("shaders/preprocess.wgsl"),
                "preprocess",
                &[Uniform, Read, Read, Read, Write, Write, Write, Write, Write],
            ),
            setup_visible: Kernel::new(
                d,
                include_str!("shaders/setup_visible.wgsl"),
                "setup_visible",
                &[Read, Write, Write, Write],
            ),
            count_tiles: Kernel::new(
                d,
                include_str!("shaders/count_tiles.wgsl"),
                "count_tiles",
                &[Read, Read, Read, Write],
            ),
            setup_isect: Kernel::new(
                d,
                include_str!("shaders/setup_isect.wgsl"),
                "setup_isect",
                &[Uniform, Read, Read, Read, Read, Write],
            ),
            emit: Kernel::new(
                d,
                include_str!("shaders/emit.wgsl"),
                "emit",
                &[Uniform, Read, Read, Read, Read, Write, Write],
            ),
            ranges: Kernel::new(
                d,
                include_str!("shaders/ranges.wgsl"),
                "ranges_main",
                &[Read, Read, Write],
            ),
            rasterize: Kernel::new(
                d,
                match tiles {
                    TileKernel::PerPixel => concat!(
                        include_str!("shaders/rasterize_bindings.wgsl"),
                        include_str!("shaders/rasterize.wgsl")
                    ),
                    TileKernel::Columns => concat!(
                        include_str!("shaders/rasterize_bindings.wgsl"),
                        include_str!("shaders/rasterize_columns.wgsl")
                    ),
                },
                "rasterize",
                &[Uniform, Read, Read, Read, StorageTexture(HEAD_FORMAT)],
            ),
            composite: Kernel::new(
                d,
                include_str!("shaders/composite.wgsl"),
                "composite",
                &[
                    Uniform,
                    Texture,
                    Texture,
                    Texture,
                    StorageTexture(OUTPUT_FORMAT),
                    Read,
                ],
            ),
        };
        let quads = Quads::new(d);
        Self {
            quads,
            tile_kernel: tiles,
            sort: RadixSort::for_adapter(d, &ctx.adapter_handle.get_info()),
            scan: PrefixSum::new(d),
            k,
            ctx,
        }
    }

    /// The kernel that rasterizes tiles.
    pub fn tile_kernel(&self) -> TileKernel {
        self.tile_kernel
    }

    /// The device this renderer was built for.
    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }
}
