// Per pixel: dL/d the head layer. The horizontal SSIM spread finishes
// dSSIM/d the composite (d mu + 2 x d E[x^2] + y d E[xy]); with the L1
// sign it gives dL/d the composite's RGB, taken through the straight-alpha
// composite to the premultiplied head, plus the alpha loss on the head's
// alpha. Thread 0 also writes the loss: total, L1, SSIM, alpha.

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
        let t = loss_terms(array<f32, 6>(sums[0], sums[1], sums[2], sums[3], sums[4], sums[5]), n);
        loss[0] = t.x;
        loss[1] = t.y;
        loss[2] = t.z;
        loss[3] = t.w;
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
    let d_h = head_grad(head[p], under[p], target_px[p], s, n, inside, outside);
    grad_head[p] = d_h;
}
