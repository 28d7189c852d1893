// Writes one (tile id, Gaussian) pair per touched tile. Gaussians are visited
// in depth order, so a stable sort by tile id keeps each tile depth-sorted.

@group(0) @binding(0) var<uniform> frame: Frame;
@group(0) @binding(1) var<storage, read> counters: array<u32>;
@group(0) @binding(2) var<storage, read> depth_vals: array<u32>;
@group(0) @binding(3) var<storage, read> tile_rects: array<vec2<u32>>;
@group(0) @binding(4) var<storage, read> tile_offsets: array<u32>;
@group(0) @binding(5) var<storage, read_write> isect_keys: array<u32>;
@group(0) @binding(6) var<storage, read_write> isect_vals: array<u32>;

@compute @workgroup_size(256)
fn emit(@builtin(global_invocation_id) gid: vec3<u32>) {
    let k = gid.x;
    if (k >= counters[0]) {
        return;
    }
    let g = depth_vals[k];
    let r = tile_rects[g];
    let x0 = r.x & 0xffffu;
    let y0 = r.x >> 16u;
    let x1 = r.y & 0xffffu;
    let y1 = r.y >> 16u;
    var off = tile_offsets[k];
    let cap = frame.isect_capacity;
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
