// Backward of the training projection, one thread per Gaussian: from dL/d
// its splat (mean, conic, activated opacity, colour: the raster backward's
// per-splat sums) to dL/d its deformed raw parameters (mean, unnormalised
// quaternion, log-scale, opacity logit) and its f32 SH coefficients, and its
// share of dL/d the view (rotation W, translation t), reduced per workgroup.
// cpu::project::backward and cpu::sh::backward formula for formula.
//
// The forward's intermediates are recomputed with project_fwd.wgsl's
// expressions (deformation and SH from gaussian.wgsl); its culling is read
// from `splat_of`, so a culled Gaussian (0) gets zeros. Branches: a colour
// channel clamped at 0 passes no gradient; outside the FOV clamp the
// Jacobian's tangent is the limit times depth, so it flows into depth only.
//
// dL/d view: every thread's 12 values go through a fixed tree in workgroup
// memory; the workgroup's sums are row `group_index` of `partials`
// (columns 0..9 rotation column-major, 9..12 translation; the row is
// VIEW_WORDS + num_bases wide, deform_bwd.wgsl fills the rest), summed over
// rows by reduce.wgsl. No atomics: deterministic.

@group(0) @binding(0) var<uniform> frame: Frame;
@group(0) @binding(1) var<storage, read> gauss: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> sh: array<f32>;
@group(0) @binding(3) var<storage, read> bases: array<f32>;
// Per Gaussian: its splat index + 1, 0 when culled.
@group(0) @binding(4) var<storage, read> splat_of: array<u32>;
// GRAD_WORDS per splat: d xy, d conic (a, b, c), d opacity, d rgb.
@group(0) @binding(5) var<storage, read> splat_grads: array<f32>;
// dL/d the deformed parameters, `gauss`'s layout (= dL/d the base values).
@group(0) @binding(6) var<storage, read_write> d_gauss: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> d_sh: array<f32>;
@group(0) @binding(8) var<storage, read_write> partials: array<f32>;

// Per thread: (d W column c, d t[c]) for c = 0, 1, 2. 12 KiB.
var<workgroup> part0: array<vec4<f32>, 256>;
var<workgroup> part1: array<vec4<f32>, 256>;
var<workgroup> part2: array<vec4<f32>, 256>;

struct ViewGrad {
    w: mat3x3<f32>,
    t: vec3<f32>,
}

// a b^T.
fn outer(a: vec3<f32>, b: vec3<f32>) -> mat3x3<f32> {
    return mat3x3<f32>(a * b.x, a * b.y, a * b.z);
}

// dL/dq of the unnormalised quaternion from dL/d its rotation matrix.
fn quat_bwd(qn: vec4<f32>, qlen: f32, g: mat3x3<f32>) -> vec4<f32> {
    let r = qn.x;
    let x = qn.y;
    let y = qn.z;
    let z = qn.w;
    // eRC = dL/dR[row R][column C] = g[C][R].
    let e00 = g[0][0];
    let e10 = g[0][1];
    let e20 = g[0][2];
    let e01 = g[1][0];
    let e11 = g[1][1];
    let e21 = g[1][2];
    let e02 = g[2][0];
    let e12 = g[2][1];
    let e22 = g[2][2];
    let gr = 2.0 * (z * e10 - y * e20 - z * e01 + x * e21 + y * e02 - x * e12);
    let gx = 2.0 * (y * e10 + z * e20 + y * e01 + r * e21 + z * e02 - r * e12) - 4.0 * x * (e11 + e22);
    let gy = 2.0 * (x * e10 - r * e20 + x * e01 + z * e21 + r * e02 + z * e12) - 4.0 * y * (e00 + e22);
    let gz = 2.0 * (r * e10 + x * e20 - r * e01 + y * e21 + x * e02 + y * e12) - 4.0 * z * (e00 + e11);
    let gn = vec4<f32>(gr, gx, gy, gz);
    return (gn - qn * dot(gn, qn)) / qlen;
}

fn write_zero(i: u32) {
    d_gauss[3u * i] = vec4<f32>(0.0);
    d_gauss[3u * i + 1u] = vec4<f32>(0.0);
    d_gauss[3u * i + 2u] = vec4<f32>(0.0);
    for (var k = 0u; k < SH_FLOATS; k++) {
        d_sh[i * SH_FLOATS + k] = 0.0;
    }
}

// Writes Gaussian i's parameter gradients, returns its share of dL/d view.
fn backward(i: u32) -> ViewGrad {
    var out = ViewGrad(mat3x3<f32>(vec3<f32>(0.0), vec3<f32>(0.0), vec3<f32>(0.0)), vec3<f32>(0.0));
    let slot = splat_of[i];
    if (slot == 0u) {
        write_zero(i);
        return out;
    }
    let at = (slot - 1u) * GRAD_WORDS;
    let g_mean = vec2<f32>(splat_grads[at], splat_grads[at + 1u]);
    let g_conic = vec3<f32>(splat_grads[at + 2u], splat_grads[at + 3u], splat_grads[at + 4u]);
    let g_opacity = splat_grads[at + 5u];
    let g_color = vec3<f32>(splat_grads[at + 6u], splat_grads[at + 7u], splat_grads[at + 8u]);

    // The forward, as project_fwd.wgsl computes it.
    let raw = deformed(i);
    let p = raw.pos;
    let pv = (frame.view * vec4<f32>(p, 1.0)).xyz;
    let w = mat3x3<f32>(frame.view[0].xyz, frame.view[1].xyz, frame.view[2].xyz);
    let t = frame.view[3].xyz;
    let qn = normalize(raw.q);
    let qlen = length(raw.q);
    let rot = quat_rotation(qn);
    let s = exp(raw.log_scale);
    let m = mat3x3<f32>(rot[0] * s.x, rot[1] * s.y, rot[2] * s.z);
    let sigma = m * transpose(m);
    let tz = pv.z;
    let lo = -frame.lim_neg;
    let hi = frame.lim_pos;
    let ratio = pv.xy / tz;
    let tx = clamp(ratio.x, lo.x, hi.x) * tz;
    let ty = clamp(ratio.y, lo.y, hi.y) * tz;
    let f = frame.focal;
    let j = mat3x3<f32>(
        vec3<f32>(f.x / tz, 0.0, 0.0),
        vec3<f32>(0.0, f.y / tz, 0.0),
        vec3<f32>(-f.x * tx / (tz * tz), -f.y * ty / (tz * tz), 0.0),
    );
    let tm = j * w;
    let cov = tm * sigma * transpose(tm);
    let a = cov[0][0] + 0.3;
    let b = cov[1][0];
    let c = cov[1][1] + 0.3;
    let det = a * c - b * b;

    // Opacity = sigmoid(logit).
    let op = 1.0 / (1.0 + exp(-raw.op_logit));
    let d_logit = g_opacity * op * (1.0 - op);

    // Colour: SH along dir = (p - campos) / |p - campos|, campos = -W^T t.
    let v = p - frame.cam_pos.xyz;
    let dir = normalize(v);
    let clamped = sh_value(i, frame.sh_degree, dir) + vec3<f32>(0.5) < vec3<f32>(0.0);
    let gc = select(g_color, vec3<f32>(0.0), clamped);
    let base = i * SH_FLOATS;
    var d_dir = vec3<f32>(0.0);
    var sh_w = array<f32, 4>(SH_C0, 0.0, 0.0, 0.0);
    if (frame.sh_degree > 0u) {
        sh_w = array<f32, 4>(SH_C0, -SH_C1 * dir.y, SH_C1 * dir.z, -SH_C1 * dir.x);
        d_dir = vec3<f32>(
            -SH_C1 * dot(sh_coef(i, 3u), gc),
            -SH_C1 * dot(sh_coef(i, 1u), gc),
            SH_C1 * dot(sh_coef(i, 2u), gc),
        );
    }
    for (var k = 0u; k < 4u; k++) {
        let d = sh_w[k] * gc;
        d_sh[base + 3u * k] = d.x;
        d_sh[base + 3u * k + 1u] = d.y;
        d_sh[base + 3u * k + 2u] = d.z;
    }
    let d_v = (d_dir - dir * dot(dir, d_dir)) / length(v);
    var d_p = d_v;
    // d campos = -d_v; campos_c = -Σ_r W_rc t_r.
    out.w = outer(t, d_v);
    out.t = w * d_v;

    // Mean = f * pv.xy / pv.z + c - 0.5.
    var d_pv = vec3<f32>(g_mean.x * f.x / tz, g_mean.y * f.y / tz, 0.0);
    var d_tz = -(g_mean.x * f.x * pv.x + g_mean.y * f.y * pv.y) / (tz * tz);

    // Conic = inverse of the dilated 2D covariance (a, b; b, c).
    let d_det = -(g_conic.x * c - g_conic.y * b + g_conic.z * a) / (det * det);
    let da = g_conic.z / det + d_det * c;
    let db = -g_conic.y / det - 2.0 * b * d_det;
    let dc = g_conic.x / det + d_det * a;
    let d_cov = mat3x3<f32>(
        vec3<f32>(da, 0.5 * db, 0.0),
        vec3<f32>(0.5 * db, dc, 0.0),
        vec3<f32>(0.0),
    );
    // cov = T Σ T^T with T = J W.
    let d_sigma = transpose(tm) * d_cov * tm;
    let d_tm = 2.0 * d_cov * tm * sigma;
    let d_j = d_tm * transpose(w);
    out.w += transpose(j) * d_tm;

    // J = (fx/tz, 0, -fx tx/tz²; 0, fy/tz, -fy ty/tz²).
    let tz2 = tz * tz;
    let tz3 = tz2 * tz;
    let j02 = d_j[2][0];
    let j12 = d_j[2][1];
    d_tz += -d_j[0][0] * f.x / tz2 - d_j[1][1] * f.y / tz2 + 2.0 * (j02 * f.x * tx + j12 * f.y * ty) / tz3;
    let d_t = vec2<f32>(-j02 * f.x / tz2, -j12 * f.y / tz2);
    // tx = clamp(pv.x / tz) * tz: pv.x itself inside the clamp, limit * tz outside.
    if (ratio.x < lo.x || ratio.x > hi.x) {
        d_tz += d_t.x * select(hi.x, lo.x, ratio.x < lo.x);
    } else {
        d_pv.x += d_t.x;
    }
    if (ratio.y < lo.y || ratio.y > hi.y) {
        d_tz += d_t.y * select(hi.y, lo.y, ratio.y < lo.y);
    } else {
        d_pv.y += d_t.y;
    }
    d_pv.z += d_tz;

    // Σ = M M^T, M = R diag(s).
    let d_m = 2.0 * d_sigma * m;
    let d_rot = mat3x3<f32>(d_m[0] * s.x, d_m[1] * s.y, d_m[2] * s.z);
    let d_s = vec3<f32>(dot(rot[0], d_m[0]), dot(rot[1], d_m[1]), dot(rot[2], d_m[2]));
    let d_q = quat_bwd(qn, qlen, d_rot);

    // pv = W p + t.
    d_p += transpose(w) * d_pv;
    out.w += outer(d_pv, p);
    out.t += d_pv;

    d_gauss[3u * i] = vec4<f32>(d_p, d_logit);
    d_gauss[3u * i + 1u] = d_q;
    d_gauss[3u * i + 2u] = vec4<f32>(d_s * s, 0.0);
    return out;
}

@compute @workgroup_size(256)
fn project_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let row = group_index(wid);
    let i = row * 256u + lid;
    var g = ViewGrad(mat3x3<f32>(vec3<f32>(0.0), vec3<f32>(0.0), vec3<f32>(0.0)), vec3<f32>(0.0));
    if (i < frame.num_gaussians) {
        g = backward(i);
    }
    part0[lid] = vec4<f32>(g.w[0], g.t.x);
    part1[lid] = vec4<f32>(g.w[1], g.t.y);
    part2[lid] = vec4<f32>(g.w[2], g.t.z);
    workgroupBarrier();
    for (var stride = 128u; stride > 0u; stride >>= 1u) {
        if (lid < stride) {
            part0[lid] += part0[lid + stride];
            part1[lid] += part1[lid + stride];
            part2[lid] += part2[lid + stride];
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        let at = row * (VIEW_WORDS + frame.num_bases);
        let c0 = part0[0];
        let c1 = part1[0];
        let c2 = part2[0];
        partials[at] = c0.x;
        partials[at + 1u] = c0.y;
        partials[at + 2u] = c0.z;
        partials[at + 3u] = c1.x;
        partials[at + 4u] = c1.y;
        partials[at + 5u] = c1.z;
        partials[at + 6u] = c2.x;
        partials[at + 7u] = c2.y;
        partials[at + 8u] = c2.z;
        partials[at + 9u] = c0.w;
        partials[at + 10u] = c1.w;
        partials[at + 11u] = c2.w;
    }
}
