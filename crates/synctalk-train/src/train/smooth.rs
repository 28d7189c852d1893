//! Smoothing of the deformation bases over each Gaussian's neighbours
//! (`--basis-smooth`): every [`crate::train::mcmc::REFINE_EVERY`] steps
//! from step 100 to the end (with the MCMC refinement where it runs), on
//! the host, each Gaussian's
//! 11 × K basis values move a fraction `strength` of the way to the mean of
//! its [`NEIGHBOURS`] nearest Gaussians' (by head-space position).
//!
//! Why: the bases are free per Gaussian, so conditions no training frame
//! had can move neighbouring Gaussians apart and open holes in a surface
//! (the candidate demo's cheek let an interior Gaussian through by 0.49 at
//! a wide smile, docs/portrait-quality.md). Neighbours that deform alike
//! keep the surface closed, as Gaussians bound to a mesh would. It is a
//! step of Laplacian smoothing between optimiser steps, not a loss term:
//! Adam refits what the images need in between.

use synctalk_gaussians::DEFORM_CHANNELS;

use crate::gpu::StepState;

/// Neighbours each Gaussian's bases are drawn towards.
pub const NEIGHBOURS: usize = 8;

/// The `k` nearest other points of each point (Euclidean), nearest first;
/// fewer when there are fewer other points.
///
/// A uniform grid of cells about as wide as the mean spacing, searched in
/// growing shells: about 40 lines for what a k-d tree crate would do, with
/// nothing added to the wasm32 build, and fast enough here (40,000 points,
/// k = 8: milliseconds, once per 100 steps).
pub fn nearest(points: &[[f32; 3]], k: usize) -> Vec<Vec<u32>> {
    let n = points.len();
    if n == 0 || k == 0 {
        return vec![Vec::new(); n];
    }
    let mut lo = [f32::INFINITY; 3];
    let mut hi = [f32::NEG_INFINITY; 3];
    for p in points.iter().filter(|p| p.iter().all(|v| v.is_finite())) {
        for a in 0..3 {
            lo[a] = lo[a].min(p[a]);
            hi[a] = hi[a].max(p[a]);
        }
    }
    if !lo[0].is_finite() {
        return vec![Vec::new(); n];
    }
    // Cells: about 2 points each on a uniform cloud, at most 64^3 of them.
    let extent = (0..3)
        .map(|a| (hi[a] - lo[a]).max(1e-6))
        .collect::<Vec<_>>();
    let volume: f64 = extent.iter().map(|&e| f64::from(e)).product();
    let cell = ((volume * 2.0 / n as f64).cbrt() as f32).max(1e-6);
    let dims: [usize; 3] =
        std::array::from_fn(|a| ((extent[a] / cell).ceil() as usize).clamp(1, 64));
    let size: [f32; 3] = std::array::from_fn(|a| extent[a] / dims[a] as f32);
    let cell_of = |p: &[f32; 3]| -> [usize; 3] {
        std::array::from_fn(|a| (((p[a] - lo[a]) / size[a]) as usize).min(dims[a] - 1))
    };
    let index = |c: [usize; 3]| (c[2] * dims[1] + c[1]) * dims[0] + c[0];
    let mut start = vec![0u32; dims[0] * dims[1] * dims[2] + 1];
    let finite: Vec<bool> = points
        .iter()
        .map(|p| p.iter().all(|v| v.is_finite()))
        .collect();
    for (p, _) in points.iter().zip(&finite).filter(|(_, &f)| f) {
        start[index(cell_of(p)) + 1] += 1;
    }
    for i in 1..start.len() {
        start[i] += start[i - 1];
    }
    let mut fill = start.clone();
    let mut order = vec![0u32; start[start.len() - 1] as usize];
    for (i, p) in points.iter().enumerate().filter(|(i, _)| finite[*i]) {
        let c = index(cell_of(p));
        order[fill[c] as usize] = i as u32;
        fill[c] += 1;
    }
    let dist2 = |a: &[f32; 3], b: &[f32; 3]| (0..3).map(|i| (a[i] - b[i]).powi(2)).sum::<f32>();
    let min_size = size.iter().cloned().fold(f32::INFINITY, f32::min);
    let max_shell = dims.iter().copied().max().unwrap_or(1);
    (0..n)
        .map(|i| {
            if !finite[i] {
                return Vec::new();
            }
            let p = &points[i];
            let c = cell_of(p);
            let mut best: Vec<(f32, u32)> = Vec::with_capacity(k + 1);
            for shell in 0..=max_shell {
                // Every point within `shell` cells has been seen: stop when the
                // k-th best is nearer than anything outside can be.
                for z in c[2].saturating_sub(shell)..=(c[2] + shell).min(dims[2] - 1) {
                    for y in c[1].saturating_sub(shell)..=(c[1] + shell).min(dims[1] - 1) {
                        for x in c[0].saturating_sub(shell)..=(c[0] + shell).min(dims[0] - 1) {
                            let on_shell = [x, y, z]
                                .iter()
                                .zip(&c)
                                .any(|(&v, &cv)| v.abs_diff(cv) == shell);
                            if !on_shell {
                                continue;
                            }
                            let cell = index([x, y, z]);
                            for &j in &order[start[cell] as usize..start[cell + 1] as usize] {
                                if j as usize == i {
                                    continue;
                                }
                                let d = dist2(p, &points[j as usize]);
                                if best.len() < k || d < best[best.len() - 1].0 {
                                    let at = best.partition_point(|&(bd, _)| bd <= d);
                                    best.insert(at, (d, j));
                                    best.truncate(k);
                                }
                            }
                        }
                    }
                }
                let reach = shell as f32 * min_size;
                if best.len() == k && best[k - 1].0 <= reach * reach {
                    break;
                }
            }
            best.into_iter().map(|(_, j)| j).collect()
        })
        .collect()
}

/// Moves each Gaussian's basis values a fraction `strength` (0..=1) of the
/// way to the mean of its [`NEIGHBOURS`] nearest Gaussians' values (every
/// channel of every basis; the neighbours' values before this call).
/// Returns the mean absolute change, for the log.
pub fn smooth_bases(state: &mut StepState, strength: f32) -> f32 {
    let n = state.params.len();
    let k_bases = state.params.num_bases;
    if n < 2 || k_bases == 0 || strength <= 0.0 {
        return 0.0;
    }
    let positions: Vec<[f32; 3]> = (0..n)
        .map(|i| {
            let g = state.params.gauss[3 * i];
            [g[0], g[1], g[2]]
        })
        .collect();
    let near = nearest(&positions, NEIGHBOURS);
    let before = state.params.bases.clone();
    let mut change = 0f64;
    for row in 0..DEFORM_CHANNELS * k_bases {
        let src = &before[row * n..(row + 1) * n];
        let dst = &mut state.params.bases[row * n..(row + 1) * n];
        for (i, nb) in near.iter().enumerate() {
            if nb.is_empty() {
                continue;
            }
            let mean = nb.iter().map(|&j| src[j as usize]).sum::<f32>() / nb.len() as f32;
            let v = src[i] + strength * (mean - src[i]);
            change += f64::from((v - src[i]).abs());
            dst[i] = v;
        }
    }
    (change / (DEFORM_CHANNELS * k_bases * n) as f64) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::GpuParams;
    use rand::{Rng, SeedableRng};
    use rand_pcg::Pcg64;

    fn brute(points: &[[f32; 3]], i: usize, k: usize) -> Vec<u32> {
        let mut d: Vec<(f32, u32)> = points
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(j, q)| {
                let p = points[i];
                ((0..3).map(|a| (p[a] - q[a]).powi(2)).sum::<f32>(), j as u32)
            })
            .collect();
        d.sort_by(|a, b| a.0.total_cmp(&b.0));
        d.into_iter().take(k).map(|(_, j)| j).collect()
    }

    #[test]
    fn nearest_matches_brute_force_on_clustered_and_uniform_clouds() {
        let mut rng = Pcg64::seed_from_u64(7);
        // A uniform box, a dense cluster inside it and a few far outliers:
        // cells of very different counts, shells that must grow.
        let mut pts: Vec<[f32; 3]> = (0..1500)
            .map(|_| std::array::from_fn(|_| rng.random_range(-10.0..10.0)))
            .collect();
        pts.extend((0..800).map(|_| std::array::from_fn(|_| rng.random_range(0.0..0.3))));
        pts.extend([[500.0, 0.0, 0.0], [-400.0, 300.0, 2.0], [0.0, 0.0, 900.0]]);
        let near = nearest(&pts, 8);
        for i in (0..pts.len()).step_by(7).chain(pts.len() - 3..pts.len()) {
            let want = brute(&pts, i, 8);
            let d = |j: u32| {
                let (p, q) = (pts[i], pts[j as usize]);
                (0..3).map(|a| (p[a] - q[a]).powi(2)).sum::<f32>()
            };
            // Same distances (ties may order differently).
            let got: Vec<f32> = near[i].iter().map(|&j| d(j)).collect();
            let exp: Vec<f32> = want.iter().map(|&j| d(j)).collect();
            assert_eq!(got, exp, "point {i}");
        }
        // Fewer points than k, a non-finite point.
        let few = nearest(&[[0.0; 3], [1.0, 0.0, 0.0], [f32::NAN, 0.0, 0.0]], 8);
        assert_eq!(few[0], vec![1]);
        assert_eq!(few[1], vec![0]);
        assert!(few[2].is_empty());
    }

    fn state(n: usize, bases: usize, value: impl Fn(usize, usize) -> f32) -> StepState {
        let gauss = (0..n)
            .flat_map(|i| {
                let x = (i % 10) as f32;
                let y = (i / 10) as f32;
                [
                    [x, y, 0.0, 0.0],
                    [1.0, 0.0, 0.0, 0.0],
                    [-3.0, -3.0, -3.0, 0.0],
                ]
            })
            .collect();
        let mut b = vec![0f32; DEFORM_CHANNELS * bases * n];
        for row in 0..DEFORM_CHANNELS * bases {
            for i in 0..n {
                b[row * n + i] = value(row, i);
            }
        }
        StepState::fresh(GpuParams {
            sh_degree: 0,
            num_bases: bases,
            gauss,
            sh: vec![0.0; 12 * n],
            bases: b,
        })
    }

    #[test]
    fn a_field_that_is_already_smooth_stays_and_an_outlier_is_drawn_in() {
        // Equal values everywhere: nothing moves.
        let mut s = state(100, 2, |row, _| row as f32 * 0.25);
        let before = s.params.bases.clone();
        assert_eq!(smooth_bases(&mut s, 0.5), 0.0);
        assert_eq!(s.params.bases, before);
        // One Gaussian (in the middle of a 10 x 10 grid) with a basis value
        // of 1 where all others have 0: it moves half way to its
        // neighbours' mean (0), and its neighbours move towards it by
        // half of 1/8.
        let mut s = state(100, 2, |row, i| if row == 3 && i == 55 { 1.0 } else { 0.0 });
        smooth_bases(&mut s, 0.5);
        let v = |i: usize| s.params.bases[3 * 100 + i];
        assert!((v(55) - 0.5).abs() < 1e-6, "{}", v(55));
        assert!((v(54) - 0.5 / 8.0).abs() < 1e-6, "{}", v(54));
        assert_eq!(v(0), 0.0, "far away: untouched");
        // Other rows are untouched; strength 0 changes nothing.
        assert!(s.params.bases[..3 * 100].iter().all(|&x| x == 0.0));
        let before = s.params.bases.clone();
        assert_eq!(smooth_bases(&mut s, 0.0), 0.0);
        assert_eq!(s.params.bases, before);
    }
}
