"""Which frames a training run holds out for its evaluation.

`dataset` keeps `dataset.json`'s split (prepare holds out the clip's last
10 %). `poses` is the pose-extrapolation split: the FARTHEST_FRACTION of
frames whose pose lies farthest from the clip's mean pose are held out and
all others trained on, so that the held-out scores say how a portrait renders
poses outside those it learned.

A pose's distance from the mean is measured in the image: the canonical
face's points projected with the frame's head-to-camera transform, against
each point's mean position over the clip; the mean pixel distance. The
native trainer (`synctalk_train::dataset::holdout`) computes the same; the
fixture's vectors check that they agree.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

FARTHEST_FRACTION = 0.1
CHOICES = ("dataset", "poses")


def pose_distances(head_to_camera: np.ndarray, K: np.ndarray, canonical: np.ndarray) -> np.ndarray:
    """[T] mean pixel distance of each frame's projected canonical face
    (head_to_camera [T, 4, 4], K [3, 3], canonical [N, 3]) from the clip's mean."""
    p = np.asarray(canonical, np.float64)
    cam = np.einsum("tij,nj->tni", head_to_camera[:, :3, :3], p) + head_to_camera[:, None, :3, 3]
    uv = np.stack([K[0, 0] * cam[..., 0] / cam[..., 2] + K[0, 2], K[1, 1] * cam[..., 1] / cam[..., 2] + K[1, 2]], -1)
    return np.linalg.norm(uv - uv.mean(0), axis=-1).mean(1)


def farthest(distances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) frame indices: val the FARTHEST_FRACTION farthest (rounded
    up, at least 1, at most all but one; equal distances by frame)."""
    t = len(distances)
    count = min(max(int(np.ceil(t * FARTHEST_FRACTION)), 1), max(t - 1, 0))
    order = sorted(range(t), key=lambda f: (-distances[f], f))
    val = np.array(sorted(order[:count]), np.int64)
    train = np.array([f for f in range(t) if f not in set(val.tolist())], np.int64)
    return train, val


def split(dataset: Path, holdout: str = "dataset") -> tuple[np.ndarray, np.ndarray]:
    """(train, val) frame indices of a prepared dataset under `holdout`."""
    dataset = Path(dataset)
    meta = json.loads((dataset / "dataset.json").read_text())
    if holdout == "dataset":
        s = meta["split"]
        return np.arange(*s["train"]), np.arange(*s["val"])
    if holdout != "poses":
        raise ValueError(f"holdout `{holdout}`: expected one of {', '.join(CHOICES)}")
    tr = json.loads((dataset / "transforms.json").read_text())
    poses = np.array([f["head_to_camera"] for f in tr["frames"]], np.float64)
    K = np.array([[tr["fl_x"], 0, tr["cx"]], [0, tr["fl_y"], tr["cy"]], [0, 0, 1]], np.float64)
    return farthest(pose_distances(poses, K, np.load(dataset / "canonical_face.npy")))
