//! Blocking host-side runs of the raster kernels (native only): upload,
//! dispatch, read back. For tests and tools, not the training loop.

use super::{
    GpuSplat, PixelState, RasterBuffers, RasterGrad, RasterKernels, RasterParams, GRAD_WORDS,
};
use crate::gpu::transfer::{cast, check_len, storage, submit_and_read, upload, MIN_BYTES};
use crate::gpu::{unpack_rect, GpuError, Intersections, OffsetBuffers, SplatOffsets};

/// Host data for [`forward_backward`].
#[derive(Clone, Copy, Debug)]
pub struct RasterInputs<'a> {
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// The splats.
    pub splats: &'a [GpuSplat],
    /// Their tile intersections (indices into `splats`).
    pub isect: &'a Intersections,
    /// `dL/d` premultiplied `(r, g, b, alpha)` per pixel, row-major.
    pub grad_image: &'a [[f32; 4]],
}

/// What [`forward_backward`] reads back.
#[derive(Clone, Debug, PartialEq)]
pub struct RasterOutput {
    /// Premultiplied `(r, g, b, alpha)` per pixel, row-major.
    pub image: Vec<[f32; 4]>,
    /// The forward's per-pixel state.
    pub state: Vec<PixelState>,
    /// `dL/d` every splat.
    pub grads: Vec<RasterGrad>,
}

/// Checks that `rects` and `offsets` (one per splat) place every splat's
/// records inside `records` entries.
fn check_records(rects: &[[u32; 2]], offsets: &[u32], records: usize) -> Result<(), GpuError> {
    check_len("intersection offsets", offsets.len(), rects.len())?;
    for (g, (&r, &off)) in rects.iter().zip(offsets).enumerate() {
        let [x0, y0, x1, y1] = unpack_rect(r);
        let area = u64::from(x1.saturating_sub(x0)) * u64::from(y1.saturating_sub(y0));
        if u64::from(off) + area > records as u64 {
            return Err(GpuError::Records { splat: g });
        }
    }
    Ok(())
}

/// Runs the forward and the backward of `inputs` on `device` and reads
/// back the image, the per-pixel state and the per-splat gradients.
pub fn forward_backward(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    kernels: &RasterKernels,
    inputs: &RasterInputs<'_>,
) -> Result<RasterOutput, GpuError> {
    let RasterInputs {
        width,
        height,
        splats,
        isect,
        grad_image,
    } = *inputs;
    let n = splats.len();
    let num_splats = u32::try_from(n).map_err(|_| GpuError::TooLarge {
        what: "splats",
        got: n as u64,
        max: u64::from(u32::MAX),
    })?;
    let params = RasterParams::new(width, height, num_splats);
    if params.tiles != [isect.tiles_x, isect.tiles_y] {
        return Err(GpuError::TileGrid {
            got: [isect.tiles_x, isect.tiles_y],
            expected: params.tiles,
        });
    }
    let pixels = width as usize * height as usize;
    check_len("dL/d image", grad_image.len(), pixels)?;
    check_len("tile rectangles", isect.rects.len(), n)?;
    check_records(&isect.rects, &isect.offsets, isect.len())?;
    if let Some(&g) = isect.isect_vals.iter().find(|&&g| g as usize >= n) {
        return Err(GpuError::SplatIndex(g));
    }

    let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let read = wgpu::BufferUsages::STORAGE;
    let params_buf = upload(
        device,
        &[params],
        wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
    );
    let ranges = upload(device, &isect.ranges, read);
    let isect_vals = upload(device, &isect.isect_vals, read);
    let splat_buf = upload(device, splats, read);
    let tile_rects = upload(device, &isect.rects, read);
    let isect_offsets = upload(device, &isect.offsets, read);
    let grad_buf = upload(device, grad_image, read);
    let image = storage(device, pixels * 16);
    let state = storage(device, pixels * size_of::<PixelState>());
    let records = storage(device, isect.len() * GRAD_WORDS * 4);
    let grads = storage(device, n * size_of::<RasterGrad>());
    let groups = kernels.bind(
        device,
        &RasterBuffers {
            params: &params_buf,
            ranges: &ranges,
            isect_vals: &isect_vals,
            splats: &splat_buf,
            tile_rects: &tile_rects,
            isect_offsets: &isect_offsets,
            image: &image,
            state: &state,
            grad_image: &grad_buf,
            records: &records,
            grads: &grads,
        },
    );
    let mut encoder = device.create_command_encoder(&Default::default());
    kernels.encode_forward(&mut encoder, &groups, &params);
    kernels.encode_backward(&mut encoder, &groups, &records, &params);
    let out = submit_and_read(
        device,
        queue,
        encoder,
        &[
            (&image, pixels * 16),
            (&state, pixels * size_of::<PixelState>()),
            (&grads, n * size_of::<RasterGrad>()),
        ],
    );
    if let Some(e) = pollster::block_on(scope.pop()) {
        return Err(GpuError::Wgpu(e.to_string()));
    }
    let out = out?;
    Ok(RasterOutput {
        image: cast(&out[0]),
        state: cast(&out[1]),
        grads: cast(&out[2]),
    })
}

/// Sums gradient `records` ([`GRAD_WORDS`] floats each) per splat with the
/// accumulation kernel alone: splat `g` owns records `offsets[g] ..
/// offsets[g] + area(rects[g])` (rectangles packed as
/// [`crate::gpu::pack_rect`]).
pub fn accumulate_records(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    kernels: &RasterKernels,
    rects: &[[u32; 2]],
    offsets: &[u32],
    records: &[f32],
) -> Result<Vec<RasterGrad>, GpuError> {
    if !records.len().is_multiple_of(GRAD_WORDS) {
        return Err(GpuError::Length {
            what: "records (floats)",
            got: records.len(),
            expected: records.len().next_multiple_of(GRAD_WORDS),
        });
    }
    check_records(rects, offsets, records.len() / GRAD_WORDS)?;
    let n = rects.len();
    let num_splats = u32::try_from(n).map_err(|_| GpuError::TooLarge {
        what: "splats",
        got: n as u64,
        max: u64::from(u32::MAX),
    })?;
    let params = RasterParams::new(0, 0, num_splats);
    let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let read = wgpu::BufferUsages::STORAGE;
    let params_buf = upload(device, &[params], wgpu::BufferUsages::UNIFORM);
    let tile_rects = upload(device, rects, read);
    let isect_offsets = upload(device, offsets, read);
    let record_buf = upload(device, records, read);
    let grads = storage(device, n * size_of::<RasterGrad>());
    // The forward and backward groups are bound but not dispatched; one
    // buffer per binding keeps their read and write usages apart.
    let unused: Vec<wgpu::Buffer> = (0..6).map(|_| storage(device, MIN_BYTES)).collect();
    let groups = kernels.bind(
        device,
        &RasterBuffers {
            params: &params_buf,
            ranges: &unused[0],
            isect_vals: &unused[1],
            splats: &unused[2],
            tile_rects: &tile_rects,
            isect_offsets: &isect_offsets,
            image: &unused[3],
            state: &unused[4],
            grad_image: &unused[5],
            records: &record_buf,
            grads: &grads,
        },
    );
    let mut encoder = device.create_command_encoder(&Default::default());
    kernels.encode_accumulate(&mut encoder, &groups, &params);
    let out = submit_and_read(
        device,
        queue,
        encoder,
        &[(&grads, n * size_of::<RasterGrad>())],
    );
    if let Some(e) = pollster::block_on(scope.pop()) {
        return Err(GpuError::Wgpu(e.to_string()));
    }
    let out = out?;
    Ok(cast(&out[0]))
}

/// Runs [`SplatOffsets`] on host arrays: `depth_order` (rank → splat,
/// `capacity` entries of which the first `visible` are in use) and
/// `tile_offsets` (rank → first intersection); returns, for each of
/// `num_splats` splats, its first intersection (0 for splats no rank names).
pub fn splat_offsets(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    kernel: &SplatOffsets,
    visible: u32,
    depth_order: &[u32],
    tile_offsets: &[u32],
    num_splats: usize,
) -> Result<Vec<u32>, GpuError> {
    check_len("tile offsets", tile_offsets.len(), depth_order.len())?;
    if visible as usize > depth_order.len() {
        return Err(GpuError::Length {
            what: "depth order",
            got: depth_order.len(),
            expected: visible as usize,
        });
    }
    if let Some(&g) = depth_order[..visible as usize]
        .iter()
        .find(|&&g| g as usize >= num_splats)
    {
        return Err(GpuError::SplatIndex(g));
    }
    let capacity = u32::try_from(depth_order.len()).map_err(|_| GpuError::TooLarge {
        what: "ranks",
        got: depth_order.len() as u64,
        max: u64::from(u32::MAX),
    })?;
    let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let read = wgpu::BufferUsages::STORAGE;
    let counters = upload(device, &[visible], read);
    let depth_vals = upload(device, depth_order, read);
    let offsets_by_rank = upload(device, tile_offsets, read);
    let out = storage(device, num_splats * 4);
    let group = kernel.bind(
        device,
        &OffsetBuffers {
            counters: &counters,
            depth_vals: &depth_vals,
            tile_offsets: &offsets_by_rank,
            isect_offsets: &out,
        },
    );
    let mut encoder = device.create_command_encoder(&Default::default());
    encoder.clear_buffer(&out, 0, None);
    kernel.encode(&mut encoder, &group, capacity);
    let read_back = submit_and_read(device, queue, encoder, &[(&out, num_splats * 4)]);
    if let Some(e) = pollster::block_on(scope.pop()) {
        return Err(GpuError::Wgpu(e.to_string()));
    }
    Ok(cast(&read_back?[0]))
}
