"""Which Gaussian draws an artefact: a speech frame of a portrait (pose frame,
condition and Head-Sync turn from a `synctalk render --frames` run's
timing.json) drawn again with halves of the Gaussians near the artefact
switched off (opacity logit -20 in a copy of the file), keeping the half
whose removal changes the artefact's region most, until one is left.

The measure: the region's mean of R - G (redness) minus a reference
region's (`--measure red`), or its mean brightness minus the reference's
(`--measure dark`, for a shadow-like line); a removal that brings the
region toward the reference wins.

Usage: python3 tools/ablate_pixel.py PORTRAIT.stk TIMING.json FRAME
       --box X0,Y0,X1,Y1 --ref X0,Y0,X1,Y1 [--radius 60] [--measure red|dark]
       [--synctalk PATH]   (needs models/toolchain/src on PYTHONPATH)
Prints each halving and the Gaussian found (index, opacity, scale, colour,
depth) as it goes; the candidates are those whose deformed centre, posed
by the pose frame (without the turn), lies within --radius pixels of the
box's centre.
"""
from __future__ import annotations

import argparse
import json
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from synctalk_toolchain import create, stk

SH_C0 = 0.28209479


def switch_off(data: bytes, ids: list[int]) -> bytes:
    """A copy of the portrait's bytes with these Gaussians' opacity logits at
    -20 (GAUS in half precision; its checksum recomputed)."""
    out, pos = bytearray(data), 16
    while pos < len(out):
        tag = bytes(out[pos:pos + 4])
        _, length, _, _ = struct.unpack("<IQII", out[pos + 4:pos + 24])
        if tag == b"GAUS":
            p = pos + 24
            n, _, half, _ = struct.unpack("<IBBH", out[p:p + 8])
            if not half:
                raise ValueError("GAUS in single precision: not handled")
            o = p + 8 + n * 3 * 4 + n * 4 * 2 + n * 3 * 2
            logits = np.frombuffer(bytes(out[o:o + 2 * n]), "<f2").copy()
            logits[ids] = -20
            out[o:o + 2 * n] = logits.tobytes()
            out[pos + 16:pos + 20] = struct.pack("<I", zlib.crc32(bytes(out[pos + 24:pos + 24 + length])))
            return bytes(out)
        pos += 24 + length + (-length % 8)
    raise ValueError("no GAUS chunk")


def box(text: str) -> tuple[int, int, int, int]:
    b = tuple(int(v) for v in text.split(","))
    if len(b) != 4 or b[0] >= b[2] or b[1] >= b[3]:
        raise argparse.ArgumentTypeError(f"{text}: X0,Y0,X1,Y1 with X0 < X1 and Y0 < Y1")
    return b


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("portrait", type=Path)
    ap.add_argument("timing", type=Path)
    ap.add_argument("frame", type=int)
    ap.add_argument("--box", type=box, required=True)
    ap.add_argument("--ref", type=box, required=True)
    ap.add_argument("--radius", type=float, default=60.0)
    ap.add_argument("--measure", choices=("red", "dark"), default="red")
    ap.add_argument("--synctalk", type=Path)
    a = ap.parse_args(argv)
    try:
        synctalk = str(create.find_synctalk(a.synctalk))
    except create.CreateError as e:
        ap.error(str(e))
    data = a.portrait.read_bytes()
    frames = json.loads(a.timing.read_text())["frames"]
    if not 0 <= a.frame < len(frames):
        ap.error(f"frame {a.frame}: {a.timing} has frames 0..{len(frames) - 1}")
    row = frames[a.frame]
    g, bases, cam = stk.read_gaussians(data), stk.read_bases(data), stk.read_camera(data)
    w = stk.run_controller(stk.read_controller(data), np.asarray(row["blendshapes"], np.float32))
    off = np.einsum("k,kcn->nc", w, bases) if bases is not None else np.zeros((len(g["positions"]), 11))
    view = stk.frame_view(data, row["pose_frame"])
    pc = (view[:3, :3] @ (g["positions"] + off[:, 0:3]).T).T + view[:3, 3]
    u = cam["fx"] * pc[:, 0] / pc[:, 2] + cam["cx"]
    v = cam["fy"] * pc[:, 1] / pc[:, 2] + cam["cy"]
    opacity = 1 / (1 + np.exp(-(g["opacity_logits"] + off[:, 10])))
    cx, cy = (a.box[0] + a.box[2]) / 2, (a.box[1] + a.box[3]) / 2
    cand = [int(i) for i in np.where((np.hypot(u - cx, v - cy) < a.radius) & (opacity > 0.01))[0]]
    print(f"{len(cand)} candidates within {a.radius:.0f} px", flush=True)
    turn = ",".join(f"{x:.6f}" for x in row.get("head_rotation", [0, 0, 0]))

    with tempfile.TemporaryDirectory() as tmp:
        cond, stk_path, png = Path(tmp) / "c.json", Path(tmp) / "p.stk", Path(tmp) / "f.png"
        cond.write_text(json.dumps(row["blendshapes"]))

        def score(ids: list[int]) -> float:
            stk_path.write_bytes(switch_off(data, ids))
            r = subprocess.run([synctalk, "render-portrait", str(stk_path), "--frame", str(row["pose_frame"]),
                                "--condition", str(cond), f"--turn={turn}", "--out", str(png)],
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError(f"render-portrait: {r.stderr.strip()}")
            im = np.asarray(Image.open(png).convert("RGB")).astype(float)
            x0, y0, x1, y1 = a.box
            r0, s0, r1, s1 = a.ref
            reg, ref = im[y0:y1, x0:x1], im[s0:s1, r0:r1]
            if a.measure == "red":
                return float((reg[..., 0] - reg[..., 1]).mean() - (ref[..., 0] - ref[..., 1]).mean())
            return float(ref.mean() - reg.mean())

        print(f"as drawn: {score([]):.2f}; every candidate off: {score(cand):.2f}", flush=True)
        cur = cand
        while len(cur) > 1:
            half = len(cur) // 2
            sa, sb = score(cur[:half]), score(cur[half:])
            print(f"{len(cur)} -> halves {sa:.2f} {sb:.2f}", flush=True)
            cur = cur[:half] if sa < sb else cur[half:]
        if not cur:
            print("no candidate")
            return 1
        i = cur[0]
        rgb = np.clip(g["sh"][i, 0] * SH_C0 + 0.5, 0, 1) * 255
        print(json.dumps({"gaussian": i, "score_without": round(score([i]), 2), "opacity": round(float(opacity[i]), 3),
                          "scale": [round(float(s), 4) for s in np.exp(g["log_scales"][i] + off[i, 7:10])],
                          "rgb": [round(float(c)) for c in rgb], "depth": round(float(pc[i, 2]), 3),
                          "pixel": [round(float(u[i])), round(float(v[i]))]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
