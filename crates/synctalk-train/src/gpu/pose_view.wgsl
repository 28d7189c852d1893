// The refined view of the step's frame, from the GPU pose table: torch_trainer.py's
// `views[t] @ pose_delta(pose_d[t])`, one thread. Writes what the step's
// uniforms take by copy: the frame uniform's world-to-camera (4 columns)
// and camera centre (words 0..20), and the pose uniform's 6-vector (words
// 20..28).

struct PoseView {
    // The tracked head-to-camera H by columns (rotation, then translation).
    head: mat4x4<f32>,
    // The pose table's row of the step's frame.
    frame: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> pv: PoseView;
// The pose table, [frames][6] f32 in POSE_UNITS.
@group(0) @binding(1) var<storage, read> poses: array<f32>;
// 7 vec4: view columns (4), camera centre, the 6-vector (2).
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;

@compute @workgroup_size(1)
fn pose_view() {
    let b = pv.frame * 6u;
    let d = array<f32, 6>(poses[b], poses[b + 1u], poses[b + 2u], poses[b + 3u], poses[b + 4u], poses[b + 5u]);
    let rv = vec3<f32>(d[0] * POSE_UNITS[0], d[1] * POSE_UNITS[1], d[2] * POSE_UNITS[2]);
    let tv = vec3<f32>(d[3] * POSE_UNITS[3], d[4] * POSE_UNITS[4], d[5] * POSE_UNITS[5]);
    let th = max(length(rv), MIN_ANGLE);
    let kx = skew(rv / th);
    let sin_half = sin_accurate(0.5 * th);
    let r = mat3x3<f32>(vec3<f32>(1.0, 0.0, 0.0), vec3<f32>(0.0, 1.0, 0.0), vec3<f32>(0.0, 0.0, 1.0))
        + kx * sin_accurate(th) + (kx * kx) * (2.0 * sin_half * sin_half);
    let h = mat3x3<f32>(pv.head[0].xyz, pv.head[1].xyz, pv.head[2].xyz);
    let rot = h * r;
    let t = h * tv + pv.head[3].xyz;
    out[0] = vec4<f32>(rot[0], 0.0);
    out[1] = vec4<f32>(rot[1], 0.0);
    out[2] = vec4<f32>(rot[2], 0.0);
    out[3] = vec4<f32>(t, 1.0);
    out[4] = vec4<f32>(-(transpose(rot) * t), 1.0);
    out[5] = vec4<f32>(d[0], d[1], d[2], d[3]);
    out[6] = vec4<f32>(d[4], d[5], 0.0, 0.0);
}
