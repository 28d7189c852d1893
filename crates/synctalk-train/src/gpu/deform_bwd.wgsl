// Backward of the deformation `raw = base + Σ_k w_k B_k`, one thread per
// Gaussian, after project_bwd.wgsl: dL/d base is dL/d raw (`d_gauss`
// itself, nothing to do); dL/dB_k = w_k dL/d raw, written per Gaussian in
// the bases' layout ([basis][channel][gaussian]); dL/dw_k = Σ_i <B_k,i,
// dL/d raw_i> needs a sum over all Gaussians: each thread's dot product (11
// channels in order) goes through a fixed tree in workgroup memory, four
// bases at a time, and the workgroup's sums land in columns VIEW_WORDS + k
// of its row of `partials`, summed over rows by reduce.wgsl. No atomics:
// deterministic.

@group(0) @binding(0) var<uniform> frame: Frame;
@group(0) @binding(1) var<storage, read> bases: array<f32>;
// dL/d the deformed parameters, three vec4 per Gaussian (project_bwd.wgsl).
@group(0) @binding(2) var<storage, read> d_gauss: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> d_bases: array<f32>;
@group(0) @binding(4) var<storage, read_write> partials: array<f32>;

// Per thread, its dot products with four bases. 4 KiB.
var<workgroup> part: array<vec4<f32>, 256>;

@compute @workgroup_size(256)
fn deform_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let row = group_index(wid);
    let i = row * 256u + lid;
    let n = frame.num_gaussians;
    let k_n = frame.num_bases;
    let live = i < n;
    // dL/d raw in the bases' channel order: position, quaternion, log-scale, opacity logit.
    var d = array<f32, 11>(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    if (live) {
        let g0 = d_gauss[3u * i];
        let g1 = d_gauss[3u * i + 1u];
        let g2 = d_gauss[3u * i + 2u];
        d = array<f32, 11>(g0.x, g0.y, g0.z, g1.x, g1.y, g1.z, g1.w, g2.x, g2.y, g2.z, g0.w);
    }
    let at = row * (VIEW_WORDS + k_n) + VIEW_WORDS;
    for (var k0 = 0u; k0 < k_n; k0 += 4u) {
        var dots = vec4<f32>(0.0);
        for (var dk = 0u; dk < 4u; dk++) {
            let k = k0 + dk;
            if (live && k < k_n) {
                let wk = coeff(k);
                var sum = 0.0;
                for (var c = 0u; c < 11u; c++) {
                    let b = (k * 11u + c) * n + i;
                    sum += bases[b] * d[c];
                    d_bases[b] = wk * d[c];
                }
                dots[dk] = sum;
            }
        }
        part[lid] = dots;
        workgroupBarrier();
        for (var stride = 128u; stride > 0u; stride >>= 1u) {
            if (lid < stride) {
                part[lid] += part[lid + stride];
            }
            workgroupBarrier();
        }
        if (lid == 0u) {
            let total = part[0];
            for (var dk = 0u; dk < 4u; dk++) {
                if (k0 + dk < k_n) {
                    partials[at + k0 + dk] = total[dk];
                }
            }
        }
        workgroupBarrier();
    }
}
