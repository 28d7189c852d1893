//! The Dynamic Portrait Renderer: 3D Gaussians (with a per-frame
//! deformation) to pixels, as WGSL compute shaders dispatched through
//! `wgpu`. The same code runs natively (Vulkan, Metal, DX12, lavapipe) and in
//! the browser (WebGPU).
//!
//! Stages per frame, each a compute pass:
//! 1. **preprocess**: deform, project (EWA), evaluate SH, cull, compact;
//! 2. **depth sort**: radix sort of visible Gaussians by view depth;
//! 3. **binning**: tiles per Gaussian, prefix sum, one (tile, Gaussian) pair per touch;
//! 4. **tile sort**: stable radix sort of the pairs by tile, then per-tile ranges;
//! 5. **rasterize**: per 16x16 tile, front-to-back blending in workgroup memory;
//! 6. **composite**: head over torso over background.
//!
//! Nothing in a frame waits for the CPU: element counts stay on the GPU and
//! size later dispatches indirectly. The intersection buffer has a capacity;
//! [`View::render`] reads back the true count and re-renders once with a
//! larger buffer when a frame overflowed.

mod context;
mod encode;
mod frame;
mod kernel;
mod layers;
mod present;
mod readback;
mod renderer;
mod scene;
mod timing;
mod view;

pub use context::{request_device, GpuContext};
pub use present::{PresentAlpha, Presenter, MAX_DOWNSCALE};
pub use readback::{encode_texture_copy, padded_row, unpad_rows};
pub use renderer::{Renderer, TileKernel};
pub use scene::{GpuScene, MAX_BASES, MAX_GAUSSIANS};
pub use timing::{StageTimes, STAGES};
pub use view::{FrameStats, RasterMode, View};

/// Errors of the renderer.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// No GPU adapter (or no WebGPU) is available.
    #[error("no GPU adapter found: {0}")]
    NoAdapter(String),
    /// The device could not be created.
    #[error("could not open the GPU device: {0}")]
    Device(String),
    /// The scene is invalid.
    #[error("invalid scene: {0}")]
    Scene(#[from] synctalk_gaussians::CloudError),
    /// The camera is invalid.
    #[error("invalid camera: {0}")]
    Camera(#[from] synctalk_gaussians::CameraError),
    /// A resource exceeds what this device allows.
    #[error("{what} needs {need} bytes, but this GPU allows {limit} bytes per buffer")]
    TooLarge {
        /// What needs the memory.
        what: &'static str,
        /// Bytes needed.
        need: u64,
        /// The device limit.
        limit: u64,
    },
    /// A count exceeds a fixed limit.
    #[error("{what}: {got} exceeds the limit of {limit}")]
    Limit {
        /// What is counted.
        what: &'static str,
        /// The count.
        got: u64,
        /// The limit.
        limit: u64,
    },
    /// An input holds a value that is not finite.
    #[error("{what}: value {index} is {value}, not a finite number")]
    NotFinite {
        /// What holds it.
        what: &'static str,
        /// Its index.
        index: usize,
        /// The value.
        value: f32,
    },
    /// A layer image does not match the view size.
    #[error("{layer} layer is {got_w}x{got_h}, the view is {want_w}x{want_h}")]
    LayerSize {
        /// Which layer.
        layer: &'static str,
        /// Its width.
        got_w: u32,
        /// Its height.
        got_h: u32,
        /// View width.
        want_w: u32,
        /// View height.
        want_h: u32,
    },
    /// Reading results back from the GPU failed (device lost, for instance).
    #[error("GPU read-back failed: {0}")]
    Readback(String),
}
