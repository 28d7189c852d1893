//! What a training run records: the log rows and the step's re-creations.

/// One row of the training log, every [`LOG_EVERY`](super::LOG_EVERY) steps.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LogRow {
    /// The step (0-based) the row was taken after.
    pub step: u32,
    /// Total loss.
    pub loss: f32,
    /// Its L1 term.
    pub l1: f32,
    /// SSIM of the composite (the loss takes `1 − SSIM`).
    pub ssim: f32,
    /// Alpha term.
    pub alpha: f32,
    /// PSNR of the composite against the frame, dB.
    pub psnr: f32,
    /// Gaussians.
    pub gaussians: u32,
}

/// One re-creation of the step, for the run's report (and for diagnosing
/// a run on a new GPU: the capacity decides the sort's block size).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rebuild {
    /// Steps taken when it happened.
    pub step: u32,
    /// Why: intersection growth or densification.
    pub cause: RebuildCause,
    /// `[pairs used, pairs needed]` of the last step before it (growth).
    pub pairs: [u32; 2],
    /// Gaussians after it.
    pub gaussians: u32,
    /// Intersection capacity after it.
    pub capacity: u32,
}

/// Why a step was re-created.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RebuildCause {
    /// The intersection buffers were (nearly) full.
    Growth,
    /// MCMC relocation and growth.
    Densification,
    /// The bases smoothed over neighbours outside the refinement window
    /// (`--basis-smooth`; inside it the smoothing is part of the
    /// densification).
    Smoothing,
}
