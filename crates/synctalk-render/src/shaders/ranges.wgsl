// Start and end of each tile's run in the tile-sorted intersection list.
// Tiles that no Gaussian touches keep the (0, 0) they were cleared to.

@group(0) @binding(0) var<storage, read> isect_info: array<u32>;
@group(0) @binding(1) var<storage, read> isect_keys: array<u32>;
@group(0) @binding(2) var<storage, read_write> ranges: array<vec2<u32>>;

@compute @workgroup_size(256)
fn ranges_main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let n = isect_info[0];
    for (var j = 0u; j < 4u; j++) {
        let i = wid.x * 1024u + j * 256u + lid;
        if (i < n) {
            let t = isect_keys[i];
            if (i == 0u || isect_keys[i - 1u] != t) {
                ranges[t].x = i;
            }
            if (i == n - 1u || isect_keys[i + 1u] != t) {
                ranges[t].y = i + 1u;
            }
        }
    }
}
