//! The data every other crate of SyncTalk Web shares: a cloud of 3D
//! Gaussians (as the original 3D Gaussian Splatting trainer stores them),
//! a per-Gaussian deformation basis, and pinhole cameras.
//!
//! Conventions follow the INRIA 3DGS code: rotations are quaternions
//! `(w, x, y, z)` normalised at use, scales are stored as logarithms,
//! opacities as logits, colours as real spherical-harmonics coefficients
//! with the DC term first and 0.5 added after evaluation.

mod camera;
mod cloud;
mod deform;
mod image;
pub mod neck;
pub mod ply;
pub mod synthetic;

pub use camera::{Camera, CameraError, InriaCamera, MAX_IMAGE_SIDE};
pub use cloud::{sh_coeffs_for_degree, CloudError, Gaussians, MAX_SH_DEGREE};
pub use deform::{Deformation, DEFORM_CHANNELS};
pub use image::Image;
