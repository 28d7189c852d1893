//! torch_trainer.py's `initial_points`: head-space points and colours for the first
//! Gaussians, from the head pixels of eight training frames.
//!
//! For each picked frame, head pixels are drawn without replacement and
//! jittered within the pixel; a pixel inside the projected canonical face
//! takes the depth interpolated linearly over the face's Delaunay triangles
//! (what scipy's `griddata(method="linear")` does: a Qhull triangulation
//! and barycentric weights, nothing outside the hull; here `delaunator`,
//! the same triangulation up to cocircular ties); any other head pixel
//! (hair, ears) goes on a shell from 2 cm before to 8 cm behind the face's
//! centre. The ray through the pixel at that depth is taken back to head
//! space. The canonical face's own points follow, grey.
//!
//! The random numbers are PCG64's seeded with `seed`, not numpy's: the same
//! seed gives the same points here, not the ones torch_trainer.py draws.

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

use super::{masks, Dataset};

/// How many training frames the points come from (torch_trainer.py: 8).
pub const PICKED_FRAMES: usize = 8;

/// Head-space points (cm) and their colours (RGB in [0, 1]): up to
/// `n / 8` head pixels from each of 8 training frames spread evenly over
/// the training range (a frame picked twice when there are fewer), then the
/// canonical face's points (colour 0.5). Empty training range: only the
/// canonical face.
pub fn initial_points(ds: &Dataset, n: usize, seed: u64) -> (Vec<[f32; 3]>, Vec<[f32; 3]>) {
    let mut rng = Pcg64::seed_from_u64(seed);
    let (mut pts, mut cols) = (Vec::new(), Vec::new());
    let train = ds.train.clone();
    let (w, h) = (ds.width as usize, ds.height as usize);
    if !train.is_empty() {
        let per = n / PICKED_FRAMES;
        for k in 0..PICKED_FRAMES {
            // np.linspace(0, len - 1, 8).astype(int): k × step, the last
            // exactly the end, truncated.
            let span = (train.len() - 1) as f64;
            let step = span / (PICKED_FRAMES - 1) as f64;
            let at = if k + 1 == PICKED_FRAMES {
                span
            } else {
                k as f64 * step
            };
            let t = train[at as usize];
            let Some(frame) = ds.frames.get(t) else {
                continue;
            };
            let pose = &ds.head_to_camera[t];
            let r = |i: usize, j: usize| pose[i][j];
            let tr = [pose[0][3], pose[1][3], pose[2][3]];
            // The canonical face in camera space and projected.
            let cam: Vec<[f64; 3]> = ds
                .canonical_face
                .iter()
                .map(|p| {
                    let p = p.map(f64::from);
                    std::array::from_fn(|i| {
                        r(i, 0) * p[0] + r(i, 1) * p[1] + r(i, 2) * p[2] + tr[i]
                    })
                })
                .collect();
            let proj: Vec<[f64; 2]> = cam
                .iter()
                .map(|c| [ds.fx * c[0] / c[2] + ds.cx, ds.fy * c[1] / c[2] + ds.cy])
                .collect();
            let depth: Vec<f64> = cam.iter().map(|c| c[2]).collect();
            let interp = Linear::new(&proj);
            let head: Vec<usize> = (0..w * h)
                .filter(|&i| frame.mask(i) & masks::HEAD != 0)
                .collect();
            let take = per.min(head.len());
            let picked = rand::seq::index::sample(&mut rng, head.len(), take);
            for i in picked.iter() {
                let p = head[i];
                let px = [
                    (p % w) as f64 + rng.random::<f64>(),
                    (p / w) as f64 + rng.random::<f64>(),
                ];
                let z = match interp.at(px, &depth) {
                    Some(z) => z,
                    None => tr[2] + rng.random_range(-2.0..8.0),
                };
                let ray = [
                    (px[0] - ds.cx) / ds.fx * z - tr[0],
                    (px[1] - ds.cy) / ds.fy * z - tr[1],
                    z - tr[2],
                ];
                // Rᵀ (ray − t): back to head space.
                pts.push(std::array::from_fn(|j| {
                    (r(0, j) * ray[0] + r(1, j) * ray[1] + r(2, j) * ray[2]) as f32
                }));
                let rgb = frame.rgb((px[1] as usize).min(h - 1) * w + (px[0] as usize).min(w - 1));
                cols.push(rgb.map(|c| f32::from(c) / 255.0));
            }
        }
    }
    pts.extend(ds.canonical_face.iter().copied());
    cols.extend(std::iter::repeat_n([0.5f32; 3], ds.canonical_face.len()));
    (pts, cols)
}

/// Linear interpolation over the Delaunay triangulation of scattered 2-D
/// points, as scipy's `griddata(method="linear")`: `None` outside the
/// convex hull.
pub struct Linear {
    /// Per triangle: its vertices and its bounding box.
    triangles: Vec<([usize; 3], [f64; 4])>,
    points: Vec<[f64; 2]>,
}

impl Linear {
    /// Triangulates `points` (none when they are fewer than 3 or collinear).
    pub fn new(points: &[[f64; 2]]) -> Self {
        let pts: Vec<delaunator::Point> = points
            .iter()
            .map(|p| delaunator::Point { x: p[0], y: p[1] })
            .collect();
        let tri = delaunator::triangulate(&pts);
        let triangles = tri
            .triangles
            .chunks_exact(3)
            .map(|t| {
                let v = [t[0], t[1], t[2]];
                let xs = v.map(|i| points[i][0]);
                let ys = v.map(|i| points[i][1]);
                let bbox = [
                    xs.iter().copied().fold(f64::INFINITY, f64::min),
                    ys.iter().copied().fold(f64::INFINITY, f64::min),
                    xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                    ys.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                ];
                (v, bbox)
            })
            .collect();
        Linear {
            triangles,
            points: points.to_vec(),
        }
    }

    /// The value at `q` interpolated from `values` (one per point), or
    /// `None` outside every triangle.
    pub fn at(&self, q: [f64; 2], values: &[f64]) -> Option<f64> {
        // scipy's find_simplex accepts barycentric coordinates down to
        // about -100 ε.
        const EPS: f64 = -100.0 * f64::EPSILON;
        for (v, b) in &self.triangles {
            if q[0] < b[0] || q[1] < b[1] || q[0] > b[2] || q[1] > b[3] {
                continue;
            }
            let [a, bb, c] = v.map(|i| self.points[i]);
            let det = (bb[1] - c[1]) * (a[0] - c[0]) + (c[0] - bb[0]) * (a[1] - c[1]);
            if det == 0.0 {
                continue;
            }
            let l0 = ((bb[1] - c[1]) * (q[0] - c[0]) + (c[0] - bb[0]) * (q[1] - c[1])) / det;
            let l1 = ((c[1] - a[1]) * (q[0] - c[0]) + (a[0] - c[0]) * (q[1] - c[1])) / det;
            let l2 = 1.0 - l0 - l1;
            if l0 >= EPS && l1 >= EPS && l2 >= EPS {
                return Some(l0 * values[v[0]] + l1 * values[v[1]] + l2 * values[v[2]]);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::Linear;

    #[test]
    fn interpolates_a_plane_exactly_and_nothing_outside() {
        let pts = [[0.0, 0.0], [4.0, 0.0], [0.0, 4.0], [4.0, 4.0], [1.0, 2.0]];
        let plane = |p: [f64; 2]| 3.0 + 2.0 * p[0] - p[1];
        let values: Vec<f64> = pts.iter().map(|&p| plane(p)).collect();
        let lin = Linear::new(&pts);
        for q in [[0.5, 0.5], [3.9, 0.1], [2.0, 2.0], [1.0, 2.0], [4.0, 4.0]] {
            let z = lin.at(q, &values).unwrap();
            assert!((z - plane(q)).abs() < 1e-12, "{q:?}");
        }
        assert_eq!(lin.at([4.1, 2.0], &values), None);
        assert_eq!(lin.at([-0.01, 1.0], &values), None);
    }
}
