// Per pixel: the composite (kept for the SSIM passes), the mouth-weighted
// L1 sum and the alpha terms, summed over the workgroup by a fixed tree
// into columns 0..5 of its partials row: L1, interior (1 - a), interior
// count, outside a, outside count.

@group(0) @binding(1) var<storage, read> head: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> under: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> target_px: array<u32>;
@group(0) @binding(4) var<storage, read_write> pred: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> partials: array<f32>;

var<workgroup> acc: array<array<f32, 256>, 5>;

@compute @workgroup_size(256)
fn loss_pixel(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let p = thread_index(gid, groups);
    var terms = array<f32, 5>(0.0, 0.0, 0.0, 0.0, 0.0);
    if (p < lp.size.x * lp.size.y) {
        let h = head[p];
        let r = pixel_terms(h, under[p], target_px[p]);
        pred[p] = r.c;
        terms = array<f32, 5>(r.l1, r.inside.x, r.inside.y, r.outside.x, r.outside.y);
    }
    for (var k = 0u; k < 5u; k++) {
        acc[k][lid] = terms[k];
    }
    workgroupBarrier();
    for (var stride = 128u; stride > 0u; stride >>= 1u) {
        if (lid < stride) {
            for (var k = 0u; k < 5u; k++) {
                acc[k][lid] += acc[k][lid + stride];
            }
        }
        workgroupBarrier();
    }
    if (lid < 5u) {
        partials[row_index(wid, groups) * COLUMNS + lid] = acc[lid][0];
    }
}
