//! Tests of the WGSL kernels on whatever Vulkan adapter the machine has
//! (lavapipe in CI), with WebGPU's default limits, against the f64 CPU
//! oracle of `synctalk_train::cpu`.

mod adam;
mod controller;
mod loss;
mod noise;
mod offsets;
mod oracle3d;
mod project;
mod raster;
mod reductions;
mod scene;
mod scene3d;
mod state;
mod step;
mod step_vs_torch;
mod train_step;
mod trainer;
