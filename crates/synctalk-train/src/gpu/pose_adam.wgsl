// torch_trainer.py's per-frame pose step: one torch Adam step over all rows of the
// pose corrections [T][6], where only row `frame` has a gradient (the
// step's dL/d pose plus the 1e-3 |d|² term's); every row's moments step,
// only row `frame` moves. One thread per word: deterministic.

// Must match `PoseAdamParams` in controller.rs.
struct PoseAdam {
    rows: u32,
    frame: u32,
    beta1: f32,
    beta2: f32,
    one_minus_beta1: f32,
    one_minus_beta2: f32,
    bc1: f32,
    bc2_sqrt: f32,
    eps: f32,
    lr: f32,
    reg: f32,   // c of c |d|²
    _pad: u32,
}

@group(0) @binding(0) var<uniform> pa: PoseAdam;
@group(0) @binding(1) var<storage, read> d_pose: array<f32>;
@group(0) @binding(2) var<storage, read_write> poses: array<f32>;
@group(0) @binding(3) var<storage, read_write> m1: array<f32>;
@group(0) @binding(4) var<storage, read_write> m2: array<f32>;

@compute @workgroup_size(256)
fn pose_adam(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let i = gid.x + gid.y * groups.x * 256u;
    if (i >= pa.rows * 6u) {
        return;
    }
    let on_frame = i / 6u == pa.frame;
    let p = poses[i];
    var g = 0.0;
    if (on_frame) {
        g = d_pose[i % 6u] + 2.0 * pa.reg * p;
    }
    let m = pa.beta1 * m1[i] + pa.one_minus_beta1 * g;
    let v = pa.beta2 * m2[i] + pa.one_minus_beta2 * g * g;
    m1[i] = m;
    m2[i] = v;
    if (on_frame) {
        let denom = sqrt(v) / pa.bc2_sqrt + pa.eps;
        poses[i] = p - (pa.lr / pa.bc1) * m / denom;
    }
}
