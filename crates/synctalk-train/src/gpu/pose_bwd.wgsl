// dL/d the pose 6-vector (torch_trainer.py's pose_delta, POSE_UNITS) from dL/d the
// refined view, one thread: cpu::pose_backward in f32. The refined
// world-to-camera is (H_R R, H_R t + H_t) with R = I + sin θ K + (1 − cos θ) K²,
// K = skew(rv / θ), θ = max(|rv|, 1e-9), rv and t the scaled 6-vector;
// 1 − cos θ is taken as 2 sin²(θ/2), accurate in f32 at small angles.

struct Pose {
    // The tracked head-to-camera rotation H_R (before the correction).
    head_rotation: mat3x3<f32>,
    // The 6-vector in POSE_UNITS: (d0, d1, d2, d3), (d4, d5, -, -).
    delta: array<vec4<f32>, 2>,
}

@group(0) @binding(0) var<uniform> pose: Pose;
// reduce.wgsl's totals: d W (9, column-major), d t (3), then the coefficients'.
@group(0) @binding(1) var<storage, read> sums: array<f32>;
// dL/d the 6-vector.
@group(0) @binding(2) var<storage, read_write> d_pose: array<f32>;

// POSE_UNITS, MIN_ANGLE, skew, sin_accurate and mat_dot: rotation.wgsl.

@compute @workgroup_size(1)
fn pose_bwd() {
    let d_w = mat3x3<f32>(
        vec3<f32>(sums[0], sums[1], sums[2]),
        vec3<f32>(sums[3], sums[4], sums[5]),
        vec3<f32>(sums[6], sums[7], sums[8]),
    );
    let d_t = vec3<f32>(sums[9], sums[10], sums[11]);
    let h = transpose(pose.head_rotation);
    let g_r = h * d_w;
    let g_t = h * d_t;
    let rv = pose.delta[0].xyz * vec3<f32>(POSE_UNITS[0], POSE_UNITS[1], POSE_UNITS[2]);
    let len = length(rv);
    let th = max(len, MIN_ANGLE);
    let k = rv / th;
    let kx = skew(k);
    let sn = sin_accurate(th);
    let sin_half = sin_accurate(0.5 * th);
    let one_minus_cos = 2.0 * sin_half * sin_half;
    let cs = 1.0 - one_minus_cos;
    let g_sin = mat_dot(g_r, kx);
    let g_cos1 = mat_dot(g_r, kx * kx);
    let g_kx = g_r * sn + (g_r * transpose(kx) + transpose(kx) * g_r) * one_minus_cos;
    let g_k = vec3<f32>(g_kx[1].z - g_kx[2].y, g_kx[2].x - g_kx[0].z, g_kx[0].y - g_kx[1].x);
    var g_rv = g_k / th;
    if (len > MIN_ANGLE) {
        let g_th = g_sin * cs + g_cos1 * sn;
        g_rv = (g_k - k * dot(k, g_k)) / th + k * g_th;
    }
    d_pose[0] = g_rv.x * POSE_UNITS[0];
    d_pose[1] = g_rv.y * POSE_UNITS[1];
    d_pose[2] = g_rv.z * POSE_UNITS[2];
    d_pose[3] = g_t.x * POSE_UNITS[3];
    d_pose[4] = g_t.y * POSE_UNITS[4];
    d_pose[5] = g_t.z * POSE_UNITS[5];
}
