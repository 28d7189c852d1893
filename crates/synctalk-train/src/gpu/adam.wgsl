// One torch Adam step (no weight decay, no AMSGrad) of a flat f32 parameter
// buffer, one thread per word: the gradient plus an elementwise
// regulariser's, then the moments and the bias-corrected update. Word i has
// the learning rate and regulariser of slot i % stride (a buffer of
// interleaved fields has one slot per field). Each word is its thread's
// alone: deterministic.

// Must match `AdamParams` in adam.rs.
struct AdamParams {
    count: u32,      // words
    stride: u32,     // slots, 1..=16
    beta1: f32,
    beta2: f32,
    // 1 - beta in f64 then rounded, as torch: f32 1 - 0.999 is 1.3e-5 off.
    one_minus_beta1: f32,
    one_minus_beta2: f32,
    bc1: f32,        // 1 - beta1^t
    bc2_sqrt: f32,   // sqrt(1 - beta2^t)
    eps: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
    lr: array<vec4<f32>, 4>,     // per slot
    reg: array<vec4<f32>, 4>,    // regulariser weight per slot
    kind: array<vec4<u32>, 4>,   // regulariser per slot (REG_*)
}

const REG_NONE: u32 = 0u;
const REG_SIGMOID: u32 = 1u;  // c sigmoid(p)
const REG_EXP: u32 = 2u;      // c exp(p)
const REG_ABS: u32 = 3u;      // c |p|
const REG_SQUARE: u32 = 4u;   // c p^2

@group(0) @binding(0) var<uniform> ap: AdamParams;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> param: array<f32>;
@group(0) @binding(3) var<storage, read_write> m1: array<f32>;
@group(0) @binding(4) var<storage, read_write> m2: array<f32>;

@compute @workgroup_size(256)
fn adam(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let i = gid.x + gid.y * groups.x * 256u;
    if (i >= ap.count) {
        return;
    }
    let slot = i % ap.stride;
    let lr = ap.lr[slot / 4u][slot % 4u];
    let c = ap.reg[slot / 4u][slot % 4u];
    let kind = ap.kind[slot / 4u][slot % 4u];
    let p = param[i];
    var g = grad[i];
    switch kind {
        case 1u: {
            let s = 1.0 / (1.0 + exp(-p));
            g += c * s * (1.0 - s);
        }
        case 2u: {
            g += c * exp(p);
        }
        case 3u: {
            g += c * sign(p);
        }
        case 4u: {
            g += 2.0 * c * p;
        }
        default: {}
    }
    let m = ap.beta1 * m1[i] + ap.one_minus_beta1 * g;
    let v = ap.beta2 * m2[i] + ap.one_minus_beta2 * g * g;
    m1[i] = m;
    m2[i] = v;
    let denom = sqrt(v) / ap.bc2_sqrt + ap.eps;
    param[i] = p - (lr / ap.bc1) * m / denom;
}
