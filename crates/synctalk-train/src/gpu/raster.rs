//! Dispatch of the raster kernels: the training forward
//! (`rasterize_fwd.wgsl`), its backward into per-intersection records
//! (`rasterize_bwd.wgsl`) and their per-splat sum (`accumulate.wgsl`).
//! [`RasterKernels`] encodes them on buffers the caller owns (the
//! renderer's layouts); [`forward_backward`] runs them on host data and
//! reads the results back, for tests and tools.

use bytemuck::{Pod, Zeroable};

use super::kernel::{Bind, Kernel};
use super::PixelLayout;

/// Gradient words per splat and per record: `d xy` (2), `d conic` (3),
/// `d opacity` (1), `d rgb` (3).
pub const GRAD_WORDS: usize = 9;

/// Pixels per tile side.
pub const TILE: u32 = 16;

/// Threads per workgroup of the one-thread-per-splat kernels.
const GROUP: u32 = 256;

/// The largest number of workgroups in one dispatch dimension (WebGPU).
const MAX_GROUPS: u32 = 65_535;

/// A projected Gaussian in the renderer's `Splat` layout (40 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct GpuSplat {
    /// Mean in pixels (pixel centres at integers).
    pub xy: [f32; 2],
    /// Inverse 2D covariance `(a, b, c)`.
    pub conic: [f32; 3],
    /// Activated opacity.
    pub opacity: f32,
    /// Colour.
    pub color: [f32; 3],
    /// Unused.
    pub pad: f32,
}

/// `dL/d` one splat's rasterizer inputs, as [`GpuSplat`]'s fields.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct RasterGrad {
    /// Mean.
    pub xy: [f32; 2],
    /// Conic `(a, b, c)`.
    pub conic: [f32; 3],
    /// Activated opacity.
    pub opacity: f32,
    /// Colour.
    pub color: [f32; 3],
}

impl RasterGrad {
    /// The nine words in record order.
    pub fn words(&self) -> [f32; GRAD_WORDS] {
        let [x, y] = self.xy;
        let [a, b, c] = self.conic;
        let [r, g, bl] = self.color;
        [x, y, a, b, c, self.opacity, r, g, bl]
    }
}

/// What the training forward leaves per pixel for the backward.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct PixelState {
    /// Final transmittance.
    pub t: f32,
    /// Entries of the tile's list walked up to and including the last
    /// splat blended (0 when none).
    pub count: u32,
}

/// The raster kernels' uniform (`Raster` in common.wgsl).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct RasterParams {
    /// Image width and height in pixels.
    pub image_size: [u32; 2],
    /// Tiles across and down.
    pub tiles: [u32; 2],
    /// Splats (entries of the per-splat arrays).
    pub num_splats: u32,
    /// Unused.
    pub pad: [u32; 3],
}

impl RasterParams {
    /// Parameters of a `width` × `height` image of `num_splats` splats.
    pub fn new(width: u32, height: u32, num_splats: u32) -> Self {
        Self {
            image_size: [width, height],
            tiles: [width.div_ceil(TILE), height.div_ceil(TILE)],
            num_splats,
            pad: [0; 3],
        }
    }
}

/// The buffers the raster kernels bind, in the renderer's layouts where it
/// has them. Sizes: `P` pixels, `T` tiles, `N` splats, `I` intersections.
pub struct RasterBuffers<'a> {
    /// Uniform: [`RasterParams`].
    pub params: &'a wgpu::Buffer,
    /// `T` × `vec2<u32>`: each tile's run in `isect_vals`.
    pub ranges: &'a wgpu::Buffer,
    /// `I` × `u32`: splat indices sorted by tile, depth order within.
    pub isect_vals: &'a wgpu::Buffer,
    /// `N` × [`GpuSplat`].
    pub splats: &'a wgpu::Buffer,
    /// `N` × `vec2<u32>`: packed tile rectangles ([`super::pack_rect`]).
    pub tile_rects: &'a wgpu::Buffer,
    /// `N` × `u32`: each splat's first intersection in emit order.
    pub isect_offsets: &'a wgpu::Buffer,
    /// Written by the forward: `P` × `vec4<f32>`, premultiplied RGB and alpha.
    pub image: &'a wgpu::Buffer,
    /// Written by the forward: `P` × [`PixelState`].
    pub state: &'a wgpu::Buffer,
    /// `P` × `vec4<f32>`: `dL/d` the image.
    pub grad_image: &'a wgpu::Buffer,
    /// Scratch of the backward: `I` × [`GRAD_WORDS`] × `f32`; needs
    /// `COPY_DST` (cleared before each backward).
    pub records: &'a wgpu::Buffer,
    /// Written by the backward: `N` × [`RasterGrad`].
    pub grads: &'a wgpu::Buffer,
}

/// Bind groups of [`RasterKernels`] over one set of [`RasterBuffers`].
pub struct RasterBindGroups {
    forward: wgpu::BindGroup,
    backward: wgpu::BindGroup,
    accumulate: wgpu::BindGroup,
}

/// The compiled raster kernels of one [`PixelLayout`].
pub struct RasterKernels {
    layout: PixelLayout,
    forward: Kernel,
    backward: Kernel,
    accumulate: Kernel,
}

impl RasterKernels {
    /// Compiles the kernels of `device`'s layout
    /// ([`PixelLayout::for_device`]). They need no features and fit
    /// WebGPU's default limits (8 storage buffers per stage, 16 KiB of
    /// workgroup memory, 256 invocations per workgroup).
    pub fn new(device: &wgpu::Device) -> Self {
        Self::with_layout(device, PixelLayout::for_device(device))
    }

    /// Compiles the kernels of `layout` (either runs on any device; both
    /// bind the same buffers and give the same bits):
    /// `rasterize_fwd.wgsl` and `rasterize_bwd.wgsl` one thread per pixel,
    /// or `rasterize_fwd_runs.wgsl` (8 threads per tile, two columns each)
    /// and `rasterize_bwd_runs.wgsl` (16 threads per tile, a row each).
    pub fn with_layout(device: &wgpu::Device, layout: PixelLayout) -> Self {
        use Bind::{Read, Uniform, Write};
        let (fwd, fwd_entry, bwd, bwd_entry) = match layout {
            PixelLayout::PerPixel => (
                include_str!("rasterize_fwd.wgsl"),
                "rasterize_fwd",
                include_str!("rasterize_bwd.wgsl"),
                "rasterize_bwd",
            ),
            PixelLayout::Runs => (
                include_str!("rasterize_fwd_runs.wgsl"),
                "rasterize_fwd_runs",
                include_str!("rasterize_bwd_runs.wgsl"),
                "rasterize_bwd_runs",
            ),
        };
        Self {
            layout,
            forward: Kernel::new(
                device,
                fwd,
                fwd_entry,
                &[Uniform, Read, Read, Read, Write, Write],
            ),
            backward: Kernel::new(
                device,
                bwd,
                bwd_entry,
                &[Uniform, Read, Read, Read, Read, Read, Read, Read, Write],
            ),
            accumulate: Kernel::new(
                device,
                include_str!("accumulate.wgsl"),
                "accumulate",
                &[Uniform, Read, Read, Read, Write],
            ),
        }
    }

    /// The layout these kernels were compiled for.
    pub fn layout(&self) -> PixelLayout {
        self.layout
    }

    /// Bind groups over `b`.
    pub fn bind(&self, device: &wgpu::Device, b: &RasterBuffers<'_>) -> RasterBindGroups {
        RasterBindGroups {
            forward: self.forward.bind(
                device,
                &[b.params, b.ranges, b.isect_vals, b.splats, b.image, b.state],
            ),
            backward: self.backward.bind(
                device,
                &[
                    b.params,
                    b.ranges,
                    b.isect_vals,
                    b.splats,
                    b.tile_rects,
                    b.isect_offsets,
                    b.state,
                    b.grad_image,
                    b.records,
                ],
            ),
            accumulate: self.accumulate.bind(
                device,
                &[b.params, b.tile_rects, b.isect_offsets, b.records, b.grads],
            ),
        }
    }

    /// Encodes the forward: one workgroup per tile of `params`.
    pub fn encode_forward(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        groups: &RasterBindGroups,
        params: &RasterParams,
    ) {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("rasterize_fwd"),
            timestamp_writes: None,
        });
        pass.set_pipeline(&self.forward.pipeline);
        pass.set_bind_group(0, &groups.forward, &[]);
        pass.dispatch_workgroups(params.tiles[0], params.tiles[1], 1);
    }

    /// Encodes the backward (after the forward, on the same buffers): clears
    /// `records` (the [`RasterBuffers::records`] bound in `groups`), writes
    /// one record per intersection, then sums each splat's records into
    /// [`RasterBuffers::grads`].
    pub fn encode_backward(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        groups: &RasterBindGroups,
        records: &wgpu::Buffer,
        params: &RasterParams,
    ) {
        encoder.clear_buffer(records, 0, None);
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("rasterize_bwd"),
            timestamp_writes: None,
        });
        pass.set_pipeline(&self.backward.pipeline);
        pass.set_bind_group(0, &groups.backward, &[]);
        pass.dispatch_workgroups(params.tiles[0], params.tiles[1], 1);
        self.dispatch_accumulate(&mut pass, groups, params.num_splats);
    }

    /// Encodes only the per-splat sum of the records.
    pub fn encode_accumulate(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        groups: &RasterBindGroups,
        params: &RasterParams,
    ) {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("accumulate"),
            timestamp_writes: None,
        });
        self.dispatch_accumulate(&mut pass, groups, params.num_splats);
    }

    fn dispatch_accumulate(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        groups: &RasterBindGroups,
        num_splats: u32,
    ) {
        self.accumulate
            .dispatch_threads(pass, &groups.accumulate, num_splats);
    }
}

/// Workgroups `(x, y)` of 256 for `threads` threads, the grid
/// folded into two dimensions past WebGPU's 65,535 per dimension.
pub(crate) fn dispatch_1d(threads: u32) -> (u32, u32) {
    let groups = threads.div_ceil(GROUP);
    if groups <= MAX_GROUPS {
        (groups, 1)
    } else {
        (MAX_GROUPS, groups.div_ceil(MAX_GROUPS))
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub use host::{accumulate_records, forward_backward, splat_offsets, RasterInputs, RasterOutput};

#[cfg(not(target_arch = "wasm32"))]
mod host;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatch_folds_past_65535_groups() {
        assert_eq!(dispatch_1d(0), (0, 1));
        assert_eq!(dispatch_1d(1), (1, 1));
        assert_eq!(dispatch_1d(MAX_GROUPS * GROUP), (MAX_GROUPS, 1));
        for threads in [MAX_GROUPS * GROUP + 1, u32::MAX] {
            let (x, y) = dispatch_1d(threads);
            assert!(x <= MAX_GROUPS && y <= MAX_GROUPS);
            assert!(u64::from(x) * u64::from(y) * u64::from(GROUP) >= u64::from(threads));
        }
    }
}
