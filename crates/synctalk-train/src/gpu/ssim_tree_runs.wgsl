// The SSIM map's sum per 256 pixels for CPU adapters: column 5 of each
// partials row, from ssim_cols_runs's per-pixel map, by ssim_cols's tree in
// loss_pixel_runs's arrangement (8 threads, 32 pixels each; see there).

@group(0) @binding(1) var<storage, read> ssim_map: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;

var<workgroup> part: array<f32, 8>;

// The map summed over the channels at pixel p; 0 where ssim_cols has no
// position.
fn map_at(p: u32) -> f32 {
    let x = p % lp.size.x;
    let y = p / lp.size.x;
    if (p < lp.size.x * lp.size.y && x < lp.valid.x && y < lp.valid.y) {
        return ssim_map[p];
    }
    return 0.0;
}

fn map4(p: u32) -> vec4<f32> {
    return vec4<f32>(map_at(p), map_at(p + 8u), map_at(p + 16u), map_at(p + 24u));
}

@compute @workgroup_size(8)
fn ssim_tree_runs(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let row = row_index(wid, groups);
    let p = row * 256u + li;
    let w0 = map4(p) + map4(p + 128u);
    let w1 = map4(p + 32u) + map4(p + 160u);
    let w2 = map4(p + 64u) + map4(p + 192u);
    let w3 = map4(p + 96u) + map4(p + 224u);
    let t = (w0 + w2) + (w1 + w3);
    let z = t.xy + t.zw;
    part[li] = z.x + z.y;
    workgroupBarrier();
    if (li == 0u) {
        partials[row * COLUMNS + 5u] = ((part[0] + part[4]) + (part[2] + part[6])) + ((part[1] + part[5]) + (part[3] + part[7]));
    }
}
