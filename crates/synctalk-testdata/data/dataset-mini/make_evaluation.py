"""Writes expected/evaluation.json: what the toolchain's held-out evaluation
makes of the fixture, for crates/synctalk-train/tests/evaluation.rs to
compare the native trainer's with:

    pose_distances   holdout.pose_distances per frame (pixels)
    poses_split      holdout.split(..., "poses"): train and val frames
    neck             per frame: the jaw points, band_size, and statistics of
                     metrics.neck_strip (sum and sum of squares per channel,
                     16 sampled values) of a pattern image (PATTERN: the same
                     pixels in both languages, unlike the JPEG decoders'),
                     also with the jaw moved by (3.7, -2.2) px (a turned
                     head's band), and the PSNR and SSIM of that moved strip
                     against the unmoved one

Run from the repository root with the toolchain's Python:
    PYTHONPATH=models/toolchain/src python crates/synctalk-testdata/data/dataset-mini/make_evaluation.py
"""
import json
from pathlib import Path

import numpy as np

from synctalk_toolchain import holdout, metrics

here = Path(__file__).resolve().parent
meta = json.loads((here / "dataset.json").read_text())
tr = json.loads((here / "transforms.json").read_text())
poses = np.array([f["head_to_camera"] for f in tr["frames"]], np.float64)
K = np.array([[tr["fl_x"], 0, tr["cx"]], [0, tr["fl_y"], tr["cy"]], [0, 0, 1]], np.float64)
dist = holdout.pose_distances(poses, K, np.load(here / "canonical_face.npy"))
train, val = holdout.split(here, "poses")
lm = np.load(here / "landmarks.npy")
SHIFT = np.array([3.7, -2.2])


def stats(strip: np.ndarray) -> dict:
    flat = strip.reshape(-1, 3)
    picks = np.linspace(0, flat.size - 1, 16).astype(int)
    return {"sum": flat.sum(0).tolist(), "sum_sq": (flat**2).sum(0).tolist(), "picks": picks.tolist(),
            "values": flat.reshape(-1)[picks].tolist()}


# The pattern image: (7 x + 13 y + 50 c) mod 256.
yy, xx, cc = np.meshgrid(np.arange(tr["h"]), np.arange(tr["w"]), np.arange(3), indexing="ij")
img = ((7 * xx + 13 * yy + 50 * cc) % 256).astype(np.uint8)
neck = []
for t in range(meta["frames"]):
    jaw = lm[t, metrics.JAW, :2].astype(np.float64)
    box = metrics.face_box(lm[t], img.shape[1], img.shape[0])
    size = metrics.band_size(jaw, box)
    own = metrics.neck_strip(img, jaw, size)
    moved = metrics.neck_strip(img, jaw + SHIFT, size)
    s = metrics.neck_scores(moved, own)
    neck.append({"frame": t, "jaw": jaw.tolist(), "size": list(size), "strip": stats(own), "moved": stats(moved),
                 "moved_vs_own": {"psnr": s["psnr"], "ssim": s["ssim"]}})
out = {"pose_distances": dist.tolist(), "poses_split": {"train": train.tolist(), "val": val.tolist()},
       "shift": SHIFT.tolist(), "neck": neck}
(here / "expected" / "evaluation.json").write_text(json.dumps(out, indent=1) + "\n")
print(json.dumps({"pose_distances": [round(d, 3) for d in dist], "val": val.tolist(),
                  "sizes": [n["size"] for n in neck], "psnr": [round(n["moved_vs_own"]["psnr"], 2) for n in neck]}))
