//! Backward of one Gaussian's projection (`synctalk_reference::project_gaussian`):
//! from `dL/d` the splat's 2D mean, conic, opacity and colour to `dL/d` its
//! deformed raw parameters, its SH coefficients and the view.
//!
//! The forward is the reference's; this file recomputes its intermediates
//! with the same formulas and differentiates them by hand:
//! `pv = W p + t`; `Σ = R S Sᵀ Rᵀ` (R from the normalised quaternion,
//! `S = diag(exp(log_scale))`); `cov = (J W) Σ (J W)ᵀ + 0.3 I` with the
//! Jacobian `J` taken at the mean clamped to 1.3 x the field of view;
//! `conic = cov⁻¹`; `mean = f · pv.xy / pv.z + c − 0.5`; colour from the
//! direction `normalize(p − campos)`, `campos = −Wᵀ t`; opacity `sigmoid`.

use glam::{DMat3, DVec3};
use synctalk_reference::{quat_to_mat, RawGaussian, View};

use super::params::zero_raw;
use super::sh;

/// `dL/d` one splat's outputs.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SplatGrad {
    /// `dL/d` the 2D mean (pixels).
    pub mean: [f64; 2],
    /// `dL/d` the conic `(a, b, c)` of `a dx² + 2 b dx dy + c dy²`.
    pub conic: [f64; 3],
    /// `dL/d` the activated opacity.
    pub opacity: f64,
    /// `dL/d` the colour.
    pub color: [f64; 3],
}

/// `dL/d` the view: world-to-camera rotation and translation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ViewGrad {
    /// `dL/dW`, element `(row, col)` at `rotation.col(col)[row]`.
    pub rotation: DMat3,
    /// `dL/dt`.
    pub translation: DVec3,
}

impl Default for ViewGrad {
    fn default() -> Self {
        Self {
            rotation: DMat3::ZERO,
            translation: DVec3::ZERO,
        }
    }
}

/// Where `x / z` fell against the field-of-view clamp: -1 below, 0 inside,
/// 1 above.
fn side(v: f64, lo: f64, hi: f64) -> i8 {
    if v < lo {
        -1
    } else if v > hi {
        1
    } else {
        0
    }
}

/// The intermediates of the projection of one Gaussian in front of the near
/// plane.
struct Geometry {
    pv: DVec3,
    /// Clamp sides of `pv.x / pv.z` and `pv.y / pv.z`.
    clamp: [i8; 2],
    /// The clamped tangents' limits hit (valid where `clamp` is not 0).
    limit: [f64; 2],
    tx: f64,
    ty: f64,
    qn: [f64; 4],
    qlen: f64,
    rot: DMat3,
    s: DVec3,
    m: DMat3,
    sigma: DMat3,
    j: DMat3,
    tm: DMat3,
    abc: [f64; 3],
    det: f64,
}

fn geometry(view: &View, raw: &RawGaussian) -> Option<Geometry> {
    let w = view.rotation;
    let pv = w * raw.position + view.translation;
    if pv.z <= view.near {
        return None;
    }
    let q = raw.rotation;
    let qlen = (q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]).sqrt();
    let qn = q.map(|v| v / qlen);
    let rot = quat_to_mat(q);
    let s = DVec3::from_array(raw.log_scale.map(f64::exp));
    let m = rot * DMat3::from_diagonal(s);
    let sigma = m * m.transpose();
    let (xp, xn, yp, yn) = view.fov_limits();
    let tz = pv.z;
    let clamp = [side(pv.x / tz, -xn, xp), side(pv.y / tz, -yn, yp)];
    let limit = [
        if clamp[0] < 0 { -xn } else { xp },
        if clamp[1] < 0 { -yn } else { yp },
    ];
    let tx = (pv.x / tz).clamp(-xn, xp) * tz;
    let ty = (pv.y / tz).clamp(-yn, yp) * tz;
    let (fx, fy) = (view.fx, view.fy);
    let j = DMat3::from_cols(
        DVec3::new(fx / tz, 0.0, 0.0),
        DVec3::new(0.0, fy / tz, 0.0),
        DVec3::new(-fx * tx / (tz * tz), -fy * ty / (tz * tz), 0.0),
    );
    let tm = j * w;
    let cov = tm * sigma * tm.transpose();
    let (a, b, c) = (cov.x_axis.x + 0.3, cov.y_axis.x, cov.y_axis.y + 0.3);
    Some(Geometry {
        pv,
        clamp,
        limit,
        tx,
        ty,
        qn,
        qlen,
        rot,
        s,
        m,
        sigma,
        j,
        tm,
        abc: [a, b, c],
        det: a * c - b * b,
    })
}

/// The discrete branches of one Gaussian's projection that the reference
/// does not report: the field-of-view clamp side of x and y and, per colour
/// channel, the SH clamp at 0. `None` behind the near plane.
pub fn branches(
    view: &View,
    raw: &RawGaussian,
    sh_degree: u32,
    sh_coeffs: &[[f64; 3]],
) -> Option<[i8; 5]> {
    let g = geometry(view, raw)?;
    let dir = (raw.position - view.position()).normalize();
    let off = sh::clamped(sh_degree, sh_coeffs, dir);
    Some([
        g.clamp[0],
        g.clamp[1],
        i8::from(off[0]),
        i8::from(off[1]),
        i8::from(off[2]),
    ])
}

/// Backward of the rotation matrix of the normalised quaternion
/// (`quat_to_mat`): `dL/dq` for the unnormalised `q` from `dL/dR`.
fn quat_backward(qn: [f64; 4], qlen: f64, g: &DMat3) -> [f64; 4] {
    let [r, x, y, z] = qn;
    // e(row, col) = dL/dR[row][col].
    let e = |row: usize, col: usize| g.col(col)[row];
    let gr =
        2.0 * (z * e(1, 0) - y * e(2, 0) - z * e(0, 1) + x * e(2, 1) + y * e(0, 2) - x * e(1, 2));
    let gx = 2.0
        * (y * e(1, 0) + z * e(2, 0) + y * e(0, 1) + r * e(2, 1) + z * e(0, 2) - r * e(1, 2))
        - 4.0 * x * (e(1, 1) + e(2, 2));
    let gy = 2.0
        * (x * e(1, 0) - r * e(2, 0) + x * e(0, 1) + z * e(2, 1) + r * e(0, 2) + z * e(1, 2))
        - 4.0 * y * (e(0, 0) + e(2, 2));
    let gz = 2.0
        * (r * e(1, 0) + x * e(2, 0) - r * e(0, 1) + y * e(2, 1) + x * e(0, 2) + y * e(1, 2))
        - 4.0 * z * (e(0, 0) + e(1, 1));
    let gn = [gr, gx, gy, gz];
    let dot: f64 = (0..4).map(|k| gn[k] * qn[k]).sum();
    std::array::from_fn(|k| (gn[k] - qn[k] * dot) / qlen)
}

/// Backward of one visible Gaussian's projection. Adds `dL/dsh` to
/// `grad_sh` and `dL/d` the view to `grad_view`; returns `dL/d` the deformed
/// raw parameters. A Gaussian behind the near plane gets zeros.
pub fn backward(
    view: &View,
    raw: &RawGaussian,
    sh_degree: u32,
    sh_coeffs: &[[f64; 3]],
    grad: &SplatGrad,
    grad_sh: &mut [[f64; 3]],
    grad_view: &mut ViewGrad,
) -> RawGaussian {
    let mut out = zero_raw();
    let Some(g) = geometry(view, raw) else {
        return out;
    };
    let w = view.rotation;
    let (fx, fy) = (view.fx, view.fy);
    let p = raw.position;
    let pv = g.pv;
    let tz = pv.z;
    let mut d_pv = DVec3::ZERO;
    let mut d_p = DVec3::ZERO;

    // Opacity = sigmoid(logit).
    let op = 1.0 / (1.0 + (-raw.opacity_logit).exp());
    out.opacity_logit = grad.opacity * op * (1.0 - op);

    // Colour: SH along dir = (p - campos) / |p - campos|, campos = -Wᵀ t.
    let campos = view.position();
    let v = p - campos;
    let dir = v.normalize();
    let d_dir = sh::backward(sh_degree, sh_coeffs, dir, grad.color, grad_sh);
    let d_v = (d_dir - dir * dir.dot(d_dir)) / v.length();
    d_p += d_v;
    // campos_j = -sum_i W_ij t_i.
    let d_campos = -d_v;
    grad_view.rotation -= outer(view.translation, d_campos);
    grad_view.translation -= w * d_campos;

    // Mean = f * pv.xy / pv.z + c - 0.5.
    let [gmx, gmy] = grad.mean;
    d_pv.x += gmx * fx / tz;
    d_pv.y += gmy * fy / tz;
    let mut d_tz = -(gmx * fx * pv.x + gmy * fy * pv.y) / (tz * tz);

    // Conic = inverse of the dilated 2D covariance (a, b; b, c).
    let [a, b, c] = g.abc;
    let det = g.det;
    let [g0, g1, g2] = grad.conic;
    let d_det = -(g0 * c - g1 * b + g2 * a) / (det * det);
    let da = g2 / det + d_det * c;
    let db = -g1 / det - 2.0 * b * d_det;
    let dc = g0 / det + d_det * a;
    let d_cov = DMat3::from_cols(
        DVec3::new(da, 0.5 * db, 0.0),
        DVec3::new(0.5 * db, dc, 0.0),
        DVec3::ZERO,
    );
    // cov = T Σ Tᵀ with T = J W (both symmetric gradients).
    let d_sigma = g.tm.transpose() * d_cov * g.tm;
    let d_tm = 2.0 * d_cov * g.tm * g.sigma;
    let d_j = d_tm * w.transpose();
    grad_view.rotation += g.j.transpose() * d_tm;

    // J = (fx/tz, 0, -fx tx/tz²; 0, fy/tz, -fy ty/tz²).
    let (j00, j11, j02, j12) = (d_j.x_axis.x, d_j.y_axis.y, d_j.z_axis.x, d_j.z_axis.y);
    let tz2 = tz * tz;
    let tz3 = tz2 * tz;
    d_tz += -j00 * fx / tz2 - j11 * fy / tz2 + 2.0 * (j02 * fx * g.tx + j12 * fy * g.ty) / tz3;
    let d_t = [-j02 * fx / tz2, -j12 * fy / tz2];
    // tx = clamp(pv.x / tz) * tz: pv.x itself inside the clamp, limit * tz outside.
    if g.clamp[0] == 0 {
        d_pv.x += d_t[0];
    } else {
        d_tz += d_t[0] * g.limit[0];
    }
    if g.clamp[1] == 0 {
        d_pv.y += d_t[1];
    } else {
        d_tz += d_t[1] * g.limit[1];
    }
    d_pv.z += d_tz;

    // Σ = M Mᵀ, M = R diag(s).
    let d_m = 2.0 * d_sigma * g.m;
    let d_rot = d_m * DMat3::from_diagonal(g.s);
    let d_s = DVec3::new(
        g.rot.x_axis.dot(d_m.x_axis),
        g.rot.y_axis.dot(d_m.y_axis),
        g.rot.z_axis.dot(d_m.z_axis),
    );
    out.log_scale = (d_s * g.s).to_array();
    out.rotation = quat_backward(g.qn, g.qlen, &d_rot);

    // pv = W p + t.
    d_p += w.transpose() * d_pv;
    grad_view.rotation += outer(d_pv, p);
    grad_view.translation += d_pv;
    out.position = d_p;
    out
}

/// `a bᵀ`.
fn outer(a: DVec3, b: DVec3) -> DMat3 {
    DMat3::from_cols(a * b.x, a * b.y, a * b.z)
}
