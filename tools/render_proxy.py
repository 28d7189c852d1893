"""A proxy of the demo portrait's rendered lips, learned from renders already
made, to choose among Face-Sync variants before rendering them.

The lip aperture that `synctalk-eval sync` measures on rendered frames
(MediaPipe's inner-lip gap over face height) and MediaPipe's jawOpen are, for
one portrait, functions of what the engine gave the renderer: the controller's
coefficients of the frame's 52 blendshapes and the pose-track frame. Both are
in each rendered clip's `timing.json`. `fit` learns them by ridge regression
(coefficients, their pairwise products, cosines of the pose frame and their
products with the first two coefficients) from folders of rendered clips, and
prints how well each run's contrasts are predicted with that run left out
(session 7, 9 runs of 6 clips: r 0.985-0.994 per frame; contrasts mostly
within ±0.1 of the rendered ones, at worst 0.13).
`score` fits the Face-Sync head from prepared datasets as
`synctalk_toolchain.facesync` does, maps its outputs as the engine does (the
portrait's articulation, its condition range, the controller) and reports the
predicted contrast and silences on the given speech clips (pose frames from
the proxy's runs), and each dataset's contrast with the head fitted without
it. Choose on that last figure: the speech clips of the issue are its test
set. The proxy extrapolates badly far from the shapes it was fitted on:
render what it picks.

    python tools/render_proxy.py fit PORTRAIT RUN_DIR... -o proxy.npz
    python tools/render_proxy.py score PORTRAIT proxy.npz --datasets DS... --audio A...

RUN_DIR: one variant's rendered clips, RUN_DIR/CLIP/frame_*.{png,jpg} with
timing.json (what tools/gpu/articulation_run.sh brings back); a clip is
matched to its audio by name. Runs with the toolchain's venv (.venv).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "models" / "toolchain" / "src"))
from synctalk_toolchain import audio as af  # noqa: E402
from synctalk_toolchain import evaluate, facesync, landmarks, media, stk, sync  # noqa: E402
from synctalk_toolchain import phonetic as ph  # noqa: E402

N_COS = 15


def portrait(path: Path):
    """(META extra, controller layers) of a portrait file."""
    data = path.read_bytes()
    return stk.read_meta(data).get("extra", {}), stk.read_controller(data)


def features(coef: np.ndarray, pose: np.ndarray, pose_len: int) -> np.ndarray:
    k = coef.shape[1]
    pairs = np.stack([coef[:, i] * coef[:, j] for i in range(k) for j in range(i, k)], 1)
    cos = np.stack([np.cos(np.pi * m * pose / max(pose_len - 1, 1)) for m in range(1, N_COS + 1)], 1)
    return np.concatenate([coef, pairs, cos, cos * coef[:, :1], cos * coef[:, 1:2]], 1)


def ridge(x: np.ndarray, y: np.ndarray, lam: float = 1e-3):
    mu, sd = x.mean(0), x.std(0) + 1e-9
    z = (x - mu) / sd
    w = np.linalg.solve(z.T @ z + lam * len(y) * np.eye(z.shape[1]), z.T @ (y - y.mean()))
    return {"mu": mu, "sd": sd, "w": w, "c": y.mean()}


def predict(m, x: np.ndarray) -> np.ndarray:
    return ((x - m["mu"]) / m["sd"]) @ m["w"] + m["c"]


def measured(clip: Path) -> dict:
    """MediaPipe aperture and jawOpen of a rendered clip, with its timing (cached beside it)."""
    cache = clip / "proxy_measured.npz"
    if cache.is_file():
        return dict(np.load(cache))
    frames = sorted(clip.glob("frame_*.png")) or sorted(clip.glob("frame_*.jpg"))
    timing = json.loads((clip / "timing.json").read_text())["frames"][: len(frames)]
    track = landmarks.track(frames, 25.0)
    out = {"aperture": sync.lip_aperture(track.landmarks), "jaw": track.blendshapes[:, track.names.index("jawOpen")],
           "blendshapes": np.array([f["blendshapes"] for f in timing], np.float32),
           "pose": np.array([f["pose_frame"] for f in timing], np.float64)}
    try:
        np.savez(cache, **out)
    except OSError:
        pass  # read-only folder: measured again next time
    return out


def contrast(segments, aperture: np.ndarray) -> float:
    return sync.articulation_contrast(segments, aperture, 25.0).best_contrast


def fit_cmd(args) -> int:
    _, layers = portrait(args.portrait)
    pose = stk.read_pose(args.portrait.read_bytes())
    if pose is None:
        raise SystemExit(f"{args.portrait}: no pose track")
    pose_len = len(pose[0])
    data = {}
    for r in args.runs:
        for c in sorted(p for p in r.iterdir() if (p / "timing.json").is_file()):
            m = measured(c)
            data[(r.name, c.name)] = dict(m, x=features(stk.run_controller(layers, m["blendshapes"]), m["pose"], pose_len))
            print(f"[proxy] {r.name}/{c.name}: {len(m['aperture'])} frames", flush=True)
    runs = sorted({r for r, _ in data})
    audio = {p.stem: p for p in args.audio_dir.iterdir()} if args.audio_dir else {}
    phones = {}
    for run in runs if len(runs) > 1 else []:
        keys = [k for k in data if k[0] != run]
        ma = ridge(np.concatenate([data[k]["x"] for k in keys]), np.concatenate([data[k]["aperture"] for k in keys]))
        for (r, c), d in data.items():
            if r != run or c not in audio:
                continue
            if c not in phones:
                phones[c] = sync.phones(media.load_audio(audio[c]))[0]
            p = predict(ma, d["x"])
            print(f"  {run:>6s} {c[:24]:24s} rendered {contrast(phones[c], d['aperture']):.3f}  proxy {contrast(phones[c], p):.3f}"
                  f"  r {np.corrcoef(p, d['aperture'])[0, 1]:.3f}")
    x = np.concatenate([d["x"] for d in data.values()])
    ma = ridge(x, np.concatenate([d["aperture"] for d in data.values()]))
    mj = ridge(x, np.concatenate([d["jaw"] for d in data.values()]))
    poses = {c: d["pose"] for (r, c), d in sorted(data.items())}
    np.savez(args.output, pose_len=pose_len, clips=np.array(list(poses)), **{f"pose_{c}": v for c, v in poses.items()},
             **{f"ap_{k}": v for k, v in ma.items()}, **{f"jaw_{k}": v for k, v in mj.items()})
    print(f"[proxy] {len(x)} frames of {len(runs)} runs -> {args.output}")
    return 0


def score_cmd(args) -> int:
    extra, layers = portrait(args.portrait)
    z = np.load(args.proxy)
    ma = {k: z[f"ap_{k}"] for k in ("mu", "sd", "w", "c")}
    mj = {k: z[f"jaw_{k}"] for k in ("mu", "sd", "w", "c")}
    pose_len = int(z["pose_len"])
    art = extra.get("articulation", 1.0)
    strength = art if isinstance(art, (int, float)) else art["strength"]
    centre = None if isinstance(art, (int, float)) else np.asarray(art["centre"], np.float32)
    rng = extra.get("condition_range", {"min": [0.0] * 52, "max": [1.0] * 52})
    lo, hi = np.asarray(rng["min"]), np.asarray(rng["max"])
    ac = ph.Acoustic()
    names = json.loads((args.datasets[0] / "blendshapes.json").read_text())
    mouth = np.array([n in facesync.MOUTH for n in names])
    clips = []
    for d in args.datasets:
        segs, bs, lip, f, _ = facesync.load_clip(ac, d)
        clips.append((segs, bs, lip, f))
    trans = facesync.transitions(ac.phones)
    silent_window = ph.front(ac, np.full((1, af.CONTEXT, af.N_MELS), np.log(af.LOG_FLOOR), np.float32))

    def engine(head, y, pose):
        c = centre if centre is not None else head.forward(silent_window)[0]
        y = y.copy()
        y[:, mouth] = c[mouth] + (y[:, mouth] - c[mouth]) * strength
        x = features(stk.run_controller(layers, np.clip(y, lo, hi).astype(np.float32)), pose, pose_len)
        return predict(ma, x), predict(mj, x)

    fallback = z[f"pose_{z['clips'][0]}"]
    head = facesync.fit(clips, ac.phones, mouth, trans, silence_weight=args.silence_weight)
    scores = []
    for a in args.audio:
        x = media.load_audio(a)
        n = int(np.floor(len(x) / af.SAMPLE_RATE * 25 + 1e-9))
        pose = z[f"pose_{a.stem}"][:n] if f"pose_{a.stem}" in z else np.resize(fallback, n)
        y = head.forward(ph.front(ac, af.frame_windows(af.log_mel(x), n, 25.0)))
        ap, jaw = engine(head, y, pose)
        segs = sync.phones(x)[0]
        quiet = [round(q["max_jaw_open"], 3) for q in evaluate.silence_maxima(segs, jaw, 25.0)]
        scores.append(contrast(segs, ap))
        print(f"  {a.stem[:28]:28s} proxy contrast {scores[-1]:.3f}  silences' max jawOpen {quiet}")
    held = []
    for i in range(len(clips)):
        h = facesync.fit(clips[:i] + clips[i + 1 :], ac.phones, mouth, trans, silence_weight=args.silence_weight)
        segs, _, _, f = clips[i]
        held.append(contrast(segs, engine(h, h.forward(f), np.resize(fallback, len(f)))[0]))
    print(f"mean proxy contrast {np.mean(scores):.3f} on the speech clips; held-out datasets {np.mean(held):.3f} "
          + " ".join(f"{v:.2f}" for v in held))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="render_proxy", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fit")
    f.add_argument("portrait", type=Path)
    f.add_argument("runs", type=Path, nargs="+")
    f.add_argument("-o", "--output", type=Path, required=True)
    f.add_argument("--audio-dir", type=Path, default=HERE.parent.parent / "shared" / "data" / "audio",
                   help="the rendered clips' audio, for the leave-one-run-out check")
    s = sub.add_parser("score")
    s.add_argument("portrait", type=Path)
    s.add_argument("proxy", type=Path)
    s.add_argument("--datasets", type=Path, nargs="+", required=True)
    s.add_argument("--audio", type=Path, nargs="+", required=True)
    s.add_argument("--silence-weight", type=float, default=facesync.SILENCE_WEIGHT)
    args = ap.parse_args(argv)
    os.environ.setdefault("GLOG_minloglevel", "2")
    return fit_cmd(args) if args.cmd == "fit" else score_cmd(args)


if __name__ == "__main__":
    sys.exit(main())
