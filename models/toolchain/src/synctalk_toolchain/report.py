"""A contact sheet per dataset (report.png): sample frames with landmarks,
parsing and head-pose axes; the background plate and a torso layer; head pose
before and after stabilisation, and mouth and blink curves, over time."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

COLORS = {0: (0, 0, 0), 1: (60, 180, 255), 2: (255, 40, 40), 3: (40, 200, 60), 4: (200, 120, 255), 5: (255, 220, 0)}


def _euler_deg(R: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_matrix(R).as_euler("yxz", degrees=True)  # yaw, pitch, roll


def _tile(d: Path, i: int, tr: dict, head: np.ndarray, lm: np.ndarray):
    import cv2

    img = cv2.imread(str(d / "frames" / f"{i:06d}.jpg"))
    labels = cv2.imread(str(d / "parsing" / f"{i:06d}.png"), cv2.IMREAD_UNCHANGED)
    color = np.zeros_like(img)
    for v, c in COLORS.items():
        color[labels == v] = c[::-1]
    out = cv2.addWeighted(img, 0.6, color, 0.4, 0)
    for x, y in lm[i, :, :2][::3]:
        cv2.circle(out, (int(x), int(y)), 1, (255, 255, 255), -1)
    f, c = tr["fl_x"], np.array([tr["cx"], tr["cy"]])
    R, t = head[i, :3, :3], head[i, :3, 3]
    axes = np.array([[0, 0, 0], [6, 0, 0], [0, 6, 0], [0, 0, 6]], np.float64)
    p = axes @ R.T + t
    p = f * p[:, :2] / p[:, 2:3] + c
    for k, col in zip(range(1, 4), [(0, 0, 255), (0, 255, 0), (255, 0, 0)]):
        cv2.line(out, tuple(np.round(p[0]).astype(int)), tuple(np.round(p[k]).astype(int)), col, 2)
    cv2.putText(out, f"frame {i}", (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2)
    return out


def contact_sheet(d: Path, fps: float) -> Path:
    import cv2
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = Path(d)
    tr = json.loads((d / "transforms.json").read_text())
    head = np.load(d / "head_pose.npy").astype(np.float64)
    before = np.load(d / "head_pose_pnp.npy").astype(np.float64)
    lm = np.load(d / "landmarks.npy")
    bs = np.load(d / "blendshapes.npy")
    names = json.loads((d / "blendshapes.json").read_text())
    T = head.shape[0]
    picks = np.linspace(0, T - 1, 4).astype(int)
    tiles = [_tile(d, int(i), tr, head, lm) for i in picks]
    plate = cv2.imread(str(d / "background.png"))
    torso = cv2.imread(str(d / "torso" / f"{picks[1]:06d}.png"), cv2.IMREAD_UNCHANGED)
    checker = ((np.indices(torso.shape[:2]).sum(0) // 16) % 2 * 80 + 90).astype(np.uint8)
    a = torso[..., 3:4] / 255.0
    torso_vis = (torso[..., :3] * a + checker[..., None] * (1 - a)).astype(np.uint8)
    cv2.putText(plate, "background plate", (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2)
    cv2.putText(torso_vis, "torso layer", (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2)

    fig, ax = plt.subplots(3, 1, figsize=(12, 7), dpi=80, sharex=True)
    t = np.arange(T) / fps
    e0, e1 = _euler_deg(before[:, :3, :3]), _euler_deg(head[:, :3, :3])
    for k, lab in enumerate(["yaw", "pitch", "roll"]):
        ax[0].plot(t, e0[:, k] - e0[:, k].mean(), lw=0.8, alpha=0.6, label=f"{lab} (PnP)")
        ax[0].plot(t, e1[:, k] - e1[:, k].mean(), lw=1.6, label=f"{lab} (stabilised)")
    ax[0].set_ylabel("degrees (minus mean)")
    ax[0].legend(ncol=6, fontsize=7)
    ax[1].plot(t, head[:, 0, 3] - head[:, 0, 3].mean(), label="x")
    ax[1].plot(t, head[:, 1, 3] - head[:, 1, 3].mean(), label="y")
    ax[1].plot(t, head[:, 2, 3] - head[:, 2, 3].mean(), label="z")
    ax[1].set_ylabel("translation, cm")
    ax[1].legend(ncol=3, fontsize=7)
    for n in ["jawOpen", "eyeBlinkLeft", "eyeBlinkRight", "mouthClose"]:
        ax[2].plot(t, bs[:, names.index(n)], label=n)
    ax[2].set_ylabel("blendshape")
    ax[2].set_xlabel("seconds")
    ax[2].legend(ncol=4, fontsize=7)
    fig.tight_layout()
    fig.canvas.draw()
    plot = np.asarray(fig.canvas.buffer_rgba())[..., :3][..., ::-1]
    plt.close(fig)

    size = 320
    row1 = np.concatenate([cv2.resize(x, (size, size)) for x in tiles], 1)
    row2 = np.concatenate([cv2.resize(plate, (size, size)), cv2.resize(torso_vis, (size, size)),
                           np.zeros((size, 2 * size, 3), np.uint8)], 1)
    legend = row2[:, 2 * size :]
    for k, (name, v) in enumerate(json.loads((d / "parsing.json").read_text())["labels"].items()):
        cv2.rectangle(legend, (20, 30 + 34 * k), (44, 54 + 34 * k), COLORS[v][::-1], -1)
        cv2.putText(legend, name, (56, 50 + 34 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1)
    rep = json.loads((d / ".steps" / "stabilize.json").read_text())["summary"]
    lines = [f"jitter {rep['jitter_deg_per_frame2_before']:.3f} -> {rep['jitter_deg_per_frame2_after']:.3f} deg/frame^2",
             f"reprojection {rep['reprojection_px_before']:.2f} -> {rep['reprojection_px_after']:.2f} px",
             f"focal {rep['focal_px']:.0f} px, {rep['tracks']} tracks"]
    for k, line in enumerate(lines):
        cv2.putText(legend, line, (300, 50 + 30 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
    plot = cv2.resize(plot, (row1.shape[1], int(plot.shape[0] * row1.shape[1] / plot.shape[1])))
    sheet = np.concatenate([row1, row2, plot], 0)
    path = d / "report.png"
    cv2.imwrite(str(path), sheet)
    return path
