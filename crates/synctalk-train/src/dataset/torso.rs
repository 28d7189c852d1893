//! torch_trainer.py's `extend_torso`: the torso layer grown into the head region
//! next to it (the neck under the chin) by repeating its nearest pixel, so
//! that where the head's edge is not fully opaque the viewer sees neck, not
//! the background plate.
//!
//! "Nearest" is OpenCV's: `cv2.distanceTransformWithLabels(DIST_L2, 5,
//! DIST_LABEL_PIXEL)`, the two-pass 5×5 chamfer distance (weights 1, 1.4,
//! 2.1969 in 16.16 fixed point) that carries, with each distance, the torso
//! pixel it came from. The passes, their neighbour order and their strict
//! comparisons are OpenCV's, so ties resolve the same way.

/// How far (chamfer pixels) the torso grows into the head: torch_trainer.py's `reach`.
pub const REACH: f32 = 24.0;

const SHIFT: u32 = 16;

/// A chamfer weight in 16.16 fixed point, rounded as OpenCV's `cvRound`.
fn fixed(v: f32) -> u32 {
    (v * (1u32 << SHIFT) as f32).round_ties_even() as u32
}

/// The chamfer distance (16.16 fixed point) from every pixel to the nearest
/// pixel where `seed` is set, and that pixel's index (`usize::MAX` where
/// none reached it), as OpenCV's labelled 5×5 distance transform.
pub fn distance_with_nearest(seed: &[bool], w: usize, h: usize) -> (Vec<u32>, Vec<usize>) {
    let hv = fixed(1.0);
    let diag = fixed(1.4);
    let long = fixed(2.1969);
    let max = u32::MAX - long;
    const B: usize = 2;
    let tw = w + 2 * B;
    // Distances with a 2-pixel border that is never reached.
    let mut d = vec![max; tw * (h + 2 * B)];
    let mut lab = vec![usize::MAX; tw * (h + 2 * B)];
    let at = |x: usize, y: usize| (y + B) * tw + x + B;
    // (dx, dy, weight) of the forward pass's neighbours, in OpenCV's order;
    // the backward pass mirrors them.
    let forward: [(isize, isize, u32); 8] = [
        (-1, -2, long),
        (1, -2, long),
        (-2, -1, long),
        (-1, -1, diag),
        (0, -1, hv),
        (1, -1, diag),
        (2, -1, long),
        (-1, 0, hv),
    ];
    let tw_i = tw as isize;
    for y in 0..h {
        for x in 0..w {
            let i = at(x, y);
            if seed[y * w + x] {
                d[i] = 0;
                lab[i] = y * w + x;
                continue;
            }
            let (mut t0, mut l0) = (max, usize::MAX);
            for &(dx, dy, wgt) in &forward {
                let j = (i as isize + dy * tw_i + dx) as usize;
                let t = d[j].saturating_add(wgt);
                if t0 > t {
                    t0 = t;
                    l0 = lab[j];
                }
            }
            d[i] = t0;
            lab[i] = l0;
        }
    }
    for y in (0..h).rev() {
        for x in (0..w).rev() {
            let i = at(x, y);
            let (mut t0, mut l0) = (d[i], lab[i]);
            if t0 <= hv {
                continue;
            }
            for &(dx, dy, wgt) in &forward {
                let j = (i as isize - dy * tw_i - dx) as usize;
                let t = d[j].saturating_add(wgt);
                if t0 > t {
                    t0 = t;
                    l0 = lab[j];
                }
            }
            d[i] = t0;
            lab[i] = l0;
        }
    }
    let mut dist = Vec::with_capacity(w * h);
    let mut nearest = Vec::with_capacity(w * h);
    for y in 0..h {
        dist.extend_from_slice(&d[at(0, y)..at(0, y) + w]);
        nearest.extend_from_slice(&lab[at(0, y)..at(0, y) + w]);
    }
    (dist, nearest)
}

/// The torso layer (RGBA, straight alpha, row-major `w` × `h`) grown into
/// the head pixels (`head` 0/1) within [`REACH`] of it: each such pixel takes
/// the colour of its nearest torso pixel (alpha > 0) and alpha 255. A frame
/// without torso pixels is returned unchanged.
pub fn extend_torso(rgba: &[[u8; 4]], head: &[u8], w: usize, h: usize) -> Vec<[u8; 4]> {
    let have: Vec<bool> = rgba.iter().map(|p| p[3] > 0).collect();
    let mut out = rgba.to_vec();
    if !have.iter().any(|&v| v) {
        return out;
    }
    let (dist, nearest) = distance_with_nearest(&have, w, h);
    let scale = 1.0f32 / (1u32 << SHIFT) as f32;
    for i in 0..w * h {
        // OpenCV's float distance: the fixed-point value times 2⁻¹⁶ in f32.
        let grow = head[i] > 0 && !have[i] && dist[i] as f32 * scale <= REACH;
        if let (true, Some(src)) = (grow, rgba.get(nearest[i])) {
            out[i] = [src[0], src[1], src[2], 255];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chamfer_weights_as_opencv() {
        assert_eq!(
            (fixed(1.0), fixed(1.4), fixed(2.1969)),
            (65536, 91750, 143976)
        );
    }

    #[test]
    fn grows_the_nearest_colour_into_the_head_only() {
        let (w, h) = (40, 3);
        let mut rgba = vec![[0u8; 4]; w * h];
        for y in 0..h {
            rgba[y * w] = [10, 20, 30, 255];
            rgba[y * w + 1] = [40, 50, 60, 255];
        }
        let mut head = vec![0u8; w * h];
        for y in 0..h {
            for x in 2..w {
                head[y * w + x] = u8::from(y != 1 || x < 10);
            }
        }
        let out = extend_torso(&rgba, &head, w, h);
        assert_eq!(out[2], [40, 50, 60, 255]);
        assert_eq!(out[25], [40, 50, 60, 255], "24 px away");
        assert_eq!(out[26], [0; 4], "25 px away");
        assert_eq!(out[w + 12], [0; 4], "not head");
        assert_eq!(out[w + 9], [40, 50, 60, 255]);
    }
}
