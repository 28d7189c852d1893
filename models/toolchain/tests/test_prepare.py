"""synctalk-prepare on a 2-second cut of a real clip: every output checked by
value, resumption, and refusal of unusable videos."""
import json
import subprocess

import numpy as np
import pytest
import soundfile as sf

from conftest import ffmpeg
from synctalk_toolchain import landmarks, prepare as prep
from synctalk_toolchain.media import MediaError


def test_decode_outputs(prepared):
    out, _ = prepared
    frames = sorted((out / "frames").glob("*.jpg"))
    assert len(frames) == 50
    import cv2

    assert cv2.imread(str(frames[0])).shape == (512, 512, 3)
    pcm, sr = sf.read(out / "aud.wav", dtype="int16")
    assert sr == 16000 and pcm.ndim == 1 and abs(pcm.size / 16000 - 2.0) < 0.1
    meta = json.loads((out / "dataset.json").read_text())
    # The video by its file name only: no path of this machine.
    assert meta["source"] == "cut2s.mp4"
    decode = meta["steps"]["decode"]
    assert decode["source_variable_frame_rate"] is False and decode["source_fps"] == 25.0


def test_landmarks_and_blendshapes_by_value(prepared):
    out, _ = prepared
    L = np.load(out / "landmarks.npy")
    raw = np.load(out / "landmarks_raw.npy")
    B = np.load(out / "blendshapes.npy")
    names = json.loads((out / "blendshapes.json").read_text())
    assert L.shape == raw.shape == (50, 478, 3) and B.shape == (50, 52) and len(names) == 52
    assert {"jawOpen", "eyeBlinkLeft", "mouthClose", "mouthPucker"} <= set(names)
    # A frontal face filling a fair part of a 512x512 frame.
    xy = L[..., :2]
    assert xy.min() >= 0 and xy.max() <= 512
    width = xy[:, :, 0].max(1) - xy[:, :, 0].min(1)
    assert np.all((width > 100) & (width < 400)), width
    # The filter smooths but does not drag the lips behind the speech.
    mouth = [13, 14, 78, 308, 82, 312, 87, 317]
    assert np.abs(L - raw)[:, mouth, :2].mean() < 0.6
    assert np.all((B >= 0) & (B <= 1))
    jaw = B[:, names.index("jawOpen")]
    assert jaw.max() > 0.1 and jaw.std() > 0.02, "the speaker's jaw moves"
    M = np.load(out / "mp_matrices.npy")
    assert M.shape == (50, 4, 4) and np.allclose(M[:, 3], [0, 0, 0, 1], atol=1e-4)


def test_audio_features_and_split(prepared):
    out, _ = prepared
    mel = np.load(out / "aud_mel.npy")
    assert mel.shape == (205, 80) and np.all(np.isfinite(mel))
    assert not (out / "aud_windows.npy").exists()  # cut from aud_mel.npy when needed
    d = json.loads((out / "dataset.json").read_text())
    assert d["frames"] == 50 and d["split"] == {"train": [0, 45], "val": [45, 50]}
    assert set(d["steps"]) == {"decode", "audio", "landmarks", "stabilize", "parse", "report"}


def test_parsing_layers_and_report(prepared):
    import cv2

    from synctalk_toolchain import parsing

    out, _ = prepared
    labels = [cv2.imread(str(p), cv2.IMREAD_UNCHANGED) for p in sorted((out / "parsing").glob("*.png"))]
    assert len(labels) == 50 and labels[0].shape == (512, 512) and labels[0].dtype == np.uint8
    assert set(np.unique(np.stack(labels))) <= set(parsing.LABELS.values())
    cov = json.loads((out / "dataset.json").read_text())["steps"]["parse"]["coverage"]
    assert 0.1 < cov["face"] < 0.4 and cov["hair"] > 0.05 and cov["background"] > 0.1
    assert 0.0005 < cov["mouth"] < 0.03 and cov["neck_torso"] > 0.01
    lm = np.load(out / "landmarks.npy")
    for i in (0, 25, 49):
        ys, xs = np.nonzero(labels[i] == parsing.FACE)
        # The face label lies within the face-oval landmarks, the neck below the chin.
        oval = lm[i, parsing.FACE_OVAL, :2]
        assert xs.min() >= oval[:, 0].min() - 2 and xs.max() <= oval[:, 0].max() + 2
        assert ys.min() >= oval[:, 1].min() - 2 and ys.max() <= oval[:, 1].max() + 2
        # Torso pixels never fall inside the face oval.
        import cv2 as _cv2

        oval_mask = np.zeros((512, 512), np.uint8)
        _cv2.fillPoly(oval_mask, [np.round(oval).astype(np.int32)], 1)
        assert (labels[i] == parsing.TORSO).sum() > 1000
        assert not np.any((labels[i] == parsing.TORSO) & (oval_mask == 1))
        # The torso starts below the chin's underside: the neck's skin
        # between the oval's sides down to NECK_MARGIN face heights is the
        # head's (this clip's neck is bare: most of that band).
        chin_y = lm[i, parsing.CHIN, 1]
        cut_y = chin_y + parsing.NECK_MARGIN * (chin_y - oval[:, 1].min())
        rows, cols = np.mgrid[:512, :512]
        band = (rows > chin_y) & (rows <= cut_y) & (cols >= oval[:, 0].min()) & (cols <= oval[:, 0].max())
        rgb = cv2.imread(str(out / "frames" / f"{i:06d}.jpg"))[..., ::-1]
        skin = parsing.skin_like(rgb, labels[i] == parsing.FACE)
        assert not np.any(band & skin & (labels[i] == parsing.TORSO))
        assert (band & (labels[i] == parsing.HEAD_OTHER)).sum() > 0.5 * (band & (labels[i] != parsing.BACKGROUND)).sum()
        assert ((labels[i] == parsing.TORSO) & (rows > cut_y + 1)).any()
    torso = cv2.imread(str(out / "torso" / "000010.png"), cv2.IMREAD_UNCHANGED)
    assert torso.shape == (512, 512, 4)
    assert np.array_equal(torso[..., 3] > 0, labels[10] == parsing.TORSO)
    plate = cv2.imread(str(out / "background.png"))
    assert plate.shape == (512, 512, 3)
    # The plate matches the frame where the background is visible.
    frame = cv2.imread(str(out / "frames" / "000000.jpg")).astype(np.float64)
    bg = cv2.erode((labels[0] == parsing.BACKGROUND).astype(np.uint8), np.ones((15, 15), np.uint8)) > 0
    assert np.abs(plate.astype(np.float64) - frame)[bg].mean() < 12
    sheet = cv2.imread(str(out / "report.png"))
    assert sheet.shape[0] > 1000 and sheet.shape[1] == 1280


def test_head_pose_is_valid_and_stabilised(prepared):
    out, _ = prepared
    from synctalk_toolchain import pose

    H = np.load(out / "head_pose.npy").astype(np.float64)
    R, t = H[:, :3, :3], H[:, :3, 3]
    assert H.shape == (50, 4, 4)
    assert np.allclose(R @ np.swapaxes(R, 1, 2), np.eye(3), atol=1e-4) and np.allclose(np.linalg.det(R), 1, atol=1e-4)
    assert np.all(t[:, 2] > 10), "the head is in front of the camera"
    rep = json.loads((out / "dataset.json").read_text())["steps"]["stabilize"]
    assert rep["reprojection_px_after"] < 2.0
    assert rep["reprojection_px_after"] <= 1.10 * rep["reprojection_px_before"]
    assert rep["jitter_deg_per_frame2_after"] < 0.8 * rep["jitter_deg_per_frame2_before"]
    assert rep["translation_jitter_cm_per_frame2_after"][2] < 0.8 * rep["translation_jitter_cm_per_frame2_before"][2]
    assert abs(pose.jitter_deg(R) - rep["jitter_deg_per_frame2_after"]) < 1e-3
    # The canonical face projects onto the landmarks it came from.
    tr = json.loads((out / "transforms.json").read_text())
    canon = np.load(out / "canonical_face.npy").astype(np.float64)
    lm = np.load(out / "landmarks_raw.npy")[..., :2]
    proj = pose.project(R, t, canon, tr["fl_x"], np.array([tr["cx"], tr["cy"]]))
    nose = 1
    assert np.median(np.linalg.norm(proj[:, nose] - lm[:, nose], axis=-1)) < 4.0
    assert len(tr["frames"]) == 50 and tr["frames"][45]["split"] == "val" and tr["frames"][44]["split"] == "train"
    assert np.allclose(np.array(tr["frames"][3]["transform_matrix"]) @ H[3], np.eye(4), atol=1e-4)


def test_rotation_helpers_round_trip():
    from synctalk_toolchain import pose

    rng = np.random.default_rng(1)
    rv = rng.normal(0, 0.5, (20, 3))
    assert np.allclose(pose.log_rotation(pose.rodrigues(rv)), rv, atol=1e-9)
    # Constant angular velocity has zero acceleration.
    R = pose.rodrigues(np.outer(np.arange(10), [0.0, 0.02, 0.0]))
    assert pose.jitter_deg(R) < 1e-9


def test_resumes_and_redoes_only_what_is_missing(prepared, cut2s, tmp_path):
    out, _ = prepared
    logs = []
    before = (out / "landmarks.npy").stat().st_mtime_ns
    prep.prepare(cut2s, out, log=logs.append)
    assert any("already prepared" in m for m in logs)
    assert (out / "landmarks.npy").stat().st_mtime_ns == before
    # An interrupted run: the last step's record and the marker are gone.
    (out / "dataset.json").unlink()
    (out / ".steps" / "landmarks.json").unlink()
    logs.clear()
    prep.prepare(cut2s, out, log=logs.append)
    assert any("[decode] done before" in m for m in logs) and any("[audio] done before" in m for m in logs)
    assert any(m.startswith("[landmarks] {") for m in logs)
    assert (out / "dataset.json").exists()


def test_a_failing_step_leaves_no_complete_dataset(cut2s, tmp_path, monkeypatch):
    def boom(ctx):
        raise prep.PrepareError("simulated failure")

    monkeypatch.setattr(prep, "STEPS", [prep.STEPS[0], ("audio", boom)])
    with pytest.raises(prep.PrepareError):
        prep.prepare(cut2s, tmp_path / "ds", log=lambda m: None)
    assert not (tmp_path / "ds" / "dataset.json").exists()
    assert (tmp_path / "ds" / ".steps" / "decode.json").exists()


def test_bad_videos_are_refused_with_their_cause(bad_video_set, tmp_path):
    for name, (video, want) in bad_video_set.items():
        out = tmp_path / f"ds-{name.replace(' ', '_')}"
        with pytest.raises((MediaError, prep.PrepareError)) as e:
            prep.prepare(video, out, log=lambda m: None)
        assert want in str(e.value), f"{name}: {e.value}"
        assert not (out / "dataset.json").exists(), name


def test_cli_prints_one_error_line(tmp_path):
    r = subprocess.run(["synctalk-prepare", str(tmp_path / "nope.mp4"), "-o", str(tmp_path / "ds")], capture_output=True, text=True)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1] == f"error: {tmp_path / 'nope.mp4'}: no such file"


def test_blink_survives_filtering_and_flicker_does_not():
    b = np.zeros((20, 52), np.float32)
    b[5:8, 9] = [0.7, 0.95, 0.8]  # a 3-frame blink
    b[14, 9] = 0.9  # a one-frame flicker
    f = landmarks.filter_blendshapes(b)
    assert f[6, 9] >= 0.8 and f[14, 9] == 0.0


def test_one_euro_reduces_jitter_and_follows_motion():
    rng = np.random.default_rng(0)
    still = 100 + rng.normal(0, 0.5, (100, 1))
    assert np.diff(landmarks.one_euro(still, 25.0), axis=0).std() < 0.5 * np.diff(still, axis=0).std()
    step = np.concatenate([np.zeros(20), np.full(20, 50.0)])[:, None]
    assert landmarks.one_euro(step, 25.0)[25, 0] > 40.0


def test_other_frame_rates_and_sizes_work(clip, tmp_path):
    """A 30 fps, 640x360, 44.1 kHz stereo video: frames are resampled to 25 fps."""
    src = tmp_path / "wide30.mp4"
    ffmpeg("-i", clip, "-t", 2, "-vf", "scale=-2:360,pad=640:360:(ow-iw)/2:0,fps=30", "-ar", 44100, "-ac", 2,
           "-c:v", "libx264", "-c:a", "aac", src)
    out = tmp_path / "ds"
    d = prep.prepare(src, out, log=lambda m: None)
    assert d["frames"] == 50
    s = d["steps"]["decode"]
    assert (s["width"], s["height"], s["source_fps"]) == (640, 360, 30.0)
    assert np.load(out / "landmarks.npy").shape == (50, 478, 3)
    assert json.loads((out / "transforms.json").read_text())["w"] == 640


def test_variable_frame_rate_input_is_resampled(vfr_video, tmp_path):
    """Frames at irregular intervals (40, 40, 120 ms...) become 25 fps CFR."""
    d = prep.prepare(vfr_video, tmp_path / "ds", log=lambda m: None)
    s = d["steps"]["decode"]
    assert s["source_variable_frame_rate"] is True
    assert d["frames"] == 50 and abs(s["video_seconds"] - 2.0) < 0.05


def test_articulation_calibration_on_the_persons_own_frames(prepared):
    """A 'portrait' that is the person's own video needs no amplification;
    one that showed the same picture for twice the mouth shapes needs 0.5x."""
    import numpy as np

    from synctalk_toolchain import evaluate

    out, _ = prepared
    frames = sorted((out / "frames").glob("*.jpg"))
    bs = np.load(out / "blendshapes.npy").astype(np.float64)
    own = evaluate.calibrate(frames, {"frames": [{"blendshapes": b.tolist()} for b in bs]}, out)
    assert 0.85 < own["slope"] < 1.15 and own["articulation"]["strength"] < 1.2, own
    # The slope is fitted around the frames' mean shape: that is the centre.
    assert np.allclose(own["articulation"]["centre"], np.clip(bs.mean(0), 0, 1), atol=1e-5)
    doubled = bs.mean(0) + 2 * (bs - bs.mean(0))
    half = evaluate.calibrate(frames, {"frames": [{"blendshapes": b.tolist()} for b in doubled]}, out)
    assert abs(half["slope"] - own["slope"] / 2) < 0.02, (own, half)


def test_neck_to_head_moves_only_the_skin_under_the_chin():
    from synctalk_toolchain import parsing

    lm = np.zeros((478, 2))
    lm[parsing.FACE_OVAL] = [100.0, 100.0]  # the oval spans x 100..200, y 100..300
    lm[parsing.FACE_OVAL[0]] = [150.0, 100.0]
    lm[parsing.FACE_OVAL[1]] = [200.0, 200.0]
    lm[parsing.FACE_OVAL[2]] = [100.0, 200.0]
    lm[parsing.CHIN] = [150.0, 300.0]
    labels = np.full((400, 300), parsing.TORSO, np.uint8)
    labels[:300] = parsing.FACE
    labels[310, 120] = parsing.HAIR
    # Skin with some texture; under the chin a shadowed neck (darker, same
    # chroma) with a darker crease on the left, a white collar at x 160..180
    # and a dark suit from x 181 on.
    rng = np.random.default_rng(0)
    skin = np.array([205.0, 150.0, 120.0])
    rgb = np.clip(skin + rng.normal(0, 3, (400, 300, 3)), 0, 255)
    rgb[300:] *= 0.55
    rgb[300:, 160:181] = 240.0
    rgb[300:, 181:] = 35.0
    rgb[303:306, 110:150] = 12.0  # a crease too dark for its colour to count
    rgb = rgb.astype(np.uint8)
    out = parsing.neck_to_head(labels, lm, rgb)
    cut = 300 + parsing.NECK_MARGIN * 200
    rows = np.arange(400)
    moved = out != labels
    ys, xs = np.nonzero(moved)
    assert ys.min() == 301 and ys.max() == int(cut) and xs.min() == 100 and xs.max() == 159
    assert moved[301 : int(cut) + 1, 100:160].sum() == 24 * 60 - 1  # all but the hair pixel, the crease included
    assert np.all(out[moved] == parsing.HEAD_OTHER)
    assert np.all(out[300:, 160:] == parsing.TORSO)
    assert out[310, 120] == parsing.HAIR and out[305, 99] == parsing.TORSO and out[int(cut) + 1, 150] == parsing.TORSO
    assert np.all(out[rows < 300] == parsing.FACE)
    # Without a face to take the skin's colour from, nothing moves.
    assert np.array_equal(parsing.neck_to_head(np.where(labels == parsing.FACE, parsing.HEAD_OTHER, labels), lm, rgb),
                          np.where(labels == parsing.FACE, parsing.HEAD_OTHER, labels))