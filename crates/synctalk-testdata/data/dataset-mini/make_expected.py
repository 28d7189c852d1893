"""Writes what torch_trainer.py's own `load_dataset` makes of the fixture beside this
script, for crates/synctalk-train/tests/dataset.rs to compare with:

    expected/masks/NNNNNN.png   the mask bits (8-bit grey)
    expected/torso/NNNNNN.png   the extended torso layer (RGBA, straight alpha)
    expected/frames/NNNNNN.png  128 x 128 of the frame around the mouth as
                                OpenCV (libjpeg-turbo) decodes it (the whole
                                frames would double the fixture's size)
    expected/fill_poly.png      cv2.fillPoly of 200 random polygons on 64 x 64,
                                stacked vertically (0/1), the polygons in
                                expected.json (`fill_polys`)
    expected/expected.json      sizes, intrinsics, split, face boxes,
                                checksums of the decoded frames and of `under`,
                                and statistics of torch_trainer.py's `initial_points`
                                (4000 points, 16 seeds: numpy's generator is
                                not reproduced, only the distribution is)

`under` is not stored: it is the extended torso over the background plate,
and the script checks that it equals where(alpha, torso, plate) exactly
(the torso's alpha is 0 or 255), so the test rebuilds it from the two and
checks the rebuilt one against these checksums first.

Run from the repository root with the toolchain's Python:
    PYTHONPATH=models/toolchain/src:tools/gpu python crates/synctalk-testdata/data/dataset-mini/make_expected.py
"""
import json
from pathlib import Path

import cv2
import numpy as np

from torch_trainer import OUTER_LIPS, initial_points, load_dataset

here = Path(__file__).resolve().parent
ds = load_dataset(here)
out = here / "expected"
CROP = 128
for d in ("masks", "torso", "frames"):
    (out / d).mkdir(parents=True, exist_ok=True)


def checksum(a: np.ndarray) -> list[int]:
    """[sum of the bytes, sum of (index + 1) * byte] over the C-order bytes."""
    b = np.ascontiguousarray(a).reshape(-1).astype(np.uint64)
    return [int(b.sum(dtype=np.uint64)), int((np.arange(1, b.size + 1, dtype=np.uint64) * b).sum(dtype=np.uint64))]


lm = np.load(here / "landmarks.npy")
H, W = ds.frames.shape[1:3]
crops = []
for t in range(len(ds.frames)):
    cx, cy = lm[t, OUTER_LIPS, :2].mean(0)
    crops.append([int(np.clip(round(cx) - CROP // 2, 0, W - CROP)), int(np.clip(round(cy) - CROP // 2, 0, H - CROP))])
alpha = ds.torso[..., 3:] > 0
assert set(np.unique(ds.torso[..., 3])) <= {0, 255}
assert (ds.under == np.where(alpha, ds.torso[..., :3], ds.background[None])).all()
for t in range(len(ds.frames)):
    cv2.imwrite(str(out / "masks" / f"{t:06d}.png"), ds.masks[t])
    cv2.imwrite(str(out / "torso" / f"{t:06d}.png"), cv2.cvtColor(ds.torso[t], cv2.COLOR_RGBA2BGRA))
    x0, y0 = crops[t]
    cv2.imwrite(str(out / "frames" / f"{t:06d}.png"), ds.frames[t][y0:y0 + CROP, x0:x0 + CROP, ::-1])
rng = np.random.default_rng(0)
polys, fills = [], []
for k in range(200):
    n = int(rng.integers(3, 12))
    if k % 2:  # star-shaped: simple polygons
        ang = np.sort(rng.uniform(0, 2 * np.pi, n))
        r = rng.uniform(5, 28, n)
        pts = np.stack([32 + r * np.cos(ang), 32 + r * np.sin(ang)], 1).round().astype(np.int32)
    else:  # any: self-intersecting too
        pts = rng.integers(5, 60, (n, 2)).astype(np.int32)
    m = np.zeros((64, 64), np.uint8)
    cv2.fillPoly(m, [pts], 1)
    polys.append(pts.tolist())
    fills.append(m)
cv2.imwrite(str(out / "fill_poly.png"), np.concatenate(fills))
runs = [initial_points(ds, 4000, np.random.default_rng(seed)) for seed in range(16)]
init = {
    "n": 4000,
    "count": len(runs[0][0]),
    "mean": np.mean([p.mean(0) for p, _ in runs], 0).tolist(),
    "std": np.mean([p.std(0) for p, _ in runs], 0).tolist(),
    "colour_mean": np.mean([c.mean(0) for _, c in runs], 0).tolist(),
}
expected = {
    "initial_points": init,
    "fill_polys": polys,
    "width": int(ds.frames.shape[2]),
    "height": int(ds.frames.shape[1]),
    "fps": ds.fps,
    "K": ds.K.tolist(),
    "train": [int(ds.train[0]), int(ds.train[-1]) + 1],
    "val": [int(ds.val[0]), int(ds.val[-1]) + 1] if len(ds.val) else [0, 0],
    "blendshape_names": ds.blendshape_names,
    "face_boxes": ds.face_boxes.tolist(),
    "frame_crops": crops,
    "frame_crop_size": CROP,
    "frame_checksums": [checksum(f) for f in ds.frames],
    "under_checksums": [checksum(u) for u in ds.under],
    "mask_bit_counts": [[int(((m >> b) & 1).sum()) for b in range(4)] for m in ds.masks],
}
(out / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
print(json.dumps({k: expected[k] for k in ("face_boxes", "mask_bit_counts")}))
