//! The f64 CPU reference of the training forward and its hand-derived
//! backward (vector-Jacobian products), for small scenes: the oracle the
//! WGSL backward kernels are tested against. Slow and simple on purpose.
//!
//! # Forward ([`forward`])
//! 1. Deformation ([`Params::deformed`]): each Gaussian's raw parameters
//!    (mean, quaternion, log-scale, opacity logit) plus `Σ_k w_k B_k`, before
//!    any activation or normalisation (torch_trainer.py `deform`, preprocess.wgsl).
//! 2. Pose ([`posed_view`]): the tracked head-to-camera `H` (the
//!    [`synctalk_gaussians::Camera`]'s rotation and translation) refined to
//!    `H @ delta(d)`, torch_trainer.py `pose_delta` with [`POSE_UNITS`].
//! 3. Projection, blending: `synctalk_reference::project_gaussian` and
//!    `rasterize`, the renderer's reference (near plane, EWA with the 1.3 x
//!    FOV clamp and 0.3 px dilation, SH with +0.5 and clamp at 0, 3-sigma
//!    16x16 tiles, `alpha = min(0.99, o exp(power))`, skipped below 1/255,
//!    a splat that would take `T` below 1e-4 is not blended and stops the
//!    pixel), giving the premultiplied head layer.
//! 4. Composite ([`composite()`]): head over torso over background as
//!    composite.wgsl, straight alpha, before its clamp and quantisation.
//!
//! # Backward ([`backward`])
//! Stage by stage in reverse: composite, blending ([`raster`]), projection
//! with the SH view-direction path into the mean ([`project`], [`sh`]),
//! deformation (into the raw parameters, the bases and `w`), pose (into the
//! 6-vector `d`). Clamped branches (SH colour at 0, alpha at 0.99, the FOV
//! clamp of the EWA Jacobian) pass no gradient through the clamped value.
//!
//! # Loss (torch_trainer.py `train()`; [`image_loss`] has the image terms)
//! With `pred = img + (1 − a) · under` (the composite's RGB), `gt` the
//! frame, `m` the mask bits and `a` the head layer's alpha:
//! ```text
//! L = l1 + ssim_w (1 − SSIM(pred, gt)) + alpha_w lalpha
//!     + reg_w (mean|bases| + 1e-2 Σ_θ∈controller mean θ²)
//!     + 0.01 mean sigmoid(opacity_logits) + 0.01 mean exp(log_scales)
//!     + 1e-3 |d|²
//! l1     = mean over pixels and channels of (1 + mouth_w [m & 8]) |pred − gt|
//! lalpha = mean over m & 2 of (1 − a) + mean over m & 4 of a
//! ```
//! SSIM as in [`ssim`]; defaults `mouth_w = 4`, `ssim_w = 0.2`,
//! `alpha_w = 0.05`, `reg_w = 1e-3`. The last three lines act on parameters
//! directly (undeformed opacities and scales), not through the image:
//! [`regularisers`] (all but the controller's L2, which
//! [`Controller::l2`] gives).
//!
//! # Controller and pose optimiser ([`Controller`], [`pose_adam_step`])
//! `w = controller(norm(cond))` (torch_trainer.py `build`, [`Normalizer`]): three
//! dense layers with ReLU between, forward and backward from `dL/dw` in
//! f64 (finite-difference tested), the L2 term's gradient; the pose Adam
//! of torch_trainer.py: every row's moments step (zero gradient off the frame),
//! only the frame's row moves.
//!
//! # Where the sources disagree
//! - The renderer clamps the composite to [0, 1]; torch_trainer.py's loss uses the
//!   unclamped `img + (1 − a) under`. [`Forward::image`] is unclamped.
//! - torch_trainer.py's `under` is the torso over the plate rounded to u8 and assumed
//!   opaque; the renderer composites the u8 layers in float (the same for the
//!   dataset's binary torso alpha, not for a translucent one) and divides by
//!   the composite alpha, which we keep.
//! - torch_trainer.py renders with gsplat (`rasterize_mode="classic"`): alpha clamp
//!   0.999 (ours 0.99); a pixel stops at `T ≤ 1e-4` (ours `< 1e-4`; both
//!   leave that splat out); FOV clamp `(W − cx)/fx + 0.3 · W/(2 fx)` (ours
//!   `1.3 (W − cx)/fx`, equal only for a centred principal point); near
//!   plane 0.2 fixed (ours the camera's); its tile radius rule is its own.
//!   Here we follow the renderer.
//! - The renderer (WGSL) culls opacity below 1/255 and trims tile
//!   rectangles to the alpha ≥ 1/255 ellipse; the reference does neither.
//!   Same image, same gradients.
//! - A knife edge between f64 and f32: behind two splats whose alpha is
//!   clamped at 0.99, `T = (1 − 0.99)²` is `1.0000000000000018e-4` in f64
//!   (not below 1e-4: the reference blends the second splat) but
//!   `9.99998e-5` in f32 (rasterize.wgsl stops the pixel there), so the
//!   head alpha is 0.9999 here and 0.99 on the GPU at such pixels: GPU
//!   gradient tests must keep clamped pairs out of their scenes.
//! - gsplat, like us, clamps `SH + 0.5` at 0, and its pixel centres at
//!   `+0.5` against means at `f x / z + c` are ours shifted by 0.5.
//! - At SH degree 0 (torch_trainer.py's first 1000 steps) coefficients 1..4 are held
//!   but unused (zero gradient).
//! - An empty interior or outside mask makes torch_trainer.py's alpha loss NaN;
//!   here that term is 0.

mod composite;
mod controller;
mod loss;
mod params;
mod pose;
pub mod project;
pub mod raster;
mod regular;
mod render;
pub mod sh;
pub mod ssim;

pub use composite::{backward as composite_backward, composite, quantize};
pub use controller::{pose_adam_step, Controller, ControllerForward, Normalizer, CONTROLLER_L2};
pub use loss::{
    image_loss, pixel_loss, Loss, LossWeights, Target, MASK_INSIDE, MASK_MOUTH, MASK_OUTSIDE,
};
pub use params::{Gradients, Params, MAX_SH_DEGREE, SH_COEFFS};
pub use pose::{pose_backward, pose_delta, posed_view, POSE_UNITS};
pub use project::SplatGrad;
pub use regular::{adam_step, regularisers, AdamConfig, MCMC_WEIGHT, POSE_WEIGHT};
pub use render::{backward, branches, forward, Branches, Forward, Frame, OutputGrad};

/// Inputs the CPU reference cannot use.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CpuError {
    /// SH degree above [`MAX_SH_DEGREE`].
    #[error("SH degree {0} is not supported by the CPU reference (0..=1)")]
    ShDegree(u32),
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
    /// A layer whose size is not the camera's.
    #[error("{what} layer is {width}x{height}, expected {expected_width}x{expected_height}")]
    LayerSize {
        /// The layer.
        what: &'static str,
        /// Its width.
        width: u32,
        /// Its height.
        height: u32,
        /// The camera's width.
        expected_width: u32,
        /// The camera's height.
        expected_height: u32,
    },
    /// An image smaller than the SSIM window.
    #[error("image {width}x{height} is smaller than the 11x11 SSIM window")]
    TooSmall {
        /// Width.
        width: usize,
        /// Height.
        height: usize,
    },
    /// The cloud is invalid.
    #[error(transparent)]
    Cloud(#[from] synctalk_gaussians::CloudError),
}
