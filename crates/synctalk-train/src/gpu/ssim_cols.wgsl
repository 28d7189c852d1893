// SSIM, vertical pass, one thread per pixel slot (the same grid as
// loss_pixel): at valid positions, the window means, the SSIM map m per
// channel and its partial derivatives with respect to mu_x, E[x^2] and
// E[xy], scaled by 1 / count (9 words per position); the sum of m over the
// channels summed over the workgroup into column 5 of its partials row.

@group(0) @binding(1) var<storage, read> rows: array<f32>;
@group(0) @binding(2) var<storage, read_write> dmaps: array<f32>;
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;

const C1: f32 = 0.0001;
const C2: f32 = 0.0009;

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
            let ux = s[0];
            let uy = s[1];
            let a1 = 2.0 * ux * uy + C1;
            let a2 = 2.0 * (s[4] - ux * uy) + C2;
            let b1 = ux * ux + uy * uy + C1;
            let b2 = (s[2] - ux * ux) + (s[3] - uy * uy) + C2;
            let m = (a1 * a2) / (b1 * b2);
            m_sum += m;
            let o = (y * ow + x) * D_WORDS + c * 3u;
            // The derivatives divide by b1 and b2 only (both > 0): a1 and
            // a2 change sign, and written as m / a2 they give 0 · ∞ = NaN
            // wherever a2 rounds to 0 (seen on an H100, whose fused
            // multiply-adds land a2 on exactly 0 now and then).
            let q = lp.inv_count / (b1 * b2);
            let sm = a1 * a2 * q;
            dmaps[o] = 2.0 * uy * (a2 - a1) * q - 2.0 * ux * sm / b1 + 2.0 * ux * sm / b2;
            dmaps[o + 1u] = -sm / b2;
            dmaps[o + 2u] = 2.0 * a1 * q;
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
