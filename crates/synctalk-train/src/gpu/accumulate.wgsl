// Per splat, the sum of its intersection records (rasterize_bwd.wgsl): the
// records offsets[g] .. offsets[g] + area(rect[g]), in that (row-major tile)
// order. One thread per splat, no atomics, a fixed order: deterministic.

@group(0) @binding(0) var<uniform> raster: Raster;
@group(0) @binding(1) var<storage, read> tile_rects: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read> isect_offsets: array<u32>;
@group(0) @binding(3) var<storage, read> records: array<f32>;
// GRAD_WORDS floats per splat.
@group(0) @binding(4) var<storage, read_write> grads: array<f32>;

const GROUP: u32 = 256u;

@compute @workgroup_size(256)
fn accumulate(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let g = gid.y * groups.x * GROUP + gid.x;
    if (g >= raster.num_splats) {
        return;
    }
    let r = tile_rects[g];
    let area = ((r.y & 0xffffu) - (r.x & 0xffffu)) * ((r.y >> 16u) - (r.x >> 16u));
    let first = isect_offsets[g];
    var acc = array<f32, 9>(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for (var i = 0u; i < area; i++) {
        let at = (first + i) * GRAD_WORDS;
        // Records past the buffer (a TrainStep whose intersections overflowed
        // its capacity: those pairs were never emitted) count as zero.
        if (at + GRAD_WORDS > arrayLength(&records)) {
            break;
        }
        for (var v = 0u; v < GRAD_WORDS; v++) {
            acc[v] += records[at + v];
        }
    }
    for (var v = 0u; v < GRAD_WORDS; v++) {
        grads[g * GRAD_WORDS + v] = acc[v];
    }
}
