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

// Pixel terms of loss_pixel: the composite `c` (kept for the SSIM passes),
// the mouth-weighted L1 sum over the channels, and the alpha terms with
// their counts: (1 - a, 1) inside the head's mask, (a, 1) outside it.
struct PixelTerms {
    c: vec4<f32>,
    l1: f32,
    inside: vec2<f32>,
    outside: vec2<f32>,
}

fn pixel_terms(h: vec4<f32>, u: vec4<f32>, t: u32) -> PixelTerms {
    let c = composite(h, u);
    let m = target_mask(t);
    var wt = 1.0;
    if ((m & MASK_MOUTH) != 0u) {
        wt += lp.mouth;
    }
    let d = abs(c.xyz - target_rgb(t));
    var r = PixelTerms(c, wt * (d.x + d.y + d.z), vec2<f32>(0.0), vec2<f32>(0.0));
    if ((m & MASK_INSIDE) != 0u) {
        r.inside = vec2<f32>(1.0 - h.w, 1.0);
    }
    if ((m & MASK_OUTSIDE) != 0u) {
        r.outside = vec2<f32>(h.w, 1.0);
    }
    return r;
}

const C1: f32 = 0.0001;
const C2: f32 = 0.0009;

// SSIM at one position and channel from its window sums (means of x, y,
// x^2, y^2, xy): the map value `m` and its derivatives with respect to
// mu_x, E[x^2] and E[xy], scaled by 1 / count.
struct SsimAt {
    m: f32,
    d: vec3<f32>,
}

fn ssim_at(ux: f32, uy: f32, sxx: f32, syy: f32, sxy: f32) -> SsimAt {
    let a1 = 2.0 * ux * uy + C1;
    let a2 = 2.0 * (sxy - ux * uy) + C2;
    let b1 = ux * ux + uy * uy + C1;
    let b2 = (sxx - ux * ux) + (syy - uy * uy) + C2;
    let m = (a1 * a2) / (b1 * b2);
    // The derivatives divide by b1 and b2 only (both > 0): a1 and a2
    // change sign, and written as m / a2 they give 0 · ∞ = NaN wherever a2
    // rounds to 0 (seen on an H100, whose fused multiply-adds land a2 on
    // exactly 0 now and then).
    let q = lp.inv_count / (b1 * b2);
    let sm = a1 * a2 * q;
    return SsimAt(m, vec3<f32>(
        2.0 * uy * (a2 - a1) * q - 2.0 * ux * sm / b1 + 2.0 * ux * sm / b2,
        -sm / b2,
        2.0 * a1 * q,
    ));
}

// |pred - gt| below TIE counts as a tie (sign 0, as torch's abs at 0):
// where the plate equals the frame they are the same bytes / 255, which the
// host and the shader may round 1 ulp apart.
const TIE: f32 = 1e-6;

// dL/d the head layer at one of `n` pixels: head `h`, the layer under it
// `un`, the packed target `t`, the SSIM adjoint `s` gathered at the pixel
// (d mu, d E[x^2], d E[xy] per channel), and the mask counts.
fn head_grad(h: vec4<f32>, un: vec4<f32>, t: u32, s: array<f32, 9>, n: u32, inside: f32, outside: f32) -> vec4<f32> {
    let o = h + (1.0 - h.w) * un;
    let m = target_mask(t);
    let gt = target_rgb(t);
    var d_h = vec4<f32>(0.0);
    if (o.w > 0.0) {
        let pr = o.xyz / o.w;
        var wt = 1.0;
        if ((m & MASK_MOUTH) != 0u) {
            wt += lp.mouth;
        }
        let d = pr - gt;
        let l1 = wt * select(sign(d), vec3<f32>(0.0), abs(d) <= vec3<f32>(TIE)) / (3.0 * f32(n));
        let d_ssim = vec3<f32>(s[0], s[3], s[6]) + 2.0 * pr * vec3<f32>(s[1], s[4], s[7])
            + gt * vec3<f32>(s[2], s[5], s[8]);
        let g = l1 - lp.ssim_w * d_ssim;
        // s = o.rgb / o.a: d o.rgb = g / o.a, d o.a = -<g, o.rgb> / o.a^2;
        // o = h + (1 - h.a) u: d h.a -= <d o, u>.
        let d_o = vec4<f32>(g / o.w, -dot(g, o.xyz) / (o.w * o.w));
        d_h = d_o;
        d_h.w -= dot(d_o, un);
    }
    if ((m & MASK_INSIDE) != 0u && inside > 0.0) {
        d_h.w -= lp.alpha_w / inside;
    }
    if ((m & MASK_OUTSIDE) != 0u && outside > 0.0) {
        d_h.w += lp.alpha_w / outside;
    }
    return d_h;
}

// The loss (total, L1, SSIM, alpha) from the column sums of `n` pixels.
fn loss_terms(sums: array<f32, 6>, n: u32) -> vec4<f32> {
    let l1 = sums[0] / (3.0 * f32(n));
    let s = sums[5] * lp.inv_count;
    var alpha = 0.0;
    if (sums[2] > 0.0) {
        alpha += sums[1] / sums[2];
    }
    if (sums[4] > 0.0) {
        alpha += sums[3] / sums[4];
    }
    return vec4<f32>(l1 + lp.ssim_w * (1.0 - s) + lp.alpha_w * alpha, l1, s, alpha);
}
