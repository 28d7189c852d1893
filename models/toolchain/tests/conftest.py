"""Shared fixtures: short cuts of the real clips in ../shared/data (beside the
repository, as in CI) and videos made to be refused."""
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
