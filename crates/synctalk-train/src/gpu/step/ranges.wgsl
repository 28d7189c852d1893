// The renderer's ranges.wgsl: start and end of each tile's run in the
// tile-sorted intersection list (tiles no splat touches keep the (0, 0)
// they were cleared to). One thread per pair instead of four.

@group(0) @binding(0) var<storage, read> stats: array<u32>;
@group(0) @binding(1) var<storage, read> isect_keys: array<u32>;
@group(0) @binding(2) var<storage, read_write> ranges: array<vec2<u32>>;

@compute @workgroup_size(256)
fn ranges_main(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let i = gid.y * groups.x * 256u + gid.x;
    let n = stats[0];
    if (i >= n) {
        return;
    }
    let t = isect_keys[i];
    if (i == 0u || isect_keys[i - 1u] != t) {
        ranges[t].x = i;
    }
    if (i == n - 1u || isect_keys[i + 1u] != t) {
        ranges[t].y = i + 1u;
    }
}
