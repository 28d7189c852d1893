// Backward of the deformation `raw = base + Σ_k w_k B_k`, one thread per
// Gaussian, after project_bwd.wgsl: dL/d base is dL/d raw (`d_gauss`
// itself, nothing to do); dL/dB_k = w_k dL/d raw, written per Gaussian in
// the bases' layout ([basis][channel][gaussian]); dL/dw_k = Σ_i <B_k,i,
// dL/d raw_i> needs a sum over all Gaussians: each thread's dot product (11
// channels in order) goes through a fixed tree in workgroup memory, four
// bases at a time, and the workgroup's sums land in columns VIEW_WORDS + k
// of its row of `partials`, summed over rows by reduce.wgsl. No atomics:
// deterministic.
//
// The mesh prior (crate::train::mesh_prior): with `prior.scale` = 2 λ / n
// > 0, the loss has `λ Σ_i c_i |Δμ_i − M_i z|² / n`, Δμ_i = Σ_k w_k
// B_k,i[0..3] the deformation's offset of the position, M_i (3 × D,
// `prior_m`) and c_i (`prior_trust`) the Gaussian's prior and trust, z the
// frame's normalised condition. Its gradient joins dL/d raw's position
// channels here (not `d_gauss`: the base position is not in it), so it
// reaches dL/dB_k and dL/dw_k with the image's.

@group(0) @binding(0) var<uniform> frame: Frame;
@group(0) @binding(1) var<storage, read> bases: array<f32>;
// dL/d the deformed parameters, three vec4 per Gaussian (project_bwd.wgsl).
@group(0) @binding(2) var<storage, read> d_gauss: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> d_bases: array<f32>;
@group(0) @binding(4) var<storage, read_write> partials: array<f32>;

struct MeshPrior {
    // 2 λ / n; 0: no prior.
    scale: f32,
    // The condition's length D (at most 64).
    dim: u32,
    _pad: vec2<u32>,
    // The frame's normalised condition, 4 per vec4.
    z: array<vec4<f32>, 16>,
}

@group(0) @binding(5) var<uniform> prior: MeshPrior;
@group(0) @binding(6) var<storage, read> prior_m: array<f32>;
@group(0) @binding(7) var<storage, read> prior_trust: array<f32>;

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
        if (prior.scale > 0.0) {
            let c = prior.scale * prior_trust[i];
            for (var a = 0u; a < 3u; a++) {
                var offset = 0.0;
                for (var k = 0u; k < k_n; k++) {
                    offset += coeff(k) * bases[(k * 11u + a) * n + i];
                }
                var m = 0.0;
                let at_m = (i * 3u + a) * prior.dim;
                for (var j = 0u; j < prior.dim; j++) {
                    m += prior_m[at_m + j] * prior.z[j / 4u][j % 4u];
                }
                d[a] += c * (offset - m);
            }
        }
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
