//! Mean SSIM of two RGB images as torch_trainer.py's `ssim` computes it, and its
//! gradient with respect to the first image.
//!
//! Window: the outer product of an 11-tap Gaussian (sigma 1.5, taps at
//! -5..=5, normalised to sum 1), applied per channel as a "valid"
//! convolution (no padding: `(H − 10) x (W − 10)` positions). With
//! `μx, μy` the window means, `σxx = E[x²] − μx²`, `σyy`, `σxy = E[xy] − μx μy`,
//! `C1 = 0.01²`, `C2 = 0.03²`:
//! `m = (2 μx μy + C1)(2 σxy + C2) / ((μx² + μy² + C1)(σxx + σyy + C2))`,
//! and the SSIM is the mean of `m` over positions and channels.

use super::CpuError;

const TAPS: usize = 11;
const C1: f64 = 0.01 * 0.01;
const C2: f64 = 0.03 * 0.03;

fn taps() -> [f64; TAPS] {
    let g: [f64; TAPS] = std::array::from_fn(|i| {
        let d = i as f64 - 5.0;
        (-(d * d) / (2.0 * 1.5 * 1.5)).exp()
    });
    let sum: f64 = g.iter().sum();
    g.map(|v| v / sum)
}

/// Window-weighted sums of `img` (`w` x `h`, one channel) at every valid
/// position, row-major `(w − 10) x (h − 10)`.
fn filter(img: &[f64], w: usize, h: usize, g: &[f64; TAPS]) -> Vec<f64> {
    let (ow, oh) = (w - TAPS + 1, h - TAPS + 1);
    let mut rows = vec![0.0; ow * h];
    for y in 0..h {
        for x in 0..ow {
            rows[y * ow + x] = (0..TAPS).map(|u| g[u] * img[y * w + x + u]).sum();
        }
    }
    let mut out = vec![0.0; ow * oh];
    for y in 0..oh {
        for x in 0..ow {
            out[y * ow + x] = (0..TAPS).map(|v| g[v] * rows[(y + v) * ow + x]).sum();
        }
    }
    out
}

/// The adjoint of [`filter`]: spreads `map` (`(w − 10) x (h − 10)`) back to
/// `w` x `h` through the window.
fn spread(map: &[f64], w: usize, h: usize, g: &[f64; TAPS]) -> Vec<f64> {
    let (ow, oh) = (w - TAPS + 1, h - TAPS + 1);
    let mut rows = vec![0.0; ow * h];
    for y in 0..oh {
        for v in 0..TAPS {
            for x in 0..ow {
                rows[(y + v) * ow + x] += g[v] * map[y * ow + x];
            }
        }
    }
    let mut out = vec![0.0; w * h];
    for y in 0..h {
        for x in 0..ow {
            for u in 0..TAPS {
                out[y * w + x + u] += g[u] * rows[y * ow + x];
            }
        }
    }
    out
}

/// Per channel and position: `m` and its partial derivatives with respect
/// to `μx`, `E[x²]` and `E[xy]`.
struct Terms {
    m: Vec<f64>,
    d_mu: Vec<f64>,
    d_xx: Vec<f64>,
    d_xy: Vec<f64>,
}

fn terms(x: &[f64], y: &[f64], w: usize, h: usize, g: &[f64; TAPS]) -> Terms {
    let prod = |a: &[f64], b: &[f64]| -> Vec<f64> { a.iter().zip(b).map(|(p, q)| p * q).collect() };
    let (mx, my) = (filter(x, w, h, g), filter(y, w, h, g));
    let (exx, eyy, exy) = (
        filter(&prod(x, x), w, h, g),
        filter(&prod(y, y), w, h, g),
        filter(&prod(x, y), w, h, g),
    );
    let n = mx.len();
    let mut t = Terms {
        m: vec![0.0; n],
        d_mu: vec![0.0; n],
        d_xx: vec![0.0; n],
        d_xy: vec![0.0; n],
    };
    for i in 0..n {
        let (ux, uy) = (mx[i], my[i]);
        let a1 = 2.0 * ux * uy + C1;
        let a2 = 2.0 * (exy[i] - ux * uy) + C2;
        let b1 = ux * ux + uy * uy + C1;
        let b2 = (exx[i] - ux * ux) + (eyy[i] - uy * uy) + C2;
        let q = 1.0 / (b1 * b2);
        let m = a1 * a2 * q;
        t.m[i] = m;
        // Divided by b1 and b2 only (a1 and a2 change sign: m / a2 is
        // 0 · ∞ where a2 is 0), as ssim_cols.wgsl.
        t.d_xy[i] = 2.0 * a1 * q;
        t.d_xx[i] = -m / b2;
        t.d_mu[i] = 2.0 * uy * (a2 - a1) * q - 2.0 * ux * m / b1 + 2.0 * ux * m / b2;
    }
    t
}

fn channel(img: &[[f64; 3]], c: usize) -> Vec<f64> {
    img.iter().map(|p| p[c]).collect()
}

fn check(a: &[[f64; 3]], b: &[[f64; 3]], w: usize, h: usize) -> Result<(), CpuError> {
    if w < TAPS || h < TAPS {
        return Err(CpuError::TooSmall {
            width: w,
            height: h,
        });
    }
    for got in [a.len(), b.len()] {
        if got != w * h {
            return Err(CpuError::Length {
                what: "SSIM image",
                got,
                expected: w * h,
            });
        }
    }
    Ok(())
}

/// Mean SSIM of `a` and `b` (`w` x `h` RGB, row-major), and `dSSIM/da`.
pub fn ssim(
    a: &[[f64; 3]],
    b: &[[f64; 3]],
    w: usize,
    h: usize,
) -> Result<(f64, Vec<[f64; 3]>), CpuError> {
    check(a, b, w, h)?;
    let g = taps();
    let count = (3 * (w - TAPS + 1) * (h - TAPS + 1)) as f64;
    let mut sum = 0.0;
    let mut grad = vec![[0.0; 3]; w * h];
    for c in 0..3 {
        let (x, y) = (channel(a, c), channel(b, c));
        let t = terms(&x, &y, w, h, &g);
        sum += t.m.iter().sum::<f64>();
        let scale = |v: &[f64]| -> Vec<f64> { v.iter().map(|d| d / count).collect() };
        let (s_mu, s_xx, s_xy) = (
            spread(&scale(&t.d_mu), w, h, &g),
            spread(&scale(&t.d_xx), w, h, &g),
            spread(&scale(&t.d_xy), w, h, &g),
        );
        for (p, gp) in grad.iter_mut().enumerate() {
            gp[c] = s_mu[p] + 2.0 * x[p] * s_xx[p] + y[p] * s_xy[p];
        }
    }
    Ok((sum / count, grad))
}
