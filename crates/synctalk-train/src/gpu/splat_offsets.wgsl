// Per splat, its first intersection in emit order, from the renderer's
// per-rank arrays: the record slots of rasterize_bwd.wgsl are indexed by
// splat, emit.wgsl's offsets by depth rank. One thread per rank.

// counters[0]: visible splats (ranks in use).
@group(0) @binding(0) var<storage, read> counters: array<u32>;
// Rank -> splat index (the depth sort's values).
@group(0) @binding(1) var<storage, read> depth_vals: array<u32>;
// Rank -> first intersection (exclusive prefix sum of the rectangle areas).
@group(0) @binding(2) var<storage, read> tile_offsets: array<u32>;
@group(0) @binding(3) var<storage, read_write> isect_offsets: array<u32>;

const GROUP: u32 = 256u;

@compute @workgroup_size(256)
fn splat_offsets(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let k = gid.y * groups.x * GROUP + gid.x;
    if (k >= counters[0]) {
        return;
    }
    isect_offsets[depth_vals[k]] = tile_offsets[k];
}
