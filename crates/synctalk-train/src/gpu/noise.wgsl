// MCMC position noise (gsplat's inject_noise_to_position), one thread per
// Gaussian of the `gauss` buffer: the mean moves by Σ n · s(1 − o) · scaler,
// Σ the Gaussian's covariance (normalised quaternion, exp log-scales), n
// three standard normals, s(x) = 1 / (1 + exp(−100 (x − 0.995))), so only
// nearly transparent Gaussians wander. The normals come from a hash of
// (seed, step, Gaussian): noise.rs mirrors it on the CPU.

struct Noise {
    count: u32,   // Gaussians
    seed: u32,
    step: u32,
    _pad: u32,
    scaler: f32,  // means lr · noise lr
    _pad1: f32,
    _pad2: f32,
    _pad3: f32,
}

@group(0) @binding(0) var<uniform> nz: Noise;
// 3 vec4 per Gaussian: (mean, opacity logit), quaternion (w, x, y, z),
// (log-scales, 0).
@group(0) @binding(1) var<storage, read_write> gauss: array<vec4<f32>>;

fn pcg(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

// A uniform in (0, 1] from a hash.
fn unit(h: u32) -> f32 {
    return (f32(h >> 8u) + 1.0) / 16777216.0;
}

@compute @workgroup_size(256)
fn position_noise(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let i = gid.x + gid.y * groups.x * 256u;
    if (i >= nz.count) {
        return;
    }
    let a = gauss[3u * i];
    let q = gauss[3u * i + 1u];
    let ls = gauss[3u * i + 2u].xyz;
    let opacity = 1.0 / (1.0 + exp(-a.w));
    let gate = 1.0 / (1.0 + exp(-100.0 * ((1.0 - opacity) - 0.995)));
    var h = pcg(nz.seed ^ pcg(nz.step ^ pcg(i)));
    var u = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
    for (var k = 0u; k < 4u; k++) {
        h = pcg(h);
        u[k] = unit(h);
    }
    // max: a GPU's fast log may return a tiny positive value for u near 1
    // (Vulkan allows 2^-21 absolute error there), and sqrt of a negative
    // number is NaN.
    let r0 = sqrt(max(-2.0 * log(u[0]), 0.0));
    let r1 = sqrt(max(-2.0 * log(u[2]), 0.0));
    let tau = 6.283185307179586;
    let n = vec3<f32>(r0 * cos(tau * u[1]), r0 * sin(tau * u[1]), r1 * cos(tau * u[3]));
    let len = length(q);
    let qn = select(vec4<f32>(1.0, 0.0, 0.0, 0.0), q / len, len > 0.0);
    let r = quat_rotation(qn);
    let s2 = exp(2.0 * ls);
    // Σ v = R diag(s²) Rᵀ v.
    let v = n * (gate * nz.scaler);
    let d = r * ((transpose(r) * v) * s2);
    gauss[3u * i] = vec4<f32>(a.xyz + d, a.w);
}
