"""`synctalk-eval`: how well a rendered portrait speaks.

`synctalk-eval sync --frames DIR --audio A.wav [-o report.json]` scores a
folder of rendered frames (`synctalk render` writes them) against the audio
they were rendered from: MediaPipe landmarks and blendshapes on every frame,
pocketsphinx phones of the audio, then the articulation contrast per picture
shift (sync.py) and the mouth in silences longer than 300 ms (MediaPipe
jawOpen must stay below 0.1).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from . import landmarks, media, sync

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


def score_frames(frames: list[Path], audio: np.ndarray, fps: float, transcript: str | None = None) -> dict:
    track = landmarks.track(frames, fps)
    ap = sync.lip_aperture(track.landmarks)
    jaw = track.blendshapes[:, track.names.index("jawOpen")]
    segs, text = sync.phones(audio, transcript)
    score = sync.articulation_contrast(segs, ap, fps)
    quiet = []
    for s, e in silences(segs):
        # Skip the transition frames at both ends (the mouth closes as the sound stops).
        a, b = int(np.ceil((s + 0.1) * fps)), int(np.floor((e - 0.1) * fps))
        if b >= a and a < len(jaw):
            quiet.append({"start_s": round(s, 2), "end_s": round(e, 2),
                          "max_jaw_open": round(float(jaw[a : b + 1].max()), 4)})
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="synctalk-eval", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sync", help="articulation sync and silence of rendered frames")
    s.add_argument("--frames", type=Path, required=True)
    s.add_argument("--audio", type=Path, required=True)
    s.add_argument("--fps", type=float, default=25.0)
    s.add_argument("--transcript", default=None)
    s.add_argument("-o", "--output", type=Path)
    args = ap.parse_args(argv)
    frames = sorted(args.frames.glob("*.png")) or sorted(args.frames.glob("*.jpg"))
    if not frames:
        print(f"synctalk-eval: no frames in {args.frames}", file=sys.stderr)
        return 1
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
