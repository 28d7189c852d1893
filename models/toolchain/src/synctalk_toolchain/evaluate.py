"""`synctalk-eval`: how well a rendered portrait speaks.

`synctalk-eval sync --frames DIR --audio A.wav [-o report.json]` scores a
folder of rendered frames (`synctalk render` writes them) against the audio
they were rendered from: MediaPipe landmarks and blendshapes on every frame,
pocketsphinx phones of the audio, then the articulation contrast per picture
shift (sync.py) and the mouth in silences longer than 300 ms (MediaPipe
jawOpen must stay below 0.1).

`synctalk-eval calibrate --frames DIR --dataset DS [-o articulation.json]`
measures how far a portrait's rendered lips open for the mouth shapes it is
given, against how far the person's own lips opened for the same shapes:
on the prepared dataset DS the lip aperture is fitted as a linear function of
the blendshapes (the person's own frames); on DIR (the portrait rendered by
`synctalk render --frames`, any speech, with its `timing.json`) MediaPipe's
aperture is regressed on that function of the rendered blendshapes. A slope
below 1 means the portrait under-articulates; the articulation strength
1/slope (clamped to 1-3) and the mean shape the slope was fitted around
(the frames' mean blendshapes: the engine amplifies around it) are written
to `-o` as `{"strength", "centre"}`, for `synctalk set-meta PORTRAIT --key
articulation --json articulation.json`. Render DIR with `--articulation 1`.

`synctalk-eval heldout --rendered DIR --dataset DS [-o report.json]`
compares frames rendered with the dataset's own poses and blendshapes
(`DIR/frame_NNNNNN.png`, e.g. from `synctalk render-portrait --frame N
--condition`) with the real frames of the dataset's held-out split
(`--holdout poses`: the pose-extrapolation split, holdout.py): PSNR, SSIM
and LPIPS (AlexNet, v0.1), on the full frame, on the face (the bounding box
of the frame's 478 landmarks) and on the neck band (metrics.neck_strip: the
strip under the jaw, where a seam between head and torso shows). With
`DIR/turned/jaw.json` (`synctalk train` writes it), also the neck band of
the held-out frames rendered with the head turned as far as the runtime
turns it, against the real frame's.

`synctalk-eval references --dataset DS [--holdout poses]` scores the same
held-out face boxes against the real frame before each, and against the
mean of the real frames either side: what a held-out score can be judged
against (docs/portrait-quality.md).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from . import holdout, landmarks, media, metrics, sync

SILENCE_MIN_S = 0.3
JAW_CLOSED = 0.1


def silences(segments, min_s: float = SILENCE_MIN_S):
    """(start, end) of silent stretches (pocketsphinx SIL) of at least `min_s`."""
    out = []
    for name, s, e in segments:
        if name in ("SIL", "+NSN+", "+SPN+") and e - s >= min_s:
            if out and abs(out[-1][1] - s) < 1e-6:
                out[-1] = (out[-1][0], e)
            else:
                out.append((s, e))
    return out


def silence_maxima(segments, jaw: np.ndarray, fps: float) -> list[dict]:
    """The highest jawOpen in each silence of at least SILENCE_MIN_S,
    skipping 0.1 s at both ends (the mouth closes as the sound stops)."""
    quiet = []
    for s, e in silences(segments):
        a, b = int(np.ceil((s + 0.1) * fps)), int(np.floor((e - 0.1) * fps))
        if b >= a and a < len(jaw):
            quiet.append({"start_s": round(s, 2), "end_s": round(e, 2),
                          "max_jaw_open": round(float(jaw[a : b + 1].max()), 4)})
    return quiet


def score_frames(frames: list[Path], audio: np.ndarray, fps: float, transcript: str | None = None) -> dict:
    track = landmarks.track(frames, fps)
    ap = sync.lip_aperture(track.landmarks)
    jaw = track.blendshapes[:, track.names.index("jawOpen")]
    segs, text = sync.phones(audio, transcript)
    score = sync.articulation_contrast(segs, ap, fps)
    quiet = silence_maxima(segs, jaw, fps)
    return {
        "frames": len(frames),
        "transcript": text,
        "contrast_by_shift": {str(k): round(v, 3) for k, v in score.contrasts.items()},
        "best_shift": score.best_shift,
        "best_contrast": round(score.best_contrast, 3),
        "open_vowel_frames": score.open_frames,
        "bilabial_frames": score.bilabial_frames,
        "silences": quiet,
        "mouth_closed_in_silence": all(q["max_jaw_open"] < JAW_CLOSED for q in quiet),
        "missing_face_frames": int(track.missing.sum()),
    }


def calibrate(frames: list[Path], timing: dict, dataset: Path, fps: float = 25.0) -> dict:
    """The articulation calibration (see the module's doc)."""
    bs = np.load(dataset / "blendshapes.npy").astype(np.float64)
    real = sync.lip_aperture(np.load(dataset / "landmarks.npy"))
    x = np.hstack([bs, np.ones((len(bs), 1))])
    w = np.linalg.solve(x.T @ x + 1e-3 * np.eye(x.shape[1]), x.T @ real)
    fit_r = float(np.corrcoef(x @ w, real)[0, 1])
    given = np.array([f["blendshapes"] for f in timing["frames"]], np.float64)[: len(frames)]
    track = landmarks.track(frames, fps)
    ok = ~track.missing[: len(given)]
    rendered = sync.lip_aperture(track.landmarks)[: len(given)][ok]
    implied = (np.hstack([given, np.ones((len(given), 1))]) @ w)[ok]
    if len(implied) < 10 or implied.std() < 1e-6:
        raise sync.AlignError("the rendered mouth does not move: nothing to calibrate")
    slope = float(np.cov(implied, rendered)[0, 1] / implied.var(ddof=1))
    return {
        "articulation": {"strength": round(float(np.clip(1.0 / max(slope, 1e-6), 1.0, 3.0)), 3),
                         "centre": [round(float(v), 5) for v in np.clip(given[ok].mean(0), 0.0, 1.0)]},
        "slope": round(slope, 4),
        "rendered_vs_implied_r": round(float(np.corrcoef(implied, rendered)[0, 1]), 4),
        "aperture_fit_r_on_the_dataset": round(fit_r, 4),
        "frames": int(ok.sum()),
    }


def heldout(rendered: Path, dataset: Path, holdout_by: str = "dataset") -> dict:
    """Scores of `rendered`/frame_NNNNNN.png against the dataset's held-out
    frames (`holdout_by`: `dataset` or `poses`, as the run held them out):
    full frame, face box and neck band; and, when `rendered`/turned/jaw.json
    lists renders with the head turned (`synctalk train` writes them), the
    neck band of those against the real frame's."""
    from PIL import Image

    _, val = holdout.split(dataset, holdout_by)
    lm = np.load(dataset / "landmarks.npy")

    def load(path: Path, gt: np.ndarray) -> np.ndarray:
        if not path.exists():
            raise ValueError(f"{path}: missing (render the held-out frames {', '.join(map(str, val))})")
        img = np.asarray(Image.open(path).convert("RGB"))
        if img.shape != gt.shape:
            raise ValueError(f"{path}: {img.shape[1]}x{img.shape[0]}, the dataset's frames are {gt.shape[1]}x{gt.shape[0]}")
        return img

    def real(t: int) -> np.ndarray:
        return np.asarray(Image.open(dataset / "frames" / f"{t:06d}.jpg").convert("RGB"))

    rows = {}
    for t in val:
        t = int(t)
        gt = real(t)
        img = load(rendered / f"frame_{t:06d}.png", gt)
        box = metrics.face_box(lm[t], gt.shape[1], gt.shape[0])
        jaw = lm[t, metrics.JAW, :2].astype(np.float64)
        size = metrics.band_size(jaw, box)
        rows[t] = metrics.image_scores(img, gt, box)
        rows[t]["neck"] = metrics.neck_scores(metrics.neck_strip(img, jaw, size), metrics.neck_strip(gt, jaw, size))
    keys = ("full", "face", "neck")
    mean = {k: {m: round(float(np.nanmean([r[k][m] for r in rows.values()])), 4) for m in ("psnr", "ssim", "lpips")}
            for k in keys}
    report = {"holdout": holdout_by, "frames": [int(t) for t in val], "mean": mean,
              "per_frame": {t: {k: {m: round(v, 4) for m, v in r[k].items()} for k in r} for t, r in rows.items()}}
    jaws = rendered / "turned" / "jaw.json"
    if jaws.is_file():
        turned = []
        for name, entry in json.loads(jaws.read_text()).items():
            t = int(entry["frame"])
            gt = real(t)
            img = load(rendered / "turned" / name, gt)
            box = metrics.face_box(lm[t], gt.shape[1], gt.shape[0])
            jaw = lm[t, metrics.JAW, :2].astype(np.float64)
            size = metrics.band_size(jaw, box)
            moved = np.asarray(entry["jaw"], np.float64)
            turned.append(metrics.neck_scores(metrics.neck_strip(img, moved, size), metrics.neck_strip(gt, jaw, size)))
        report["mean"]["turned_head_neck"] = {m: round(float(np.nanmean([r[m] for r in turned])), 4)
                                              for m in ("psnr", "ssim", "lpips")}
        report["turned_renders"] = len(turned)
    return report


def references(dataset: Path, holdout_by: str = "dataset") -> dict:
    """What a held-out score can be, from the real frames alone: the face box
    of each held-out frame scored (as `heldout` scores a render) against the
    real frame 1/fps before it, and against the mean of the real frames
    either side of it. No model is involved; the second knows the frame
    after, which no portrait does (a held-out frame at the clip's end has
    none, so its mean counts one frame fewer). A portrait that scores near them renders
    an unseen frame as closely as the clip's own neighbouring frames match
    it: what is left is what moves between frames without following the
    pose or the expression (hair, a blink between two frames, the camera's
    noise and compression), and sub-pixel misalignment of sharp edges."""
    from PIL import Image

    from . import lpips

    _, val = holdout.split(dataset, holdout_by)
    lm = np.load(dataset / "landmarks.npy")
    n = len(lm)

    def real(t: int) -> np.ndarray:
        return np.asarray(Image.open(dataset / "frames" / f"{t:06d}.jpg").convert("RGB"))

    prev, both = [], []
    for t in (int(t) for t in val):
        gt = real(t)
        x0, y0, x1, y1 = (int(v) for v in metrics.face_box(lm[t], gt.shape[1], gt.shape[0]))

        def face(img):
            return img[y0:y1, x0:x1]

        def scores(img):
            a, b = face(img), face(gt)
            return {"psnr": metrics.psnr(a, b), "ssim": metrics.ssim(a, b), "lpips": lpips.distance(a, b)}

        if t > 0:
            before = real(t - 1)
            prev.append(scores(before))
            if t + 1 < n:
                mean = (before.astype(np.float64) + real(t + 1)) / 2
                both.append(scores(np.clip(np.round(mean), 0, 255).astype(np.uint8)))

    def avg(rows):
        if not rows:
            return None
        return {m: round(float(np.nanmean([r[m] for r in rows])), 4) for m in ("psnr", "ssim", "lpips")} | {"frames": len(rows)}

    return {"holdout": holdout_by, "face": {"previous_frame": avg(prev), "neighbours_mean": avg(both)}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="synctalk-eval", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sync", help="articulation sync and silence of rendered frames")
    s.add_argument("--frames", type=Path, required=True)
    s.add_argument("--audio", type=Path, required=True)
    s.add_argument("--fps", type=float, default=25.0)
    s.add_argument("--transcript", default=None)
    s.add_argument("-o", "--output", type=Path)
    c = sub.add_parser("calibrate", help="the portrait's articulation strength, from frames rendered with timing.json")
    c.add_argument("--frames", type=Path, required=True)
    c.add_argument("--dataset", type=Path, required=True)
    c.add_argument("-o", "--output", type=Path)
    h = sub.add_parser("heldout", help="PSNR, SSIM and LPIPS of rendered held-out frames against the real ones")
    h.add_argument("--rendered", type=Path, required=True)
    h.add_argument("--dataset", type=Path, required=True)
    h.add_argument("--holdout", choices=holdout.CHOICES, default="dataset",
                   help="the held-out frames the run used (synctalk train --holdout)")
    h.add_argument("-o", "--output", type=Path)
    r = sub.add_parser("references", help="held-out face scores of the real neighbouring frames (no model)")
    r.add_argument("--dataset", type=Path, required=True)
    r.add_argument("--holdout", choices=holdout.CHOICES, default="dataset")
    args = ap.parse_args(argv)
    if args.cmd == "references":
        try:
            report = references(args.dataset, args.holdout)
        except (OSError, ValueError, KeyError) as e:
            print(f"synctalk-eval: {e}", file=sys.stderr)
            return 1
        print(json.dumps(report, indent=1))
        return 0
    if args.cmd == "heldout":
        try:
            report = heldout(args.rendered, args.dataset, args.holdout)
        except (OSError, ValueError, KeyError) as e:
            print(f"synctalk-eval: {e}", file=sys.stderr)
            return 1
        text = json.dumps(report, indent=1)
        if args.output:
            args.output.write_text(text + "\n")
        print(json.dumps(report["mean"], indent=1))
        return 0
    frames = sorted(args.frames.glob("*.png")) or sorted(args.frames.glob("*.jpg"))
    if not frames:
        print(f"synctalk-eval: no frames in {args.frames}", file=sys.stderr)
        return 1
    if args.cmd == "calibrate":
        try:
            timing = json.loads((args.frames / "timing.json").read_text())
            report = calibrate(frames, timing, args.dataset)
        except (OSError, ValueError, KeyError, sync.AlignError) as e:
            print(f"synctalk-eval: {e}", file=sys.stderr)
            return 1
        if args.output:
            args.output.write_text(json.dumps(report["articulation"]) + "\n")
        print(json.dumps(report, indent=1))
        return 0
    try:
        audio = media.load_audio(args.audio)
        report = score_frames(frames, audio, args.fps, args.transcript)
    except (media.MediaError, sync.AlignError) as e:
        print(f"synctalk-eval: {e}", file=sys.stderr)
        return 1
    report["audio"] = str(args.audio)
    text = json.dumps(report, indent=1)
    if args.output:
        args.output.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
