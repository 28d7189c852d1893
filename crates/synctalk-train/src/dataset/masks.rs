//! The per-frame loss masks of torch_trainer.py's `load_dataset`, with the OpenCV
//! operations it uses written out: elliptic structuring elements
//! (`cv2.getStructuringElement(MORPH_ELLIPSE)`), binary dilation and
//! erosion with OpenCV's default border (pixels outside the image never
//! dilate nor erode), and `cv2.fillPoly` of the outer lips.
//!
//! Masks are one byte per pixel, row-major, 0 or 1.

/// Mask bit: a head pixel (face, mouth, hair or the rest of the head).
pub const HEAD: u8 = 1;
/// Mask bit: the head eroded by a 9 px ellipse (away from its edge).
pub const HEAD_INTERIOR: u8 = 2;
/// Mask bit: outside the head dilated by a 31 px ellipse.
pub const FAR_OUTSIDE: u8 = 4;
/// Mask bit: the mouth region (the outer lips' polygon dilated by a 13 px
/// ellipse, and the parsing's mouth-interior label).
pub const MOUTH: u8 = 8;

/// The parsing labels of `parsing.py`.
pub mod labels {
    /// The face inside MediaPipe's oval.
    pub const FACE: u8 = 1;
    /// The mouth interior.
    pub const MOUTH: u8 = 2;
    /// Hair.
    pub const HAIR: u8 = 3;
    /// Neck and torso.
    pub const TORSO: u8 = 4;
    /// The rest of the head (ears, forehead above the oval).
    pub const HEAD_OTHER: u8 = 5;
}

/// The outer lip contour's landmark indices (torch_trainer.py's `OUTER_LIPS`).
pub const OUTER_LIPS: [usize; 20] = [
    61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185,
];

/// An elliptic structuring element of odd size `k` × `k`, as
/// `cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))`: per row, the
/// half-width of its run of ones around the centre column (`None`: an empty
/// row; OpenCV's ellipses have none at odd sizes).
pub fn ellipse(k: usize) -> Vec<Option<usize>> {
    let r = (k / 2) as i64;
    let c = (k / 2) as f64;
    let inv_r2 = if r > 0 { 1.0 / (r * r) as f64 } else { 0.0 };
    (0..k as i64)
        .map(|i| {
            let dy = i - r;
            if dy.abs() > r {
                return None;
            }
            // OpenCV rounds with cvRound: to nearest, ties to even.
            let dx = (c * (((r * r - dy * dy) as f64) * inv_r2).sqrt()).round_ties_even();
            Some(dx.max(0.0) as usize)
        })
        .collect()
}

/// Binary dilation of `src` (`w` × `h`, 0/1) by an [`ellipse`] element
/// centred on each pixel, as `cv2.dilate`: a pixel is set when any pixel of
/// the element around it is; pixels outside the image count as unset.
pub fn dilate(src: &[u8], w: usize, h: usize, element: &[Option<usize>]) -> Vec<u8> {
    let r = element.len() / 2;
    // Row-wise dilation per distinct half-width, by prefix sums.
    let mut widths: Vec<usize> = element.iter().flatten().copied().collect();
    widths.sort_unstable();
    widths.dedup();
    let mut prefix = vec![0u32; w + 1];
    let mut rows: Vec<Vec<u8>> = vec![vec![0; w * h]; widths.len()];
    for y in 0..h {
        let line = &src[y * w..(y + 1) * w];
        for x in 0..w {
            prefix[x + 1] = prefix[x] + u32::from(line[x] != 0);
        }
        for (wi, &hw) in widths.iter().enumerate() {
            let out = &mut rows[wi][y * w..(y + 1) * w];
            for (x, o) in out.iter_mut().enumerate() {
                let lo = x.saturating_sub(hw);
                let hi = (x + hw + 1).min(w);
                *o = u8::from(prefix[hi] > prefix[lo]);
            }
        }
    }
    let mut dst = vec![0u8; w * h];
    for (i, half) in element.iter().enumerate() {
        let Some(hw) = half else { continue };
        let Ok(wi) = widths.binary_search(hw) else {
            continue;
        };
        let layer = &rows[wi];
        // Output row y reads source row y + i - r.
        for y in 0..h {
            let sy = y + i;
            if sy < r || sy - r >= h {
                continue;
            }
            let sy = sy - r;
            let (out, src_row) = (&mut dst[y * w..(y + 1) * w], &layer[sy * w..(sy + 1) * w]);
            for (o, &s) in out.iter_mut().zip(src_row) {
                *o |= s;
            }
        }
    }
    dst
}

/// Binary erosion, as `cv2.erode`: a pixel stays set when every pixel of the
/// element around it inside the image is set (outside counts as set).
pub fn erode(src: &[u8], w: usize, h: usize, element: &[Option<usize>]) -> Vec<u8> {
    let inverse: Vec<u8> = src.iter().map(|&v| u8::from(v == 0)).collect();
    dilate(&inverse, w, h, element)
        .into_iter()
        .map(|v| u8::from(v == 0))
        .collect()
}

/// Fills the polygon `pts` (integer pixel coordinates) into `dst` with 1,
/// as `cv2.fillPoly(dst, [pts], 1)` with its defaults (8-connected, no
/// sub-pixel shift) in OpenCV 5.1: the outline drawn as 8-connected lines,
/// then each scanline filled between pairs of edge crossings, walked in
/// 16.16 fixed point from the pixel centre with the slope rounded down; a
/// crossing at an exact pixel boundary ends the span before that pixel.
/// Equal to OpenCV's on the fixture's lips and on 200 random polygons
/// (`expected/fill_poly.png`, tested). Polygons reaching out of the image
/// are clipped per pixel, where OpenCV first clips the edges to the image:
/// the two may differ along the image border.
pub fn fill_poly(dst: &mut [u8], w: usize, h: usize, pts: &[[i32; 2]]) {
    const SHIFT: u32 = 16;
    let n = pts.len();
    if n == 0 {
        return;
    }
    for i in 0..n {
        let (a, b) = (pts[(i + n - 1) % n], pts[i]);
        line8(dst, w, h, a, b);
    }
    // Edges: (y0, y1, x at y0 in 16.16 fixed point, dx per scanline).
    let mut edges: Vec<(i64, i64, i64, i64)> = Vec::with_capacity(n);
    for i in 0..n {
        let (p0, p1) = (pts[(i + n - 1) % n], pts[i]);
        if p0[1] == p1[1] {
            continue;
        }
        let half = 1i64 << (SHIFT - 1);
        let x0 = (i64::from(p0[0]) << SHIFT) + half;
        let x1 = (i64::from(p1[0]) << SHIFT) + half;
        let (y0, y1) = (i64::from(p0[1]), i64::from(p1[1]));
        let dx = floor_div(x1 - x0, y1 - y0);
        edges.push(if y0 < y1 {
            (y0, y1, x0, dx)
        } else {
            (y1, y0, x1, dx)
        });
    }
    if edges.len() < 2 {
        return;
    }
    let y_min = edges.iter().map(|e| e.0).min().unwrap_or(0).max(0);
    let y_max = edges.iter().map(|e| e.1).max().unwrap_or(0).min(h as i64);
    let mut xs: Vec<i64> = Vec::with_capacity(edges.len());
    for y in y_min..y_max {
        xs.clear();
        xs.extend(
            edges
                .iter()
                .filter(|e| e.0 <= y && y < e.1)
                .map(|e| e.2 + (y - e.0) * e.3),
        );
        xs.sort_unstable();
        let row = &mut dst[y as usize * w..(y as usize + 1) * w];
        for pair in xs.chunks_exact(2) {
            let x1 = (pair[0] >> SHIFT).max(0);
            let x2 = ((pair[1] - 1) >> SHIFT).min(w as i64 - 1);
            if x1 <= x2 {
                row[x1 as usize..=x2 as usize].fill(1);
            }
        }
    }
}

/// `a / b` rounded towards minus infinity.
fn floor_div(a: i64, b: i64) -> i64 {
    let q = a / b;
    if a % b != 0 && ((a < 0) != (b < 0)) {
        q - 1
    } else {
        q
    }
}

/// An 8-connected line from `a` to `b` (both ends included), drawn left to
/// right with OpenCV's Bresenham rule; pixels outside the image are skipped.
fn line8(dst: &mut [u8], w: usize, h: usize, a: [i32; 2], b: [i32; 2]) {
    let (a, b) = if a[0] > b[0] { (b, a) } else { (a, b) };
    let (dx, dy) = (
        i64::from(b[0]) - i64::from(a[0]),
        i64::from(b[1]) - i64::from(a[1]),
    );
    let sy = if dy < 0 { -1 } else { 1 };
    let dy = dy.abs();
    // Major and minor axis steps.
    let (major, minor, steep) = if dy > dx {
        (dy, dx, true)
    } else {
        (dx, dy, false)
    };
    let mut err = major - 2 * minor;
    let (mut x, mut y) = (i64::from(a[0]), i64::from(a[1]));
    for _ in 0..=major {
        if x >= 0 && y >= 0 && (x as usize) < w && (y as usize) < h {
            dst[y as usize * w + x as usize] = 1;
        }
        let minor_step = err < 0;
        err += -2 * minor + if minor_step { 2 * major } else { 0 };
        if steep {
            y += sy;
            if minor_step {
                x += 1;
            }
        } else {
            x += 1;
            if minor_step {
                y += sy;
            }
        }
    }
}

/// One frame's mask bits ([`HEAD`], [`HEAD_INTERIOR`], [`FAR_OUTSIDE`],
/// [`MOUTH`]) from its parsing labels and its landmarks (pixels), as
/// `load_dataset` computes them. Also returns the head mask (0/1), which
/// [`super::torso::extend_torso`] needs.
pub fn frame_masks(
    labels: &[u8],
    w: usize,
    h: usize,
    landmarks: &[[f32; 3]],
) -> (Vec<u8>, Vec<u8>) {
    use labels::{FACE, HAIR, HEAD_OTHER, MOUTH as MOUTH_LABEL};
    let head: Vec<u8> = labels
        .iter()
        .map(|&l| u8::from(matches!(l, FACE | MOUTH_LABEL | HAIR | HEAD_OTHER)))
        .collect();
    let mut lips = vec![0u8; w * h];
    // np.round(...).astype(np.int32): ties to even, then to int.
    let poly: Vec<[i32; 2]> = OUTER_LIPS
        .iter()
        .map(|&i| {
            let p = landmarks[i];
            [p[0].round_ties_even() as i32, p[1].round_ties_even() as i32]
        })
        .collect();
    fill_poly(&mut lips, w, h, &poly);
    let mouth = dilate(&lips, w, h, &ellipse(13));
    let interior = erode(&head, w, h, &ellipse(9));
    let near = dilate(&head, w, h, &ellipse(31));
    let bits = (0..w * h)
        .map(|i| {
            let m = u8::from(mouth[i] != 0 || labels[i] == MOUTH_LABEL);
            (head[i] * HEAD)
                | (interior[i] * HEAD_INTERIOR)
                | ((1 - near[i]) * FAR_OUTSIDE)
                | (m * MOUTH)
        })
        .collect();
    (bits, head)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Row widths of cv2.getStructuringElement(MORPH_ELLIPSE, (k, k)),
    /// printed by OpenCV 4 / 5.
    #[test]
    fn ellipses_match_opencv() {
        let widths = |k| -> Vec<usize> {
            ellipse(k)
                .iter()
                .map(|r| r.map_or(0, |hw| 2 * hw + 1))
                .collect()
        };
        assert_eq!(widths(9), [1, 7, 7, 9, 9, 9, 7, 7, 1]);
        assert_eq!(widths(13), [1, 7, 9, 11, 13, 13, 13, 13, 13, 11, 9, 7, 1]);
        assert_eq!(
            widths(31),
            [
                1, 11, 15, 19, 21, 23, 25, 27, 27, 29, 29, 29, 31, 31, 31, 31, 31, 31, 31, 29, 29,
                29, 27, 27, 25, 23, 21, 19, 15, 11, 1
            ]
        );
    }

    #[test]
    fn dilate_and_erode_a_point_and_the_border() {
        let (w, h) = (9, 9);
        let mut a = vec![0u8; w * h];
        a[4 * w + 4] = 1;
        let d = dilate(&a, w, h, &ellipse(5));
        // The 5×5 ellipse: rows of 1, 5, 5, 5, 1.
        assert_eq!(d.iter().map(|&v| u32::from(v)).sum::<u32>(), 17);
        assert_eq!(erode(&d, w, h, &ellipse(5)), a);
        // Outside the image counts as set for erosion: a full image stays full.
        assert!(erode(&vec![1; w * h], w, h, &ellipse(5))
            .iter()
            .all(|&v| v == 1));
    }

    #[test]
    fn fills_a_square_with_its_outline() {
        let (w, h) = (8, 8);
        let mut a = vec![0u8; w * h];
        fill_poly(&mut a, w, h, &[[1, 1], [5, 1], [5, 4], [1, 4]]);
        for y in 0..h {
            for x in 0..w {
                let inside = (1..=5).contains(&x) && (1..=4).contains(&y);
                assert_eq!(a[y * w + x], u8::from(inside), "({x}, {y})");
            }
        }
    }
}
