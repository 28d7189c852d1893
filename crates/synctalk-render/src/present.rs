//! Showing a view's output on a render target (a canvas surface, a window).

use crate::{Renderer, View};

/// How a target shows the view's transparency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PresentAlpha {
    /// Composited over black, alpha 1 (an opaque canvas).
    Opaque,
    /// Premultiplied colour and alpha (a transparent canvas over the page).
    Premultiplied,
}

/// The pipeline that draws a [`View`]'s output onto a render target in a
/// given format (`present.wgsl`): of the view's size (one texel per pixel),
/// or smaller (box-filtered down, at most 8 times). Unorm targets get the
/// output's bytes unchanged at equal sizes: the output is already
/// sRGB-encoded.
pub struct Presenter {
    layout: wgpu::BindGroupLayout,
    pipeline: wgpu::RenderPipeline,
    format: wgpu::TextureFormat,
    uniform: wgpu::Buffer,
    alpha: PresentAlpha,
    /// The target size the uniform holds.
    size: std::cell::Cell<(u32, u32)>,
}

/// The most a presenter shrinks the view's output (each target pixel then
/// averages 8 x 8 texels).
pub const MAX_DOWNSCALE: u32 = 8;

impl Presenter {
    /// Builds the pipeline for opaque targets of `format`.
    pub fn new(r: &Renderer, format: wgpu::TextureFormat) -> Self {
        Self::with_alpha(r, format, PresentAlpha::Opaque)
    }

    /// Builds the pipeline for targets of `format` showing transparency as
    /// `alpha` says.
    pub fn with_alpha(r: &Renderer, format: wgpu::TextureFormat, alpha: PresentAlpha) -> Self {
        let d = &r.context().device;
        let module = d.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("present"),
            source: wgpu::ShaderSource::Wgsl(include_str!("shaders/present.wgsl").into()),
        });
        let layout = d.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("present"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Texture {
                        sample_type: wgpu::TextureSampleType::Float { filterable: false },
                        view_dimension: wgpu::TextureViewDimension::D2,
                        multisampled: false,
                    },
                    count: None,
                },
                wgpu::BindGroupLayoutEntry {
                    binding: 1,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                },
            ],
        });
        let pl = d.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("present"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = d.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("present"),
            layout: Some(&pl),
            vertex: wgpu::VertexState {
                module: &module,
                entry_point: Some("vs_main"),
                compilation_options: Default::default(),
                buffers: &[],
            },
            fragment: Some(wgpu::FragmentState {
                module: &module,
                entry_point: Some("fs_main"),
                compilation_options: Default::default(),
                targets: &[Some(format.into())],
            }),
            primitive: Default::default(),
            depth_stencil: None,
            multisample: Default::default(),
            multiview_mask: None,
            cache: None,
        });
        let uniform = d.create_buffer(&wgpu::BufferDescriptor {
            label: Some("present target"),
            size: 16,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Self {
            layout,
            pipeline,
            format,
            uniform,
            alpha,
            size: std::cell::Cell::new((0, 0)),
        }
    }

    /// How this presenter shows transparency.
    pub fn alpha(&self) -> PresentAlpha {
        self.alpha
    }

    /// The target format.
    pub fn format(&self) -> wgpu::TextureFormat {
        self.format
    }

    /// Records drawing `view`'s output onto `target`, a texture of this
    /// presenter's format, of the view's size or smaller (down to
    /// [`MAX_DOWNSCALE`] times; the image is stretched to fill it).
    pub fn encode(
        &self,
        r: &Renderer,
        encoder: &mut wgpu::CommandEncoder,
        view: &View,
        target: &wgpu::Texture,
    ) {
        let size = (target.width(), target.height());
        if self.size.get() != size {
            let premultiplied = u32::from(self.alpha == PresentAlpha::Premultiplied);
            let words = [size.0, size.1, premultiplied, 0];
            let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
            r.context().queue.write_buffer(&self.uniform, 0, &bytes);
            self.size.set(size);
        }
        let target = target.create_view(&Default::default());
        let target = &target;
        let src = view.output().create_view(&Default::default());
        let group = r
            .context()
            .device
            .create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("present"),
                layout: &self.layout,
                entries: &[
                    wgpu::BindGroupEntry {
                        binding: 0,
                        resource: wgpu::BindingResource::TextureView(&src),
                    },
                    wgpu::BindGroupEntry {
                        binding: 1,
                        resource: self.uniform.as_entire_binding(),
                    },
                ],
            });
        let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: Some("present"),
            color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                view: target,
                depth_slice: None,
                resolve_target: None,
                ops: wgpu::Operations {
                    load: wgpu::LoadOp::Clear(wgpu::Color::TRANSPARENT),
                    store: wgpu::StoreOp::Store,
                },
            })],
            depth_stencil_attachment: None,
            timestamp_writes: None,
            occlusion_query_set: None,
            multiview_mask: None,
        });
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &group, &[]);
        pass.draw(0..3, 0..1);
    }
}
