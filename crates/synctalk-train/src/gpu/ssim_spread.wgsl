// SSIM backward, vertical spread (the adjoint of the vertical window sum):
// for each row y < height and position x < valid.x, the 9 derivative maps
// gathered from the valid positions whose window covers row y.

@group(0) @binding(1) var<storage, read> dmaps: array<f32>;
@group(0) @binding(2) var<storage, read_write> spread: array<f32>;

@compute @workgroup_size(256)
fn ssim_spread(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let e = thread_index(gid, groups);
    let ow = lp.valid.x;
    if (e >= ow * lp.size.y) {
        return;
    }
    let x = e % ow;
    let y = e / ow;
    var s = array<f32, 9>(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for (var v = 0u; v < 11u; v++) {
        // Position row yy = y - v, valid when 0 <= yy < valid.y.
        if (v <= y && y - v < lp.valid.y) {
            let o = ((y - v) * ow + x) * D_WORDS;
            let g = tap(v);
            for (var k = 0u; k < 9u; k++) {
                s[k] += g * dmaps[o + k];
            }
        }
    }
    for (var k = 0u; k < 9u; k++) {
        spread[e * D_WORDS + k] = s[k];
    }
}
