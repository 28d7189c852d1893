"""The portrait writer and reader (stk.py): layout, checksums and refusals. That the Rust
reader accepts what it writes is tested by crates/synctalk-cli/tests/demo.rs
on the shipped demo portrait."""
import struct
import zlib

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from synctalk_toolchain import stk


def portrait(n=50, **kw):
    rng = np.random.default_rng(0)
    args = dict(meta={"name": "t", "licence": "CC0"}, width=64, height=48, fx=60.0, fy=60.0, cx=32.0, cy=24.0,
                positions=rng.normal(size=(n, 3)), rotations=rng.normal(size=(n, 4)),
                log_scales=rng.normal(size=(n, 3)) - 3, opacity_logits=rng.normal(size=n), sh=rng.normal(size=(n, 4, 3)),
                bases=0.01 * rng.normal(size=(3, 11, n)),
                controller=[stk.Dense(rng.normal(size=(8, 52)).astype(np.float32), np.zeros(8, np.float32), "relu"),
                            stk.Dense(rng.normal(size=(3, 8)).astype(np.float32), np.zeros(3, np.float32))],
                input_dim=52, pose_rotations=np.tile([1.0, 0, 0, 0], (4, 1)), pose_translations=np.zeros((4, 3)),
                layers=[(stk.ROLE_TORSO, 2, stk.png_rgba(np.zeros((48, 64, 4), np.uint8)), 64, 48)],
                networks=[("face_sync", b"onnx")])
    args.update(kw)
    return stk.PortraitData(**args)


def chunks(data):
    assert data[:8] == stk.MAGIC
    assert struct.unpack("<HH", data[8:12]) == (1, 0)
    assert struct.unpack("<I", data[12:16])[0] == zlib.crc32(data[:12])
    pos, out = 16, []
    while pos < len(data):
        tag = data[pos : pos + 4]
        flags, length, crc, reserved = struct.unpack("<IQII", data[pos + 4 : pos + 24])
        payload = data[pos + 24 : pos + 24 + length]
        assert zlib.crc32(payload) == crc and reserved == 0 and flags in (0, 1)
        out.append((tag, flags, payload))
        pos += 24 + length + (-length % 8)
    assert pos == len(data)
    return out


def test_layout_checksums_and_order():
    data = stk.encode(portrait())
    tags = [t for t, _, _ in chunks(data)]
    assert tags == [b"META", b"CAMR", b"GAUS", b"DEFM", b"POSE", b"IMAG", b"NETW", b"END "]
    crit = {t: f for t, f, _ in chunks(data)}
    assert crit[b"GAUS"] == 1 and crit[b"END "] == 1 and crit[b"IMAG"] == 0
    gaus = dict((t, p) for t, _, p in chunks(data))[b"GAUS"]
    n, degree, precision, _ = struct.unpack("<IBBH", gaus[:8])
    assert (n, degree, precision) == (50, 1, 1)
    # positions f32, then f16 rotations (4), log-scales (3), opacity (1), SH (12)
    assert len(gaus) == 8 + n * 12 + n * 2 * (4 + 3 + 1 + 12)


@pytest.mark.parametrize("change, words", [
    (dict(positions=np.full((50, 3), np.nan)), "non-finite"),
    (dict(sh=np.full((50, 4, 3), 1e6)), "half precision"),
    (dict(sh=np.zeros((50, 5, 3))), "GAUS.sh"),
    (dict(rotations=np.zeros((50, 4))), "zero quaternion"),
    (dict(bases=np.zeros((40, 11, 50))), "DEFM.bases"),
    (dict(meta={"name": "", "licence": "x"}), "name"),
    (dict(input_dim=51), "DEFM.layer0"),
])
def test_refuses_what_the_format_cannot_hold(change, words):
    with pytest.raises(stk.PortraitWriteError, match=words):
        stk.encode(portrait(**change))


def test_quaternions_match_scipy():
    R = Rotation.random(100, random_state=1).as_matrix()
    q = stk.quaternion_from_matrix(R)
    xyzw = np.concatenate([q[:, 1:], q[:, :1]], 1)
    assert np.allclose(Rotation.from_quat(xyzw).as_matrix(), R, atol=1e-9)
    assert np.all(q[:, 0] >= 0)
    # And back: the matrix of each quaternion, at any scale of it.
    for qi, Ri in zip(q, R):
        assert np.allclose(stk.matrix_from_quaternion(3 * qi), Ri, atol=1e-9)


def test_write_is_atomic(tmp_path):
    path = tmp_path / "p.stk"
    size = stk.write(path, portrait())
    assert path.stat().st_size == size and not (tmp_path / "p.stk.part").exists()


def test_the_reader_gives_back_what_was_written():
    p = portrait()
    data = stk.encode(p)
    assert stk.read_meta(data) == p.meta
    layers = stk.read_controller(data)
    assert [layer.activation for layer in layers] == ["relu", "linear"]
    for got, want in zip(layers, p.controller):
        np.testing.assert_array_equal(got.weight, want.weight)
        np.testing.assert_array_equal(got.bias, want.bias)
    x = np.random.default_rng(1).normal(size=(4, 52)).astype(np.float32)
    want = np.maximum(x @ p.controller[0].weight.T, 0) @ p.controller[1].weight.T
    np.testing.assert_allclose(stk.run_controller(layers, x), want, rtol=1e-5, atol=1e-5)
    q, t, fps = stk.read_pose(data)
    np.testing.assert_allclose(q, p.pose_rotations, atol=1e-7)
    np.testing.assert_allclose(t, p.pose_translations, atol=1e-7)
    assert fps == p.fps
    # A frame's view: the camera after that frame's head pose.
    f = len(q) - 1
    head = np.eye(4)
    head[:3, :3] = stk.matrix_from_quaternion(p.pose_rotations[f])
    head[:3, 3] = p.pose_translations[f]
    world = np.eye(4)
    world[:3, :3], world[:3, 3] = p.cam_rotation, p.cam_translation
    np.testing.assert_allclose(stk.frame_view(data, f), world @ head, atol=1e-6)
    with pytest.raises(stk.PortraitReadError, match=f"no frame {len(q)}"):
        stk.frame_view(data, len(q))


@pytest.mark.parametrize("half", [True, False])
def test_the_reader_gives_back_the_gaussians_camera_and_layers(half):
    rng = np.random.default_rng(2)
    torso = rng.integers(0, 256, (48, 64, 4), dtype=np.uint8)
    p = portrait(half=half, layers=[(stk.ROLE_TORSO, 2, stk.png_rgba(torso), 64, 48)])
    data = stk.encode(p)
    g = stk.read_gaussians(data)
    assert g["sh_degree"] == 1 and g["sh"].shape == (50, 4, 3)
    np.testing.assert_array_equal(g["positions"], p.positions.astype(np.float32))  # always f32
    for key in ("rotations", "log_scales", "opacity_logits", "sh"):
        want = getattr(p, key).astype(np.float32).astype(np.float16 if half else np.float32).astype(np.float32)
        np.testing.assert_array_equal(g[key], want)
    np.testing.assert_array_equal(stk.read_bases(data), p.bases.astype(np.float32).astype(np.float16 if half else np.float32).astype(np.float32))
    cam = stk.read_camera(data)
    assert (cam["width"], cam["height"], cam["fx"], cam["cx"], cam["near"]) == (64, 48, 60.0, 32.0, np.float32(0.2))
    np.testing.assert_array_equal(cam["rotation"], np.eye(3))
    assert list(stk.read_layers(data)) == [(stk.ROLE_TORSO, 2)]
    np.testing.assert_array_equal(stk.read_layers(data)[(stk.ROLE_TORSO, 2)], torso)
    assert stk.read_bases(stk.encode(portrait(bases=None, controller=[], input_dim=0))) is None
    with pytest.raises(stk.PortraitReadError, match="GAUS.sh"):
        stk.read_gaussians(_short_gaus(data))


def _short_gaus(data):
    """The file with GAUS cut 8 bytes short (checksum made right), so only
    the reader's own length check can object."""
    out, pos = [data[:16]], 16
    while pos < len(data):
        tag = data[pos : pos + 4]
        flags, length, _, _ = struct.unpack("<IQII", data[pos + 4 : pos + 24])
        payload = data[pos + 24 : pos + 24 + length]
        if tag == b"GAUS":
            payload = payload[:-8]
        out.append(tag + struct.pack("<IQII", flags, len(payload), zlib.crc32(payload), 0) + payload + b"\0" * (-len(payload) % 8))
        pos += 24 + length + (-length % 8)
    return b"".join(out)


@pytest.mark.parametrize("cut, words", [
    (lambda d: d[:-30], "truncated|promised"),
    (lambda d: d[:9] + bytes([d[9] ^ 1]) + d[10:], "header: checksum"),
    (lambda d: b"NOTAPORT" + d[8:], "magic"),
    (lambda d: d[:40] + b"\x00" + d[41:], "META: checksum"),
])
def test_the_reader_refuses_damaged_files(cut, words):
    with pytest.raises(stk.PortraitReadError, match=words):
        stk.read_meta(cut(stk.encode(portrait())))


def test_the_demo_portrait_names_no_path_of_a_machine():
    """Files users share carry no absolute path (user names, folders) of
    the machine that made them: every string of the demo's metadata."""
    from pathlib import Path

    demo = Path(__file__).resolve().parents[2] / "demo" / "portrait.stk"
    meta = stk.read_meta(demo.read_bytes())

    def strings(v):
        if isinstance(v, dict):
            for x in v.values():
                yield from strings(x)
        elif isinstance(v, list):
            for x in v:
                yield from strings(x)
        elif isinstance(v, str):
            yield v

    found = [s for s in strings(meta) if s.startswith(("/", "~")) or s[1:3] in (":\\", ":/")]
    assert meta["extra"]["source"] == "WDA_KatieHill_000.mp4" and not found, found
