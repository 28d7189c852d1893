//! The native trainer of SyncTalk portraits (issue 19): Gaussians,
//! deformation bases and per-frame pose refined by gradient descent on the
//! GPU with WGSL kernels.
//!
//! So far it holds [`cpu`], the f64 CPU reference of the training forward
//! and its hand-derived backward: the oracle every WGSL backward kernel is
//! tested against; and [`gpu`], those kernels: the rasterizer's training
//! forward and backward, the projection's forward and its backward into the
//! parameters, the deformation coefficients and the pose, the image loss
//! and its gradient, Adam, and the controller MLP with the pose optimiser;
//! [`dataset`], a `synctalk-prepare` dataset loaded as torch_trainer.py does
//! (frames, loss masks, the torso layer and the initial points); and
//! [`train`], the training loop with its schedules, MCMC densification and
//! checkpoints.

pub mod cpu;
pub mod dataset;
pub mod eval;
pub mod gpu;
pub mod train;
