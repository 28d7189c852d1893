"""Image metrics of a rendered frame against the real one: PSNR, SSIM and
LPIPS (AlexNet, v0.1: `lpips.py`), in numpy (no GPU needed)."""
from __future__ import annotations

import numpy as np


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 images."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / max(mse, 1e-12)))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two uint8 RGB images (11×11 Gaussian window, σ 1.5,
    valid positions only), as `train.ssim` computes it."""
    from scipy.ndimage import correlate1d

    g = np.exp(-((np.arange(11) - 5.0) ** 2) / (2 * 1.5**2))
    g /= g.sum()

    def blur(x):
        return correlate1d(correlate1d(x, g, axis=0, mode="constant"), g, axis=1, mode="constant")[5:-5, 5:-5]

    x, y = a.astype(np.float64) / 255, b.astype(np.float64) / 255
    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    return float((((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx**2 + my**2 + c1) * (sxx + syy + c2))).mean())


def face_box(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """The face's box (x0, y0, x1, y1, int64) in a `width`×`height` frame:
    the bounding box of the frame's landmarks [N, 2+] (pixels), clipped to it."""
    xy = np.asarray(landmarks)[:, :2]
    lo, hi = np.floor(xy.min(0)), np.ceil(xy.max(0))
    return np.concatenate([np.clip(lo, 0, [width, height]), np.clip(hi, 0, [width, height])]).astype(np.int64)


def image_scores(img: np.ndarray, gt: np.ndarray, box) -> dict:
    """PSNR, SSIM and LPIPS of a rendered frame against the real one, full and in `box` (x0, y0, x1, y1)."""
    from . import lpips

    x0, y0, x1, y1 = (int(v) for v in box)
    out = {}
    for key, a, b in (("full", img, gt), ("face", img[y0:y1, x0:x1], gt[y0:y1, x0:x1])):
        out[key] = {"psnr": psnr(a, b), "ssim": ssim(a, b), "lpips": lpips.distance(a, b)}
    return out
