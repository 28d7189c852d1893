//! Tests of the CPU reference: its forward against `synctalk_reference`'s
//! render, its backward against central finite differences in f64 and the
//! VJP dot-product identity, and the loss gradients.

mod controller;
mod fd;
mod gradients;
mod losses;
mod reference;
mod scene;
