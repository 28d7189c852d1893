//! Backward of the SH colour (degrees 0 and 1): `max(SH(dir) + 0.5, 0)`
//! per channel, as `synctalk_reference::eval_sh` evaluates it.

use glam::DVec3;

const SH_C0: f64 = 0.28209479177387814;
const SH_C1: f64 = 0.4886025119029199;

/// Per channel, whether the colour is clamped at 0 (`SH + 0.5 < 0`): the
/// branch in which it has no gradient.
pub fn clamped(degree: u32, sh: &[[f64; 3]], dir: DVec3) -> [bool; 3] {
    let c = |k: usize| DVec3::from(sh[k]);
    let mut r = SH_C0 * c(0);
    if degree > 0 {
        let (x, y, z) = (dir.x, dir.y, dir.z);
        r += -SH_C1 * y * c(1) + SH_C1 * z * c(2) - SH_C1 * x * c(3);
    }
    let v = r + DVec3::splat(0.5);
    [v.x < 0.0, v.y < 0.0, v.z < 0.0]
}

/// Given `dL/dcolour`, adds `dL/dsh` to `grad_sh` and returns `dL/ddir`
/// (the view direction, before its normalisation is differentiated).
pub fn backward(
    degree: u32,
    sh: &[[f64; 3]],
    dir: DVec3,
    grad_color: [f64; 3],
    grad_sh: &mut [[f64; 3]],
) -> DVec3 {
    let off = clamped(degree, sh, dir);
    let g = DVec3::from_array(std::array::from_fn(|c| {
        if off[c] {
            0.0
        } else {
            grad_color[c]
        }
    }));
    let mut add = |k: usize, w: f64| {
        for c in 0..3 {
            grad_sh[k][c] += w * g[c];
        }
    };
    add(0, SH_C0);
    if degree == 0 {
        return DVec3::ZERO;
    }
    add(1, -SH_C1 * dir.y);
    add(2, SH_C1 * dir.z);
    add(3, -SH_C1 * dir.x);
    let c = |k: usize| DVec3::from(sh[k]);
    DVec3::new(
        -SH_C1 * c(3).dot(g),
        -SH_C1 * c(1).dot(g),
        SH_C1 * c(2).dot(g),
    )
}
