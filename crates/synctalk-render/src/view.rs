//! A [`View`]: one scene rendered at one image size, with every per-frame
//! buffer, bind group and texture it needs.

use crate::frame::FrameUniform;
use crate::readback::{encode_texture_copy, padded_row, read_buffer, unpad_rows};
use crate::scene::check_size;
use crate::timing::{StageTimes, Timer};
use crate::{GpuScene, RenderError, Renderer};
use synctalk_gaussians::{Camera, Image};
use synctalk_sort::{PrefixSum, RadixSort, SortTarget, MAX_SORT_KEYS};

pub(crate) const SPLAT_BYTES: u64 = 40;
pub(crate) const OUTPUT_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8Unorm;
/// The head layer (premultiplied colour, coverage) of the tile rasterizer:
/// f32, so that it adds no rounding of its own.
pub(crate) const HEAD_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba32Float;
/// The instanced-quad rasterizer's head layer: it must be blendable.
pub(crate) const QUAD_HEAD_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba16Float;

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

pub(crate) struct Buffers {
    pub(crate) frame: wgpu::Buffer,
    pub(crate) counters: wgpu::Buffer,
    pub(crate) vis_args: wgpu::Buffer,
    pub(crate) tile_scan_info: wgpu::Buffer,
    pub(crate) isect_info: wgpu::Buffer,
    pub(crate) ranges: wgpu::Buffer,
    pub(crate) draw_args: wgpu::Buffer,
    pub(crate) composite: wgpu::Buffer,
    /// The torso layer's top edge per column (the neck warp's).
    pub(crate) torso_top: wgpu::Buffer,
    pub(crate) stats_staging: wgpu::Buffer,
    pub(crate) image_staging: wgpu::Buffer,
}

pub(crate) struct Groups {
    pub(crate) preprocess: wgpu::BindGroup,
    pub(crate) setup_visible: wgpu::BindGroup,
    pub(crate) count_tiles: wgpu::BindGroup,
    pub(crate) setup_isect: wgpu::BindGroup,
    pub(crate) emit: wgpu::BindGroup,
    pub(crate) ranges: wgpu::BindGroup,
    pub(crate) rasterize: wgpu::BindGroup,
    pub(crate) quads: wgpu::BindGroup,
    pub(crate) composite: wgpu::BindGroup,
    pub(crate) composite_quads: wgpu::BindGroup,
    pub(crate) tile_scan: synctalk_sort::ScanTarget,
    pub(crate) depth_sort: SortTarget,
    pub(crate) tile_sort: SortTarget,
}

/// A scene rendered at a fixed image size: per-frame GPU buffers, bind
/// groups, layers and the output texture (RGBA8, straight alpha).
pub struct View {
    pub(crate) scene: GpuScene,
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) tiles: [u32; 2],
    pub(crate) isect_capacity: u32,
    pub(crate) b: Buffers,
    pub(crate) g: Groups,
    pub(crate) background: wgpu::Texture,
    pub(crate) torso: Option<wgpu::Texture>,
    /// The neck warp of the current frame (used with a torso layer).
    pub(crate) neck: Option<synctalk_gaussians::neck::NeckWarp>,
    pub(crate) output: wgpu::Texture,
    pub(crate) head: wgpu::Texture,
    pub(crate) quad_head: wgpu::Texture,
    pub(crate) quad_head_view: wgpu::TextureView,
    pub(crate) raster: RasterMode,
    pub(crate) timer: Option<Timer>,
    pub(crate) gpu_bytes: u64,
}

/// Bits needed for tile ids of a `tiles[0] x tiles[1]` grid.
pub(crate) fn tile_bits(tiles: [u32; 2]) -> u32 {
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
            composite: buf(
                "composite uniform",
                crate::layers::COMPOSITE_UNIFORM_BYTES,
                U::UNIFORM | U::COPY_DST,
            )?,
            torso_top: buf(
                "torso top edge",
                u64::from(width) * 4,
                st | U::COPY_DST | U::COPY_SRC,
            )?,
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
            composite: Self::composite_group(r, &b, &head, &background, None, &output),
            composite_quads: Self::composite_group(r, &b, &quad_head, &background, None, &output),
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
            neck: None,
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
        grown.neck = self.neck;
        grown.raster = self.raster;
        // The torso's top edges (the neck warp's) come along on the GPU.
        let mut encoder = r.ctx.device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(
            &self.b.torso_top,
            0,
            &grown.b.torso_top,
            0,
            self.b.torso_top.size(),
        );
        r.ctx.queue.submit([encoder.finish()]);
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
