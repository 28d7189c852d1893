// The second stage of the backward's deterministic reductions: one
// workgroup sums `rows` rows of `partials` (per-workgroup sums written by
// project_bwd.wgsl and deform_bwd.wgsl, `width` floats each) into `width`
// totals. Thread l sums rows l, l + 256, ... in order, then a fixed tree
// over the 256 threads: the same order every run, no atomics.

struct Reduce {
    rows: u32,
    width: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Reduce;
@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> sums: array<f32>;

var<workgroup> acc: array<f32, 256>;

@compute @workgroup_size(256)
fn reduce(@builtin(local_invocation_index) lid: u32) {
    for (var c = 0u; c < params.width; c++) {
        var s = 0.0;
        for (var r = lid; r < params.rows; r += 256u) {
            s += partials[r * params.width + c];
        }
        acc[lid] = s;
        workgroupBarrier();
        for (var stride = 128u; stride > 0u; stride >>= 1u) {
            if (lid < stride) {
                acc[lid] += acc[lid + stride];
            }
            workgroupBarrier();
        }
        if (lid == 0u) {
            sums[c] = acc[0];
        }
        workgroupBarrier();
    }
}
