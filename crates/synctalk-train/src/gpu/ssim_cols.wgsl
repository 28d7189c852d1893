// SSIM, vertical pass, one thread per pixel slot (the same grid as
// loss_pixel): at valid positions, the window means, the SSIM map m per
// channel and its partial derivatives with respect to mu_x, E[x^2] and
// E[xy], scaled by 1 / count (9 words per position); the sum of m over the
// channels summed over the workgroup into column 5 of its partials row.

@group(0) @binding(1) var<storage, read> rows: array<f32>;
@group(0) @binding(2) var<storage, read_write> dmaps: array<f32>;
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;

var<workgroup> acc: array<f32, 256>;

@compute @workgroup_size(256)
fn ssim_cols(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let p = thread_index(gid, groups);
    let ow = lp.valid.x;
    let x = p % lp.size.x;
    let y = p / lp.size.x;
    var m_sum = 0.0;
    if (p < lp.size.x * lp.size.y && x < ow && y < lp.valid.y) {
        for (var c = 0u; c < 3u; c++) {
            var s = array<f32, 5>(0.0, 0.0, 0.0, 0.0, 0.0);
            for (var v = 0u; v < 11u; v++) {
                let o = ((y + v) * ow + x) * ROW_WORDS + c * 5u;
                let g = tap(v);
                for (var k = 0u; k < 5u; k++) {
                    s[k] += g * rows[o + k];
                }
            }
            let r = ssim_at(s[0], s[1], s[2], s[3], s[4]);
            m_sum += r.m;
            let o = (y * ow + x) * D_WORDS + c * 3u;
            dmaps[o] = r.d.x;
            dmaps[o + 1u] = r.d.y;
            dmaps[o + 2u] = r.d.z;
        }
    }
    acc[lid] = m_sum;
    workgroupBarrier();
    for (var stride = 128u; stride > 0u; stride >>= 1u) {
        if (lid < stride) {
            acc[lid] += acc[lid + stride];
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        partials[row_index(wid, groups) * COLUMNS + 5u] = acc[0];
    }
}
