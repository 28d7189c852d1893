//! The per-frame pose correction of torch_trainer.py's `pose_delta`: a 6-vector
//! (rotation vector, translation) in [`POSE_UNITS`], turned into a rigid
//! motion `delta` in head space; the refined head-to-camera is `H @ delta`.

use glam::{DMat3, DVec3};
use synctalk_reference::View;

/// Units of the pose 6-vector: radians for the rotation vector, centimetres
/// (head-space units) for the translation; depth is coarser (torch_trainer.py
/// `POSE_UNITS`).
pub const POSE_UNITS: [f64; 6] = [0.01, 0.01, 0.01, 0.1, 0.1, 1.0];

/// torch_trainer.py clamps the rotation angle from below at this before dividing.
const MIN_ANGLE: f64 = 1e-9;

fn skew(k: DVec3) -> DMat3 {
    // Rows (0, -k2, k1), (k2, 0, -k0), (-k1, k0, 0), stored by columns.
    DMat3::from_cols(
        DVec3::new(0.0, k.z, -k.y),
        DVec3::new(-k.z, 0.0, k.x),
        DVec3::new(k.y, -k.x, 0.0),
    )
}

/// Inner product of matrices, `sum_ij a_ij b_ij`.
pub(crate) fn mat_dot(a: &DMat3, b: &DMat3) -> f64 {
    a.x_axis.dot(b.x_axis) + a.y_axis.dot(b.y_axis) + a.z_axis.dot(b.z_axis)
}

/// The scaled rotation vector and translation of `d`.
fn scaled(d: &[f64; 6]) -> (DVec3, DVec3) {
    let s: [f64; 6] = std::array::from_fn(|k| d[k] * POSE_UNITS[k]);
    (DVec3::new(s[0], s[1], s[2]), DVec3::new(s[3], s[4], s[5]))
}

/// The rigid motion of `d` as torch_trainer.py builds it (Rodrigues with the angle
/// clamped at 1e-9): `(R, t)` with `x ↦ R x + t`.
pub fn pose_delta(d: &[f64; 6]) -> (DMat3, DVec3) {
    let (rv, tv) = scaled(d);
    let th = rv.length().max(MIN_ANGLE);
    let kx = skew(rv / th);
    let r = DMat3::IDENTITY + kx * th.sin() + (kx * kx) * (1.0 - th.cos());
    (r, tv)
}

/// `view` (head-to-camera `H`) refined by `d`: `H @ delta`.
pub fn posed_view(view: &View, d: &[f64; 6]) -> View {
    let (r, t) = pose_delta(d);
    View {
        rotation: view.rotation * r,
        translation: view.rotation * t + view.translation,
        ..*view
    }
}

/// `dL/dd` from the gradients of the refined view's world-to-camera
/// rotation (`grad_rotation[col][row]`, as glam stores it) and translation;
/// `view` is the unrefined one.
pub fn pose_backward(
    view: &View,
    d: &[f64; 6],
    grad_rotation: &DMat3,
    grad_translation: DVec3,
) -> [f64; 6] {
    let (rv, _) = scaled(d);
    // rotation = H_R R, translation = H_R t + H_t.
    let g_r = view.rotation.transpose() * *grad_rotation;
    let g_t = view.rotation.transpose() * grad_translation;
    // R = I + sin(th) K + (1 - cos th) K^2, K = skew(rv / th).
    let len = rv.length();
    let th = len.max(MIN_ANGLE);
    let k = rv / th;
    let kx = skew(k);
    let (sn, cs) = th.sin_cos();
    let g_sin = mat_dot(&g_r, &kx);
    let g_cos1 = mat_dot(&g_r, &(kx * kx));
    let g_kx = g_r * sn + (g_r * kx.transpose() + kx.transpose() * g_r) * (1.0 - cs);
    let g_k = DVec3::new(
        g_kx.y_axis.z - g_kx.z_axis.y,
        g_kx.z_axis.x - g_kx.x_axis.z,
        g_kx.x_axis.y - g_kx.y_axis.x,
    );
    let g_rv = if len > MIN_ANGLE {
        let g_th = g_sin * cs + g_cos1 * sn;
        // k = rv / |rv|, th = |rv|.
        (g_k - k * k.dot(g_k)) / th + k * g_th
    } else {
        g_k / th
    };
    let g = [g_rv.x, g_rv.y, g_rv.z, g_t.x, g_t.y, g_t.z];
    std::array::from_fn(|j| g[j] * POSE_UNITS[j])
}
