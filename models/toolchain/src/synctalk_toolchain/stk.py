"""Writer of the SyncTalk portrait format v1 (`.stk`, docs/portrait-format.md),
and a reader of the parts that the toolchain's tools use (META, the camera,
the Gaussians and their deformation, the pose track, the image layers).

Numpy only, so that export and its tests run without PyTorch. The Rust reader
(`synctalk-portrait`) is the reference: every file written here is read back
by it in the project's tests, and it is the one that renders.
"""
from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAGIC = b"STKPORT\x1a"
ACTIVATIONS = {"linear": 0, "relu": 1, "tanh": 2, "sigmoid": 3}
ROLE_BACKGROUND, ROLE_TORSO = 0, 1


class PortraitWriteError(ValueError):
    """A value that the format cannot hold, named by chunk and field."""


class PortraitReadError(ValueError):
    """A file that is not a well-formed portrait, named by chunk and cause."""


@dataclass
class Dense:
    """One controller layer: y = act(W x + b), W is [outputs, inputs]."""

    weight: np.ndarray
    bias: np.ndarray
    activation: str = "linear"


@dataclass
class PortraitData:
    """Everything one portrait file holds (arrays in the format's layouts)."""

    meta: dict
    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    positions: np.ndarray  # [N, 3]
    rotations: np.ndarray  # [N, 4] w, x, y, z
    log_scales: np.ndarray  # [N, 3]
    opacity_logits: np.ndarray  # [N]
    sh: np.ndarray  # [N, (d+1)^2, 3], DC first
    near: float = 0.2
    cam_rotation: np.ndarray = field(default_factory=lambda: np.eye(3))
    cam_translation: np.ndarray = field(default_factory=lambda: np.zeros(3))
    bases: np.ndarray | None = None  # [K, 11, N]
    controller: list[Dense] = field(default_factory=list)
    input_dim: int = 0
    pose_rotations: np.ndarray | None = None  # [T, 4] unit quaternions w, x, y, z
    pose_translations: np.ndarray | None = None  # [T, 3]
    fps: float = 25.0
    layers: list[tuple[int, int, bytes, int, int]] = field(default_factory=list)  # role, index, PNG, w, h
    networks: list[tuple[str, bytes]] = field(default_factory=list)  # name, ONNX bytes
    half: bool = True


def _chunk(tag: bytes, critical: bool, payload: bytes) -> bytes:
    head = tag + struct.pack("<IQII", 1 if critical else 0, len(payload), zlib.crc32(payload), 0)
    return head + payload + b"\0" * (-len(payload) % 8)


def _floats(name: str, a: np.ndarray, half: bool) -> bytes:
    a = np.asarray(a, np.float32)
    if not np.all(np.isfinite(a)):
        raise PortraitWriteError(f"{name}: non-finite values")
    if half:
        with np.errstate(over="ignore"):
            h = a.astype("<f2")
        if not np.all(np.isfinite(h)):
            raise PortraitWriteError(f"{name}: values overflow half precision (|x| > 65504)")
        return h.tobytes()
    return a.astype("<f4").tobytes()


def quaternion_from_matrix(R: np.ndarray) -> np.ndarray:
    """Rotation matrices [..., 3, 3] to unit quaternions [..., 4] (w, x, y, z), w >= 0."""
    R = np.asarray(R, np.float64)
    m = R.reshape(-1, 3, 3)
    q = np.empty((m.shape[0], 4))
    for i, r in enumerate(m):
        tr = np.trace(r)
        if tr > 0:
            s = 2 * np.sqrt(tr + 1)
            q[i] = [s / 4, (r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s]
        else:
            k = int(np.argmax(np.diag(r)))
            j, l = (k + 1) % 3, (k + 2) % 3
            s = 2 * np.sqrt(1 + r[k, k] - r[j, j] - r[l, l])
            v = np.zeros(3)
            v[k] = s / 4
            v[j] = (r[j, k] + r[k, j]) / s
            v[l] = (r[l, k] + r[k, l]) / s
            q[i] = [(r[l, j] - r[j, l]) / s, *v]
    q *= np.where(q[:, :1] < 0, -1, 1)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return q.reshape(R.shape[:-2] + (4,))


def encode(p: PortraitData) -> bytes:
    """The whole file as bytes."""
    head = MAGIC + struct.pack("<HH", 1, 0)
    out = [head + struct.pack("<I", zlib.crc32(head))]
    for key in ("name", "licence"):
        if not p.meta.get(key):
            raise PortraitWriteError(f"META: `{key}` must be a non-empty string")
    out.append(_chunk(b"META", True, json.dumps(p.meta, ensure_ascii=False).encode()))
    cam = struct.pack("<II", p.width, p.height) + _floats("CAMR", [p.fx, p.fy, p.cx, p.cy, p.near], False)
    cam += _floats("CAMR.rotation", np.asarray(p.cam_rotation).reshape(9), False)
    cam += _floats("CAMR.translation", np.asarray(p.cam_translation).reshape(3), False)
    out.append(_chunk(b"CAMR", True, cam))

    n = p.positions.shape[0]
    coeffs = p.sh.shape[1]
    degree = {1: 0, 4: 1, 9: 2, 16: 3}.get(coeffs)
    if degree is None or p.sh.shape != (n, coeffs, 3):
        raise PortraitWriteError(f"GAUS.sh: shape {p.sh.shape} is not [N, (d+1)^2, 3]")
    for name, a, shape in (("rotations", p.rotations, (n, 4)), ("log_scales", p.log_scales, (n, 3)),
                           ("opacity_logits", p.opacity_logits, (n,)), ("positions", p.positions, (n, 3))):
        if np.shape(a) != shape:
            raise PortraitWriteError(f"GAUS.{name}: shape {np.shape(a)}, want {shape}")
    if np.any(np.linalg.norm(p.rotations, axis=1) == 0):
        raise PortraitWriteError("GAUS.rotations: a zero quaternion")
    g = struct.pack("<IBBH", n, degree, 1 if p.half else 0, 0)
    g += _floats("GAUS.positions", p.positions, False)
    g += _floats("GAUS.rotations", p.rotations, p.half)
    g += _floats("GAUS.log_scales", p.log_scales, p.half)
    g += _floats("GAUS.opacity_logits", p.opacity_logits, p.half)
    g += _floats("GAUS.sh", p.sh, p.half)
    out.append(_chunk(b"GAUS", True, g))

    if p.bases is not None:
        k = p.bases.shape[0]
        if p.bases.shape != (k, 11, n) or not 1 <= k <= 32:
            raise PortraitWriteError(f"DEFM.bases: shape {p.bases.shape}, want [K<=32, 11, {n}]")
        d = struct.pack("<IIB3x", k, n, 1 if p.half else 0) + _floats("DEFM.bases", p.bases, p.half)
        d += struct.pack("<II", p.input_dim, len(p.controller))
        prev = p.input_dim
        for i, layer in enumerate(p.controller):
            o, inp = layer.weight.shape
            if inp != prev or layer.bias.shape != (o,):
                raise PortraitWriteError(f"DEFM.layer{i}: shape {layer.weight.shape} after {prev} inputs")
            d += struct.pack("<IIB3x", inp, o, ACTIVATIONS[layer.activation])
            d += _floats(f"DEFM.layer{i}.weights", layer.weight, False) + _floats(f"DEFM.layer{i}.bias", layer.bias, False)
            prev = o
        if prev != k:
            raise PortraitWriteError(f"DEFM: the controller outputs {prev} values for {k} bases")
        out.append(_chunk(b"DEFM", True, d))

    if p.pose_rotations is not None:
        q = np.asarray(p.pose_rotations, np.float32)
        t = np.asarray(p.pose_translations, np.float32)
        body = np.concatenate([q, t], axis=1)
        out.append(_chunk(b"POSE", False, struct.pack("<If", q.shape[0], p.fps) + _floats("POSE", body, False)))

    for role, index, png, w, h in p.layers:
        if png[:8] != b"\x89PNG\r\n\x1a\n":
            raise PortraitWriteError(f"IMAG {index}: not a PNG")
        out.append(_chunk(b"IMAG", False, struct.pack("<BBHIII", role, 1, 0, index, w, h) + png))
    for name, data in p.networks:
        nb = name.encode()
        out.append(_chunk(b"NETW", False, struct.pack("<BBH", 0, 0, len(nb)) + nb + data))
    out.append(_chunk(b"END ", True, b""))
    return b"".join(out)


def write(path: Path, p: PortraitData) -> int:
    """Writes atomically (temporary file, then rename); returns the size."""
    data = encode(p)
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)
    return len(data)


def png_rgba(rgba: np.ndarray) -> bytes:
    """RGBA uint8 [H, W, 4] as a PNG file."""
    import cv2

    ok, buf = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(rgba), cv2.COLOR_RGBA2BGRA), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:
        raise PortraitWriteError("IMAG: PNG encoding failed")
    return buf.tobytes()


def chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(tag, payload) of every chunk of a portrait file's bytes, after checking
    the header, each length against the bytes present and each checksum."""
    if len(data) < 16 or data[:8] != MAGIC:
        raise PortraitReadError("not a SyncTalk portrait (bad magic)")
    if zlib.crc32(data[:12]) != struct.unpack("<I", data[12:16])[0]:
        raise PortraitReadError("header: checksum mismatch")
    out, pos = [], 16
    while pos < len(data):
        if pos + 24 > len(data):
            raise PortraitReadError(f"truncated chunk header at byte {pos}")
        tag = data[pos : pos + 4]
        _, length, crc, _ = struct.unpack("<IQII", data[pos + 4 : pos + 24])
        if length > len(data) - pos - 24:
            raise PortraitReadError(f"{tag.decode(errors='replace')}: {length} bytes promised, {len(data) - pos - 24} present")
        payload = data[pos + 24 : pos + 24 + length]
        if zlib.crc32(payload) != crc:
            raise PortraitReadError(f"{tag.decode(errors='replace')}: checksum mismatch")
        out.append((tag, payload))
        if tag == b"END ":
            return out
        pos += 24 + length + (-length % 8)
    raise PortraitReadError("truncated: no END chunk")


def _one(data: bytes, tag: bytes) -> bytes | None:
    return next((p for t, p in chunks(data) if t == tag), None)


def read_meta(data: bytes) -> dict:
    """The META chunk's JSON."""
    meta = _one(data, b"META")
    if meta is None:
        raise PortraitReadError("no META chunk")
    return json.loads(meta)


def read_controller(data: bytes) -> list[Dense]:
    """The deformation controller's layers (DEFM); empty without a deformation."""
    d = _one(data, b"DEFM")
    if d is None:
        return []
    try:
        k, n, half = struct.unpack("<IIB3x", d[:12])
        o = 12 + k * 11 * n * (2 if half else 4)
        _, n_layers = struct.unpack("<II", d[o : o + 8])
        o += 8
        names = {v: key for key, v in ACTIVATIONS.items()}
        layers = []
        for _ in range(n_layers):
            inputs, outputs, act = struct.unpack("<IIB3x", d[o : o + 12])
            o += 12
            w = np.frombuffer(d[o : o + 4 * inputs * outputs], "<f4").reshape(outputs, inputs)
            o += 4 * inputs * outputs
            b = np.frombuffer(d[o : o + 4 * outputs], "<f4")
            o += 4 * outputs
            layers.append(Dense(w, b, names[act]))
        return layers
    except (struct.error, ValueError, KeyError) as e:
        raise PortraitReadError(f"DEFM: malformed controller ({e})") from e


def run_controller(layers: list[Dense], x: np.ndarray) -> np.ndarray:
    """The controller's coefficients [..., K] of conditions [..., input_dim]."""
    act = {"linear": lambda v: v, "relu": lambda v: np.maximum(v, 0), "tanh": np.tanh,
           "sigmoid": lambda v: 1 / (1 + np.exp(-v))}
    for layer in layers:
        x = act[layer.activation](x @ layer.weight.T + layer.bias)
    return x


def read_pose(data: bytes) -> tuple[np.ndarray, np.ndarray, float] | None:
    """The pose track (POSE): rotations [T, 4] (w, x, y, z), translations
    [T, 3] and its frame rate; None without one."""
    d = _one(data, b"POSE")
    if d is None:
        return None
    frames, fps = struct.unpack("<If", d[:8])
    if len(d) != 8 + 28 * frames:
        raise PortraitReadError(f"POSE: {frames} frames promised in {len(d)} bytes")
    body = np.frombuffer(d[8:], "<f4").reshape(frames, 7)
    return body[:, :4], body[:, 4:], float(fps)


def matrix_from_quaternion(q: np.ndarray) -> np.ndarray:
    """A quaternion (w, x, y, z), normalised, to its rotation matrix [3, 3]."""
    w, x, y, z = np.asarray(q, np.float64) / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                     [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                     [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


def frame_view(data: bytes, frame: int) -> np.ndarray:
    """The world-to-camera matrix [4, 4] of pose-track frame `frame`: the
    portrait camera (CAMR) after the head's pose of that frame (POSE)."""
    pose = read_pose(data)
    if pose is None:
        raise PortraitReadError("no POSE chunk")
    q, t, _ = pose
    if not 0 <= frame < len(q):
        raise PortraitReadError(f"POSE: no frame {frame} (the track has {len(q)})")
    cam = read_camera(data)
    head, world = np.eye(4), np.eye(4)
    head[:3, :3], head[:3, 3] = matrix_from_quaternion(q[frame]), t[frame]
    world[:3, :3], world[:3, 3] = cam["rotation"], cam["translation"]
    return world @ head


def _array(buf: bytes, o: int, count: int, half: bool, name: str) -> tuple[np.ndarray, int]:
    size = count * (2 if half else 4)
    if o + size > len(buf):
        raise PortraitReadError(f"{name}: {count} values promised, {max(len(buf) - o, 0)} bytes left")
    a = np.frombuffer(buf[o : o + size], "<f2" if half else "<f4").astype(np.float32)
    return a, o + size


def read_camera(data: bytes) -> dict:
    """CAMR: width, height, fx, fy, cx, cy, near, rotation [3, 3],
    translation [3]."""
    c = _one(data, b"CAMR")
    if c is None:
        raise PortraitReadError("no CAMR chunk")
    try:
        w, h = struct.unpack("<II", c[:8])
        f = np.frombuffer(c[8 : 8 + 4 * 17], "<f4")
        return {"width": w, "height": h, "fx": float(f[0]), "fy": float(f[1]), "cx": float(f[2]), "cy": float(f[3]),
                "near": float(f[4]), "rotation": f[5:14].reshape(3, 3).copy(), "translation": f[14:17].copy()}
    except (struct.error, ValueError) as e:
        raise PortraitReadError(f"CAMR: malformed ({e})") from e


def read_gaussians(data: bytes) -> dict:
    """GAUS as float32 arrays: positions [N, 3], rotations [N, 4] (w, x, y,
    z), log_scales [N, 3], opacity_logits [N], sh [N, (d+1)^2, 3], and the
    SH degree."""
    g = _one(data, b"GAUS")
    if g is None:
        raise PortraitReadError("no GAUS chunk")
    try:
        n, degree, half, _ = struct.unpack("<IBBH", g[:8])
    except struct.error as e:
        raise PortraitReadError(f"GAUS: malformed header ({e})") from e
    coeffs = (degree + 1) ** 2
    out, o = {"sh_degree": int(degree)}, 8
    out["positions"], o = _array(g, o, n * 3, False, "GAUS.positions")
    for name, width in (("rotations", 4), ("log_scales", 3), ("opacity_logits", 1), ("sh", coeffs * 3)):
        out[name], o = _array(g, o, n * width, bool(half), f"GAUS.{name}")
    out["positions"] = out["positions"].reshape(n, 3)
    out["rotations"] = out["rotations"].reshape(n, 4)
    out["log_scales"] = out["log_scales"].reshape(n, 3)
    out["sh"] = out["sh"].reshape(n, coeffs, 3)
    return out


def read_bases(data: bytes) -> np.ndarray | None:
    """DEFM's deformation bases [K, 11, N] (offsets of position 3, rotation
    4, log-scale 3, opacity logit 1); None without a deformation."""
    d = _one(data, b"DEFM")
    if d is None:
        return None
    try:
        k, n, half = struct.unpack("<IIB3x", d[:12])
    except struct.error as e:
        raise PortraitReadError(f"DEFM: malformed header ({e})") from e
    bases, _ = _array(d, 12, k * 11 * n, bool(half), "DEFM.bases")
    return bases.reshape(k, 11, n)


def read_layers(data: bytes) -> dict[tuple[int, int], np.ndarray]:
    """The image layers (IMAG) as RGBA uint8 [H, W, 4], keyed by (role,
    index): ROLE_BACKGROUND's index 0, ROLE_TORSO's pose-track frame."""
    import cv2

    out = {}
    for tag, p in chunks(data):
        if tag != b"IMAG":
            continue
        try:
            role, encoding, _, index, w, h = struct.unpack("<BBHIII", p[:16])
        except struct.error as e:
            raise PortraitReadError(f"IMAG: malformed header ({e})") from e
        if encoding == 0:
            if len(p) - 16 != w * h * 4:
                raise PortraitReadError(f"IMAG {role}/{index}: {len(p) - 16} bytes for a raw {w}x{h} RGBA image")
            out[(role, index)] = np.frombuffer(p[16:], np.uint8).reshape(h, w, 4).copy()
            continue
        img = cv2.imdecode(np.frombuffer(p[16:], np.uint8), cv2.IMREAD_UNCHANGED)
        if img is None or img.shape[:2] != (h, w):
            raise PortraitReadError(f"IMAG {role}/{index}: not a {w}x{h} PNG")
        if img.ndim == 2:
            img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGRA)
        elif img.shape[2] == 3:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2BGRA)
        out[(role, index)] = cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA)
    return out
