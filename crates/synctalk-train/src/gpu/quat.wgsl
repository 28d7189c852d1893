// Shared by the projection kernels and noise.wgsl (prepended at build
// time): the rotation matrix of a normalised quaternion (w, x, y, z), as the
// renderer's preprocess.wgsl builds it.
fn quat_rotation(qn: vec4<f32>) -> mat3x3<f32> {
    let r = qn.x;
    let x = qn.y;
    let y = qn.z;
    let z = qn.w;
    return mat3x3<f32>(
        vec3<f32>(1.0 - 2.0 * (y * y + z * z), 2.0 * (x * y + r * z), 2.0 * (x * z - r * y)),
        vec3<f32>(2.0 * (x * y - r * z), 1.0 - 2.0 * (x * x + z * z), 2.0 * (y * z + r * x)),
        vec3<f32>(2.0 * (x * z + r * y), 2.0 * (y * z - r * x), 1.0 - 2.0 * (x * x + y * y)),
    );
}
