// The controller's forward, one workgroup of 64 threads: thread j owns
// hidden unit j of both layers, then coefficient j. Each dot product is a
// fixed-order loop (bias first): deterministic.

@group(0) @binding(1) var<storage, read> cond: array<f32>;       // norm(cond), D
@group(0) @binding(2) var<storage, read> theta: array<f32>;
@group(0) @binding(3) var<storage, read_write> acts: array<f32>;  // h1 (H), h2 (H)
@group(0) @binding(4) var<storage, read_write> coeffs: array<f32>; // w (K)

var<workgroup> h1: array<f32, MAX_HIDDEN>;
var<workgroup> h2: array<f32, MAX_HIDDEN>;

@compute @workgroup_size(64)
fn controller_fwd(@builtin(local_invocation_index) j: u32) {
    let o = offsets();
    let d = cp.input;
    let h = cp.hidden;
    if (j < h) {
        var z = theta[o.b1 + j];
        for (var i = 0u; i < d; i++) {
            z += theta[j * d + i] * cond[i];
        }
        let a = max(z, 0.0);
        h1[j] = a;
        acts[j] = a;
    }
    workgroupBarrier();
    if (j < h) {
        var z = theta[o.b2 + j];
        for (var i = 0u; i < h; i++) {
            z += theta[o.w2 + j * h + i] * h1[i];
        }
        let a = max(z, 0.0);
        h2[j] = a;
        acts[h + j] = a;
    }
    workgroupBarrier();
    if (j < cp.bases) {
        var z = theta[o.b3 + j];
        for (var i = 0u; i < h; i++) {
            z += theta[o.w3 + j * h + i] * h2[i];
        }
        coeffs[j] = z;
    }
}
