"""Trims a `synctalk-prepare` output to a few frames: the fixture beside this
script. Usage: make_fixture.py PREPARED_DIR OUT_DIR [N_FRAMES]

Keeps N_FRAMES (default 6) frames spread evenly over the clip, renumbered
0..N-1, at full resolution (the intrinsics and landmarks are in pixels), and
rewrites dataset.json (frames, split: train 0..N-1, val N-1..N),
transforms.json (its frames) and the per-frame .npy arrays consistently. The
background plate and the canonical face are the full clip's. Audio, raw
landmarks, MediaPipe's matrices and the contact sheet are left out.
"""
import json
import shutil
import sys
from pathlib import Path

import numpy as np

src, out = Path(sys.argv[1]), Path(sys.argv[2])
n = int(sys.argv[3]) if len(sys.argv) > 3 else 6
meta = json.loads((src / "dataset.json").read_text())
T = meta["frames"]
picks = np.linspace(0, T - 1, n).round().astype(int)
for d in ("frames", "parsing", "torso"):
    (out / d).mkdir(parents=True, exist_ok=True)
    ext = "jpg" if d == "frames" else "png"
    for i, t in enumerate(picks):
        shutil.copyfile(src / d / f"{t:06d}.{ext}", out / d / f"{i:06d}.{ext}")
for name in ("landmarks", "blendshapes", "head_pose"):
    np.save(out / f"{name}.npy", np.load(src / f"{name}.npy")[picks])
for name in ("canonical_face.npy", "background.png", "blendshapes.json", "parsing.json"):
    shutil.copyfile(src / name, out / name)
tr = json.loads((src / "transforms.json").read_text())
frames = []
for i, t in enumerate(picks):
    fr = dict(tr["frames"][t])
    fr.update(index=i, file_path=f"frames/{i:06d}.jpg", split="train" if i < n - 1 else "val")
    frames.append(fr)
tr["frames"] = frames
(out / "transforms.json").write_text(json.dumps(tr) + "\n")
meta.update(frames=n, split={"train": [0, n - 1], "val": [n - 1, n]},
            source="WDA_KatieHill_000.mp4 (HDTF), 2.0-4.0 s",
            fixture=f"frames {picks.tolist()} of the {T} prepared")
(out / "dataset.json").write_text(json.dumps(meta, indent=1) + "\n")
print(json.dumps({"picks": picks.tolist()}))
