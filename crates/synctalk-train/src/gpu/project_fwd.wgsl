// The training forward projection, one thread per Gaussian: the renderer's
// preprocess.wgsl (deformation, near-plane and opacity culling, EWA with the
// 1.3 x FOV clamp and 0.3 px dilation, tile rectangle trimmed to the
// alpha >= 1/255 ellipse) on f32 SH of degree <= 1, without compaction:
// Gaussian i writes splat i (zeros with an empty rectangle when culled) and
// `splat_of[i]` = i + 1, or 0 when culled, the map the backward reads.
// The block from `let pv` to the rectangle test is preprocess.wgsl's, line
// for line (checked by a test).

@group(0) @binding(0) var<uniform> frame: Frame;
// Three vec4 per Gaussian: (position, opacity logit), rotation (w, x, y, z), (log-scale, 0).
@group(0) @binding(1) var<storage, read> gauss: array<vec4<f32>>;
// SH_FLOATS f32 per Gaussian.
@group(0) @binding(2) var<storage, read> sh: array<f32>;
// Deformation bases, [basis][channel][gaussian], 11 channels.
@group(0) @binding(3) var<storage, read> bases: array<f32>;
@group(0) @binding(4) var<storage, read_write> splats: array<Splat>;
// View depth bits (culled: 0xffffffff, sorted last).
@group(0) @binding(5) var<storage, read_write> depth_keys: array<u32>;
@group(0) @binding(6) var<storage, read_write> tile_rects: array<vec2<u32>>;
// Per Gaussian: its splat index + 1, 0 when culled.
@group(0) @binding(7) var<storage, read_write> splat_of: array<u32>;

@compute @workgroup_size(256)
fn project_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = group_index(wid) * 256u + lid;
    if (i >= frame.num_gaussians) {
        return;
    }
    // Culled unless the end is reached.
    splats[i] = Splat(vec2<f32>(0.0), vec2<f32>(0.0), 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    depth_keys[i] = 0xffffffffu;
    tile_rects[i] = vec2<u32>(0u);
    splat_of[i] = 0u;

    let raw = deformed(i);
    let pos = raw.pos;
    let q = raw.q;
    let log_scale = raw.log_scale;
    let op_logit = raw.op_logit;

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
    let color = max(sh_value(i, frame.sh_degree, dir) + vec3<f32>(0.5), vec3<f32>(0.0));

    splats[i] = Splat(mean, conic.xy, conic.z, opacity, color.r, color.g, color.b, 0.0);
    depth_keys[i] = bitcast<u32>(tz);
    tile_rects[i] = vec2<u32>(lo.x | (lo.y << 16u), hi.x | (hi.y << 16u));
    splat_of[i] = i + 1u;
}
