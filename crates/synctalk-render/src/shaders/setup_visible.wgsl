// One thread: dispatch sizes for the kernels that run over visible Gaussians.

@group(0) @binding(0) var<storage, read> counters: array<u32>;
// (workgroups of 256 threads, 1, 1)
@group(0) @binding(1) var<storage, read_write> vis_args: array<u32>;
// (len, workgroups of 1024, 1, 1) for the prefix sum over tile counts.
@group(0) @binding(2) var<storage, read_write> tile_scan_info: array<u32>;
// (vertices per instance, instances, first vertex, first instance) for the
// instanced-quad rasterizer.
@group(0) @binding(3) var<storage, read_write> draw_args: array<u32>;

@compute @workgroup_size(1)
fn setup_visible() {
    let n = counters[0];
    vis_args[0] = (n + 255u) / 256u;
    vis_args[1] = 1u;
    vis_args[2] = 1u;
    tile_scan_info[0] = n;
    tile_scan_info[1] = (n + 1023u) / 1024u;
    tile_scan_info[2] = 1u;
    tile_scan_info[3] = 1u;
    draw_args[0] = 4u;
    draw_args[1] = n;
    draw_args[2] = 0u;
    draw_args[3] = 0u;
}
