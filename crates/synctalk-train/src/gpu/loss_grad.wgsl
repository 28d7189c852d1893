// Per pixel: dL/d the head layer. The horizontal SSIM spread finishes
// dSSIM/d the composite (d mu + 2 x d E[x^2] + y d E[xy]); with the L1
// sign it gives dL/d the composite's RGB, taken through the straight-alpha
// composite to the premultiplied head, plus the alpha loss on the head's
// alpha. Thread 0 also writes the loss: total, L1, SSIM, alpha.

const TIE: f32 = 1e-6;

@group(0) @binding(1) var<storage, read> head: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> under: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> target_px: array<u32>;
@group(0) @binding(4) var<storage, read> spread: array<f32>;
@group(0) @binding(5) var<storage, read> sums: array<f32>;
@group(0) @binding(6) var<storage, read_write> grad_head: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> loss: array<f32>;

@compute @workgroup_size(256)
fn loss_grad(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let p = thread_index(gid, groups);
    let n = lp.size.x * lp.size.y;
    let inside = sums[2];
    let outside = sums[4];
    if (p == 0u) {
        let l1 = sums[0] / (3.0 * f32(n));
        let s = sums[5] * lp.inv_count;
        var alpha = 0.0;
        if (inside > 0.0) {
            alpha += sums[1] / inside;
        }
        if (outside > 0.0) {
            alpha += sums[3] / outside;
        }
        loss[0] = l1 + lp.ssim_w * (1.0 - s) + lp.alpha_w * alpha;
        loss[1] = l1;
        loss[2] = s;
        loss[3] = alpha;
    }
    if (p >= n) {
        return;
    }
    let x = p % lp.size.x;
    let y = p / lp.size.x;
    let ow = lp.valid.x;
    var s = array<f32, 9>(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for (var u = 0u; u < 11u; u++) {
        if (u <= x && x - u < ow) {
            let o = (y * ow + x - u) * D_WORDS;
            let g = tap(u);
            for (var k = 0u; k < 9u; k++) {
                s[k] += g * spread[o + k];
            }
        }
    }
    let h = head[p];
    let un = under[p];
    let o = h + (1.0 - h.w) * un;
    let t = target_px[p];
    let m = target_mask(t);
    let gt = target_rgb(t);
    var d_h = vec4<f32>(0.0);
    if (o.w > 0.0) {
        let pr = o.xyz / o.w;
        var wt = 1.0;
        if ((m & MASK_MOUTH) != 0u) {
            wt += lp.mouth;
        }
        // |pred - gt| below TIE counts as a tie (sign 0, as torch's abs at
        // 0): where the plate equals the frame they are the same bytes /
        // 255, which the host and the shader may round 1 ulp apart.
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
    grad_head[p] = d_h;
}
