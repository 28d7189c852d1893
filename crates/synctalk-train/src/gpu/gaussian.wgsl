// What the projection's forward and backward both recompute from the
// trainer's parameters (prepended to project_fwd.wgsl and project_bwd.wgsl,
// which bind `frame`, `gauss`, `sh` and `bases`): the deformation, and the
// SH value before its +0.5 and clamp. One source for both, so that the
// backward retraces the forward's arithmetic and branches.

// A Gaussian's parameters after deformation, before any activation.
struct Raw {
    pos: vec3<f32>,
    q: vec4<f32>,
    log_scale: vec3<f32>,
    op_logit: f32,
}

// Gaussian i's parameters plus Σ_k w_k B_k, summed as the renderer's
// preprocess.wgsl sums them (bases [basis][channel][gaussian]).
fn deformed(i: u32) -> Raw {
    let n = frame.num_gaussians;
    let g0 = gauss[3u * i];
    let g1 = gauss[3u * i + 1u];
    let g2 = gauss[3u * i + 2u];
    var pos = g0.xyz;
    var op_logit = g0.w;
    var q = g1;
    var log_scale = g2.xyz;
    for (var k = 0u; k < frame.num_bases; k++) {
        let w = coeff(k);
        let b = k * 11u * n + i;
        pos += w * vec3<f32>(bases[b], bases[b + n], bases[b + 2u * n]);
        q += w * vec4<f32>(bases[b + 3u * n], bases[b + 4u * n], bases[b + 5u * n], bases[b + 6u * n]);
        log_scale += w * vec3<f32>(bases[b + 7u * n], bases[b + 8u * n], bases[b + 9u * n]);
        op_logit += w * bases[b + 10u * n];
    }
    return Raw(pos, q, log_scale, op_logit);
}

// SH coefficient k (0..4) of Gaussian i.
fn sh_coef(i: u32, k: u32) -> vec3<f32> {
    let b = i * SH_FLOATS + 3u * k;
    return vec3<f32>(sh[b], sh[b + 1u], sh[b + 2u]);
}

// The SH colour of Gaussian i along unit `dir` before +0.5 and the clamp at
// 0 (degree 0 or 1; higher degrees are treated as 1).
fn sh_value(i: u32, degree: u32, dir: vec3<f32>) -> vec3<f32> {
    var r = SH_C0 * sh_coef(i, 0u);
    if (degree > 0u) {
        let x = dir.x;
        let y = dir.y;
        let z = dir.z;
        r += -SH_C1 * y * sh_coef(i, 1u) + SH_C1 * z * sh_coef(i, 2u) - SH_C1 * x * sh_coef(i, 3u);
    }
    return r;
}
