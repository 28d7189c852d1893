// Shared by the trainer's raster kernels (prepended to each at build time).

const TILE: u32 = 16u;

// Gradient words per splat and per intersection record: d xy (2), d conic
// (a, b, c), d opacity (activated), d rgb (3). Must match `GRAD_WORDS` in
// raster.rs.
const GRAD_WORDS: u32 = 9u;

// Per-dispatch parameters. Must match `RasterParams` in raster.rs.
struct Raster {
    image_size: vec2<u32>,
    tiles: vec2<u32>,
    num_splats: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

// A projected Gaussian, the renderer's layout (synctalk-render common.wgsl):
// 2D mean in pixels (pixel centres at integers), inverse 2D covariance
// (a, b, c), activated opacity and colour. 40 bytes.
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

// What the training forward leaves per pixel for the backward: the final
// transmittance, and how many entries of the tile's list the pixel walked
// up to and including the last splat it blended (0 when none).
struct PixelState {
    t: f32,
    count: u32,
}
