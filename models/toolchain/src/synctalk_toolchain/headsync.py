"""Head-Sync: a log-mel window (docs/audio-features.md spec v2) to the
speech's part in the head's motion — a nod-sized rotation about the head's
pivot, and how active the speech is.

What the tracked heads of the five prepared HDTF clips show (the
stabilizer's poses; `python -m synctalk_toolchain.headsync` reports it):

- heads move with the stress of the speech: the pitch, with its slow drift
  removed (`DRIFT_FRAMES`), correlates with the emphasis of the last few
  hundred milliseconds at lags of 0 to 360 ms, with the same sign for four
  speakers of five (a nod that follows the stressed syllable);
- heads move less in pauses than in speech (for three speakers of five,
  0.13 to 0.77 times the speed).

The network hears the first as `SPANS`, eight consecutive 40-ms spans
ending at the frame's look-ahead, each span's emphasis gated to 0 in pauses
(`expression.span_cues`, the Expression Generator's cue), and gives

- `rotation` [3] (radians, head space, OpenCV axes: x right, y down,
  z away from the camera) = Σ_j gate_j · emphasis_j · W_j, one ridge
  regression per axis on the drift-free tracked rotation (no intercept:
  silence gives 0, so the head never drifts away on the network's account),
  scaled up (at most `MAX_GAIN`×) to move as much as the clips' heads did;
  an axis whose held-out correlation is not positive for at least
  `MIN_AGREE` of the five speakers is left at 0;
- `activity` [1] in [0, 1]: the gate of the last 500 ms (`ACTIVITY_SPAN`),
  how much of it is speech near the window's loudest.

The runtime turns these into the head pose: the portrait's own recorded
motion, played faster while speech is active than in silence, with the
rotation (smoothed) applied about the portrait's neck pivot.

    python -m synctalk_toolchain.headsync DATASET_DIR... -o OUT_DIR
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from . import audio as af
from . import expression as ex
from . import pose as ps
from .onnx_graph import Graph, publish

SPAN_FRAMES = 4  # mel frames (40 ms) per span
N_SPANS = 8
LAST = ex.CENTRE + af.AHEAD  # last mel frame the window holds for the video frame
ACTIVITY_SPAN = 50  # mel frames (500 ms) ending at LAST
DRIFT_FRAMES = 25  # video frames of the centred average taken off the tracked rotation
RIDGE = 1e-2
MAX_GAIN = 4.0
MIN_AGREE = 4  # speakers of five whose held-out correlation must be positive
OUTPUTS = 4  # rotation x, y, z; activity
EAR_CONTOUR = (234, 454)  # MediaPipe landmarks on the face's outline at the ears
PIVOT_BELOW_EARS = 2.0  # cm


def pivot(canonical: np.ndarray) -> list[float]:
    """The point the head turns about, in head space (the stabilizer's
    canonical face [478, 3], centimetres, y down): between the ears' outline
    points and `PIVOT_BELOW_EARS` below them, where the skull sits on the
    spine. Written to a portrait's META as `head_pivot`."""
    p = np.asarray(canonical, np.float64)[list(EAR_CONTOUR)].mean(0) + np.array([0.0, PIVOT_BELOW_EARS, 0.0])
    return [round(float(v), 3) for v in p]


def spans() -> np.ndarray:
    """[N_SPANS + 1, CONTEXT]: the averaging weights of the rotation's spans
    (newest first) and, last, of the activity span."""
    s = np.zeros((N_SPANS + 1, af.CONTEXT), np.float32)
    for j in range(N_SPANS):
        hi = LAST - j * SPAN_FRAMES
        s[j, hi - SPAN_FRAMES + 1 : hi + 1] = 1.0 / SPAN_FRAMES
    s[N_SPANS, LAST - ACTIVITY_SPAN + 1 : LAST + 1] = 1.0 / ACTIVITY_SPAN
    return s


def features(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(gated emphasis [B, N_SPANS], activity [B]) of log-mel windows [B, CONTEXT, 80]."""
    e, g = ex.span_cues(windows, spans())
    return (g[:, :N_SPANS] * e[:, :N_SPANS]).astype(np.float32), g[:, N_SPANS]


class HeadSync:
    """Outputs [B, 4] = (features · W [N_SPANS, 3], activity)."""

    def __init__(self, w):
        self.w = np.asarray(w, np.float32)

    def forward(self, windows: np.ndarray) -> np.ndarray:
        f, a = features(windows)
        return np.concatenate([f @ self.w, a[:, None]], 1).astype(np.float32)


def head_rotations(poses: np.ndarray) -> np.ndarray:
    """Rotation vectors [T, 3] (radians, head space) of head-to-camera poses
    [T, 4, 4] from their mean rotation, with the slow drift (a centred
    `DRIFT_FRAMES` average) taken off."""
    R = poses[:, :3, :3].astype(np.float64)
    u, _, vt = np.linalg.svd(R.mean(0))
    rv = ps.log_rotation(np.einsum("ji,tjk->tik", u @ vt, R))
    k = DRIFT_FRAMES
    pad = np.pad(rv, ((k // 2, k // 2), (0, 0)), mode="edge")
    slow = np.stack([np.convolve(pad[:, c], np.ones(k) / k, "valid") for c in range(3)], 1)
    return rv - slow


def _solve(clips) -> np.ndarray:
    x = np.concatenate([features(w)[0] for w, _ in clips]).astype(np.float64)
    y = np.concatenate([r for _, r in clips])
    return np.linalg.solve(x.T @ x + RIDGE * len(x) * np.eye(x.shape[1]), x.T @ y), x, y


def fit(clips, keep=(True, True, True)) -> HeadSync:
    """Ridge regression from clips [(windows [T, N, 80], rotations [T, 3])];
    axes not in `keep` are left at 0."""
    coef, x, y = _solve(clips)
    gain = np.clip(y.std(0) / np.maximum((x @ coef).std(0), 1e-12), 1.0, MAX_GAIN)
    return HeadSync(coef * gain * np.asarray(keep, np.float64))


def held_out(clips, labels: list[str]) -> dict:
    """Per clip, the correlation of each axis with the fit on the other clips."""
    out = {}
    for i, label in enumerate(labels):
        m = fit(clips[:i] + clips[i + 1 :])
        windows, rot = clips[i]
        pred = m.forward(windows)[:, :3]
        out[label] = [round(float(np.corrcoef(pred[:, k], rot[:, k])[0, 1]), 3) if pred[:, k].std() > 0 else 0.0
                      for k in range(3)]
    return out


def agreeing_axes(held: dict) -> list[bool]:
    """Axes whose held-out correlation is positive for at least `MIN_AGREE` clips."""
    r = np.array(list(held.values()))
    return [bool((r[:, k] > 0).sum() >= MIN_AGREE) for k in range(3)]


def pause_speed(labels: list[str], clips) -> dict:
    """Per clip [(poses [T, 4, 4], activity [T])], the head's mean angular
    speed (degrees per frame) in speech (activity > 0.5) and in pauses (< 0.1)."""
    out = {}
    for label, (poses, act) in zip(labels, clips):
        R = poses[:, :3, :3].astype(np.float64)
        step = np.degrees(np.linalg.norm(ps.log_rotation(np.einsum("tji,tjk->tik", R[:-1], R[1:])), axis=1))
        a = act[1:]
        speech, pause = step[a > 0.5], step[a < 0.1]
        out[label] = {"speech": round(float(speech.mean()), 3) if len(speech) else None,
                      "pause": round(float(pause.mean()), 3) if len(pause) else None,
                      "pause_frames": int(len(pause))}
    return out


def _deg(rad) -> list[float]:
    return [round(float(np.degrees(v)), 3) for v in rad]


def write_onnx(m: HeadSync, path: Path) -> None:
    """Head-Sync as one ONNX graph (opset 17): `mel_window` [1, 100, 80] → `head_sync` [1, 4]."""
    graph = Graph()
    const, op = graph.const, graph.op
    emphasis, gate = ex.span_cue_nodes(graph, spans())  # [1, J + 1, 1]
    cue = op("Mul", [gate, emphasis], "gated_emphasis")
    w = np.zeros((3, N_SPANS + 1), np.float32)
    w[:, :N_SPANS] = m.w.T
    rotation = op("MatMul", [const("w", w), cue], "rotation")  # [1, 3, 1]
    pick = np.zeros((1, N_SPANS + 1), np.float32)
    pick[0, N_SPANS] = 1.0
    activity = op("MatMul", [const("pick_activity", pick), gate], "activity")  # [1, 1, 1]
    both = op("Concat", [rotation, activity], "rotation_activity", axis=1)  # [1, 4, 1]
    op("Reshape", [both, const("shape_out", [1, OUTPUTS], np.int64)], "head_sync")
    graph.save("head_sync", "head_sync", path, width=OUTPUTS)


def main(argv=None) -> int:
    from . import media

    ap = argparse.ArgumentParser(prog="synctalk-headsync", description=__doc__.split("\n\n")[0])
    ap.add_argument("datasets", type=Path, nargs="+", help="prepared real clips (synctalk-prepare)")
    ap.add_argument("-o", "--out", type=Path, required=True)
    args = ap.parse_args(argv)
    t0 = time.time()
    clips, audio, poses, acts = [], [], [], []
    for d in args.datasets:
        x = media.load_audio(d / "aud.wav")
        p = np.load(d / "head_pose.npy")
        w = af.frame_windows(af.log_mel(x), len(p), 25.0).astype(np.float32)
        clips.append((w, head_rotations(p)))
        audio.append(x)
        poses.append(p)
        acts.append(features(w)[1])
    labels = [d.name for d in args.datasets]
    held = held_out(clips, labels)
    keep = agreeing_axes(held)
    m = fit(clips, keep)
    report = {"seconds": 0.0, "clips": labels,
              "spans_ms": [10 * (LAST - ex.CENTRE) - 10 * SPAN_FRAMES * N_SPANS, 10 * (LAST - ex.CENTRE)],
              "activity_ms": 10 * ACTIVITY_SPAN, "drift_frames": DRIFT_FRAMES,
              "held_out_correlation_xyz": held, "axes_kept_xyz": keep,
              "w_xyz_newest_first": [[round(float(v), 5) for v in row] for row in m.w.T],
              "rotation_std_deg": {"fitted": _deg(np.concatenate([m.forward(w)[:, :3] for w, _ in clips]).std(0)),
                                   "tracked": _deg(np.concatenate([r for _, r in clips]).std(0))},
              "head_speed_deg_per_frame": pause_speed(labels, list(zip(poses, acts)))}
    publish(args.out, "head_sync", lambda path: write_onnx(m, path), m.forward, audio, report, t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
