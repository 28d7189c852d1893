// Tiles touched by each visible Gaussian, in depth order.

@group(0) @binding(0) var<storage, read> counters: array<u32>;
@group(0) @binding(1) var<storage, read> depth_vals: array<u32>;
@group(0) @binding(2) var<storage, read> tile_rects: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read_write> tile_counts: array<u32>;

@compute @workgroup_size(256)
fn count_tiles(@builtin(global_invocation_id) gid: vec3<u32>) {
    let k = gid.x;
    if (k >= counters[0]) {
        return;
    }
    tile_counts[k] = rect_area(tile_rects[depth_vals[k]]);
}
