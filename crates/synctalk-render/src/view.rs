//! The renderer's pipelines, and a [`View`]: one scene rendered at one image
//! size, with every per-frame buffer it needs.

use crate::kernel::{Bind, Kernel};
use crate::readback::{encode_texture_copy, padded_row, read_buffer, unpad_rows};
use crate::scene::check_size;
use crate::timing::{StageTimes, Timer};
use crate::{GpuContext, GpuScene, RenderError, MAX_BASES};
use synctalk_gaussians::{Camera, Image};
use synctalk_sort::{PrefixSum, RadixSort, SortTarget, MAX_SORT_KEYS};

const SPLAT_BYTES: u64 = 40;
const OUTPUT_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8Unorm;
/// The head layer (premultiplied colour, coverage) of the tile rasterizer:
/// f32, so that it adds no rounding of its own.
const HEAD_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba32Float;
/// The instanced-quad rasterizer's head layer: it must be blendable.
const QUAD_HEAD_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba16Float;

/// How splats become pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RasterMode {
    /// Compute-shader tile rasterizer: tile binning, a tile sort, then one
    /// workgroup per 16x16 tile blending front to back with early stop.
    /// Exact (the original rasterizer's rules); the default.
    #[default]
    Tiles,
    /// Instanced quads through the blend unit, front to back, in depth
    /// order: no binning or tile sort, but no early stop and f16
    /// accumulation.
    Quads,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct FrameUniform {
    view: [[f32; 4]; 4],
    cam_pos: [f32; 4],
    focal: [f32; 2],
    principal: [f32; 2],
    lim_pos: [f32; 2],
    lim_neg: [f32; 2],
    image_size: [u32; 2],
    tiles: [u32; 2],
    num_gaussians: u32,
    sh_degree: u32,
    num_bases: u32,
    near: f32,
    isect_capacity: u32,
    sh_stride: u32,
    preprocess_groups_x: u32,
    _pad: u32,
    coeffs: [[f32; 4]; 8],
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct CompositeUniform {
    size: [u32; 2],
    has_torso: u32,
    _pad: u32,
}

struct Kernels {
    preprocess: Kernel,
    setup_visible: Kernel,
    count_tiles: Kernel,
    setup_isect: Kernel,
    emit: Kernel,
    ranges: Kernel,
    rasterize: Kernel,
    composite: Kernel,
}

/// Compiled pipelines for rendering; create once per device.
pub struct Renderer {
    ctx: GpuContext,
    k: Kernels,
    sort: RadixSort,
    scan: PrefixSum,
    quads: Quads,
}

/// The instanced-quad rasterizer's pipeline (`quads.wgsl`).
struct Quads {
    layout: wgpu::BindGroupLayout,
    pipeline: wgpu::RenderPipeline,
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
    /// Compiles every kernel for `ctx`'s device.
    pub fn new(ctx: GpuContext) -> Self {
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
                include_str!("shaders/rasterize.wgsl"),
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
                ],
            ),
        };
        let quads = Quads::new(d);
        Self {
            quads,
            sort: RadixSort::new(d),
            scan: PrefixSum::new(d),
            k,
            ctx,
        }
    }

    /// The device this renderer was built for.
    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }
}

/// Counts from one rendered frame.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FrameStats {
    /// Gaussians that survived culling.
    pub visible: u32,
    /// (tile, Gaussian) intersections.
    pub intersections: u32,
    /// GPU time per stage, when timestamps are enabled.
    pub times: Option<StageTimes>,
}

struct Buffers {
    frame: wgpu::Buffer,
    counters: wgpu::Buffer,
    vis_args: wgpu::Buffer,
    tile_scan_info: wgpu::Buffer,
    isect_info: wgpu::Buffer,
    ranges: wgpu::Buffer,
    draw_args: wgpu::Buffer,
    composite: wgpu::Buffer,
    stats_staging: wgpu::Buffer,
    image_staging: wgpu::Buffer,
}

struct Groups {
    preprocess: wgpu::BindGroup,
    setup_visible: wgpu::BindGroup,
    count_tiles: wgpu::BindGroup,
    setup_isect: wgpu::BindGroup,
    emit: wgpu::BindGroup,
    ranges: wgpu::BindGroup,
    rasterize: wgpu::BindGroup,
    quads: wgpu::BindGroup,
    composite: wgpu::BindGroup,
    composite_quads: wgpu::BindGroup,
    tile_scan: synctalk_sort::ScanTarget,
    depth_sort: SortTarget,
    tile_sort: SortTarget,
}

/// A scene rendered at a fixed image size: per-frame GPU buffers, bind
/// groups, layers and the output texture (RGBA8, straight alpha).
pub struct View {
    scene: GpuScene,
    width: u32,
    height: u32,
    tiles: [u32; 2],
    isect_capacity: u32,
    b: Buffers,
    g: Groups,
    background: wgpu::Texture,
    torso: Option<wgpu::Texture>,
    output: wgpu::Texture,
    head: wgpu::Texture,
    quad_head: wgpu::Texture,
    quad_head_view: wgpu::TextureView,
    raster: RasterMode,
    timer: Option<Timer>,
    gpu_bytes: u64,
}

/// Bits needed for tile ids of a `tiles[0] x tiles[1]` grid.
fn tile_bits(tiles: [u32; 2]) -> u32 {
    let num_tiles = tiles[0] * tiles[1];
    (32 - (num_tiles.max(2) - 1).leading_zeros()).max(1)
}

fn res(b: &wgpu::Buffer) -> wgpu::BindingResource<'_> {
    b.as_entire_binding()
}

impl View {
    /// Allocates everything needed to render `scene` at `width` x `height`
    /// over an opaque black background.
    pub fn new(
        r: &Renderer,
        scene: &GpuScene,
        width: u32,
        height: u32,
    ) -> Result<Self, RenderError> {
        let cap = (scene.len() as u64 * 4).clamp(1 << 16, u64::from(MAX_SORT_KEYS)) as u32;
        Self::with_capacity(r, scene, width, height, cap)
    }

    fn with_capacity(
        r: &Renderer,
        scene: &GpuScene,
        width: u32,
        height: u32,
        isect_capacity: u32,
    ) -> Result<Self, RenderError> {
        let d = &r.ctx.device;
        let max_side = d
            .limits()
            .max_texture_dimension_2d
            .min(synctalk_gaussians::MAX_IMAGE_SIDE);
        for v in [width, height] {
            if v == 0 || v > max_side {
                return Err(RenderError::Limit {
                    what: "image side",
                    got: v.into(),
                    limit: max_side.into(),
                });
            }
        }
        let n = u64::from(scene.len.max(1));
        let tiles = [width.div_ceil(16), height.div_ceil(16)];
        let num_tiles = u64::from(tiles[0] * tiles[1]);
        let mut gpu_bytes = 0u64;
        let mut buf = |label: &'static str,
                       size: u64,
                       usage: wgpu::BufferUsages|
         -> Result<wgpu::Buffer, RenderError> {
            check_size(d, label, size)?;
            gpu_bytes += size;
            Ok(d.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage,
                mapped_at_creation: false,
            }))
        };
        use wgpu::BufferUsages as U;
        let st = U::STORAGE;
        let splats = buf("splats", n * SPLAT_BYTES, st)?;
        let depth_keys = buf("depth keys", RadixSort::buffer_size(n as u32), st)?;
        let depth_vals = buf("depth values", RadixSort::buffer_size(n as u32), st)?;
        let tile_rects = buf("tile rects", n * 8, st)?;
        let tile_counts = buf("tile counts", n * 4, st)?;
        let tile_partials = buf("tile scan partials", PrefixSum::partials_size(n as u32), st)?;
        let cap = u64::from(isect_capacity.max(1));
        let isect_keys = buf("intersection keys", RadixSort::buffer_size(cap as u32), st)?;
        let isect_vals = buf(
            "intersection values",
            RadixSort::buffer_size(cap as u32),
            st,
        )?;
        let b = Buffers {
            frame: buf(
                "frame uniform",
                std::mem::size_of::<FrameUniform>() as u64,
                U::UNIFORM | U::COPY_DST,
            )?,
            counters: buf("counters", 16, st | U::INDIRECT | U::COPY_DST | U::COPY_SRC)?,
            vis_args: buf("visible dispatch", 16, st | U::INDIRECT)?,
            tile_scan_info: buf("tile scan info", 16, st | U::INDIRECT)?,
            isect_info: buf(
                "intersection info",
                32,
                st | U::INDIRECT | U::COPY_SRC | U::COPY_DST,
            )?,
            ranges: buf("tile ranges", num_tiles * 8, st | U::COPY_DST)?,
            draw_args: buf("quad draw arguments", 16, st | U::INDIRECT)?,
            composite: buf("composite uniform", 16, U::UNIFORM | U::COPY_DST)?,
            stats_staging: buf("stats staging", 48, U::MAP_READ | U::COPY_DST)?,
            image_staging: buf(
                "image staging",
                u64::from(padded_row(width)) * u64::from(height),
                U::MAP_READ | U::COPY_DST,
            )?,
        };
        let tex = |label, w, h, format, usage| {
            d.create_texture(&wgpu::TextureDescriptor {
                label: Some(label),
                size: wgpu::Extent3d {
                    width: w,
                    height: h,
                    depth_or_array_layers: 1,
                },
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format,
                usage,
                view_formats: &[],
            })
        };
        use wgpu::TextureUsages as T;
        let output = tex(
            "output",
            width,
            height,
            OUTPUT_FORMAT,
            T::STORAGE_BINDING | T::COPY_SRC | T::TEXTURE_BINDING,
        );
        let head = tex(
            "head layer",
            width,
            height,
            HEAD_FORMAT,
            T::STORAGE_BINDING | T::TEXTURE_BINDING,
        );
        let quad_head = tex(
            "head layer (quads)",
            width,
            height,
            QUAD_HEAD_FORMAT,
            T::RENDER_ATTACHMENT | T::TEXTURE_BINDING,
        );
        gpu_bytes += u64::from(width) * u64::from(height) * (16 + 8);
        let head_view = head.create_view(&Default::default());
        let background = tex(
            "background",
            width,
            height,
            OUTPUT_FORMAT,
            T::TEXTURE_BINDING | T::COPY_DST,
        );
        gpu_bytes += 2 * u64::from(width) * u64::from(height) * 4;

        let sort_err = |e: synctalk_sort::SortError| RenderError::Device(e.to_string());
        let depth_sort = r
            .sort
            .target(d, &depth_keys, &depth_vals, &b.counters, n as u32)
            .map_err(sort_err)?;
        let tile_sort = r
            .sort
            .target(d, &isect_keys, &isect_vals, &b.isect_info, cap as u32)
            .map_err(sort_err)?;
        // Sort scratch: ping-pong copies of keys and values.
        gpu_bytes += 2 * (RadixSort::buffer_size(n as u32) + RadixSort::buffer_size(cap as u32));
        // Ranges and rasterization read the tile sort's output wherever its
        // pass count leaves it.
        let (sorted_keys, sorted_vals) = tile_sort.sorted(tile_bits(tiles));
        let k = &r.k;
        let g = Groups {
            preprocess: k.preprocess.bind(
                d,
                &[
                    res(&b.frame),
                    res(&scene.gauss),
                    res(&scene.sh),
                    res(&scene.bases),
                    res(&splats),
                    res(&depth_keys),
                    res(&depth_vals),
                    res(&tile_rects),
                    res(&b.counters),
                ],
            ),
            setup_visible: k.setup_visible.bind(
                d,
                &[
                    res(&b.counters),
                    res(&b.vis_args),
                    res(&b.tile_scan_info),
                    res(&b.draw_args),
                ],
            ),
            count_tiles: k.count_tiles.bind(
                d,
                &[
                    res(&b.counters),
                    res(&depth_vals),
                    res(&tile_rects),
                    res(&tile_counts),
                ],
            ),
            setup_isect: k.setup_isect.bind(
                d,
                &[
                    res(&b.frame),
                    res(&b.counters),
                    res(&tile_counts),
                    res(&depth_vals),
                    res(&tile_rects),
                    res(&b.isect_info),
                ],
            ),
            emit: k.emit.bind(
                d,
                &[
                    res(&b.frame),
                    res(&b.counters),
                    res(&depth_vals),
                    res(&tile_rects),
                    res(&tile_counts),
                    res(&isect_keys),
                    res(&isect_vals),
                ],
            ),
            ranges: k
                .ranges
                .bind(d, &[res(&b.isect_info), res(sorted_keys), res(&b.ranges)]),
            rasterize: k.rasterize.bind(
                d,
                &[
                    res(&b.frame),
                    res(&b.ranges),
                    res(sorted_vals),
                    res(&splats),
                    wgpu::BindingResource::TextureView(&head_view),
                ],
            ),
            quads: d.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("quads"),
                layout: &r.quads.layout,
                entries: &[
                    wgpu::BindGroupEntry {
                        binding: 0,
                        resource: res(&b.frame),
                    },
                    wgpu::BindGroupEntry {
                        binding: 1,
                        resource: res(&depth_vals),
                    },
                    wgpu::BindGroupEntry {
                        binding: 2,
                        resource: res(&splats),
                    },
                ],
            }),
            composite: Self::composite_group(r, &b.composite, &head, &background, None, &output),
            composite_quads: Self::composite_group(
                r,
                &b.composite,
                &quad_head,
                &background,
                None,
                &output,
            ),
            tile_scan: r
                .scan
                .target(d, &tile_counts, &tile_partials, &b.tile_scan_info, n as u32),
            depth_sort,
            tile_sort,
        };
        let mut view = Self {
            scene: scene.clone(),
            width,
            height,
            tiles,
            isect_capacity,
            b,
            g,
            background,
            torso: None,
            output,
            head,
            quad_head_view: quad_head.create_view(&Default::default()),
            quad_head,
            raster: RasterMode::default(),
            timer: r.ctx.timestamps.then(|| Timer::new(d, &r.ctx.queue)),
            gpu_bytes,
        };
        view.write_layer(
            r,
            &view.background,
            &Image::solid(width, height, [0, 0, 0, 255]),
        );
        view.bind_layers(r);
        Ok(view)
    }

    fn composite_group(
        r: &Renderer,
        uniform: &wgpu::Buffer,
        head: &wgpu::Texture,
        background: &wgpu::Texture,
        torso: Option<&wgpu::Texture>,
        output: &wgpu::Texture,
    ) -> wgpu::BindGroup {
        let bg = background.create_view(&Default::default());
        let tv = torso.unwrap_or(background).create_view(&Default::default());
        let out = output.create_view(&Default::default());
        let hv = head.create_view(&Default::default());
        r.k.composite.bind(
            &r.ctx.device,
            &[
                uniform.as_entire_binding(),
                wgpu::BindingResource::TextureView(&hv),
                wgpu::BindingResource::TextureView(&bg),
                wgpu::BindingResource::TextureView(&tv),
                wgpu::BindingResource::TextureView(&out),
            ],
        )
    }

    /// Sets the layers under the Gaussians: an opaque or translucent
    /// background plate and an optional torso layer (straight-alpha RGBA8, the
    /// view's size). Per frame, when only the torso changes, call
    /// [`View::set_torso`] alone.
    pub fn set_layers(
        &mut self,
        r: &Renderer,
        background: &Image,
        torso: Option<&Image>,
    ) -> Result<(), RenderError> {
        self.check_layer("background", background)?;
        if let Some(img) = torso {
            self.check_layer("torso", img)?;
        }
        self.write_layer(r, &self.background, background);
        self.set_torso(r, torso)
    }

    /// Sets (or removes) the torso layer, keeping the background. A torso
    /// replacing a torso is written into the same texture; the bind groups
    /// are rebuilt only when the torso appears or goes.
    pub fn set_torso(&mut self, r: &Renderer, torso: Option<&Image>) -> Result<(), RenderError> {
        if let Some(img) = torso {
            self.check_layer("torso", img)?;
        }
        match (&self.torso, torso) {
            (Some(t), Some(img)) => {
                self.write_layer(r, t, img);
                return Ok(());
            }
            (None, None) => return Ok(()),
            _ => {}
        }
        self.torso = torso.map(|img| {
            let t = r.ctx.device.create_texture(&wgpu::TextureDescriptor {
                label: Some("torso"),
                size: self.background.size(),
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: OUTPUT_FORMAT,
                usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
                view_formats: &[],
            });
            self.write_layer(r, &t, img);
            t
        });
        self.bind_layers(r);
        Ok(())
    }

    /// Refuses a layer image that is not RGBA8 of the view's size.
    fn check_layer(&self, layer: &'static str, img: &Image) -> Result<(), RenderError> {
        if (img.width, img.height) != (self.width, self.height)
            || img.data.len() != (img.width * img.height * 4) as usize
        {
            return Err(RenderError::LayerSize {
                layer,
                got_w: img.width,
                got_h: img.height,
                want_w: self.width,
                want_h: self.height,
            });
        }
        Ok(())
    }

    /// Uploads a checked layer image into `tex`.
    fn write_layer(&self, r: &Renderer, tex: &wgpu::Texture, img: &Image) {
        r.ctx.queue.write_texture(
            tex.as_image_copy(),
            &img.data,
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(img.width * 4),
                rows_per_image: None,
            },
            tex.size(),
        );
    }

    /// Points the composite pass at the current background and torso
    /// textures (both rasterizers' bind groups and the uniform).
    fn bind_layers(&mut self, r: &Renderer) {
        let u = CompositeUniform {
            size: [self.width, self.height],
            has_torso: u32::from(self.torso.is_some()),
            _pad: 0,
        };
        r.ctx
            .queue
            .write_buffer(&self.b.composite, 0, bytemuck::bytes_of(&u));
        self.g.composite = Self::composite_group(
            r,
            &self.b.composite,
            &self.head,
            &self.background,
            self.torso.as_ref(),
            &self.output,
        );
        self.g.composite_quads = Self::composite_group(
            r,
            &self.b.composite,
            &self.quad_head,
            &self.background,
            self.torso.as_ref(),
            &self.output,
        );
    }

    /// Chooses the rasterizer (see [`RasterMode`]).
    pub fn set_raster_mode(&mut self, mode: RasterMode) {
        self.raster = mode;
    }

    /// The output texture (RGBA8 unorm, straight alpha), valid after a frame.
    pub fn output(&self) -> &wgpu::Texture {
        &self.output
    }

    /// GPU memory this view allocated (not counting the scene), in bytes.
    pub fn gpu_bytes(&self) -> u64 {
        self.gpu_bytes
    }

    /// Current capacity of the intersection buffers.
    pub fn intersection_capacity(&self) -> u32 {
        self.isect_capacity
    }

    fn frame_uniform(&self, camera: &Camera, coeffs: &[f32]) -> Result<FrameUniform, RenderError> {
        camera.validate()?;
        if (camera.width, camera.height) != (self.width, self.height) {
            return Err(RenderError::LayerSize {
                layer: "camera",
                got_w: camera.width,
                got_h: camera.height,
                want_w: self.width,
                want_h: self.height,
            });
        }
        if coeffs.len() > MAX_BASES || coeffs.iter().any(|c| !c.is_finite()) {
            return Err(RenderError::Limit {
                what: "deformation coefficients (count, all finite)",
                got: coeffs.len() as u64,
                limit: MAX_BASES as u64,
            });
        }
        let rot = glam::Mat3::from_cols_array_2d(&camera.rotation).transpose();
        let view = glam::Mat4::from_cols(
            rot.x_axis.extend(0.0),
            rot.y_axis.extend(0.0),
            rot.z_axis.extend(0.0),
            glam::Vec3::from(camera.translation).extend(1.0),
        );
        let pos = camera.position();
        let (w, h) = (camera.width as f32, camera.height as f32);
        let groups = self.scene.len.div_ceil(256);
        let mut c = [[0f32; 4]; 8];
        for (i, v) in coeffs.iter().enumerate() {
            c[i / 4][i % 4] = *v;
        }
        Ok(FrameUniform {
            view: view.to_cols_array_2d(),
            cam_pos: [pos[0], pos[1], pos[2], 1.0],
            focal: [camera.fx, camera.fy],
            principal: [camera.cx, camera.cy],
            lim_pos: [
                1.3 * (w - camera.cx) / camera.fx,
                1.3 * (h - camera.cy) / camera.fy,
            ],
            lim_neg: [1.3 * camera.cx / camera.fx, 1.3 * camera.cy / camera.fy],
            image_size: [self.width, self.height],
            tiles: self.tiles,
            num_gaussians: self.scene.len,
            sh_degree: self.scene.sh_degree,
            num_bases: self.scene.num_bases.min(coeffs.len() as u32),
            near: camera.near,
            isect_capacity: self.isect_capacity,
            sh_stride: self.scene.sh_stride,
            preprocess_groups_x: groups.min(65_535),
            _pad: 0,
            coeffs: c,
        })
    }

    /// Records one frame for `camera` with deformation coefficients `coeffs`
    /// (at most one per basis; missing ones are zero). The frame uniform is
    /// written through the queue, so submit `encoder` on this view's queue.
    pub fn encode(
        &self,
        r: &Renderer,
        encoder: &mut wgpu::CommandEncoder,
        camera: &Camera,
        coeffs: &[f32],
    ) -> Result<(), RenderError> {
        let u = self.frame_uniform(camera, coeffs)?;
        r.ctx
            .queue
            .write_buffer(&self.b.frame, 0, bytemuck::bytes_of(&u));
        encoder.clear_buffer(&self.b.counters, 0, None);
        encoder.clear_buffer(&self.b.ranges, 0, None);
        encoder.clear_buffer(&self.b.isect_info, 0, None);
        let k = &r.k;
        let g = &self.g;
        let groups = self.scene.len.div_ceil(256);
        let gx = groups.clamp(1, 65_535);
        {
            let p = &mut self.compute_pass(encoder, 0);
            if groups > 0 {
                p.set_pipeline(&k.preprocess.pipeline);
                p.set_bind_group(0, &g.preprocess, &[]);
                p.dispatch_workgroups(gx, groups.div_ceil(gx), 1);
            }
            p.set_pipeline(&k.setup_visible.pipeline);
            p.set_bind_group(0, &g.setup_visible, &[]);
            p.dispatch_workgroups(1, 1, 1);
        }
        r.sort
            .encode(&mut self.compute_pass(encoder, 1), &g.depth_sort, 32);
        if self.raster == RasterMode::Quads {
            // No binning and no tile sort: empty passes keep the timestamp
            // slots filled.
            drop(self.compute_pass(encoder, 2));
            drop(self.compute_pass(encoder, 3));
            let mut rp = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("rasterize (quads)"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: &self.quad_head_view,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(wgpu::Color::TRANSPARENT),
                        store: wgpu::StoreOp::Store,
                    },
                })],
                depth_stencil_attachment: None,
                timestamp_writes: self.timer.as_ref().map(|t| t.render_writes(4)),
                occlusion_query_set: None,
                multiview_mask: None,
            });
            rp.set_pipeline(&r.quads.pipeline);
            rp.set_bind_group(0, &g.quads, &[]);
            rp.draw_indirect(&self.b.draw_args, 0);
        } else {
            self.encode_tiles(r, encoder);
        }
        let composite = match self.raster {
            RasterMode::Tiles => &g.composite,
            RasterMode::Quads => &g.composite_quads,
        };
        {
            let p = &mut self.compute_pass(encoder, 5);
            p.set_pipeline(&k.composite.pipeline);
            p.set_bind_group(0, composite, &[]);
            p.dispatch_workgroups(self.width.div_ceil(16), self.height.div_ceil(16), 1);
        }
        if let Some(t) = &self.timer {
            t.resolve(encoder);
        }
        Ok(())
    }

    /// Begins the compute pass of render stage `stage`, timed when the
    /// device has timestamp queries.
    fn compute_pass<'e>(
        &self,
        encoder: &'e mut wgpu::CommandEncoder,
        stage: usize,
    ) -> wgpu::ComputePass<'e> {
        encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some(crate::STAGES[stage]),
            timestamp_writes: self.timer.as_ref().map(|t| t.writes(stage)),
        })
    }

    /// Binning, tile sort and the tile rasterizer (stages 2 to 4).
    fn encode_tiles(&self, r: &Renderer, encoder: &mut wgpu::CommandEncoder) {
        let k = &r.k;
        let g = &self.g;
        {
            let p = &mut self.compute_pass(encoder, 2);
            p.set_pipeline(&k.count_tiles.pipeline);
            p.set_bind_group(0, &g.count_tiles, &[]);
            p.dispatch_workgroups_indirect(&self.b.vis_args, 0);
            r.scan.encode(p, &g.tile_scan, &self.b.tile_scan_info);
            p.set_pipeline(&k.setup_isect.pipeline);
            p.set_bind_group(0, &g.setup_isect, &[]);
            p.dispatch_workgroups(1, 1, 1);
            p.set_pipeline(&k.emit.pipeline);
            p.set_bind_group(0, &g.emit, &[]);
            p.dispatch_workgroups_indirect(&self.b.vis_args, 0);
        }
        {
            let p = &mut self.compute_pass(encoder, 3);
            r.sort.encode(p, &g.tile_sort, tile_bits(self.tiles));
            p.set_pipeline(&k.ranges.pipeline);
            p.set_bind_group(0, &g.ranges, &[]);
            p.dispatch_workgroups_indirect(&self.b.isect_info, 4);
        }
        {
            let p = &mut self.compute_pass(encoder, 4);
            p.set_pipeline(&k.rasterize.pipeline);
            p.set_bind_group(0, &g.rasterize, &[]);
            p.dispatch_workgroups(self.tiles[0], self.tiles[1], 1);
        }
    }

    /// Records copies of this frame's counts (visible Gaussians, tile
    /// intersections) into `dst` (48 bytes, `COPY_DST`), for
    /// [`View::parse_stats`] once mapped. Record after [`View::encode`].
    pub fn encode_stats(&self, encoder: &mut wgpu::CommandEncoder, dst: &wgpu::Buffer) {
        encoder.copy_buffer_to_buffer(&self.b.counters, 0, dst, 0, 16);
        encoder.copy_buffer_to_buffer(&self.b.isect_info, 0, dst, 16, 32);
    }

    /// Visible Gaussians and tile intersections from the bytes
    /// [`View::encode_stats`] copied (zeros if `raw` is short).
    pub fn parse_stats(raw: &[u8]) -> (u32, u32) {
        let word = |i: usize| {
            raw.get(4 * i..4 * i + 4)
                .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        (word(0), word(8))
    }

    /// Makes room for `intersections` (with a quarter to spare) if the
    /// buffers hold fewer, keeping layers and settings. Returns whether the
    /// view grew: a frame that overflowed must then be rendered again.
    pub fn ensure_capacity(
        &mut self,
        r: &Renderer,
        intersections: u32,
    ) -> Result<bool, RenderError> {
        if intersections <= self.isect_capacity {
            return Ok(false);
        }
        if intersections > MAX_SORT_KEYS {
            return Err(RenderError::Limit {
                what: "tile intersections",
                got: intersections.into(),
                limit: MAX_SORT_KEYS.into(),
            });
        }
        let want = (u64::from(intersections) * 5 / 4).min(u64::from(MAX_SORT_KEYS));
        let scene = self.scene.clone();
        let mut grown = Self::with_capacity(r, &scene, self.width, self.height, want as u32)?;
        grown.background = self.background.clone();
        grown.torso = self.torso.take();
        grown.raster = self.raster;
        grown.bind_layers(r);
        *self = grown;
        Ok(true)
    }

    /// Renders one frame and waits for its statistics (native: blocks on the
    /// GPU). If the frame had more intersections than the buffers hold, the
    /// buffers grow and the frame is rendered again.
    pub fn render(
        &mut self,
        r: &Renderer,
        camera: &Camera,
        coeffs: &[f32],
    ) -> Result<FrameStats, RenderError> {
        loop {
            let d = &r.ctx.device;
            let mut encoder = d.create_command_encoder(&Default::default());
            self.encode(r, &mut encoder, camera, coeffs)?;
            self.encode_stats(&mut encoder, &self.b.stats_staging);
            r.ctx.queue.submit([encoder.finish()]);
            let raw = read_buffer(d, &self.b.stats_staging)?;
            let (visible, total) = Self::parse_stats(&raw);
            if self.ensure_capacity(r, total)? {
                continue;
            }
            let times = match &self.timer {
                Some(t) => Some(t.times(&read_buffer(d, &t.staging)?)),
                None => None,
            };
            return Ok(FrameStats {
                visible,
                intersections: total,
                times,
            });
        }
    }

    /// Copies the output texture to the CPU (native: blocks on the GPU).
    pub fn read_image(&self, r: &Renderer) -> Result<Image, RenderError> {
        let d = &r.ctx.device;
        let mut encoder = d.create_command_encoder(&Default::default());
        encode_texture_copy(&mut encoder, &self.output, &self.b.image_staging);
        r.ctx.queue.submit([encoder.finish()]);
        let raw = read_buffer(d, &self.b.image_staging)?;
        Ok(Image {
            width: self.width,
            height: self.height,
            data: unpad_rows(&raw, self.width, self.height),
        })
    }
}
