//! The neck warp: the torso layer's neck follows the head.
//!
//! A portrait's torso layer is a real frame below the head (the neck's
//! lower part, shoulders, clothes), shown under the head's Gaussians. When
//! the runtime turns the head away from the pose that torso frame was
//! recorded in (Head-Sync's nods, a pose between two track frames), the
//! head's own neck moves and the torso's top edge does not: a seam opens
//! under the chin. The warp moves the torso layer's pixels near its top
//! edge, between the jaw's angles, as the head moves them, fading to no
//! motion further down and to the sides, so that the edge stays under the
//! head's neck while the shoulders stay still.
//!
//! The head's motion of a neck point is that of a point on a plane facing
//! the torso frame's camera at the depth of the jaw line's centroid (the
//! neck's front lies between the chin and the jaw's angles): a homography
//! between the two images. A pixel's source in the torso layer is
//! `q + w (H⁻¹ q − q)`, with the weight `w` taken at that source (two
//! fixed-point steps; exact where the weight is 0 or 1).
//!
//! The renderer's composite pass (`synctalk-render`) and the f64 reference
//! (`synctalk-reference`) both use [`NeckWarp`] and [`top_edges`].

use crate::{Camera, Image};
use glam::{DMat3, DVec3};

/// The warp's depth below the torso's top edge, as a fraction of the jaw's
/// width in the image: the neck below that stays still.
pub const NECK_WARP_DEPTH: f64 = 0.5;
/// The horizontal fade beyond the jaw's angles, as a fraction of the jaw's
/// width.
pub const NECK_WARP_FADE: f64 = 0.25;
/// Torso pixels with at least this alpha (of 255) make the layer's top edge.
pub const TOP_EDGE_ALPHA: u8 = 128;

/// One frame's neck warp (see the module's documentation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NeckWarp {
    /// Row-major 3×3 map from an output pixel (continuous coordinates,
    /// homogeneous) to where the rigidly moved neck point shown there is in
    /// the torso layer.
    pub inverse: [[f32; 3]; 3],
    /// The jaw's horizontal extent in the torso layer (pixels, left ≤ right).
    pub columns: [f32; 2],
    /// Horizontal fade beyond `columns` (pixels, > 0).
    pub fade: f32,
    /// Vertical fade below the torso's top edge (pixels, > 0).
    pub depth: f32,
}

/// `cam`'s rotation and translation in f64.
fn pose_of(cam: &Camera) -> (DMat3, DVec3) {
    let r = cam.rotation.map(|row| row.map(f64::from));
    (
        DMat3::from_cols_array_2d(&r).transpose(),
        DVec3::from(cam.translation.map(f64::from)),
    )
}

/// `cam`'s intrinsic matrix (continuous pixel coordinates).
fn intrinsics(cam: &Camera) -> DMat3 {
    DMat3::from_cols(
        DVec3::new(f64::from(cam.fx), 0.0, 0.0),
        DVec3::new(0.0, f64::from(cam.fy), 0.0),
        DVec3::new(f64::from(cam.cx), f64::from(cam.cy), 1.0),
    )
}

impl NeckWarp {
    /// The warp for a head seen by `head` over a torso layer recorded with
    /// the head seen by `torso` (both head-to-camera, one image size), from
    /// the jaw line `jaw` (head-space points from one angle of the jaw
    /// through the chin to the other). `None` when nothing is to be warped
    /// or the geometry is degenerate (fewer than 2 jaw points, the jaw
    /// behind a camera, non-finite values).
    pub fn between(jaw: &[[f32; 3]], torso: &Camera, head: &Camera) -> Option<NeckWarp> {
        if jaw.len() < 2 || (torso.width, torso.height) != (head.width, head.height) {
            return None;
        }
        let (rt, tt) = pose_of(torso);
        let (rh, th) = pose_of(head);
        let k = intrinsics(torso);
        // No allocation: this runs every frame.
        let near = f64::from(torso.near);
        let (mut z, mut x0, mut x1) = (0.0, f64::INFINITY, f64::NEG_INFINITY);
        for p in jaw {
            let c = rt * DVec3::from(p.map(f64::from)) + tt;
            if c.z.is_nan() || c.z <= near {
                return None;
            }
            let x = (k * (c / c.z)).x;
            z += c.z / jaw.len() as f64;
            (x0, x1) = (x0.min(x), x1.max(x));
        }
        let width = x1 - x0;
        // A torso-image point s on the plane at depth z is, in the head's
        // space, Rtᵀ (z K⁻¹ s − tt); the head's camera sees it at
        // K (Rh Rtᵀ (z K⁻¹ s − tt) + th).
        let m = rh * rt.transpose();
        let kinv = k.inverse();
        let shift = th - m * tt;
        let a = m * kinv * z + DMat3::from_cols(DVec3::ZERO, DVec3::ZERO, shift);
        let forward = intrinsics(head) * a;
        let inv = forward.inverse();
        let scale = inv.z_axis.z;
        let inv = inv * (1.0 / scale);
        let rows = inv.transpose().to_cols_array_2d();
        let ok = width.is_finite()
            && width > 0.0
            && scale.is_finite()
            && scale.abs() > 1e-12
            && rows.iter().flatten().all(|v| v.is_finite());
        ok.then(|| NeckWarp {
            inverse: rows.map(|r| r.map(|v| v as f32)),
            columns: [x0 as f32, x1 as f32],
            fade: (NECK_WARP_FADE * width) as f32,
            depth: (NECK_WARP_DEPTH * width) as f32,
        })
    }

    /// The warp's weight at torso-layer point `s` (continuous pixels), given
    /// the layer's [`top_edges`].
    pub fn weight(&self, top: &[f32], s: [f64; 2]) -> f64 {
        let f = |v: f32| f64::from(v);
        let outside = (f(self.columns[0]) - s[0])
            .max(s[0] - f(self.columns[1]))
            .max(0.0);
        let across = 1.0 - smoothstep(f(self.fade), outside);
        let col = (s[0].floor().max(0.0) as usize).min(top.len().saturating_sub(1));
        let below = s[1] - top.get(col).copied().map_or(f64::INFINITY, f);
        let down = if below <= 0.0 {
            1.0
        } else {
            1.0 - smoothstep(f(self.depth), below)
        };
        across * down
    }

    /// Where output point `q` (continuous pixels) samples the torso layer.
    pub fn source(&self, top: &[f32], q: [f64; 2]) -> [f64; 2] {
        let h = self.inverse.map(|r| r.map(f64::from));
        let w = h[2][0] * q[0] + h[2][1] * q[1] + h[2][2];
        let moved = [0, 1].map(|i| (h[i][0] * q[0] + h[i][1] * q[1] + h[i][2]) / w);
        let at = |wt: f64| [0, 1].map(|i| q[i] + wt * (moved[i] - q[i]));
        let s = at(self.weight(top, q));
        at(self.weight(top, s))
    }
}

/// `smoothstep(0, edge, x)`, WGSL's.
fn smoothstep(edge: f64, x: f64) -> f64 {
    let t = (x / edge).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// The torso layer's top edge: for each column, the row (continuous
/// coordinate of the pixel's top) of its first pixel with alpha at least
/// [`TOP_EDGE_ALPHA`], or the image's height where it has none.
pub fn top_edges(torso: &Image) -> Vec<f32> {
    let (w, h) = (torso.width as usize, torso.height as usize);
    // Row by row, stopping once every column has its edge: the renderer
    // runs this at every torso change (each frame of a playing track), and
    // walking columns would stride across the whole image.
    let mut top = vec![h as f32; w];
    let mut left = w;
    for (y, row) in torso.data.chunks_exact(w * 4).enumerate().take(h) {
        for (t, px) in top.iter_mut().zip(row.chunks_exact(4)) {
            if *t == h as f32 && px[3] >= TOP_EDGE_ALPHA {
                *t = y as f32;
                left -= 1;
            }
        }
        if left == 0 {
            break;
        }
    }
    top
}

#[cfg(test)]
mod tests {
    use super::*;

    fn camera(turn: f32) -> Camera {
        let (s, c) = turn.sin_cos();
        Camera {
            width: 64,
            height: 64,
            fx: 60.0,
            fy: 60.0,
            cx: 32.0,
            cy: 32.0,
            rotation: [[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]],
            translation: [0.0, 0.0, 40.0],
            near: 0.2,
        }
    }

    const JAW: [[f32; 3]; 3] = [[-6.0, 4.0, 6.0], [0.0, 10.0, 2.0], [6.0, 4.0, 6.0]];

    #[test]
    fn no_motion_samples_in_place() {
        let w = NeckWarp::between(&JAW, &camera(0.0), &camera(0.0)).expect("warp");
        let top = vec![40.0; 64];
        for q in [[10.5, 20.5], [32.5, 41.5], [60.5, 63.5]] {
            let s = w.source(&top, q);
            assert!(
                (s[0] - q[0]).abs() < 1e-4 && (s[1] - q[1]).abs() < 1e-4,
                "{q:?} -> {s:?}"
            );
        }
    }

    #[test]
    fn the_edge_follows_the_head_and_the_shoulders_stay() {
        let (t, h) = (camera(0.0), camera(0.3));
        let w = NeckWarp::between(&JAW, &t, &h).expect("warp");
        let top = vec![40.0; 64];
        // The plane's point at the top edge in the middle, as the head's
        // camera sees it, samples the torso's edge.
        let z = 40.0 + (6.0 + 2.0 + 6.0) / 3.0;
        let kinv = |p: [f64; 2]| [(p[0] - 32.0) / 60.0 * z, (p[1] - 32.0) / 60.0 * z, z];
        let x = kinv([32.0, 40.0]);
        // Head space (the torso camera has no rotation): x - t.
        let hp = DVec3::new(x[0], x[1], x[2] - 40.0);
        let (r, tr) = pose_of(&h);
        let c = r * hp + tr;
        let q = [60.0 * c.x / c.z + 32.0, 60.0 * c.y / c.z + 32.0];
        let s = w.source(&top, q);
        assert!(
            (s[0] - 32.0).abs() < 1e-3 && (s[1] - 40.0).abs() < 1e-3,
            "{q:?} -> {s:?}"
        );
        assert!(
            (q[1] - 40.0).abs() > 1.0,
            "the head's turn moves the edge ({q:?})"
        );
        // Far below the edge, and beside the jaw, nothing moves.
        for q in [[32.5, 63.5], [2.5, 41.5]] {
            assert_eq!(w.source(&top, q), q);
        }
    }

    #[test]
    fn top_edges_find_the_first_opaque_row() {
        let mut img = Image::solid(3, 4, [0; 4]);
        img.data[(2 * 3 + 1) * 4 + 3] = 200;
        img.data[(3 * 3 + 1) * 4 + 3] = 255;
        img.data[(3 * 3) * 4 + 3] = 100;
        assert_eq!(top_edges(&img), vec![4.0, 2.0, 4.0]);
    }

    #[test]
    fn degenerate_geometry_gives_no_warp() {
        assert!(NeckWarp::between(&JAW[..1], &camera(0.0), &camera(0.1)).is_none());
        let mut behind = camera(0.0);
        behind.translation[2] = -40.0;
        assert!(NeckWarp::between(&JAW, &behind, &camera(0.1)).is_none());
    }
}
