// Per depth rank, the number of tiles its splat's rectangle covers (the
// renderer's preprocess.wgsl writes the same area per compacted slot);
// rank n gets 0, so that the exclusive prefix sum's entry n is the total.

@group(0) @binding(0) var<uniform> frame: Frame;
// Rank -> Gaussian (the depth sort's values).
@group(0) @binding(1) var<storage, read> depth_vals: array<u32>;
@group(0) @binding(2) var<storage, read> tile_rects: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read_write> tile_counts: array<u32>;

@compute @workgroup_size(256)
fn tile_counts_main(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let k = gid.y * groups.x * 256u + gid.x;
    let n = frame.num_gaussians;
    if (k > n) {
        return;
    }
    var area = 0u;
    if (k < n) {
        let r = tile_rects[depth_vals[k]];
        area = ((r.y & 0xffffu) - (r.x & 0xffffu)) * ((r.y >> 16u) - (r.x >> 16u));
    }
    tile_counts[k] = area;
}
