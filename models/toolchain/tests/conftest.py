"""Shared fixtures: short cuts of the real clips in ../shared/data (beside the
repository, as in CI) and videos made to be refused, each made once per
session."""
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
# The shared data folder sits beside the checkout (as in CI); override with
# SYNCTALK_SHARED_DATA.
SHARED = Path(os.environ.get("SYNCTALK_SHARED_DATA", ROOT.parent / "shared" / "data"))


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *map(str, args)], check=True)


@pytest.fixture(scope="session")
def clip():
    src = SHARED / "video" / "WDA_KatieHill_000.mp4"
    assert src.is_file(), f"test data missing: {src} (the shared data folder sits beside the repository)"
    return src


@pytest.fixture(scope="session")
def cut2s(clip, tmp_path_factory):
    out = tmp_path_factory.mktemp("media") / "cut2s.mp4"
    ffmpeg("-i", clip, "-t", 2, "-c:v", "libx264", "-crf", 18, "-c:a", "aac", out)
    return out


@pytest.fixture(scope="session")
def prepared(cut2s, tmp_path_factory):
    from synctalk_toolchain.prepare import prepare

    out = tmp_path_factory.mktemp("dataset")
    logs = []
    prepare(cut2s, out, log=logs.append)
    return out, logs


def bad_videos(clip, d):
    """(name, path, expected message) for videos the toolchain must refuse."""
    v = {}
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2", "-f", "lavfi", "-i", "sine=frequency=300:duration=2",
           "-shortest", "-c:v", "libx264", "-c:a", "aac", d / "noface.mp4")
    v["no face"] = (d / "noface.mp4", "no face")
    ffmpeg("-i", clip, "-i", clip, "-t", 2, "-filter_complex", "[0:v][1:v]hstack", "-c:v", "libx264", "-map", "0:a", "-c:a", "aac", d / "two.mp4")
    v["two faces"] = (d / "two.mp4", "2 faces")
    ffmpeg("-i", clip, "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", 2, "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-c:a", "aac", d / "silent.mp4")
    v["silent audio"] = (d / "silent.mp4", "silent")
    (d / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    v["corrupt file"] = (d / "corrupt.mp4", "cannot read")
    ffmpeg("-i", clip, "-frames:v", 1, "-t", 1, "-c:v", "libx264", "-c:a", "aac", d / "oneframe.mp4")
    v["one frame"] = (d / "oneframe.mp4", "too short")
    ffmpeg("-i", clip, "-t", 2, "-an", "-c:v", "libx264", d / "mute.mp4")
    v["no audio stream"] = (d / "mute.mp4", "no audio stream")
    return v


@pytest.fixture(scope="session")
def bad_video_set(clip, tmp_path_factory):
    """bad_videos, made once for the session: test_prepare and test_create
    both feed them to the toolchain, which only reads them."""
    return bad_videos(clip, tmp_path_factory.mktemp("bad_videos"))


def vfr_clip(clip, src):
    """2 s of `clip` with frames at irregular intervals (40, 40, 120 ms...)."""
    ffmpeg("-i", clip, "-t", 2, "-vf", "select='lt(mod(n\\,5)\\,3)'", "-fps_mode", "vfr", "-c:v", "libx264", "-c:a", "aac", src)
    return src


@pytest.fixture(scope="session")
def vfr_video(clip, tmp_path_factory):
    """vfr_clip, made once for the session (read only by its users)."""
    return vfr_clip(clip, tmp_path_factory.mktemp("vfr") / "vfr.mkv")


@pytest.fixture(scope="session")
def run_onnx():
    """Runs an ONNX window network with onnx's reference evaluator on each
    window of [B, CONTEXT, 80]; returns the outputs joined [B, width]."""
    import numpy as np
    import onnx
    from onnx.reference import ReferenceEvaluator

    def run(path, windows):
        sess = ReferenceEvaluator(onnx.load(str(path)))
        return np.concatenate([sess.run(None, {"mel_window": w[None]})[0] for w in windows])

    return run
