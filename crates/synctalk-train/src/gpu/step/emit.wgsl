// The renderer's emit.wgsl rule for rule: per depth rank k, the splat's
// (tile id, splat) pairs, row-major over its rectangle, at
// tile_offsets[k] .. (the exclusive prefix sum of the areas in depth
// order), nothing written at or past the capacity. Two additions: the
// per-splat emit offset (splat_offsets.wgsl's scatter, folded in: the raster
// backward's record slots), and thread 0 writes the stats
// [pairs used = min(total, capacity), total needed].

@group(0) @binding(0) var<uniform> frame: Frame;
@group(0) @binding(1) var<storage, read> depth_vals: array<u32>;
@group(0) @binding(2) var<storage, read> tile_rects: array<vec2<u32>>;
// n + 1 entries after the scan; entry n is the total.
@group(0) @binding(3) var<storage, read> tile_offsets: array<u32>;
@group(0) @binding(4) var<storage, read_write> isect_keys: array<u32>;
@group(0) @binding(5) var<storage, read_write> isect_vals: array<u32>;
@group(0) @binding(6) var<storage, read_write> isect_offsets: array<u32>;
@group(0) @binding(7) var<storage, read_write> stats: array<u32>;

@compute @workgroup_size(256)
fn emit(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let k = gid.y * groups.x * 256u + gid.x;
    let n = frame.num_gaussians;
    let cap = frame.isect_capacity;
    if (k == 0u) {
        let total = tile_offsets[n];
        stats[0] = min(total, cap);
        stats[1] = total;
    }
    if (k >= n) {
        return;
    }
    let g = depth_vals[k];
    let r = tile_rects[g];
    let x0 = r.x & 0xffffu;
    let y0 = r.x >> 16u;
    let x1 = r.y & 0xffffu;
    let y1 = r.y >> 16u;
    var off = tile_offsets[k];
    isect_offsets[g] = off;
    for (var ty = y0; ty < y1; ty++) {
        for (var tx = x0; tx < x1; tx++) {
            if (off < cap) {
                isect_keys[off] = ty * frame.tiles.x + tx;
                isect_vals[off] = g;
            }
            off++;
        }
    }
}
