// The renderer's per-frame uniform (synctalk-render common.wgsl, `Frame`),
// prepended to the trainer's projection kernels so that one uniform buffer
// serves both. Must match `FrameParams` in project.rs; the struct is
// checked against the renderer's by a test.

struct Frame {
    // World-to-camera (head pose included), column-major.
    view: mat4x4<f32>,
    // Camera centre in the Gaussians' space (for SH view directions).
    cam_pos: vec4<f32>,
    focal: vec2<f32>,
    principal: vec2<f32>,
    // tan limits of the EWA clamp: 1.3 x the field of view on each side.
    lim_pos: vec2<f32>,
    lim_neg: vec2<f32>,
    image_size: vec2<u32>,
    tiles: vec2<u32>,
    num_gaussians: u32,
    sh_degree: u32,
    num_bases: u32,
    near: f32,
    isect_capacity: u32,
    // u32 words per Gaussian in the packed-f16 SH buffer.
    sh_stride: u32,
    preprocess_groups_x: u32,
    _pad: u32,
    // Deformation coefficients, 4 per vec4.
    coeffs: array<vec4<f32>, 8>,
}

// Trainer SH: f32, degree 1 at most, 4 coefficients x RGB per Gaussian
// (coefficient-major, RGB interleaved), whatever `sh_degree` is.
const SH_FLOATS: u32 = 12u;

const SH_C0: f32 = 0.28209479177387814;
const SH_C1: f32 = 0.4886025119029199;

// Floats per row of the backward's per-workgroup partial sums, before the
// K coefficient columns: d view rotation (9, column-major) and translation (3).
const VIEW_WORDS: u32 = 12u;

fn coeff(k: u32) -> f32 {
    return frame.coeffs[k / 4u][k % 4u];
}

// The linear index of a workgroup of the folded 1D dispatch (as the
// renderer's preprocess folds it).
fn group_index(wid: vec3<u32>) -> u32 {
    return wid.y * frame.preprocess_groups_x + wid.x;
}
