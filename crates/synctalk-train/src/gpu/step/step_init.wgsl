// TrainStep's first kernel: the depth sort's values (Gaussian index, so
// that the stable radix sort breaks equal depths by index, as the CPU path's
// `(depth, index)` order does) and the counts the indirect dispatches read.
// No compaction: the depth keys are project_fwd's, one per Gaussian
// (culled: 0xffffffff, sorted last with empty rectangles).

@group(0) @binding(0) var<uniform> frame: Frame;
@group(0) @binding(1) var<storage, read_write> depth_vals: array<u32>;
// [keys to depth-sort].
@group(0) @binding(2) var<storage, read_write> depth_count: array<u32>;
// PrefixSum's info over the n + 1 tile counts: [len, groups, 1, 1].
@group(0) @binding(3) var<storage, read_write> scan_info: array<u32>;

@compute @workgroup_size(256)
fn step_init(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let i = gid.y * groups.x * 256u + gid.x;
    let n = frame.num_gaussians;
    if (i == 0u) {
        depth_count[0] = n;
        let len = n + 1u;
        scan_info[0] = len;
        scan_info[1] = (len + 1023u) / 1024u;
        scan_info[2] = 1u;
        scan_info[3] = 1u;
    }
    if (i < n) {
        depth_vals[i] = i;
    }
}
