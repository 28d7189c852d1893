//! The trainer's WGSL kernels and their dispatch: the rasterizer (a
//! training forward that also saves what its backward needs, the backward
//! into per-splat gradients, tested against [`crate::cpu::raster`]) and the
//! projection (forward, and backward from per-splat gradients to the
//! parameters, the deformation coefficients and the pose, tested against
//! [`crate::cpu::backward`]).
//!
//! # Forward (`rasterize_fwd.wgsl`)
//! The renderer's rasterize.wgsl rule for rule (one 16x16 workgroup per
//! tile, front to back over the tile's depth-sorted list, splats with
//! `power > 0` or `alpha = min(0.99, o exp(power)) < 1/255` skipped, the
//! splat that would take `T` below 1e-4 not blended and the pixel stopped),
//! on the renderer's buffers (`Splat` array, per-tile `ranges`, tile-sorted
//! `isect_vals`), writing premultiplied `(rgb, 1 − T)` to a storage buffer
//! and per pixel a [`PixelState`]: the final `T` and how far down the
//! tile's list the pixel's last blended splat is (8 bytes per pixel).
//!
//! # Backward (`rasterize_bwd.wgsl`)
//! One 16x16 workgroup per tile, one thread per pixel, like gsplat: the
//! tile walks its list back to front from the last splat any pixel blended;
//! each pixel recovers `T` before a splat as `T` after it over `1 − α`
//! (`α ≤ 0.99`, so at most a factor 100 per step) and keeps the colour
//! accumulated behind it, which gives `dL/dα` and from it `dL/d` the mean,
//! conic, opacity and colour (a clamped `α` passes only colour).
//!
//! # CPU adapters ([`PixelLayout::Runs`])
//! `rasterize_fwd_runs.wgsl` (8 threads per tile, two columns each, as the
//! renderer's `rasterize_columns.wgsl`) and `rasterize_bwd_runs.wgsl` (16
//! threads per tile, a row each, the 16 row sums of a batch of 16 splats
//! added after one barrier): the same expressions in the same order, so
//! the same image, state and records bit for bit (tested on lavapipe),
//! without a barrier per splat of 256 threads.
//!
//! # Gradient accumulation: per-intersection records, then a per-splat sum
//! WGSL has no float atomics (a CAS loop on `atomic<u32>` is the only
//! portable way to add floats concurrently, contended and order-dependent).
//! Instead every sum has one owner and a fixed order:
//! 1. In the backward, a tile's 256 pixel shares of one splat's 9 gradient
//!    words are reduced in workgroup memory (16 segments of 16 pixels, then
//!    the 16 segment sums: 2 barriers per splat) and written by the tile as
//!    one *record* of 9 f32. An intersection (tile, splat) belongs to
//!    exactly one tile, so no two workgroups write the same record.
//! 2. `accumulate.wgsl`, one thread per splat, sums its records in a fixed
//!    order.
//!
//! A splat's records must be findable without a search: they sit in *emit
//! order*. The renderer's emit.wgsl writes splat `g`'s intersections at
//! `offsets[g] ..` (the exclusive prefix sum of rectangle areas in depth
//! order), one per tile of its rectangle, row-major; so the record of `g` at
//! tile `(tx, ty)` is `offsets[g] + (ty − y0)(x1 − x0) + (tx − x0)`,
//! computable from the tile rectangle the renderer already stores per
//! splat, and splat `g` owns a contiguous run of records. The renderer keeps
//! those offsets per depth rank (`tile_offsets`); [`SplatOffsets`]
//! scatters them to per splat through `depth_vals`. [`Intersections`]
//! builds the whole layout on the CPU.
//!
//! Cost: 36 bytes of records per intersection (plus the 4-byte per-splat
//! `offsets`), cleared before each backward; two passes (backward, then
//! accumulate), no sort beyond the renderer's. Determinism: every float sum
//! has a fixed order, so two runs give bit-identical gradients (tested).
//! None depends on a splat's index either, so the renderer's compaction by
//! atomic counter (indices vary from run to run) changes nothing, save
//! where two splats of one tile have exactly equal depths and the sort
//! breaks the tie by index.
//! Precision: a splat over `n` tiles gets an f32 sum of `n` tile sums (each
//! of 16 sums of 16 pixels); its error is at most about
//! `(n + 30) · 6e-8 · Σ|share|`, far below the 1e-3 agreement with the f64
//! oracle (tested up to hundreds of tiles).
//!
//! # Projection forward (`project_fwd.wgsl`, [`project`])
//! The renderer's preprocess.wgsl line for line from the view-space mean to
//! the tile rectangle (deformation `base + Σ_k w_k B_k`, near-plane and
//! 1/255-opacity culling, EWA with the 1.3 x FOV clamp and 0.3 px
//! dilation, 3-sigma rectangle trimmed to the alpha ≥ 1/255 ellipse; a test
//! compares the two sources, and [`FrameParams`] is the renderer's `Frame`
//! uniform byte for byte), with two differences: SH are f32 of degree ≤ 1
//! ([`SH_FLOATS`] per Gaussian; the trainer keeps f32 parameters, packed
//! f16 is only the shipped format), and there is no compaction: Gaussian
//! `i` writes splat `i` (zeros and an empty rectangle when culled) and
//! `splat_of[i]` = `i + 1` (0 when culled), the map the backward reads.
//!
//! One forward for both: the renderer's preprocess compacts visible
//! Gaussians through an atomic counter, so splat slots vary from run to
//! run; the backward runs per Gaussian (its sums over Gaussians then have a
//! fixed order) and needs Gaussian → slot. What the renderer must expose:
//! the Gaussian's index per splat. preprocess already binds 8 storage
//! buffers, so not as a new `gaussian_ids` buffer but in the `Splat`'s
//! spare last word: `_pad: f32` → `gaussian: u32`, written `i` (the raster
//! kernels never read it; a bitcast float could be flushed as a denormal).
//! `invert_ids.wgsl` ([`InvertIds`]) then scatters it into `splat_of` (cleared
//! to 0 first). It also needs preprocess to read f32 SH when training (or a
//! packed copy refreshed after each step), and the `Frame` uniform and
//! bases as they are. With that, the trainer would drop project_fwd.wgsl.
//! Tested: shuffling the splats into compacted slots changes no bit of the
//! gradients.
//!
//! # Projection backward (`project_bwd.wgsl`, `deform_bwd.wgsl`,
//! `reduce.wgsl`, `pose_bwd.wgsl`)
//! 1. `project_bwd`, one thread per Gaussian: recomputes the forward with
//!    the same expressions (deformation and SH from `gaussian.wgsl`, shared
//!    with `project_fwd`), takes culling from `splat_of`, and maps `dL/d`
//!    its splat (the accumulate kernel's 9 words) to `dL/d` the deformed
//!    mean, quaternion, log-scale, opacity logit (`d_gauss`, the `gauss`
//!    layout: this *is* `dL/d` the base values) and the 12 SH words, as
//!    [`crate::cpu::project`] does: SH view direction into the mean, no
//!    gradient through a colour clamped at 0, outside the FOV clamp the
//!    Jacobian's tangent follows depth only. Its share of `dL/d` the view
//!    (`W`, `t`: 12 floats) is summed over the workgroup's 256 threads by a
//!    fixed tree in workgroup memory (12 KiB) into the workgroup's row of
//!    `partials`.
//! 2. `deform_bwd`, one thread per Gaussian: `dL/dB_k = w_k dL/d raw`
//!    (written per Gaussian, bases layout); `<B_k, dL/d raw>` (11 channels
//!    in order) summed over the workgroup by the same tree, four bases at a
//!    time (4 KiB), into columns `12 + k` of the row.
//! 3. `reduce`, one workgroup: each of 256 threads sums rows `l, l + 256,
//!    …` in order, then a tree: `dL/d` view (12) and `dL/dw` (K).
//! 4. `pose_bwd`, one thread: `dL/d` view → `dL/d` the pose 6-vector
//!    ([`crate::cpu::pose_backward`] in f32, sines by series below 0.5).
//!
//! No float atomics anywhere: every sum has a fixed order, the gradients are
//! bit-identical from run to run (tested). Precision of `dL/dw` over `n`
//! Gaussians: at most `(29 + ⌈n / 65536⌉) u Σ|terms|` (u = 2⁻²⁴); measured
//! 0.03 u Σ|terms| over 70,000 Gaussians.
//!
//! # Image loss ([`loss`]: `loss.wgsl`, `loss_pixel`, `ssim_rows`,
//! `ssim_cols`, `ssim_spread`, `loss_grad`)
//! From the head layer, the layer under it and the packed target: the
//! composite, L1 with the mouth weight, SSIM (separable 11-tap window sums
//! through global memory, their adjoints as gathers), the alpha loss, and
//! `dL/d` the head layer through the straight-alpha composite, as
//! [`crate::cpu::image_loss`]. Partial sums per workgroup by a fixed tree,
//! then `reduce.wgsl`: deterministic (tested). On CPU adapters the same
//! passes run in [`PixelLayout::Runs`] (runs of 16 outputs per thread),
//! bit for bit the same. One deviation: a composite
//! within 1e-6 of the target counts as a tie for the L1 sign (host and
//! shader may round the same byte / 255 one ulp apart where the plate
//! equals the frame; torch gives 0 there).
//!
//! # Adam ([`adam`]: `adam.wgsl`)
//! torch's Adam step per word, f32, with the moments in GPU buffers;
//! torch_trainer.py's parameter groups as per-slot learning rates of interleaved
//! buffers ([`AdamGroup`]), and its parameter-only regularisers
//! ([`crate::cpu::regularisers`]: MCMC opacity and scale terms, `|bases|`,
//! the pose's `|d|²`) added to the gradient in the same kernel.
//!
//! # Controller and pose Adam ([`controller`]: `controller_fwd.wgsl`,
//! `controller_bwd.wgsl`, `pose_adam.wgsl`)
//! torch_trainer.py's controller MLP (`D → H → H → K`, ReLU) in one workgroup:
//! forward to `w`, backward from the reduction's `dL/dw` to `dL/dθ` with
//! the L2 term, Adam on θ through `adam.wgsl`; the pose table's Adam with
//! torch_trainer.py's rule (all rows' moments step, only the frame's row moves).
//! [`TrainStep::encode_controlled`] runs it around a step.
//!
//! # One resident step ([`step`]: [`TrainStep`])
//! All of the above plus the GPU depth sort, tile binning and tile sort
//! (synctalk-sort's `RadixSort` and `PrefixSum`, glue kernels mirroring the
//! renderer's) recorded into one command encoder, no read-back inside; the
//! lists equal [`Intersections::build`]'s (tested).
//!
//! # Limits
//! WebGPU defaults: at most 8 storage buffers per stage (the raster
//! backward and `project_bwd` bind exactly 8), 16 KiB of workgroup memory
//! (raster backward: 12.3 KiB; forward 10 KiB; `project_bwd` 12 KiB),
//! 256 invocations; no subgroups, no float atomics; barriers only in
//! uniform control flow, with `workgroupUniformLoad` for bounds read from
//! workgroup memory. The tests run with `wgpu::Limits::default()` (naga);
//! `scripts/tint_check.mjs` validates the kernels with Chrome's compiler
//! (Dawn's Tint, through the `webgpu` npm package, no GPU needed); all
//! twenty-three pass (with [`step`]'s four glue kernels and the controller's
//! three). The [`PixelLayout::Runs`] kernels are listed there too, and run
//! in Chromium (SwiftShader, a CPU adapter) in the browser tests.

pub mod adam;
pub mod controller;
mod ids;
mod isect;
mod kernel;
mod layout;
pub mod loss;
pub mod noise;
mod offsets;
pub mod pose_view;
pub mod project;
pub mod raster;
pub mod step;
mod transfer;

pub use adam::{AdamBuffers, AdamGroup, AdamKernel, AdamParams, Regulariser};
pub use controller::{
    ControllerConfig, ControllerInputs, ControllerKernels, ControllerParams, ControllerState,
    ControllerStep, GradientSources, PoseAdamParams, MAX_HIDDEN,
};
pub use ids::{IdBuffers, InvertIds};
pub use isect::{pack_rect, unpack_rect, Intersections, MAX_TILES};
pub use layout::PixelLayout;
#[cfg(not(target_arch = "wasm32"))]
pub use loss::{image_loss, LossInputs};
pub use loss::{
    pack_target, under_layer, GpuLoss, LossBindGroups, LossBuffers, LossKernels, LossParams,
    LOSS_COLUMNS,
};
pub use noise::{position_noise_cpu, NoiseParams, PositionNoise};
pub use offsets::{OffsetBuffers, SplatOffsets};
pub use pose_view::{PoseView, PoseViewParams};
#[cfg(not(target_arch = "wasm32"))]
pub use project::{
    deform_backward, deform_backward_prior, invert_ids, pose_backward, project_backward,
    project_forward, ProjectInputs, ProjectOutput,
};
pub use project::{
    FrameParams, GpuGradients, GpuParams, MeshPriorParams, PoseParams, ProjectBindGroups,
    ProjectBuffers, ProjectKernels, ReduceParams, MAX_BASES, MAX_PRIOR_DIM, POSE_WORDS, SH_FLOATS,
    VIEW_WORDS,
};
#[cfg(not(target_arch = "wasm32"))]
pub use raster::{accumulate_records, forward_backward, splat_offsets, RasterInputs, RasterOutput};
pub use raster::{
    GpuSplat, PixelState, RasterBindGroups, RasterBuffers, RasterGrad, RasterKernels, RasterParams,
    GRAD_WORDS, TILE,
};
pub use step::StepLists;
pub use step::{StepConfig, StepInputs, StepKernels, StepState, TrainStep, STATS_BYTES};

/// Invalid inputs or a failure of the GPU.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GpuError {
    /// An array of the wrong length.
    #[error("{what} has {got} entries, expected {expected}")]
    Length {
        /// The array.
        what: &'static str,
        /// Entries present.
        got: usize,
        /// Entries expected.
        expected: usize,
    },
    /// A count past what the kernels or their layouts can hold.
    #[error("{what}: {got} is more than {max}")]
    TooLarge {
        /// The count.
        what: &'static str,
        /// Its value.
        got: u64,
        /// The largest allowed.
        max: u64,
    },
    /// A depth order that is not a permutation of the splats.
    #[error("depth order: splat {0} is out of range or repeated")]
    DepthOrder(u32),
    /// A tile rectangle that is inverted or leaves the grid.
    #[error("splat {splat}: tile rectangle {rect:?} is inverted or leaves the grid")]
    Rect {
        /// The splat.
        splat: usize,
        /// Its rectangle `[x0, y0, x1, y1)`.
        rect: [u32; 4],
    },
    /// Intersections on another tile grid than the image's.
    #[error("intersections are on a {got:?} tile grid, the image needs {expected:?}")]
    TileGrid {
        /// The intersections' grid.
        got: [u32; 2],
        /// The image's.
        expected: [u32; 2],
    },
    /// A splat index past the splats.
    #[error("intersection list names splat {0}, past the splats")]
    SplatIndex(u32),
    /// A splat whose records run past the intersections.
    #[error("splat {splat}: its records run past the intersections")]
    Records {
        /// The splat.
        splat: usize,
    },
    /// A frame uniform whose counts are not the parameters'.
    #[error("the frame uniform says {frame} {what}, the parameters have {params}")]
    Frame {
        /// The count.
        what: &'static str,
        /// The uniform's.
        frame: u64,
        /// The parameters'.
        params: u64,
    },
    /// An image smaller than the SSIM window.
    #[error("image {width}x{height} is smaller than the 11x11 SSIM window")]
    TooSmall {
        /// Width.
        width: u32,
        /// Height.
        height: u32,
    },
    /// An Adam group whose slots do not fit [`AdamParams`].
    #[error("an Adam group has no slots, too many, or more regularisers than slots")]
    Adam,
    /// wgpu reported a validation error.
    #[error("wgpu: {0}")]
    Wgpu(String),
    /// Mapping a buffer for reading failed.
    #[error("read-back failed: {0}")]
    Readback(String),
}
