// Shared by pose_bwd.wgsl and pose_view.wgsl (prepended at build time):
// torch_trainer.py's pose units and the Rodrigues helpers in f32.

const POSE_UNITS = array<f32, 6>(0.01, 0.01, 0.01, 0.1, 0.1, 1.0);
const MIN_ANGLE: f32 = 1e-9;

fn skew(k: vec3<f32>) -> mat3x3<f32> {
    return mat3x3<f32>(
        vec3<f32>(0.0, k.z, -k.y),
        vec3<f32>(-k.z, 0.0, k.x),
        vec3<f32>(k.y, -k.x, 0.0),
    );
}

// sin x, by its Taylor series below 0.5 (Vulkan's sin is only required to
// be within 2^-11 absolutely, too coarse for angles of 1e-2 and below).
fn sin_accurate(x: f32) -> f32 {
    let x2 = x * x;
    let series = x * (1.0 - x2 / 6.0 * (1.0 - x2 / 20.0 * (1.0 - x2 / 42.0 * (1.0 - x2 / 72.0))));
    return select(sin(x), series, abs(x) < 0.5);
}

fn mat_dot(a: mat3x3<f32>, b: mat3x3<f32>) -> f32 {
    return dot(a[0], b[0]) + dot(a[1], b[1]) + dot(a[2], b[2]);
}
