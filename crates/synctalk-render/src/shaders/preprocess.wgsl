// Per Gaussian: deformation, projection (EWA), SH colour, culling, tile rect.
// Visible Gaussians are compacted with an atomic counter; their view depth
// becomes the sort key.

@group(0) @binding(0) var<uniform> frame: Frame;
// Three vec4 per Gaussian: (position, opacity logit), rotation (w, x, y, z), (log-scale, 0).
@group(0) @binding(1) var<storage, read> gauss: array<vec4<f32>>;
// SH coefficients as f16 pairs, `frame.sh_stride` words per Gaussian, RGB interleaved.
@group(0) @binding(2) var<storage, read> sh: array<u32>;
// Deformation bases, [basis][channel][gaussian], 11 channels.
@group(0) @binding(3) var<storage, read> bases: array<f32>;
@group(0) @binding(4) var<storage, read_write> splats: array<Splat>;
@group(0) @binding(5) var<storage, read_write> depth_keys: array<u32>;
@group(0) @binding(6) var<storage, read_write> depth_vals: array<u32>;
@group(0) @binding(7) var<storage, read_write> tile_rects: array<vec2<u32>>;
@group(0) @binding(8) var<storage, read_write> counters: array<atomic<u32>>;

const SH_C0: f32 = 0.28209479177387814;
const SH_C1: f32 = 0.4886025119029199;

fn sh_half(base: u32, j: u32) -> f32 {
    let v = unpack2x16float(sh[base + j / 2u]);
    return select(v.x, v.y, (j & 1u) == 1u);
}

fn sh_coef(base: u32, k: u32) -> vec3<f32> {
    return vec3<f32>(sh_half(base, 3u * k), sh_half(base, 3u * k + 1u), sh_half(base, 3u * k + 2u));
}

fn eval_sh(base: u32, degree: u32, dir: vec3<f32>) -> vec3<f32> {
    var r = SH_C0 * sh_coef(base, 0u);
    if (degree > 0u) {
        let x = dir.x;
        let y = dir.y;
        let z = dir.z;
        r += -SH_C1 * y * sh_coef(base, 1u) + SH_C1 * z * sh_coef(base, 2u) - SH_C1 * x * sh_coef(base, 3u);
        if (degree > 1u) {
            let xx = x * x;
            let yy = y * y;
            let zz = z * z;
            let xy = x * y;
            let yz = y * z;
            let xz = x * z;
            r += 1.0925484305920792 * xy * sh_coef(base, 4u)
                - 1.0925484305920792 * yz * sh_coef(base, 5u)
                + 0.31539156525252005 * (2.0 * zz - xx - yy) * sh_coef(base, 6u)
                - 1.0925484305920792 * xz * sh_coef(base, 7u)
                + 0.5462742152960396 * (xx - yy) * sh_coef(base, 8u);
            if (degree > 2u) {
                r += -0.5900435899266435 * y * (3.0 * xx - yy) * sh_coef(base, 9u)
                    + 2.890611442640554 * xy * z * sh_coef(base, 10u)
                    - 0.4570457994644658 * y * (4.0 * zz - xx - yy) * sh_coef(base, 11u)
                    + 0.3731763325901154 * z * (2.0 * zz - 3.0 * xx - 3.0 * yy) * sh_coef(base, 12u)
                    - 0.4570457994644658 * x * (4.0 * zz - xx - yy) * sh_coef(base, 13u)
                    + 1.445305721320277 * z * (xx - yy) * sh_coef(base, 14u)
                    - 0.5900435899266435 * x * (xx - 3.0 * yy) * sh_coef(base, 15u);
            }
        }
    }
    return max(r + vec3<f32>(0.5), vec3<f32>(0.0));
}

fn coeff(k: u32) -> f32 {
    return frame.coeffs[k / 4u][k % 4u];
}

@compute @workgroup_size(256)
fn preprocess(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wid.y * frame.preprocess_groups_x + wid.x) * 256u + lid;
    let n = frame.num_gaussians;
    if (i >= n) {
        return;
    }
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

    let pv = (frame.view * vec4<f32>(pos, 1.0)).xyz;
    // The tests are written so that NaN fails them (the splat is culled):
    // `pv.z <= near` would let a NaN through.
    if (!(pv.z > frame.near)) {
        return;
    }
    let opacity = 1.0 / (1.0 + exp(-op_logit));
    if (!(opacity >= 1.0 / 255.0)) {
        return; // alpha = min(0.99, opacity * exp(power)) can never reach 1/255
    }

    // 3D covariance R S S^T R^T.
    let qn = normalize(q);
    let r = qn.x;
    let x = qn.y;
    let y = qn.z;
    let z = qn.w;
    let rot = mat3x3<f32>(
        vec3<f32>(1.0 - 2.0 * (y * y + z * z), 2.0 * (x * y + r * z), 2.0 * (x * z - r * y)),
        vec3<f32>(2.0 * (x * y - r * z), 1.0 - 2.0 * (x * x + z * z), 2.0 * (y * z + r * x)),
        vec3<f32>(2.0 * (x * z + r * y), 2.0 * (y * z - r * x), 1.0 - 2.0 * (x * x + y * y)),
    );
    let s = exp(log_scale);
    let m = mat3x3<f32>(rot[0] * s.x, rot[1] * s.y, rot[2] * s.z);
    let sigma = m * transpose(m);

    // EWA splatting: project with the Jacobian at the clamped mean.
    let tz = pv.z;
    let tx = clamp(pv.x / tz, -frame.lim_neg.x, frame.lim_pos.x) * tz;
    let ty = clamp(pv.y / tz, -frame.lim_neg.y, frame.lim_pos.y) * tz;
    let f = frame.focal;
    let j = mat3x3<f32>(
        vec3<f32>(f.x / tz, 0.0, 0.0),
        vec3<f32>(0.0, f.y / tz, 0.0),
        vec3<f32>(-f.x * tx / (tz * tz), -f.y * ty / (tz * tz), 0.0),
    );
    let w = mat3x3<f32>(frame.view[0].xyz, frame.view[1].xyz, frame.view[2].xyz);
    let t = j * w;
    let cov = t * sigma * transpose(t);
    let a = cov[0][0] + 0.3;
    let b = cov[1][0];
    let c = cov[1][1] + 0.3;
    let det = a * c - b * b;
    if (!(det > 0.0)) {
        return;
    }
    let conic = vec3<f32>(c, -b, a) / det;
    let mid = 0.5 * (a + c);
    let lambda = mid + sqrt(max(0.1, mid * mid - det));
    let radius = ceil(3.0 * sqrt(lambda));
    let mean = vec2<f32>(f.x * pv.x / tz, f.y * pv.y / tz) + frame.principal - vec2<f32>(0.5);

    // Tiles: the original's 3-sigma square, intersected with the bounding box
    // of the ellipse outside which alpha < 1/255 (same image, fewer tiles).
    let tiles = vec2<i32>(frame.tiles);
    let tile = f32(TILE);
    let lo0 = clamp(vec2<i32>((mean - vec2<f32>(radius)) / tile), vec2<i32>(0), tiles);
    let hi0 = clamp(vec2<i32>((mean + vec2<f32>(radius + tile - 1.0)) / tile), vec2<i32>(0), tiles);
    let ext = sqrt(2.0 * log(255.0 * opacity) * vec2<f32>(a, c)) + vec2<f32>(0.01);
    let lo1 = clamp(vec2<i32>(floor((mean - ext) / tile)), vec2<i32>(0), tiles);
    let hi1 = clamp(vec2<i32>(floor((mean + ext) / tile)) + vec2<i32>(1), vec2<i32>(0), tiles);
    let lo = vec2<u32>(max(lo0, lo1));
    let hi = vec2<u32>(min(hi0, hi1));
    if (hi.x <= lo.x || hi.y <= lo.y) {
        return;
    }

    let dir = normalize(pos - frame.cam_pos.xyz);
    let color = eval_sh(i * frame.sh_stride, frame.sh_degree, dir);

    let idx = atomicAdd(&counters[0], 1u);
    splats[idx] = Splat(mean, conic.xy, conic.z, opacity, color.r, color.g, color.b, 0.0);
    depth_keys[idx] = bitcast<u32>(tz);
    depth_vals[idx] = idx;
    tile_rects[idx] = vec2<u32>(lo.x | (lo.y << 16u), hi.x | (hi.y << 16u));
}
