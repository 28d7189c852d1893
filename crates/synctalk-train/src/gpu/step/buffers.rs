//! The persistent buffers of a [`super::TrainStep`], created once.

use bytemuck::Pod;
use synctalk_gaussians::DEFORM_CHANNELS;
use synctalk_sort::{PrefixSum, RadixSort};
use wgpu::util::DeviceExt;

use crate::gpu::{
    AdamBuffers, AdamParams, FrameParams, GpuParams, GpuSplat, LossBuffers, LossParams,
    MeshPriorParams, PixelState, PoseParams, ProjectBuffers, RasterBuffers, RasterGrad,
    RasterParams, GRAD_WORDS, LOSS_COLUMNS, MAX_BASES, POSE_WORDS, SH_FLOATS, VIEW_WORDS,
};

/// The smallest buffer made: zero-sized bindings are invalid.
const MIN_BYTES: u64 = 64;

/// What the buffers are sized for.
pub(super) struct Sizes<'a> {
    pub n: u32,
    pub num_bases: u32,
    pub tiles: u32,
    pub pixels: usize,
    pub isect_capacity: u32,
    pub loss: &'a LossParams,
    pub raster: &'a RasterParams,
}

/// Every buffer of the step.
pub(super) struct StepBuffers {
    // Uniforms.
    pub frame: wgpu::Buffer,
    pub pose: wgpu::Buffer,
    pub project_reduce: wgpu::Buffer,
    pub raster_params: wgpu::Buffer,
    pub loss_params: wgpu::Buffer,
    pub loss_reduce: wgpu::Buffer,
    pub adam_params: [wgpu::Buffer; 3],
    // Parameters and Adam moments.
    pub gauss: wgpu::Buffer,
    pub sh: wgpu::Buffer,
    pub bases: wgpu::Buffer,
    pub moments: [[wgpu::Buffer; 2]; 3],
    // Projection forward.
    pub splats: wgpu::Buffer,
    pub depth_keys: wgpu::Buffer,
    pub depth_vals: wgpu::Buffer,
    pub tile_rects: wgpu::Buffer,
    pub splat_of: wgpu::Buffer,
    // Binning.
    pub depth_count: wgpu::Buffer,
    pub scan_info: wgpu::Buffer,
    pub tile_counts: wgpu::Buffer,
    pub scan_partials: wgpu::Buffer,
    pub isect_keys: wgpu::Buffer,
    pub isect_vals: wgpu::Buffer,
    pub isect_offsets: wgpu::Buffer,
    pub stats: wgpu::Buffer,
    pub ranges: wgpu::Buffer,
    // Raster.
    pub image: wgpu::Buffer,
    pub state: wgpu::Buffer,
    pub records: wgpu::Buffer,
    pub splat_grads: wgpu::Buffer,
    // Loss.
    pub under: wgpu::Buffer,
    pub target: wgpu::Buffer,
    pub pred: wgpu::Buffer,
    pub rows: wgpu::Buffer,
    pub dmaps: wgpu::Buffer,
    pub loss_partials: wgpu::Buffer,
    pub ssim_map: wgpu::Buffer,
    pub loss_sums: wgpu::Buffer,
    pub grad_head: wgpu::Buffer,
    pub loss: wgpu::Buffer,
    // Projection backward.
    pub d_gauss: wgpu::Buffer,
    pub d_sh: wgpu::Buffer,
    pub d_bases: wgpu::Buffer,
    pub project_partials: wgpu::Buffer,
    pub project_sums: wgpu::Buffer,
    pub d_pose: wgpu::Buffer,
    // The mesh prior (off until `TrainStep::set_mesh_prior`).
    pub prior: wgpu::Buffer,
    pub prior_m: wgpu::Buffer,
    pub prior_trust: wgpu::Buffer,
}

/// A storage buffer of at least `bytes` (and [`MIN_BYTES`]) bytes, zeroed,
/// copyable both ways.
pub(super) fn storage(
    device: &wgpu::Device,
    label: &str,
    bytes: u64,
    extra: wgpu::BufferUsages,
) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes.max(MIN_BYTES).next_multiple_of(4),
        usage: wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST
            | extra,
        mapped_at_creation: false,
    })
}

/// A storage buffer holding `data` (padded to [`MIN_BYTES`]).
pub(super) fn filled<T: Pod>(device: &wgpu::Device, label: &str, data: &[T]) -> wgpu::Buffer {
    let mut contents = bytemuck::cast_slice::<T, u8>(data).to_vec();
    contents.resize(contents.len().max(MIN_BYTES as usize), 0);
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents: &contents,
        usage: wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST,
    })
}

fn uniform<T: Pod>(device: &wgpu::Device, label: &str, value: &T) -> wgpu::Buffer {
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents: bytemuck::bytes_of(value),
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
    })
}

impl StepBuffers {
    pub fn new(
        device: &wgpu::Device,
        s: &Sizes<'_>,
        params: &GpuParams,
        moments: Option<&[[Vec<f32>; 2]; 3]>,
        under: &[[f32; 4]],
        target: &[u32],
    ) -> Self {
        let none = wgpu::BufferUsages::empty();
        let st = |label: &str, bytes: u64| storage(device, label, bytes, none);
        let n = u64::from(s.n);
        let cap = u64::from(s.isect_capacity.max(1));
        let bases_bytes = 4 * DEFORM_CHANNELS as u64 * u64::from(s.num_bases) * n;
        // The reduce uniforms only need the counts: a frame of the right
        // shape gives them.
        let shape = FrameParams {
            num_gaussians: s.n,
            num_bases: s.num_bases.min(MAX_BASES as u32),
            ..FrameParams::default()
        };
        let shape = FrameParams {
            preprocess_groups_x: super::dispatch_1d(s.n).0.max(1),
            ..shape
        };
        let width = (VIEW_WORDS + s.num_bases as usize) as u64;
        let [pred, rows, dmaps, partials, ssim_map] = s.loss.scratch_bytes().map(|b| b as u64);
        let pixels = s.pixels as u64;
        let fresh = |words: u64| [st("adam m1", 4 * words), st("adam m2", 4 * words)];
        let moments = |i: usize, words: u64| match moments {
            Some(m) => [
                filled(device, "adam m1", &m[i][0]),
                filled(device, "adam m2", &m[i][1]),
            ],
            None => fresh(words),
        };
        Self {
            frame: uniform(device, "frame", &shape),
            pose: uniform(device, "pose", &PoseParams::default()),
            project_reduce: uniform(device, "project reduce", &shape.reduce_params()),
            raster_params: uniform(device, "raster params", s.raster),
            loss_params: uniform(device, "loss params", s.loss),
            loss_reduce: uniform(device, "loss reduce", &s.loss.reduce_params()),
            adam_params: [0; 3].map(|_| {
                uniform(
                    device,
                    "adam params",
                    &bytemuck::Zeroable::zeroed() as &AdamParams,
                )
            }),
            gauss: filled(device, "gauss", &params.gauss),
            sh: filled(device, "sh", &params.sh),
            bases: filled(device, "bases", &params.bases),
            moments: [
                moments(0, 12 * n),
                moments(1, SH_FLOATS as u64 * n),
                moments(2, bases_bytes / 4),
            ],
            splats: st("splats", size_of::<GpuSplat>() as u64 * n),
            depth_keys: st("depth keys", RadixSort::buffer_size(s.n)),
            depth_vals: st("depth vals", RadixSort::buffer_size(s.n)),
            tile_rects: st("tile rects", 8 * n),
            splat_of: st("splat of", 4 * n),
            depth_count: st("depth count", 16),
            scan_info: storage(device, "scan info", 16, wgpu::BufferUsages::INDIRECT),
            tile_counts: st("tile counts", 4 * (n + 1)),
            scan_partials: st("scan partials", PrefixSum::partials_size(s.n + 1)),
            isect_keys: st("isect keys", RadixSort::buffer_size(s.isect_capacity)),
            isect_vals: st("isect vals", RadixSort::buffer_size(s.isect_capacity)),
            isect_offsets: st("isect offsets", 4 * n),
            stats: st("stats", super::STATS_BYTES),
            ranges: st("ranges", 8 * u64::from(s.tiles)),
            image: st("head image", 16 * pixels),
            state: st("pixel state", size_of::<PixelState>() as u64 * pixels),
            // Exactly the capacity: accumulate.wgsl bounds its reads by it.
            records: device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("records"),
                size: 4 * GRAD_WORDS as u64 * cap,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }),
            splat_grads: st("splat grads", size_of::<RasterGrad>() as u64 * n),
            under: filled(device, "under", under),
            target: filled(device, "target", target),
            pred: st("pred", pred),
            rows: st("ssim rows", rows),
            dmaps: st("ssim dmaps", dmaps),
            loss_partials: st("loss partials", partials),
            ssim_map: st("ssim map", ssim_map),
            loss_sums: st("loss sums", 4 * LOSS_COLUMNS as u64),
            grad_head: st("grad head", 16 * pixels),
            loss: st("loss", 16),
            d_gauss: st("d gauss", 48 * n),
            d_sh: st("d sh", 4 * SH_FLOATS as u64 * n),
            d_bases: st("d bases", bases_bytes),
            project_partials: st("project partials", 4 * width * shape.partial_rows() as u64),
            project_sums: st("project sums", 4 * width),
            d_pose: st("d pose", 4 * POSE_WORDS as u64),
            prior: uniform(device, "mesh prior", &MeshPriorParams::default()),
            prior_m: st("mesh prior M", 0),
            prior_trust: st("mesh prior trust", 0),
        }
    }

    pub fn project(&self) -> ProjectBuffers<'_> {
        ProjectBuffers {
            frame: &self.frame,
            reduce: &self.project_reduce,
            pose: &self.pose,
            gauss: &self.gauss,
            sh: &self.sh,
            bases: &self.bases,
            splats: &self.splats,
            depth_keys: &self.depth_keys,
            tile_rects: &self.tile_rects,
            splat_of: &self.splat_of,
            splat_grads: &self.splat_grads,
            d_gauss: &self.d_gauss,
            d_sh: &self.d_sh,
            d_bases: &self.d_bases,
            partials: &self.project_partials,
            sums: &self.project_sums,
            d_pose: &self.d_pose,
            prior: &self.prior,
            prior_m: &self.prior_m,
            prior_trust: &self.prior_trust,
        }
    }

    /// The raster buffers, with `isect_vals` the tile sort's sorted values.
    pub fn raster<'a>(&'a self, isect_vals: &'a wgpu::Buffer) -> RasterBuffers<'a> {
        RasterBuffers {
            params: &self.raster_params,
            ranges: &self.ranges,
            isect_vals,
            splats: &self.splats,
            tile_rects: &self.tile_rects,
            isect_offsets: &self.isect_offsets,
            image: &self.image,
            state: &self.state,
            grad_image: &self.grad_head,
            records: &self.records,
            grads: &self.splat_grads,
        }
    }

    pub fn loss(&self) -> LossBuffers<'_> {
        LossBuffers {
            params: &self.loss_params,
            reduce: &self.loss_reduce,
            head: &self.image,
            under: &self.under,
            target: &self.target,
            pred: &self.pred,
            rows: &self.rows,
            dmaps: &self.dmaps,
            partials: &self.loss_partials,
            ssim_map: &self.ssim_map,
            sums: &self.loss_sums,
            grad_head: &self.grad_head,
            loss: &self.loss,
        }
    }

    /// Adam's buffers: Gaussians, SH, bases.
    pub fn adam(&self) -> [AdamBuffers<'_>; 3] {
        let grads = [&self.d_gauss, &self.d_sh, &self.d_bases];
        let params = [&self.gauss, &self.sh, &self.bases];
        [0, 1, 2].map(|i| AdamBuffers {
            params: &self.adam_params[i],
            grad: grads[i],
            param: params[i],
            m1: &self.moments[i][0],
            m2: &self.moments[i][1],
        })
    }
}
