//! The neck band: where a head rendered over the torso layer meets the
//! neck, and where a seam shows (issue 20).
//!
//! The band is the strip from the jaw line down to [`NECK_DEPTH`] times the
//! face's height below it. It is resampled into a `width × depth` image,
//! column by column along the jaw, so that two pictures whose jaws are in
//! different places (a render with the head turned, against the real
//! frame) compare strip against strip: column `i` of a band lies at the
//! fraction `(i + ½) / width` of its jaw's horizontal extent, row `r` at
//! `r + ½` pixels below the jaw line there (the lowest point of the jaw's
//! polyline at that `x`); samples are bilinear, clamped to the image. The
//! real frame's band fixes the size; for the same frame and jaw the two
//! strips sample the same points, and the scores are those of the band's
//! pixels. The toolchain's `metrics.neck_strip` computes the same strips
//! (tested on the fixture).

use super::Plane;

/// MediaPipe face-mesh points of the jaw line, from one angle of the jaw to
/// the other through the chin (152): the face oval's lowest part.
pub const JAW: [usize; 15] = [
    288, 397, 365, 379, 378, 400, 377, 152, 148, 176, 149, 150, 136, 172, 58,
];

/// The band's depth below the jaw, as a fraction of the face box's height.
pub const NECK_DEPTH: f64 = 0.25;

/// The jaw line's points (pixels) of a frame's landmarks (478 per frame,
/// `[x, y, depth]`); empty if there are too few landmarks.
pub fn jaw_of(landmarks: &[[f32; 3]]) -> Vec<[f64; 2]> {
    if landmarks.len() <= JAW.iter().copied().max().unwrap_or(0) {
        return Vec::new();
    }
    JAW.iter()
        .map(|&j| [f64::from(landmarks[j][0]), f64::from(landmarks[j][1])])
        .collect()
}

/// The band's size `(width, depth)` for a frame with jaw `jaw` and face box
/// `face_box` `[x0, y0, x1, y1)`: the jaw's horizontal extent and
/// [`NECK_DEPTH`] of the box's height, rounded (at least 1 each).
pub fn band_size(jaw: &[[f64; 2]], face_box: [u32; 4]) -> (usize, usize) {
    let (lo, hi) = x_extent(jaw);
    let width = (hi - lo).round().max(1.0) as usize;
    let depth = (NECK_DEPTH * f64::from(face_box[3].saturating_sub(face_box[1])))
        .round()
        .max(1.0) as usize;
    (width, depth)
}

fn x_extent(jaw: &[[f64; 2]]) -> (f64, f64) {
    jaw.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p[0]), hi.max(p[0]))
        })
}

/// The lowest point of the polyline `jaw` at `x` (image y grows down):
/// the largest y of the segments spanning `x`, else the nearest point's.
pub fn jaw_line_at(jaw: &[[f64; 2]], x: f64) -> f64 {
    let mut best = f64::NEG_INFINITY;
    for s in jaw.windows(2) {
        let ([xa, ya], [xb, yb]) = (s[0], s[1]);
        let (lo, hi) = (xa.min(xb), xa.max(xb));
        if x < lo || x > hi {
            continue;
        }
        let y = if hi - lo < 1e-12 {
            ya.max(yb)
        } else {
            ya + (yb - ya) * (x - xa) / (xb - xa)
        };
        best = best.max(y);
    }
    if best.is_finite() {
        return best;
    }
    jaw.iter()
        .min_by(|a, b| (a[0] - x).abs().total_cmp(&(b[0] - x).abs()))
        .map_or(0.0, |p| p[1])
}

/// The band below `jaw` of a `w × h` image whose pixel `i` (row-major) is
/// `rgb(i)`, resampled to `width × depth` (see the module's doc).
pub fn neck_strip(
    rgb: impl Fn(usize) -> [u8; 3],
    w: usize,
    h: usize,
    jaw: &[[f64; 2]],
    (width, depth): (usize, usize),
) -> Plane {
    let (lo, hi) = x_extent(jaw);
    if w == 0 || h == 0 || jaw.is_empty() {
        return Plane {
            width,
            height: depth,
            data: vec![[0.0; 3]; width * depth],
        };
    }
    let at = |x: f64, y: f64| -> [f64; 3] {
        let (u, v) = (x - 0.5, y - 0.5);
        let (i0, j0) = (u.floor(), v.floor());
        let (fx, fy) = (u - i0, v - j0);
        let clamp = |k: f64, n: usize| k.clamp(0.0, (n - 1) as f64) as usize;
        let (xa, xb) = (clamp(i0, w), clamp(i0 + 1.0, w));
        let (ya, yb) = (clamp(j0, h), clamp(j0 + 1.0, h));
        let (p00, p10) = (rgb(ya * w + xa), rgb(ya * w + xb));
        let (p01, p11) = (rgb(yb * w + xa), rgb(yb * w + xb));
        std::array::from_fn(|c| {
            let top = f64::from(p00[c]) * (1.0 - fx) + f64::from(p10[c]) * fx;
            let bottom = f64::from(p01[c]) * (1.0 - fx) + f64::from(p11[c]) * fx;
            top * (1.0 - fy) + bottom * fy
        })
    };
    let xs: Vec<(f64, f64)> = (0..width)
        .map(|i| {
            let x = lo + (i as f64 + 0.5) * (hi - lo) / width as f64;
            (x, jaw_line_at(jaw, x))
        })
        .collect();
    let data = (0..depth)
        .flat_map(|r| xs.iter().map(move |&(x, y)| (x, y + r as f64 + 0.5)))
        .map(|(x, y)| at(x, y))
        .collect();
    Plane {
        width,
        height: depth,
        data,
    }
}
