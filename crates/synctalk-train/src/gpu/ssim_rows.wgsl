// SSIM, horizontal pass: for each row y < height and position x < valid.x,
// the 11-tap window sums of x, y, x^2, y^2 and xy per channel (x the
// composite, y the target), 15 words per element.

@group(0) @binding(1) var<storage, read> pred: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> target_px: array<u32>;
@group(0) @binding(3) var<storage, read_write> rows: array<f32>;

@compute @workgroup_size(256)
fn ssim_rows(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let e = thread_index(gid, groups);
    let ow = lp.valid.x;
    if (e >= ow * lp.size.y) {
        return;
    }
    let x0 = e % ow;
    let y = e / ow;
    var sx = vec3<f32>(0.0);
    var sy = vec3<f32>(0.0);
    var sxx = vec3<f32>(0.0);
    var syy = vec3<f32>(0.0);
    var sxy = vec3<f32>(0.0);
    for (var u = 0u; u < 11u; u++) {
        let p = y * lp.size.x + x0 + u;
        let g = tap(u);
        let a = pred[p].xyz;
        let b = target_rgb(target_px[p]);
        sx += g * a;
        sy += g * b;
        sxx += g * a * a;
        syy += g * b * b;
        sxy += g * a * b;
    }
    for (var c = 0u; c < 3u; c++) {
        let o = e * ROW_WORDS + c * 5u;
        rows[o] = sx[c];
        rows[o + 1u] = sy[c];
        rows[o + 2u] = sxx[c];
        rows[o + 3u] = syy[c];
        rows[o + 4u] = sxy[c];
    }
}
