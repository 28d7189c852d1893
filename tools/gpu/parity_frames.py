"""Parity frames of a portrait, drawn by gsplat (CUDA): the head deformed for
the dataset frame's blendshapes through the portrait's own controller,
posed by its pose track, over its own torso layer and background. The Rust
renderer must reproduce them (`crates/synctalk-cli/tests/demo.rs`, the
browser tests: `min_psnr_db`), so a portrait made by the native trainer is
still checked against an independent rasterizer.

Usage: python3 tools/gpu/parity_frames.py PORTRAIT.stk DATASET -o DIR [--frames T ...]
(default frames: the dataset split's first and middle training frames and
its last held-out frame, as torch_trainer.py picks them). Writes
DIR/frame_NNNNNN.png and DIR/parity.json. Needs PyTorch and gsplat, and
`models/toolchain/src` on PYTHONPATH.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from synctalk_toolchain import holdout, stk


def render(data: bytes, frame: int, condition: np.ndarray, device: str = "cuda"):
    """(RGB uint8 [H, W, 3], coefficients [K]) of pose-track frame `frame`."""
    import torch
    from gsplat import rasterization

    cam, g = stk.read_camera(data), stk.read_gaussians(data)
    bases, layers = stk.read_bases(data), stk.read_layers(data)
    w = stk.run_controller(stk.read_controller(data), condition.astype(np.float32))
    raw = np.concatenate([g["positions"], g["rotations"], g["log_scales"], g["opacity_logits"][:, None]], 1)
    if bases is not None:
        raw = raw + np.einsum("k,kcn->nc", w, bases)
    view = stk.frame_view(data, frame)
    H, W = cam["height"], cam["width"]
    K = np.array([[cam["fx"], 0, cam["cx"]], [0, cam["fy"], cam["cy"]], [0, 0, 1]])
    T = lambda a: torch.from_numpy(np.ascontiguousarray(a, np.float32)).to(device)  # noqa: E731
    raw_t = T(raw)
    with torch.no_grad():
        img, alpha, _ = rasterization(
            raw_t[:, 0:3], raw_t[:, 3:7], torch.exp(raw_t[:, 7:10]), torch.sigmoid(raw_t[:, 10]), T(g["sh"]),
            T(view)[None], T(K)[None], W, H, near_plane=cam["near"], sh_degree=g["sh_degree"], packed=True,
            rasterize_mode="classic")
    bg = layers[(stk.ROLE_BACKGROUND, 0)][..., :3].astype(np.float32)
    torso = layers.get((stk.ROLE_TORSO, frame))
    under = bg if torso is None else torso[..., :3] * (torso[..., 3:] / 255.0) + bg * (1 - torso[..., 3:] / 255.0)
    under = T(np.round(under) / 255.0)
    out = img[0] + (1 - alpha[0]) * under
    return torch.round(out.clamp(0, 1) * 255).to(torch.uint8).cpu().numpy(), w


def main(argv: list[str] | None = None) -> int:
    import cv2

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("portrait", type=Path)
    ap.add_argument("dataset", type=Path, help="the synctalk-prepare dataset the portrait was trained on")
    ap.add_argument("-o", "--out", type=Path, required=True)
    ap.add_argument("--frames", type=int, nargs="*")
    a = ap.parse_args(argv)
    data = a.portrait.read_bytes()
    blend = np.load(a.dataset / "blendshapes.npy")
    if a.frames:
        frames = a.frames
    else:
        train, val = holdout.split(a.dataset, "dataset")
        frames = [int(train[0]), int(train[len(train) // 2]), int(val[-1])]
    a.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for t in frames:
        img, w = render(data, t, blend[t])
        name = f"frame_{t:06d}.png"
        cv2.imwrite(str(a.out / name), img[..., ::-1])
        rows.append({"frame": t, "condition": [float(v) for v in blend[t]], "coefficients": [float(v) for v in w],
                     "image": name})
    (a.out / "parity.json").write_text(json.dumps({"portrait": a.portrait.name, "min_psnr_db": 40.0, "frames": rows},
                                                  indent=1) + "\n")
    print(json.dumps({"frames": frames, "out": a.out.name}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
