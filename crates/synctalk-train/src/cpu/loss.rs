//! The image terms of torch_trainer.py's loss and their gradients with respect to
//! the composite and the head layer (see the module doc of [`super`] for
//! the formula).

use super::render::{Forward, OutputGrad};
use super::{ssim, CpuError};

/// Mask bit: the head's interior (alpha should be 1).
pub const MASK_INSIDE: u8 = 2;
/// Mask bit: far outside the head (alpha should be 0).
pub const MASK_OUTSIDE: u8 = 4;
/// Mask bit: the mouth region (L1 weighted up).
pub const MASK_MOUTH: u8 = 8;

/// Loss weights, torch_trainer.py's defaults by [`Default`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LossWeights {
    /// `--mouth-weight`: L1 weight is `1 + mouth` inside the mouth mask.
    pub mouth: f64,
    /// `--ssim-weight`, on `1 − SSIM`.
    pub ssim: f64,
    /// `--alpha-weight`, on the alpha loss.
    pub alpha: f64,
}

impl Default for LossWeights {
    fn default() -> Self {
        Self {
            mouth: 4.0,
            ssim: 0.2,
            alpha: 0.05,
        }
    }
}

/// The frame the render is compared with.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    /// Ground-truth RGB in [0, 1] per pixel, row-major.
    pub rgb: &'a [[f64; 3]],
    /// Mask bits per pixel (dataset `masks`: 1 head, 2 interior, 4 far
    /// outside, 8 mouth).
    pub masks: &'a [u8],
    /// Image width.
    pub width: usize,
    /// Image height.
    pub height: usize,
}

/// The loss and its terms.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Loss {
    /// `l1 + ssim_w (1 − ssim) + alpha_w · alpha`.
    pub total: f64,
    /// Mouth-weighted mean absolute error.
    pub l1: f64,
    /// Mean SSIM (the loss uses `1 − ssim`).
    pub ssim: f64,
    /// Mean `1 − a` over the interior plus mean `a` far outside.
    pub alpha: f64,
}

/// The image loss of a forward and its gradient with respect to the
/// forward's outputs. `pred` is the composite's RGB (torch_trainer.py's
/// `img + (1 − alpha) · under`), `a` the head layer's alpha. A mask region
/// with no pixels contributes 0 (torch_trainer.py would produce NaN).
pub fn image_loss(
    fwd: &Forward,
    target: &Target<'_>,
    weights: &LossWeights,
) -> Result<(Loss, OutputGrad), CpuError> {
    pixel_loss(&fwd.image, &fwd.head, target, weights)
}

/// [`image_loss`] of a composite `image` (straight RGBA, unclamped) and the
/// head layer `head` (premultiplied) it was made from.
pub fn pixel_loss(
    image: &[[f64; 4]],
    head: &[[f64; 4]],
    target: &Target<'_>,
    weights: &LossWeights,
) -> Result<(Loss, OutputGrad), CpuError> {
    let (w, h) = (target.width, target.height);
    let n = w * h;
    for (what, got) in [
        ("rendered image", image.len()),
        ("head layer", head.len()),
        ("target image", target.rgb.len()),
        ("target masks", target.masks.len()),
    ] {
        if got != n {
            return Err(CpuError::Length {
                what,
                got,
                expected: n,
            });
        }
    }
    let pred: Vec<[f64; 3]> = image.iter().map(|p| [p[0], p[1], p[2]]).collect();
    let mut grad = OutputGrad::zeros(n);

    // L1, mouth-weighted, mean over pixels and channels.
    let count = (3 * n) as f64;
    let mut l1 = 0.0;
    for (p, (pr, gt)) in pred.iter().zip(target.rgb).enumerate() {
        let mouth = target.masks[p] & MASK_MOUTH != 0;
        let wt = 1.0 + if mouth { weights.mouth } else { 0.0 };
        for c in 0..3 {
            let d = pr[c] - gt[c];
            l1 += wt * d.abs();
            // sign(0) = 0, as torch's abs backward.
            let sign = if d > 0.0 {
                1.0
            } else if d < 0.0 {
                -1.0
            } else {
                0.0
            };
            grad.image[p][c] += wt * sign / count;
        }
    }
    l1 /= count;

    // 1 - SSIM.
    let (s, d_ssim) = ssim::ssim(&pred, target.rgb, w, h)?;
    for (g, d) in grad.image.iter_mut().zip(&d_ssim) {
        for c in 0..3 {
            g[c] -= weights.ssim * d[c];
        }
    }

    // Alpha: mean (1 - a) inside + mean a outside, on the head layer.
    let inside = target
        .masks
        .iter()
        .filter(|&&m| m & MASK_INSIDE != 0)
        .count();
    let outside = target
        .masks
        .iter()
        .filter(|&&m| m & MASK_OUTSIDE != 0)
        .count();
    let mut alpha = 0.0;
    for ((hp, &m), gp) in head.iter().zip(target.masks).zip(&mut grad.head) {
        let a = hp[3];
        if inside > 0 && m & MASK_INSIDE != 0 {
            alpha += (1.0 - a) / inside as f64;
            gp[3] -= weights.alpha / inside as f64;
        }
        if outside > 0 && m & MASK_OUTSIDE != 0 {
            alpha += a / outside as f64;
            gp[3] += weights.alpha / outside as f64;
        }
    }
    let total = l1 + weights.ssim * (1.0 - s) + weights.alpha * alpha;
    Ok((
        Loss {
            total,
            l1,
            ssim: s,
            alpha,
        },
        grad,
    ))
}
