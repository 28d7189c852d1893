//! Image scores of rendered frames against real ones, as the toolchain's
//! `metrics.py` computes them: PSNR, and SSIM as torch_trainer.py's (11 × 11
//! Gaussian window, σ 1.5, valid positions only, mean over channels), on
//! crops ([`Plane::crop`]) or on the neck band ([`neck`]).

#![warn(missing_docs)]

pub mod neck;

/// An RGB image of `f64` values in [0, 255] (a crop, or a resampled band).
#[derive(Clone, Debug, PartialEq)]
pub struct Plane {
    /// Width, pixels.
    pub width: usize,
    /// Height, pixels.
    pub height: usize,
    /// Row-major RGB.
    pub data: Vec<[f64; 3]>,
}

impl Plane {
    /// The crop `[x0, y0, x1, y1)` of a `w`-wide image whose pixel `i`
    /// (row-major) is `rgb(i)`.
    pub fn crop(rgb: impl Fn(usize) -> [u8; 3], w: usize, b: [u32; 4]) -> Plane {
        let (x0, y0, x1, y1) = (b[0] as usize, b[1] as usize, b[2] as usize, b[3] as usize);
        let data = (y0..y1.max(y0))
            .flat_map(|y| (x0..x1.max(x0)).map(move |x| y * w + x))
            .map(|i| rgb(i).map(f64::from))
            .collect();
        Plane {
            width: x1.saturating_sub(x0),
            height: y1.saturating_sub(y0),
            data,
        }
    }
}

/// PSNR (dB, peak 255) of two planes of one size.
pub fn psnr(a: &Plane, b: &Plane) -> f64 {
    let se: f64 = a
        .data
        .iter()
        .zip(&b.data)
        .flat_map(|(p, q)| p.iter().zip(q).map(|(u, v)| (u - v) * (u - v)))
        .sum();
    let n = (3 * a.data.len().min(b.data.len())).max(1) as f64;
    10.0 * (255.0f64.powi(2) / (se / n).max(1e-12)).log10()
}

/// The 11-tap Gaussian (σ 1.5).
fn window() -> [f64; 11] {
    let mut g = [0f64; 11];
    for (k, v) in g.iter_mut().enumerate() {
        let d = k as f64 - 5.0;
        *v = (-d * d / (2.0 * 1.5 * 1.5)).exp();
    }
    let s: f64 = g.iter().sum();
    g.map(|v| v / s)
}

/// Mean SSIM over channels and valid positions of two planes of one size
/// (NaN when smaller than the 11 × 11 window).
pub fn ssim(a: &Plane, b: &Plane) -> f64 {
    let (cw, ch) = (a.width, a.height);
    if cw < 11 || ch < 11 || b.width != cw || b.height != ch {
        return f64::NAN;
    }
    let g = window();
    let (c1, c2) = (0.01f64.powi(2), 0.03f64.powi(2));
    let (vw, vh) = (cw - 10, ch - 10);
    let mut total = 0f64;
    for c in 0..3 {
        // Five maps (x, y, xx, yy, xy), blurred along rows then columns.
        let mut rows = vec![[0f64; 5]; vw * ch];
        for y in 0..ch {
            for x in 0..vw {
                let mut s = [0f64; 5];
                for (k, gk) in g.iter().enumerate() {
                    let i = y * cw + x + k;
                    let (u, v) = (a.data[i][c] / 255.0, b.data[i][c] / 255.0);
                    for (acc, val) in s.iter_mut().zip([u, v, u * u, v * v, u * v]) {
                        *acc += gk * val;
                    }
                }
                rows[y * vw + x] = s;
            }
        }
        for y in 0..vh {
            for x in 0..vw {
                let mut m = [0f64; 5];
                for (k, gk) in g.iter().enumerate() {
                    for (acc, val) in m.iter_mut().zip(rows[(y + k) * vw + x]) {
                        *acc += gk * val;
                    }
                }
                let [mx, my, xx, yy, xy] = m;
                let (sxx, syy, sxy) = (xx - mx * mx, yy - my * my, xy - mx * my);
                total += ((2.0 * mx * my + c1) * (2.0 * sxy + c2))
                    / ((mx * mx + my * my + c1) * (sxx + syy + c2));
            }
        }
    }
    total / (3 * vw * vh) as f64
}
