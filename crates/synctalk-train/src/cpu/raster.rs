//! Backward of front-to-back blending (`synctalk_reference::rasterize`):
//! from `dL/d` the premultiplied head layer to `dL/d` every splat's mean,
//! conic, opacity and colour.
//!
//! Per pixel, with splats in blending order, `T_0 = 1`,
//! `α_k = min(0.99, o_k exp(power_k))`, `C = Σ c_k α_k T_k`,
//! `T_{k+1} = T_k (1 − α_k)`, head `= (C, 1 − T_N)`. Splats skipped for
//! alpha below 1/255, and the one that would take `T` below 1e-4 (which
//! stops the pixel) and all after it, do not contribute and get no
//! gradient; a clamped alpha passes none to opacity, mean or conic.

use synctalk_reference::{blend_pixel, tile_lists, tile_of, Splat, Step};

use super::project::SplatGrad;

/// One splat's blending at one pixel, recomputed as the forward did it.
struct Blended {
    /// Index into the splats.
    k: usize,
    alpha: f64,
    /// Transmittance before this splat.
    t: f64,
    clamped: bool,
    /// `exp(power)`.
    gauss: f64,
    dx: f64,
    dy: f64,
}

/// Runs the reference's blending at pixel `(px, py)` over `list` (indices
/// into `splats`), calling `step` with each splat index and what it did.
fn walk(
    splats: &[Splat],
    list: &[usize],
    px: u32,
    py: u32,
    mut step: impl FnMut(usize, Step),
) -> [f64; 4] {
    let mut j = 0;
    blend_pixel(list.iter().map(|&k| &splats[k]), px, py, |_, s| {
        step(list[j], s);
        j += 1;
    })
}

/// The discrete choices blending made, per pixel row-major: for each splat
/// in the pixel's list up to the stop, its index and step code (0 outside,
/// 1 faint, 2 blended, 3 blended at the 0.99 clamp, 4 stop).
pub fn branches(splats: &[Splat], width: u32, height: u32, out: &mut Vec<i64>) {
    let lists = tile_lists(splats, width, height);
    for py in 0..height {
        for px in 0..width {
            let list = &lists[tile_of(px, py, width)];
            out.push(-1);
            walk(splats, list, px, py, |k, s| {
                let code = match s {
                    Step::Outside => 0,
                    Step::Faint => 1,
                    Step::Blended { clamped: false } => 2,
                    Step::Blended { clamped: true } => 3,
                    Step::Stop => 4,
                };
                out.push(k as i64 * 8 + code);
            });
        }
    }
}

/// `dL/d` every splat (same order as `splats`) from `dL/d` the
/// premultiplied head layer `(r, g, b, alpha)` per pixel, row-major.
pub fn backward(
    splats: &[Splat],
    width: u32,
    height: u32,
    grad_head: &[[f64; 4]],
) -> Vec<SplatGrad> {
    let lists = tile_lists(splats, width, height);
    let mut grads = vec![SplatGrad::default(); splats.len()];
    let mut run: Vec<Blended> = Vec::new();
    for py in 0..height {
        for px in 0..width {
            let list = &lists[tile_of(px, py, width)];
            let mut blended: Vec<(usize, bool)> = Vec::new();
            walk(splats, list, px, py, |k, s| {
                if let Step::Blended { clamped } = s {
                    blended.push((k, clamped));
                }
            });
            // Replay the forward's arithmetic for the blended splats.
            run.clear();
            let mut t = 1.0f64;
            for &(k, clamped) in &blended {
                let s = &splats[k];
                let dx = s.mean[0] - f64::from(px);
                let dy = s.mean[1] - f64::from(py);
                let power =
                    -0.5 * (s.conic[0] * dx * dx + s.conic[2] * dy * dy) - s.conic[1] * dx * dy;
                let gauss = power.exp();
                let alpha = (s.opacity * gauss).min(0.99);
                run.push(Blended {
                    k,
                    alpha,
                    t,
                    clamped,
                    gauss,
                    dx,
                    dy,
                });
                t *= 1.0 - alpha;
            }
            let t_final = t;
            let [gr, gg, gb, ga] = grad_head[(py * width + px) as usize];
            let g_col = [gr, gg, gb];
            // Colour accumulated behind the current splat.
            let mut behind = [0.0f64; 3];
            for b in run.iter().rev() {
                let s = &splats[b.k];
                let sg = &mut grads[b.k];
                let w = b.alpha * b.t;
                let mut d_alpha = ga * t_final / (1.0 - b.alpha);
                for c in 0..3 {
                    sg.color[c] += g_col[c] * w;
                    d_alpha += g_col[c] * (s.color[c] * b.t - behind[c] / (1.0 - b.alpha));
                    behind[c] += s.color[c] * w;
                }
                if b.clamped {
                    continue;
                }
                // alpha = o exp(power).
                sg.opacity += d_alpha * b.gauss;
                let d_power = d_alpha * b.alpha;
                let [ca, cb, cc] = s.conic;
                sg.conic[0] += -0.5 * b.dx * b.dx * d_power;
                sg.conic[1] += -b.dx * b.dy * d_power;
                sg.conic[2] += -0.5 * b.dy * b.dy * d_power;
                sg.mean[0] += -(ca * b.dx + cb * b.dy) * d_power;
                sg.mean[1] += -(cc * b.dy + cb * b.dx) * d_power;
            }
        }
    }
    grads
}
