// The image terms of torch_trainer.py's loss on the GPU and their gradient with
// respect to the head layer (see loss.rs). Six dispatches, one thread per
// pixel or per SSIM row element, no atomics; every sum has a fixed order.

// Must match `LossParams` in loss.rs.
struct LossParams {
    size: vec2<u32>,   // image width, height
    valid: vec2<u32>,  // SSIM positions across and down: size - 10
    mouth: f32,        // L1 weight is 1 + mouth in the mouth mask
    ssim_w: f32,       // weight of 1 - SSIM
    alpha_w: f32,      // weight of the alpha loss
    inv_count: f32,    // 1 / (3 valid.x valid.y)
    taps: array<vec4<f32>, 3>,  // the 11 normalised Gaussian taps, then 0
}

// Columns of a partials row (one row per workgroup of 256 pixels).
const COLUMNS: u32 = 6u;
const MASK_INSIDE: u32 = 2u;
const MASK_OUTSIDE: u32 = 4u;
const MASK_MOUTH: u32 = 8u;
// rows of ssim_rows: 5 sums (x, y, xx, yy, xy) per channel.
const ROW_WORDS: u32 = 15u;
// dmaps and the vertical spread: d/d mu, d/d E[x^2], d/d E[xy] per channel.
const D_WORDS: u32 = 9u;

@group(0) @binding(0) var<uniform> lp: LossParams;

fn tap(i: u32) -> f32 {
    return lp.taps[i / 4u][i % 4u];
}

fn thread_index(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
    return gid.x + gid.y * groups.x * 256u;
}

fn row_index(wid: vec3<u32>, groups: vec3<u32>) -> u32 {
    return wid.x + wid.y * groups.x;
}

// Target pixel: r | g << 8 | b << 16 | mask << 24.
fn target_rgb(t: u32) -> vec3<f32> {
    return vec3<f32>(f32(t & 255u), f32((t >> 8u) & 255u), f32((t >> 16u) & 255u)) / 255.0;
}

fn target_mask(t: u32) -> u32 {
    return t >> 24u;
}

// The straight composite of premultiplied head over premultiplied under:
// (rgb / a, a), 0 where a = 0.
fn composite(h: vec4<f32>, u: vec4<f32>) -> vec4<f32> {
    let o = h + (1.0 - h.w) * u;
    if (o.w > 0.0) {
        return vec4<f32>(o.xyz / o.w, o.w);
    }
    return vec4<f32>(0.0);
}
