"""`synctalk-create`: bad videos are refused with their cause before any
training and leave nothing behind; a real clip becomes a complete portrait
(the native trainer on whatever adapter the machine has: lavapipe here),
whose metadata holds no path of this machine."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, ffmpeg
from synctalk_toolchain import create
from test_prepare import bad_videos


@pytest.fixture(scope="session")
def synctalk_bin():
    """The workspace's `synctalk` (scripts/test.sh builds it before pytest)."""
    for p in (ROOT / "target" / "debug" / "synctalk", ROOT / "target" / "release" / "synctalk"):
        if p.is_file():
            return p
    pytest.fail("target/debug/synctalk is missing: build it with `cargo build -p synctalk-cli`")


def run_create(video, out, *extra, env=None):
    return subprocess.run([sys.executable, "-m", "synctalk_toolchain.create", str(video), "-o", str(out),
                           *map(str, extra)], capture_output=True, text=True, env=env)


def test_bad_videos_are_refused_before_training_and_leave_nothing(clip, synctalk_bin, tmp_path):
    videos = bad_videos(clip, tmp_path)
    vfr = tmp_path / "vfr.mkv"
    ffmpeg("-i", clip, "-t", 2, "-vf", "select='lt(mod(n\\,5)\\,3)'", "-fps_mode", "vfr", "-c:v", "libx264", "-c:a", "aac", vfr)
    videos["variable frame rate"] = (vfr, "variable frame rate")
    videos["missing file"] = (tmp_path / "nope.mp4", "no such file")
    for name, (video, want) in videos.items():
        out = tmp_path / "out" / f"{name.replace(' ', '_')}.stk"
        r = run_create(video, out, "--synctalk", synctalk_bin)
        assert r.returncode == 1, f"{name}: {r.stderr}"
        last = r.stderr.strip().splitlines()[-1]
        assert last.startswith("error: ") and want in last, f"{name}: {last}"
        assert "training" not in r.stderr, f"{name}: refused only after training started"
        assert not out.exists() and not out.with_name(out.name + ".work").exists(), f"{name}: left files"


def test_a_missing_synctalk_program_is_named_with_how_to_build_it(cut2s, tmp_path):
    r = run_create(cut2s, tmp_path / "p.stk", "--synctalk", tmp_path / "nope")
    assert r.returncode == 1
    assert "cargo build --release -p synctalk-cli" in r.stderr
    env = {**os.environ, "PATH": "/usr/bin:/bin", "SYNCTALK": str(tmp_path / "gone")}
    r = run_create(cut2s, tmp_path / "p.stk", env=env)
    assert r.returncode == 1 and "SYNCTALK=" in r.stderr
    assert not (tmp_path / "p.stk.work").exists()


def test_a_clip_becomes_a_complete_portrait(cut2s, synctalk_bin, tmp_path):
    """2 s of a real clip, a short training run on this machine's adapter:
    the portrait has the three networks, the articulation calibration, the
    held-out evaluation with LPIPS, condition_range and head_pivot, and
    records the video by file name only."""
    out = tmp_path / "me.stk"
    r = run_create(cut2s, out, "--synctalk", synctalk_bin, "--iters", 20, "--init-points", 1000,
                   "--max-gaussians", 2000, "--fit-pose-steps", 5)
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads(r.stdout)
    assert sorted(summary["networks"]) == ["expression", "face_sync", "head_sync"]
    info = json.loads(subprocess.run([str(synctalk_bin), "inspect", str(out)], capture_output=True, text=True,
                                     check=True).stdout)
    extra = info["meta"]["extra"]
    assert 1.0 <= extra["articulation"]["strength"] <= 3.0 and len(extra["articulation"]["centre"]) == 52
    assert len(extra["condition_range"]["min"]) == 52 and len(extra["head_pivot"]) == 3
    ev = extra["evaluation"]
    assert 0.0 < ev["lpips_tracked_pose"]["face"] < 1.0
    assert extra["source"] == cut2s.name
    blob = out.read_bytes()
    for private in (str(tmp_path), str(ROOT), str(Path.home()), str(cut2s.parent)):
        assert private.encode() not in blob, f"{private} is written into the portrait"
    assert not list(tmp_path.glob("*.part"))
