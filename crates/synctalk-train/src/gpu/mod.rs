//! The trainer's WGSL kernels and their dispatch. So far the rasterizer:
//! a training forward that also saves what its backward needs, the
//! backward into per-splat gradients, tested against [`crate::cpu::raster`].
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
//! # Limits
//! WebGPU defaults: at most 8 storage buffers per stage (the backward binds
//! exactly 8), 16 KiB of workgroup memory (backward: 12.3 KiB; forward 10
//! KiB), 256 invocations; no subgroups, no float atomics; barriers only in
//! uniform control flow, with `workgroupUniformLoad` for bounds read from
//! workgroup memory. The tests run with `wgpu::Limits::default()` (naga);
//! `scripts/tint_check.mjs` validates the kernels with Chrome's compiler
//! (Dawn's Tint, through the `webgpu` npm package, no GPU needed).

mod ids;
mod isect;
mod kernel;
mod offsets;
pub mod project;
pub mod raster;
#[cfg(not(target_arch = "wasm32"))]
mod transfer;

pub use ids::{IdBuffers, InvertIds};
pub use isect::{pack_rect, unpack_rect, Intersections, MAX_TILES};
pub use offsets::{OffsetBuffers, SplatOffsets};
#[cfg(not(target_arch = "wasm32"))]
pub use project::{
    deform_backward, invert_ids, pose_backward, project_backward, project_forward, ProjectInputs,
    ProjectOutput,
};
pub use project::{
    FrameParams, GpuGradients, GpuParams, PoseParams, ProjectBindGroups, ProjectBuffers,
    ProjectKernels, ReduceParams, MAX_BASES, POSE_WORDS, SH_FLOATS, VIEW_WORDS,
};
#[cfg(not(target_arch = "wasm32"))]
pub use raster::{accumulate_records, forward_backward, splat_offsets, RasterInputs, RasterOutput};
pub use raster::{
    GpuSplat, PixelState, RasterBindGroups, RasterBuffers, RasterGrad, RasterKernels, RasterParams,
    GRAD_WORDS, TILE,
};

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
    /// wgpu reported a validation error.
    #[error("wgpu: {0}")]
    Wgpu(String),
    /// Mapping a buffer for reading failed.
    #[error("read-back failed: {0}")]
    Readback(String),
}
