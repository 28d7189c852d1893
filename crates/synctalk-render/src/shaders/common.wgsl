// Shared by every renderer kernel (prepended to each file at build time).

const TILE: u32 = 16u;

// Per-frame parameters. Must match `FrameUniform` in frame.rs.
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

// A projected Gaussian: 2D mean in pixels (pixel centres at integers),
// inverse 2D covariance (a, b, c), activated opacity and colour.
struct Splat {
    xy: vec2<f32>,
    conic_ab: vec2<f32>,
    conic_c: f32,
    opacity: f32,
    r: f32,
    g: f32,
    b: f32,
    _pad: f32,
}

// Tile rectangle [x0, x1) x [y0, y1) packed as (x0 | y0 << 16, x1 | y1 << 16).
fn rect_area(r: vec2<u32>) -> u32 {
    let w = (r.y & 0xffffu) - (r.x & 0xffffu);
    let h = (r.y >> 16u) - (r.x >> 16u);
    return w * h;
}
