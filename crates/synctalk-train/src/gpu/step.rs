//! One GPU-resident training step ([`TrainStep`]): every kernel of the
//! trainer recorded into one command encoder, with no read-back inside.
//!
//! # The step, in recording order
//! 1. `project_fwd` ([`super::ProjectKernels`]): one splat per Gaussian,
//!    *no compaction* (culled Gaussians write an empty rectangle and the
//!    depth key `u32::MAX`, which sorts last); the depth keys are its
//!    output.
//! 2. `step_init.wgsl`: the depth sort's values (Gaussian indices) and the
//!    counts the indirect dispatches read.
//! 3. [`RadixSort`] of the 32-bit depth keys (stable: equal depths keep
//!    index order, the CPU path's `(depth, index)` order).
//! 4. `tile_counts.wgsl`: per depth rank, its rectangle's area (rank `n`:
//!    0), then an in-place exclusive [`PrefixSum`] over the `n + 1` counts.
//! 5. `emit.wgsl`: the renderer's emit.wgsl (tile id, splat) pairs in depth
//!    order, plus the per-splat emit offsets (`splat_offsets.wgsl`'s
//!    scatter, folded in) and the stats `[pairs used, pairs needed]`.
//! 6. [`RadixSort`] of the pairs by tile id (the grid's bits only),
//!    `ranges.wgsl` (the renderer's), on a cleared `ranges` buffer.
//! 7. The raster forward with saved state, the image loss and `dL/d` head,
//!    the raster backward and the per-splat accumulation, the projection
//!    backward with its reductions (deformation, view, pose), Adam on the
//!    Gaussians, the SH and the bases.
//! 8. With [`TrainStep::encode_controlled`]: the controller's forward
//!    before 1 (its `w` copied into the frame uniform's coefficients), and
//!    after 7 its backward from the step's `dL/dw`, its Adam and the pose
//!    table's ([`super::ControllerStep`]); with a [`super::PoseView`], the
//!    refined view is built from the GPU pose table before 1.
//!
//! The glue kernels mirror synctalk-render's preprocess / emit / ranges
//! shaders, so the lists are the renderer's (and [`super::Intersections`]'
//! on the CPU: tested equal).
//!
//! # Intersection capacity
//! The pairs live in buffers of a fixed capacity. Emit writes nothing at or
//! past it; the sort and the ranges use `min(total, capacity)` pairs; the
//! accumulation counts records past the buffer as zero. [`TrainStep::stats`]
//! holds `[pairs used, pairs needed]` after the step: when the second
//! exceeds the capacity the step rendered truncated tile lists (its
//! gradients are those of that truncated image). To grow, read the stats
//! (e.g. every few steps), and re-create the step with
//! [`TrainStep::new`] with a larger capacity, uploading the current
//! parameters (and, to keep them, the Adam moments).
//!
//! # Limits
//! Every glue kernel binds at most 7 storage buffers and no workgroup
//! memory; the other kernels are the tested ones (at most 8 storage
//! buffers, 12.3 KiB of workgroup memory).

use std::sync::Arc;

use synctalk_gaussians::DEFORM_CHANNELS;
use synctalk_sort::{PrefixSum, RadixSort, RowScan, ScanTarget, SortTarget};

use super::kernel::{Bind, Kernel};
use super::raster::dispatch_1d;
use super::{
    AdamGroup, AdamKernel, AdamParams, FrameParams, GpuError, GpuParams, LossBindGroups,
    LossKernels, LossParams, MeshPriorParams, PoseParams, ProjectBindGroups, ProjectKernels,
    RasterBindGroups, RasterKernels, RasterParams, SH_FLOATS,
};
use crate::cpu::LossWeights;

mod access;
mod buffers;
mod host;
mod prior;
mod state;
pub use host::StepLists;

use buffers::StepBuffers;
pub use state::StepState;

/// Bytes of [`TrainStep::stats`]: `[pairs used, pairs needed, 0, 0]`.
pub const STATS_BYTES: u64 = 16;

/// Every kernel of a training step, compiled once and shared by the
/// [`TrainStep`]s made from it (e.g. before and after growing).
pub struct StepKernels {
    project: ProjectKernels,
    raster: RasterKernels,
    loss: LossKernels,
    adam: AdamKernel,
    sort: RadixSort,
    scan: PrefixSum,
    init: Kernel,
    counts: Kernel,
    emit: Kernel,
    ranges: Kernel,
}

const FRAME: &str = include_str!("frame.wgsl");

/// The radix sort for `device`: the capacity rule of [`RadixSort::new`],
/// with the adapter's row scan ([`RowScan::for_adapter`]: serial on a CPU
/// adapter, where a parallel row scan costs about 45 ms a pass whatever the
/// key count, most of a small step). The order sorted is the same.
fn sorter(device: &wgpu::Device) -> RadixSort {
    RadixSort::new(device).with_row_scan(RowScan::for_adapter(&device.adapter_info()))
}

impl StepKernels {
    /// Compiles the kernels on `device` (WebGPU's default limits suffice).
    pub fn new(device: &wgpu::Device) -> Self {
        use Bind::{Read, Uniform, Write};
        let glue = |src: &str, entry: &str, binds: &[Bind]| {
            Kernel::from_parts(device, &[FRAME, src], entry, binds)
        };
        Self {
            project: ProjectKernels::new(device),
            raster: RasterKernels::new(device),
            loss: LossKernels::new(device),
            adam: AdamKernel::new(device),
            sort: sorter(device),
            scan: PrefixSum::new(device),
            init: glue(
                include_str!("step/step_init.wgsl"),
                "step_init",
                &[Uniform, Write, Write, Write],
            ),
            counts: glue(
                include_str!("step/tile_counts.wgsl"),
                "tile_counts_main",
                &[Uniform, Read, Read, Write],
            ),
            emit: glue(
                include_str!("step/emit.wgsl"),
                "emit",
                &[Uniform, Read, Read, Read, Write, Write, Write, Write],
            ),
            ranges: Kernel::new(
                device,
                include_str!("step/ranges.wgsl"),
                "ranges_main",
                &[Read, Read, Write],
            ),
        }
    }
}

/// The sizes a [`TrainStep`] is made for.
#[derive(Clone, Debug)]
pub struct StepConfig {
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Most (tile, splat) pairs one step holds; see the module docs.
    pub isect_capacity: u32,
    /// The loss weights.
    pub weights: LossWeights,
    /// Adam groups of the Gaussians (`12 n` words), the SH (`12 n`) and the
    /// bases (`11 K n`), in that order.
    pub groups: [AdamGroup; 3],
}

/// Per-step inputs.
#[derive(Clone, Copy, Debug)]
pub struct StepInputs {
    /// The frame uniform (its counts must be the parameters'; its
    /// `isect_capacity` is replaced by the step's).
    pub frame: FrameParams,
    /// The pose uniform.
    pub pose: PoseParams,
    /// Adam's step number, 1 for the first.
    pub step: u32,
}

/// Persistent buffers and bind groups of one training step for a fixed
/// number of Gaussians, bases, image size and intersection capacity; see
/// the module docs.
pub struct TrainStep {
    kernels: Arc<StepKernels>,
    config: StepConfig,
    n: u32,
    num_bases: u32,
    sh_degree: u32,
    tile_bits: u32,
    buffers: StepBuffers,
    project: ProjectBindGroups,
    raster: RasterBindGroups,
    raster_params: RasterParams,
    loss: LossBindGroups,
    loss_params: LossParams,
    adam: [wgpu::BindGroup; 3],
    depth_sort: SortTarget,
    tile_sort: SortTarget,
    scan: ScanTarget,
    init: wgpu::BindGroup,
    counts: wgpu::BindGroup,
    emit: wgpu::BindGroup,
    ranges: wgpu::BindGroup,
}

/// Dispatches `kernel` over at least one and at least `threads` threads.
fn dispatch(
    pass: &mut wgpu::ComputePass<'_>,
    kernel: &Kernel,
    group: &wgpu::BindGroup,
    threads: u32,
) {
    kernel.dispatch_threads(pass, group, threads.max(1));
}

fn check_len(what: &'static str, got: usize, expected: usize) -> Result<(), GpuError> {
    if got == expected {
        Ok(())
    } else {
        Err(GpuError::Length {
            what,
            got,
            expected,
        })
    }
}

fn too_large(what: &'static str, got: u64, max: u64) -> GpuError {
    GpuError::TooLarge { what, got, max }
}

impl TrainStep {
    /// Creates the buffers for `params` (uploaded; the Adam moments start
    /// at zero), the layer under the head (`under`, premultiplied, one per
    /// pixel) and the packed `target` ([`super::pack_target`]).
    pub fn new(
        device: &wgpu::Device,
        kernels: Arc<StepKernels>,
        config: StepConfig,
        params: &GpuParams,
        under: &[[f32; 4]],
        target: &[u32],
    ) -> Result<Self, GpuError> {
        Self::create(device, kernels, config, params, None, under, target)
    }

    /// As [`TrainStep::new`], with the Adam moments of `state` (e.g. a
    /// checkpoint's, or a densified set's).
    pub fn from_state(
        device: &wgpu::Device,
        kernels: Arc<StepKernels>,
        config: StepConfig,
        state: &StepState,
        under: &[[f32; 4]],
        target: &[u32],
    ) -> Result<Self, GpuError> {
        let p = &state.params;
        let n = p.len();
        let words = [12 * n, SH_FLOATS * n, DEFORM_CHANNELS * p.num_bases * n];
        for (m, w) in state.moments.iter().zip(words) {
            check_len("Adam moments", m[0].len(), w)?;
            check_len("Adam moments", m[1].len(), w)?;
        }
        Self::create(
            device,
            kernels,
            config,
            p,
            Some(&state.moments),
            under,
            target,
        )
    }

    fn create(
        device: &wgpu::Device,
        kernels: Arc<StepKernels>,
        config: StepConfig,
        params: &GpuParams,
        moments: Option<&[[Vec<f32>; 2]; 3]>,
        under: &[[f32; 4]],
        target: &[u32],
    ) -> Result<Self, GpuError> {
        params.validate()?;
        let n = u32::try_from(params.len())
            .map_err(|_| too_large("Gaussians", params.len() as u64, u64::from(u32::MAX)))?;
        if n > synctalk_sort::MAX_SORT_KEYS - 1 {
            return Err(too_large(
                "Gaussians",
                n.into(),
                (synctalk_sort::MAX_SORT_KEYS - 1).into(),
            ));
        }
        if config.isect_capacity > synctalk_sort::MAX_SORT_KEYS {
            return Err(too_large(
                "intersection capacity",
                config.isect_capacity.into(),
                synctalk_sort::MAX_SORT_KEYS.into(),
            ));
        }
        let (width, height) = (config.width, config.height);
        let raster_params = RasterParams::new(width, height, n);
        let tiles = raster_params.tiles[0] * raster_params.tiles[1];
        if tiles == 0 || raster_params.tiles.iter().any(|&t| t > super::MAX_TILES) {
            return Err(too_large(
                "tile grid",
                tiles.into(),
                super::MAX_TILES.into(),
            ));
        }
        if width < 11 || height < 11 {
            return Err(GpuError::TooSmall { width, height });
        }
        let pixels = width as usize * height as usize;
        check_len("layer under the head", under.len(), pixels)?;
        check_len("target", target.len(), pixels)?;
        let num_bases = params.num_bases as u32;
        let words = [
            12 * params.len(),
            SH_FLOATS * params.len(),
            DEFORM_CHANNELS * params.num_bases * params.len(),
        ];
        for (g, &w) in config.groups.iter().zip(&words) {
            if g.params(1, w as u32).is_none() {
                return Err(GpuError::Adam);
            }
        }
        let loss_params = LossParams::new(width, height, &config.weights);
        let buffers = StepBuffers::new(
            device,
            &buffers::Sizes {
                n,
                num_bases,
                tiles,
                pixels,
                isect_capacity: config.isect_capacity,
                loss: &loss_params,
                raster: &raster_params,
            },
            params,
            moments,
            under,
            target,
        );
        let b = &buffers;
        let k = &*kernels;
        let depth_sort = k
            .sort
            .target(
                device,
                &b.depth_keys,
                &b.depth_vals,
                &b.depth_count,
                n.max(1),
            )
            .map_err(|e| GpuError::Wgpu(e.to_string()))?;
        let tile_sort = k
            .sort
            .target(
                device,
                &b.isect_keys,
                &b.isect_vals,
                &b.stats,
                config.isect_capacity.max(1),
            )
            .map_err(|e| GpuError::Wgpu(e.to_string()))?;
        let tile_bits = (32 - (tiles - 1).leading_zeros()).max(1);
        let (sorted_keys, sorted_vals) = tile_sort.sorted(tile_bits);
        // 32-bit depth keys: four passes, the result back in depth_keys/vals.
        let scan = k.scan.target(
            device,
            &b.tile_counts,
            &b.scan_partials,
            &b.scan_info,
            n + 1,
        );
        let project = k.project.bind(device, &b.project());
        let raster = k.raster.bind(device, &b.raster(sorted_vals));
        let loss = k.loss.bind(device, &b.loss());
        let adam = b.adam().map(|a| k.adam.bind(device, &a));
        let init = k.init.bind(
            device,
            &[&b.frame, &b.depth_vals, &b.depth_count, &b.scan_info],
        );
        let counts = k.counts.bind(
            device,
            &[&b.frame, &b.depth_vals, &b.tile_rects, &b.tile_counts],
        );
        let emit = k.emit.bind(
            device,
            &[
                &b.frame,
                &b.depth_vals,
                &b.tile_rects,
                &b.tile_counts,
                &b.isect_keys,
                &b.isect_vals,
                &b.isect_offsets,
                &b.stats,
            ],
        );
        let ranges = k.ranges.bind(device, &[&b.stats, sorted_keys, &b.ranges]);
        Ok(Self {
            kernels,
            config,
            n,
            num_bases,
            sh_degree: params.sh_degree,
            tile_bits,
            buffers,
            project,
            raster,
            raster_params,
            loss,
            loss_params,
            adam,
            depth_sort,
            tile_sort,
            scan,
            init,
            counts,
            emit,
            ranges,
        })
    }

    /// Replaces the frame the step trains on: the packed `target`
    /// ([`super::pack_target`]) and the layer under the head (premultiplied),
    /// one per pixel. Written when the queue next submits.
    pub fn set_frame(
        &self,
        queue: &wgpu::Queue,
        target: &[u32],
        under: &[[f32; 4]],
    ) -> Result<(), GpuError> {
        let pixels = self.config.width as usize * self.config.height as usize;
        check_len("layer under the head", under.len(), pixels)?;
        check_len("target", target.len(), pixels)?;
        queue.write_buffer(&self.buffers.target, 0, bytemuck::cast_slice(target));
        queue.write_buffer(&self.buffers.under, 0, bytemuck::cast_slice(under));
        Ok(())
    }

    /// Replaces the Adam groups (e.g. torch_trainer.py's decayed means rate, or the
    /// MCMC terms of a new Gaussian count); used from the next step.
    pub fn set_adam_groups(&mut self, groups: [AdamGroup; 3]) -> Result<(), GpuError> {
        for (g, w) in groups.iter().zip(self.adam_words()) {
            if g.params(1, w).is_none() {
                return Err(GpuError::Adam);
            }
        }
        self.config.groups = groups;
        Ok(())
    }

    /// Writes the step's uniforms through `queue` and records the whole
    /// step into `encoder`. The uniforms are written when the queue next
    /// submits, so submit each step's encoder before encoding the next.
    pub fn encode(
        &self,
        queue: &wgpu::Queue,
        encoder: &mut wgpu::CommandEncoder,
        inputs: &StepInputs,
    ) -> Result<(), GpuError> {
        let frame = self.prepare(queue, inputs)?;
        self.record(encoder, &frame);
        Ok(())
    }

    /// Checks `inputs` and writes the uniforms; the frame uniform written.
    fn prepare(&self, queue: &wgpu::Queue, inputs: &StepInputs) -> Result<FrameParams, GpuError> {
        let mut frame = inputs.frame;
        if frame.sh_degree > self.sh_degree {
            return Err(GpuError::Frame {
                what: "SH degree (at most the parameters')",
                frame: frame.sh_degree.into(),
                params: self.sh_degree.into(),
            });
        }
        for (what, got, want) in [
            ("Gaussians", frame.num_gaussians, self.n),
            ("bases", frame.num_bases, self.num_bases),
            ("image width", frame.image_size[0], self.config.width),
            ("image height", frame.image_size[1], self.config.height),
        ] {
            if got != want {
                return Err(GpuError::Frame {
                    what,
                    frame: got.into(),
                    params: want.into(),
                });
            }
        }
        frame.isect_capacity = self.config.isect_capacity;
        let b = &self.buffers;
        queue.write_buffer(&b.frame, 0, bytemuck::bytes_of(&frame));
        queue.write_buffer(&b.pose, 0, bytemuck::bytes_of(&inputs.pose));
        for ((group, uniform), count) in self
            .config
            .groups
            .iter()
            .zip(&b.adam_params)
            .zip(self.adam_words())
        {
            let p: AdamParams = group.params(inputs.step, count).ok_or(GpuError::Adam)?;
            queue.write_buffer(uniform, 0, bytemuck::bytes_of(&p));
        }
        Ok(frame)
    }

    /// As [`TrainStep::encode`], with the controller driving `w`: its
    /// forward on the condition written by
    /// [`super::ControllerStep::write_inputs`], `w` copied into the frame
    /// uniform (`inputs.frame.coeffs` is ignored), the step, then the
    /// controller's backward from the step's `dL/dw`, its Adam and (if
    /// asked) the pose Adam from the step's `dL/d pose`. `controller` must
    /// have been made with [`TrainStep::gradient_sources`] of this step.
    ///
    /// With `pose_view` (written for this step's frame), the refined view
    /// and the pose 6-vector come from the GPU pose table
    /// ([`super::PoseView`]) and replace `inputs.frame.view`,
    /// `inputs.frame.cam_pos` and `inputs.pose.delta`; without it the host's
    /// are used.
    pub fn encode_controlled(
        &self,
        queue: &wgpu::Queue,
        encoder: &mut wgpu::CommandEncoder,
        inputs: &StepInputs,
        controller: &super::ControllerStep,
        pose_view: Option<&super::PoseView>,
    ) -> Result<(), GpuError> {
        let bases = controller.config().bases;
        if bases != self.num_bases as usize {
            return Err(GpuError::Frame {
                what: "bases (controller)",
                frame: bases as u64,
                params: self.num_bases.into(),
            });
        }
        let frame = self.prepare(queue, inputs)?;
        controller.encode_forward(encoder);
        controller.encode_copy_coeffs(encoder, &self.buffers.frame);
        controller.encode_copy_condition(encoder, &self.buffers.prior, MeshPriorParams::Z_OFFSET);
        if let Some(pv) = pose_view {
            pv.encode(encoder, &self.buffers.frame, &self.buffers.pose);
        }
        self.record(encoder, &frame);
        controller.encode_backward(encoder);
        Ok(())
    }

    /// Where this step leaves `dL/dw` and `dL/d pose`, for
    /// [`super::ControllerStep::new`].
    pub fn gradient_sources(&self) -> super::GradientSources<'_> {
        super::GradientSources {
            sums: &self.buffers.project_sums,
            dw_offset: super::VIEW_WORDS as u32,
            d_pose: &self.buffers.d_pose,
        }
    }

    fn adam_words(&self) -> [u32; 3] {
        let n = self.n;
        [
            12 * n,
            SH_FLOATS as u32 * n,
            DEFORM_CHANNELS as u32 * self.num_bases * n,
        ]
    }

    fn record(&self, encoder: &mut wgpu::CommandEncoder, frame: &FrameParams) {
        let k = &*self.kernels;
        let b = &self.buffers;
        encoder.clear_buffer(&b.ranges, 0, None);
        k.project.encode_forward(encoder, &self.project, frame);
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("train step: sort and bin"),
                timestamp_writes: None,
            });
            dispatch(&mut pass, &k.init, &self.init, self.n);
            k.sort.encode(&mut pass, &self.depth_sort, 32);
            dispatch(&mut pass, &k.counts, &self.counts, self.n + 1);
            k.scan.encode(&mut pass, &self.scan, &b.scan_info);
            dispatch(&mut pass, &k.emit, &self.emit, self.n);
            k.sort.encode(&mut pass, &self.tile_sort, self.tile_bits);
            dispatch(
                &mut pass,
                &k.ranges,
                &self.ranges,
                self.config.isect_capacity,
            );
        }
        k.raster
            .encode_forward(encoder, &self.raster, &self.raster_params);
        k.loss.encode(encoder, &self.loss, &self.loss_params);
        k.raster
            .encode_backward(encoder, &self.raster, &b.records, &self.raster_params);
        k.project.encode_backward(encoder, &self.project, frame);
        for (group, count) in self.adam.iter().zip(self.adam_words()) {
            k.adam.encode(encoder, group, count);
        }
    }
}
