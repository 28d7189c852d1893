"""Can speech drive the upper face and the head pose, learned from the real
clips we have? A leave-one-clip-out probe, before building the Expression
Generator and Head-Sync networks on them.

For each prepared clip (synctalk-prepare), speaker-independent prosodic
features of the audio window of every video frame — the loudness contour of
the window's 100 mel frames relative to its loudest (20 steps of 50 ms) and
the rises of its last 8 steps — are regressed (ridge) on

- the upper-face blendshapes MediaPipe tracked (brows, squints, eyes wide,
  cheeks, smile), and
- the part of the stabilised head rotation that speech could drive: the
  rotation vector minus its 0.5-s Gaussian smoothing (nods, turns),

fitted on the other clips and correlated with the held-out clip's own track
(Pearson r per target). A speaker-independent model is only worth shipping
where these correlations are clearly positive on every held-out speaker.

    python tools/prosody_probe.py DATASET_DIR [DATASET_DIR ...]

Needs the toolchain's environment (numpy, scipy, soundfile).
"""
import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.ndimage import gaussian_filter1d
from scipy.spatial.transform import Rotation

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "models" / "toolchain" / "src"))
from synctalk_toolchain import audio as af  # noqa: E402

UPPER = ["browInnerUp", "browOuterUpLeft", "browDownLeft", "eyeSquintLeft", "eyeWideLeft", "cheekSquintLeft",
         "mouthSmileLeft"]
AXES = ["pitch (x)", "yaw (y)", "roll (z)"]


def features(windows: np.ndarray) -> np.ndarray:
    """[T, 29]: loudness contour relative to the window's loudest, its rises, 1."""
    loud = np.log(np.exp(windows).mean(2) + 1e-6)
    loud = np.maximum(loud - loud.max(1, keepdims=True), -12.0)
    steps = loud.reshape(len(loud), 20, 5).mean(2)
    rises = np.maximum(np.diff(steps, axis=1), 0.0)[:, -8:]
    return np.concatenate([steps, rises, np.ones((len(loud), 1))], 1)


def load(d: Path):
    x, sr = sf.read(d / "aud.wav", dtype="float64")
    if sr != af.SAMPLE_RATE:
        raise SystemExit(f"{d / 'aud.wav'}: {sr} Hz, expected {af.SAMPLE_RATE}")
    bs = np.load(d / "blendshapes.npy").astype(np.float64)
    names = json.loads((d / "blendshapes.json").read_text())
    pose = np.load(d / "head_pose.npy")
    rot = Rotation.from_matrix(pose[:, :3, :3]).as_rotvec()
    nods = rot - gaussian_filter1d(rot, 12.0, axis=0, mode="nearest")
    f = features(af.frame_windows(af.log_mel(x), len(bs), 25.0))
    return f, bs[:, [names.index(n) for n in UPPER]], nods


def held_out_r(clips, target: int, lam: float = 10.0) -> np.ndarray:
    out = []
    for i in range(len(clips)):
        rest = clips[:i] + clips[i + 1 :]
        x = np.concatenate([c[0] for c in rest])
        y = np.concatenate([c[target] for c in rest])
        mu = y.mean(0)
        w = np.linalg.solve(x.T @ x + lam * np.eye(x.shape[1]), x.T @ (y - mu))
        pred = clips[i][0] @ w + mu
        truth = clips[i][target]
        out.append([np.corrcoef(pred[:, k], truth[:, k])[0, 1] for k in range(truth.shape[1])])
    return np.array(out)


def main(argv):
    dirs = [Path(a) for a in argv]
    if len(dirs) < 3:
        raise SystemExit(__doc__)
    clips = [load(d) for d in dirs]
    report = {}
    for title, target, names in [("upper face", 1, UPPER), ("head rotation (high-passed)", 2, AXES)]:
        r = held_out_r(clips, target)
        print(f"{title}: held-out r per clip")
        for d, row in zip(dirs, r):
            print(f"  {d.name[:32]:32s}", " ".join(f"{v:+.2f}" for v in row))
        print(f"  {'mean':32s}", " ".join(f"{v:+.2f}" for v in r.mean(0)), " (", ", ".join(names), ")")
        report[title] = {n: [round(float(v), 3) for v in r[:, k]] for k, n in enumerate(names)}
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1:])
