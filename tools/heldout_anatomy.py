"""Where a portrait's held-out error sits (docs/portrait-quality.md, "What a
held-out score can be"): over the held-out frames rendered by `synctalk
evaluate` / `synctalk train` (RENDERED/frame_NNNNNN.png), the face box's
squared error split by MediaPipe region (lips, eyes, brows, nose, the oval's
edge, the rest inside the oval, the box outside it), the PSNR gained by the
best whole-box shift of each frame (±6 px: rigid misalignment), and the
renders' fine detail against the real frames' (spread of the Laplacian of
grey in the face box).

Usage: python3 tools/heldout_anatomy.py DATASET RENDERED [--holdout poses]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy.ndimage import binary_dilation, laplace

from synctalk_toolchain import holdout, metrics

# MediaPipe face-mesh outlines.
LIPS = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185]
EYES = ([33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246],
        [362, 382, 381, 380, 374, 373, 390, 249, 263, 466, 388, 387, 386, 385, 384, 398])
BROWS = ([70, 63, 105, 66, 107, 55, 65, 52, 53, 46], [300, 293, 334, 296, 336, 285, 295, 282, 283, 276])
NOSE = [168, 6, 197, 195, 5, 4, 1, 19, 94, 2, 98, 97, 326, 327, 294, 278, 344, 440, 275, 45, 220, 115, 48, 64]
OVAL = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148,
        176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109]
EDGE_PX = 8


def polygon(points: np.ndarray, shape, grow: int = 0) -> np.ndarray:
    im = Image.new("L", (shape[1], shape[0]), 0)
    ImageDraw.Draw(im).polygon([tuple(p) for p in points], fill=1)
    m = np.array(im, bool)
    return binary_dilation(m, iterations=grow) if grow else m


def regions(lm: np.ndarray, shape) -> dict[str, np.ndarray]:
    """Disjoint masks, in this order of precedence."""
    oval = polygon(lm[OVAL], shape)
    inner = oval & ~binary_dilation(~oval, iterations=EDGE_PX)
    masks = {
        "lips (3 px around)": polygon(lm[LIPS], shape, 3),
        "eyes (4 px around)": polygon(lm[EYES[0]], shape, 4) | polygon(lm[EYES[1]], shape, 4),
        "brows (3 px around)": polygon(lm[BROWS[0]], shape, 3) | polygon(lm[BROWS[1]], shape, 3),
        "nose": polygon(lm[NOSE], shape),
        f"oval's edge ({EDGE_PX} px)": oval & ~inner,
        "rest inside the oval": inner,
        "box outside the oval (hair, background)": np.ones(shape, bool),
    }
    used = np.zeros(shape, bool)
    for k in masks:
        masks[k] = masks[k] & ~used
        used |= masks[k]
    return masks


def anatomy(dataset: Path, rendered: Path, holdout_by: str = "dataset") -> dict:
    _, val = holdout.split(dataset, holdout_by)
    lms = np.load(dataset / "landmarks.npy")
    se: dict[str, float] = {}
    area: dict[str, int] = {}
    plain, shifted, detail_r, detail_g = [], [], [], []
    for t in (int(t) for t in val):
        gt = np.asarray(Image.open(dataset / "frames" / f"{t:06d}.jpg").convert("RGB"), np.float64) / 255
        path = rendered / f"frame_{t:06d}.png"
        if not path.is_file():
            raise ValueError(f"{path}: missing")
        img = np.asarray(Image.open(path).convert("RGB"), np.float64) / 255
        if img.shape != gt.shape:
            raise ValueError(f"{path}: {img.shape[1]}x{img.shape[0]}, the dataset's frames are {gt.shape[1]}x{gt.shape[0]}")
        x0, y0, x1, y1 = (int(v) for v in metrics.face_box(lms[t], gt.shape[1], gt.shape[0]))
        err = ((img - gt) ** 2).sum(-1)[y0:y1, x0:x1]
        lm = lms[t, :, :2] - [x0, y0]
        for k, m in regions(lm, err.shape).items():
            se[k] = se.get(k, 0.0) + float(err[m].sum())
            area[k] = area.get(k, 0) + int(m.sum())
        h, w = gt.shape[:2]

        def psnr(dx, dy):
            if not (0 <= x0 + dx and x1 + dx <= w and 0 <= y0 + dy and y1 + dy <= h):
                return -np.inf
            d = img[y0 + dy:y1 + dy, x0 + dx:x1 + dx] - gt[y0:y1, x0:x1]
            return 10 * np.log10(1 / max((d ** 2).mean(), 1e-12))

        plain.append(psnr(0, 0))
        shifted.append(max(psnr(dx, dy) for dx in range(-6, 7) for dy in range(-6, 7)))
        detail_r.append(laplace(img[y0:y1, x0:x1].mean(-1)).std())
        detail_g.append(laplace(gt[y0:y1, x0:x1].mean(-1)).std())
    if not plain:
        raise ValueError(f"{dataset}: no held-out frames under `{holdout_by}`")
    total_se, total_area = sum(se.values()), sum(area.values())
    if total_se == 0:
        raise ValueError(f"{rendered}: the renders equal the real frames; nothing to split")
    return {
        "frames": [int(t) for t in val],
        "face_box_psnr": round(10 * np.log10(3 * total_area / total_se), 3),
        "regions": {k: {"share_of_error": round(se[k] / total_se, 4), "share_of_area": round(area[k] / total_area, 4),
                        "psnr": round(10 * np.log10(3 * area[k] / se[k]), 3) if se[k] > 0 else None}
                    for k in se},
        "mean_frame_psnr": round(float(np.mean(plain)), 3),
        "best_shift_psnr": round(float(np.mean(shifted)), 3),
        "detail_ratio": round(float(np.mean(detail_r) / np.mean(detail_g)), 3),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("rendered", type=Path)
    ap.add_argument("--holdout", choices=holdout.CHOICES, default="dataset")
    a = ap.parse_args(argv)
    try:
        print(json.dumps(anatomy(a.dataset, a.rendered, a.holdout), indent=1))
    except (OSError, ValueError) as e:
        print(f"heldout_anatomy: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
