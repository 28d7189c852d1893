//! The native trainer in a web page: [`train_steps`] opens a
//! `synctalk-prepare` dataset from files the page hands over, starts a
//! portrait on it as `synctalk train` does (`synctalk_train::train`, the
//! same WGSL kernels) and takes training steps through the browser's
//! WebGPU, awaiting the read-backs instead of blocking. It proves the path
//! for creating an avatar fully in the page; the browser test
//! (`tests/browser/train.test.mjs`) runs it on the dataset fixture.
//!
//! Natively the crate is empty.

#[cfg(target_arch = "wasm32")]
mod web;

#[cfg(target_arch = "wasm32")]
pub use web::train_steps;
