"""synctalk-prepare: from a talking video to a prepared training set.

    synctalk-prepare VIDEO -o DATASET_DIR [--fps 25]

Runs every step with a progress bar and resumes after an interruption: each
finished step leaves a record in DATASET_DIR/.steps/ and is skipped next time
(unless the video or the toolchain changed). DATASET_DIR/dataset.json is
written last, atomically: a folder without it is not a finished dataset.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from . import __version__, audio
from .media import MediaError, load_audio, to_pcm16
from .probe import MIN_SECONDS, VideoInfo, decode_frames, probe

SILENCE_DBFS = -60.0
FORMAT_VERSION = 1


class PrepareError(Exception):
    """A preparation step failed, with the reason."""


@dataclass
class Context:
    video: Path
    out: Path
    fps: float
    info: VideoInfo | None = None
    summaries: dict = field(default_factory=dict)

    def frames(self) -> list[Path]:
        return sorted((self.out / "frames").glob("*.jpg"))


def _bar(desc: str):
    from tqdm import tqdm

    bar = None

    def update(done: int, total: int):
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc=desc, unit="frame", leave=False, file=sys.stderr, disable=None)
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    return update


def check_video(video: Path, info) -> None:
    """Refuses, from its probe alone, a video with no audio stream or one
    known to be shorter than MIN_SECONDS (`synctalk-create` checks this
    before any work, the decode step again)."""
    if not info.has_audio:
        raise MediaError(f"{video}: no audio stream; the toolchain needs the person's speech")
    if info.duration and info.duration < MIN_SECONDS:
        raise MediaError(f"{video}: too short ({info.duration:.2f} s); at least {MIN_SECONDS:.0f} s of video is needed")


def step_decode(ctx: Context) -> dict:
    info = probe(ctx.video)
    ctx.info = info
    check_video(ctx.video, info)
    n = decode_frames(ctx.video, ctx.out / "frames", ctx.fps)
    if n < ctx.fps * MIN_SECONDS:
        raise MediaError(f"{ctx.video}: too short ({n} frame(s) at {ctx.fps:g} fps); at least {MIN_SECONDS:.0f} s is needed")
    samples = load_audio(ctx.video)
    peak = float(np.max(np.abs(samples)))
    rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))
    rms_db = float(20 * np.log10(max(rms, 1e-12)))
    if rms_db < SILENCE_DBFS:
        raise MediaError(f"{ctx.video}: the audio track is silent ({rms_db:.1f} dBFS); the toolchain needs the person's speech")
    import soundfile as sf

    pcm = to_pcm16(samples)
    sf.write(ctx.out / "aud.wav", pcm, audio.SAMPLE_RATE, subtype="PCM_16")
    return {
        "frames": n,
        "width": info.width,
        "height": info.height,
        "source_fps": round(info.fps, 3),
        "source_variable_frame_rate": info.variable_frame_rate,
        "audio_seconds": round(samples.size / audio.SAMPLE_RATE, 3),
        "video_seconds": round(n / ctx.fps, 3),
        "audio_rms_dbfs": round(rms_db, 1),
        "audio_peak": round(peak, 4),
    }


def step_audio(ctx: Context) -> dict:
    import soundfile as sf

    pcm, sr = sf.read(ctx.out / "aud.wav", dtype="int16")
    if sr != audio.SAMPLE_RATE:
        raise PrepareError(f"aud.wav is {sr} Hz, expected {audio.SAMPLE_RATE}")
    mel = audio.log_mel(pcm.astype(np.float64) / 32768.0)
    # The networks' windows (audio.frame_windows) are cut from these frames
    # when needed: stored, they would take 32 KB per video frame.
    np.save(ctx.out / "aud_mel.npy", mel.astype(np.float32))
    return {"mel_frames": int(mel.shape[0]), "spec": f"docs/audio-features.md v{audio.PARAMS['version']}"}


def step_landmarks(ctx: Context) -> dict:
    from . import landmarks

    frames = ctx.frames()
    t = landmarks.track(frames, ctx.fps, progress=_bar("landmarks"))
    smooth = landmarks.one_euro(t.landmarks, ctx.fps)
    bs = landmarks.filter_blendshapes(t.blendshapes)
    np.save(ctx.out / "landmarks_raw.npy", t.landmarks)
    np.save(ctx.out / "landmarks.npy", smooth)
    np.save(ctx.out / "blendshapes_raw.npy", t.blendshapes)
    np.save(ctx.out / "blendshapes.npy", bs)
    np.save(ctx.out / "mp_matrices.npy", t.matrices)
    (ctx.out / "blendshapes.json").write_text(json.dumps(t.names, indent=1) + "\n")
    blink = bs[:, [t.names.index("eyeBlinkLeft"), t.names.index("eyeBlinkRight")]].mean(1)
    return {
        "frames": len(frames),
        "missing_frames": int(t.missing.sum()),
        "landmarks": list(t.landmarks.shape),
        "blendshapes": list(bs.shape),
        "jaw_open_range": [round(float(bs[:, t.names.index("jawOpen")].min()), 3), round(float(bs[:, t.names.index("jawOpen")].max()), 3)],
        "blink_frames": int((blink > 0.5).sum()),
    }


def step_stabilize(ctx: Context) -> dict:
    from . import pose

    frames = ctx.frames()
    lm = np.load(ctx.out / "landmarks_raw.npy")
    import cv2

    h, w = cv2.imread(str(frames[0])).shape[:2]
    try:
        s = pose.stabilize(frames, lm, w, h, progress=_bar("stabilize"))
    except (ValueError, np.linalg.LinAlgError) as e:
        raise PrepareError(f"head pose: {e}") from e
    T = len(frames)
    head = np.tile(np.eye(4), (T, 1, 1))
    head[:, :3, :3], head[:, :3, 3] = s.rotations, s.translations
    np.save(ctx.out / "head_pose.npy", head.astype(np.float32))
    before = np.tile(np.eye(4), (T, 1, 1))
    before[:, :3, :3], before[:, :3, 3] = s.rotations_pnp, s.translations_pnp
    np.save(ctx.out / "head_pose_pnp.npy", before.astype(np.float32))
    np.save(ctx.out / "canonical_face.npy", s.canonical.astype(np.float32))
    n_train = int(np.floor(0.9 * T))
    transforms = {
        "camera_model": "PINHOLE",
        "units": "cm",
        "fl_x": s.focal, "fl_y": s.focal, "cx": w / 2.0, "cy": h / 2.0, "w": w, "h": h,
        "canonical_face": "canonical_face.npy",
        "frames": [
            {
                "index": i,
                "file_path": f"frames/{i:06d}.jpg",
                "split": "train" if i < n_train else "val",
                "head_to_camera": head[i].round(6).tolist(),
                "transform_matrix": np.linalg.inv(head[i]).round(6).tolist(),
            }
            for i in range(T)
        ],
    }
    (ctx.out / "transforms.json").write_text(json.dumps(transforms) + "\n")
    return s.report


def step_parse(ctx: Context) -> dict:
    import cv2

    from . import parsing

    frames = ctx.frames()
    lm = np.load(ctx.out / "landmarks.npy")
    seg = parsing.Segmenter()
    pdir, tdir = ctx.out / "parsing", ctx.out / "torso"
    pdir.mkdir(exist_ok=True)
    tdir.mkdir(exist_ok=True)
    counts = np.zeros(len(parsing.LABELS))
    prev_hair = None
    bar = _bar("parsing")
    for i, path in enumerate(frames):
        bgr = cv2.imread(str(path))
        rgb = np.ascontiguousarray(bgr[:, :, ::-1])
        person = seg.person(rgb)
        prev_hair = seg.hair(rgb, prev_hair)
        labels = parsing.label_frame(person, prev_hair, lm[i, :, :2], rgb)
        cv2.imwrite(str(pdir / f"{i:06d}.png"), labels)
        counts += np.bincount(labels.ravel(), minlength=len(parsing.LABELS))[: len(parsing.LABELS)]
        bar(i + 1, len(frames))
    label_paths = sorted(pdir.glob("*.png"))
    sample = np.linspace(0, len(frames) - 1, min(100, len(frames))).astype(int)
    plate, hole = parsing.background_plate([frames[i] for i in sample], [cv2.imread(str(label_paths[i]), cv2.IMREAD_UNCHANGED) for i in sample])
    cv2.imwrite(str(ctx.out / "background.png"), plate)
    for i, path in enumerate(frames):
        labels = cv2.imread(str(label_paths[i]), cv2.IMREAD_UNCHANGED)
        bgra = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2BGRA)
        bgra[..., 3] = np.where(labels == parsing.TORSO, 255, 0).astype(np.uint8)
        bgra[bgra[..., 3] == 0] = 0  # transparent pixels carry no colour: 10x smaller files
        cv2.imwrite(str(tdir / f"{i:06d}.png"), bgra)
    frac = counts / counts.sum()
    (ctx.out / "parsing.json").write_text(json.dumps({"labels": parsing.LABELS}, indent=1) + "\n")
    return {
        "coverage": {name: round(float(frac[v]), 4) for name, v in parsing.LABELS.items()},
        "background_inpainted_fraction": round(float(hole.mean()), 4),
        # The torso layer starts this many face heights below the chin's tip.
        "neck_margin": parsing.NECK_MARGIN,
    }


def step_report(ctx: Context) -> dict:
    from . import report

    path = report.contact_sheet(ctx.out, ctx.fps)
    return {"contact_sheet": path.name}


STEPS: list[tuple[str, Callable[[Context], dict]]] = [
    ("decode", step_decode),
    ("audio", step_audio),
    ("landmarks", step_landmarks),
    ("stabilize", step_stabilize),
    ("parse", step_parse),
    ("report", step_report),
]


def fingerprint(video: Path, fps: float) -> str:
    """Identity of the input and of the toolchain: size and content samples."""
    h = hashlib.sha256()
    size = video.stat().st_size
    h.update(f"{size}:{fps}:{__version__}:{FORMAT_VERSION}".encode())
    with open(video, "rb") as f:
        h.update(f.read(1 << 20))
        if size > 1 << 20:
            f.seek(max(size - (1 << 20), 0))
            h.update(f.read())
    return h.hexdigest()


def _write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)


def prepare(video: Path, out: Path, fps: float = 25.0, log=print) -> dict:
    video, out = Path(video), Path(out)
    if not video.is_file():
        raise MediaError(f"{video}: no such file")
    if not (fps > 0 and fps <= 120):
        raise PrepareError(f"--fps {fps}: must be in (0, 120]")
    out.mkdir(parents=True, exist_ok=True)
    steps_dir = out / ".steps"
    steps_dir.mkdir(exist_ok=True)
    marker = out / "dataset.json"
    fp = fingerprint(video, fps)
    if marker.exists():
        done = json.loads(marker.read_text())
        if done.get("fingerprint") == fp:
            log(f"{out}: already prepared from this video")
            return done
        marker.unlink()  # another video or toolchain: the folder is redone
    ctx = Context(video=video, out=out, fps=fps)
    rerun = False
    for name, fn in STEPS:
        record = steps_dir / f"{name}.json"
        if not rerun and record.exists():
            prev = json.loads(record.read_text())
            if prev.get("fingerprint") == fp:
                ctx.summaries[name] = prev["summary"]
                log(f"[{name}] done before, skipped")
                continue
        rerun = True
        t0 = time.time()
        log(f"[{name}] ...")
        summary = fn(ctx)
        summary["seconds"] = round(time.time() - t0, 2)
        _write_json_atomic(record, {"fingerprint": fp, "summary": summary})
        ctx.summaries[name] = summary
        log(f"[{name}] {summary}")
    n = ctx.summaries["decode"]["frames"]
    n_train = int(np.floor(0.9 * n))
    dataset = {
        "format": "synctalk-dataset",
        "version": FORMAT_VERSION,
        "toolchain": __version__,
        "fingerprint": fp,
        # The video's file name only: a dataset folder may be shared, and
        # a path names the machine's user and folders.
        "source": video.name,
        "fps": fps,
        "frames": n,
        "split": {"train": [0, n_train], "val": [n_train, n]},
        "steps": ctx.summaries,
    }
    _write_json_atomic(marker, dataset)
    return dataset


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="synctalk-prepare", description=__doc__.split("\n\n")[0])
    ap.add_argument("video", type=Path, help="a talking-head video with the person's speech")
    ap.add_argument("-o", "--output", type=Path, required=True, help="dataset folder")
    ap.add_argument("--fps", type=float, default=25.0, help="frame rate of the dataset (default 25)")
    a = ap.parse_args(argv)
    try:
        d = prepare(a.video, a.output, a.fps, log=lambda m: print(m, file=sys.stderr))
    except (MediaError, PrepareError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume", file=sys.stderr)
        return 130
    print(json.dumps({"dataset": str(a.output), "frames": d["frames"], "split": d["split"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
