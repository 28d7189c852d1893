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


# --- the neck band ---------------------------------------------------------------
# The strip from the jaw line down to NECK_DEPTH times the face box's height,
# resampled to `width × depth` column by column along the jaw, so that two
# pictures whose jaws are in different places (a render with the head turned,
# against the real frame) compare strip against strip. The native trainer's
# `synctalk_train::eval::neck` computes the same strips (the fixture's vectors
# check it): column i at the fraction (i + ½) / width of the jaw's horizontal
# extent, row r at r + ½ pixels below the jaw line there (the polyline's
# lowest point at that x), bilinear samples clamped to the image.

# MediaPipe face-mesh points of the jaw line, from angle to angle through the chin.
JAW = [288, 397, 365, 379, 378, 400, 377, 152, 148, 176, 149, 150, 136, 172, 58]
NECK_DEPTH = 0.25


def _round(v: float) -> int:
    """Rounding half away from zero, as Rust's f64::round (v >= 0 here)."""
    return int(np.floor(v + 0.5))


def band_size(jaw: np.ndarray, box) -> tuple[int, int]:
    """(width, depth) of the neck band of a frame with jaw points [19, 2] and face box (x0, y0, x1, y1)."""
    width = max(_round(float(jaw[:, 0].max() - jaw[:, 0].min())), 1)
    depth = max(_round(NECK_DEPTH * float(box[3] - box[1])), 1)
    return width, depth


def jaw_line_at(jaw: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """The jaw polyline's lowest y at each x (image y grows down); the nearest point's y where no segment spans x."""
    xa, ya, xb, yb = jaw[:-1, 0], jaw[:-1, 1], jaw[1:, 0], jaw[1:, 1]
    lo, hi = np.minimum(xa, xb), np.maximum(xa, xb)
    x = np.asarray(xs, np.float64)[:, None]
    flat = hi - lo < 1e-12
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.where(flat, np.maximum(ya, yb), ya + (yb - ya) * (x - xa) / np.where(flat, 1.0, xb - xa))
    y = np.where((x >= lo) & (x <= hi), y, -np.inf).max(1)
    nearest = jaw[np.abs(jaw[:, 0][None, :] - x).argmin(1), 1]
    return np.where(np.isfinite(y), y, nearest)


def neck_strip(img: np.ndarray, jaw: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The band under `jaw` of an RGB image [H, W, 3], resampled to [depth, width, 3] float64."""
    h, w = img.shape[:2]
    width, depth = size
    lo, hi = float(jaw[:, 0].min()), float(jaw[:, 0].max())
    xs = lo + (np.arange(width) + 0.5) * (hi - lo) / width
    top = jaw_line_at(jaw, xs)
    x = np.broadcast_to(xs, (depth, width))
    y = top[None, :] + np.arange(depth)[:, None] + 0.5
    u, v = x - 0.5, y - 0.5
    i0, j0 = np.floor(u), np.floor(v)
    fx, fy = (u - i0)[..., None], (v - j0)[..., None]
    xa, xb = np.clip(i0, 0, w - 1).astype(int), np.clip(i0 + 1, 0, w - 1).astype(int)
    ya, yb = np.clip(j0, 0, h - 1).astype(int), np.clip(j0 + 1, 0, h - 1).astype(int)
    f = img.astype(np.float64)
    top_row = f[ya, xa] * (1 - fx) + f[ya, xb] * fx
    bottom = f[yb, xa] * (1 - fx) + f[yb, xb] * fx
    return top_row * (1 - fy) + bottom * fy


def neck_scores(rendered: np.ndarray, real: np.ndarray) -> dict:
    """PSNR, SSIM and LPIPS of two neck strips (float64 [depth, width, 3] in 0..255)."""
    from . import lpips

    a, b = rendered, real
    mse = np.mean((a - b) ** 2)
    out = {"psnr": float(10 * np.log10(255.0**2 / max(mse, 1e-12)))}
    out["ssim"] = ssim(a, b) if min(a.shape[:2]) >= 11 else float("nan")
    # LPIPS's AlexNet needs 64 pixels a side: a smaller band (a video under
    # about 400 px high) has none, NaN, which the means skip.
    if min(a.shape[:2]) >= 64:
        u8 = lambda x: np.clip(np.round(x), 0, 255).astype(np.uint8)  # noqa: E731
        out["lpips"] = lpips.distance(u8(a), u8(b))
    else:
        out["lpips"] = float("nan")
    return out
