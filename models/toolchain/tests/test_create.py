"""`synctalk-create`: bad videos are refused with their cause before any
training and leave nothing behind; a real clip becomes a complete portrait
(the native trainer on whatever adapter the machine has: lavapipe here),
whose metadata holds no path of this machine."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from synctalk_toolchain import create


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


def test_bad_videos_are_refused_before_training_and_leave_nothing(bad_video_set, vfr_video, synctalk_bin, tmp_path):
    videos = dict(bad_video_set)
    videos["variable frame rate"] = (vfr_video, "variable frame rate")
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


def test_a_clip_becomes_a_complete_portrait(cut2s, prepared, synctalk_bin, tmp_path):
    """2 s of a real clip, a short training run on this machine's adapter:
    the portrait has the three networks, the articulation calibration, the
    held-out evaluation with LPIPS, condition_range and head_pivot, and
    records the video by file name only. The work folder already holds the
    clip's prepared dataset (the session's fixture), as after an interrupted
    run: it is resumed, not prepared again."""
    out = tmp_path / "me.stk"
    shutil.copytree(prepared[0], tmp_path / "me.stk.work" / "dataset")
    r = run_create(cut2s, out, "--synctalk", synctalk_bin, "--iters", 20, "--init-points", 1000,
                   "--max-gaussians", 2000, "--fit-pose-steps", 5)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "already prepared from this video" in r.stderr
    summary = json.loads(r.stdout)
    assert sorted(summary["networks"]) == ["expression", "face_sync", "head_sync"]
    info = json.loads(subprocess.run([str(synctalk_bin), "inspect", str(out)], capture_output=True, text=True,
                                     check=True).stdout)
    extra = info["meta"]["extra"]
    if summary["articulation"] is None:
        # 20 steps draw no face MediaPipe finds: the portrait is written,
        # with the reason (the calibration itself: the test below).
        assert "articulation" not in extra
        assert any("articulation not calibrated" in w for w in summary["warnings"]), summary
    else:
        assert extra["articulation"]["strength"] == summary["articulation"]
    assert len(extra["condition_range"]["min"]) == 52 and len(extra["head_pivot"]) == 3
    ev = extra["evaluation"]
    assert 0.0 < ev["lpips_tracked_pose"]["face"] < 1.0
    assert extra["source"] == cut2s.name
    blob = out.read_bytes()
    for private in (str(tmp_path), str(ROOT), str(Path.home()), str(cut2s.parent)):
        assert private.encode() not in blob, f"{private} is written into the portrait"
    assert not list(tmp_path.glob("*.part"))


def test_the_articulation_is_calibrated_on_the_persons_own_speech(prepared, synctalk_bin, tmp_path):
    """The calibration step of synctalk-create on a trained portrait of the
    same person (the demo portrait, trained on the clip the fixture cuts):
    the portrait rendered speaking the clip's audio, its lips measured."""
    dataset, _ = prepared
    cal = create.calibrate_articulation(synctalk_bin, ROOT / "models" / "demo" / "portrait.stk", dataset,
                                        tmp_path / "frames", 25.0)
    art = cal["articulation"]
    assert 1.0 <= art["strength"] <= 3.0 and len(art["centre"]) == 52
    assert cal["frames"] >= 40 and cal["rendered_vs_implied_r"] > 0.3, cal
    assert not (tmp_path / "frames").exists()
