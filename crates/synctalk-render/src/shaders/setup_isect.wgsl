// One thread: total tile/Gaussian intersections after the prefix sum, the
// clamped count and dispatch size for the kernels that run over them.

@group(0) @binding(0) var<uniform> frame: Frame;
@group(0) @binding(1) var<storage, read> counters: array<u32>;
@group(0) @binding(2) var<storage, read> tile_offsets: array<u32>;
@group(0) @binding(3) var<storage, read> depth_vals: array<u32>;
@group(0) @binding(4) var<storage, read> tile_rects: array<vec2<u32>>;
// (clamped count, workgroups of 1024, 1, 1, unclamped count)
@group(0) @binding(5) var<storage, read_write> isect_info: array<u32>;

@compute @workgroup_size(1)
fn setup_isect() {
    let n = counters[0];
    var total = 0u;
    if (n > 0u) {
        total = tile_offsets[n - 1u] + rect_area(tile_rects[depth_vals[n - 1u]]);
    }
    let clamped = min(total, frame.isect_capacity);
    isect_info[0] = clamped;
    isect_info[1] = (clamped + 1023u) / 1024u;
    isect_info[2] = 1u;
    isect_info[3] = 1u;
    isect_info[4] = total;
}
