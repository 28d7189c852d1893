"""A contact sheet of a portrait speaking, for looking at the neck seam:
the frames of `synctalk render --frames DIR` where Head-Sync turned the head
the most (its `timing.json` gives each frame's `head_rotation`), each shown
whole and, beside it, its chin and neck enlarged.

Usage: python3 tools/contact_sheet.py FRAMES_DIR -o SHEET.jpg [--count 8]
       [--crop X0,Y0,X1,Y1] (the enlarged region as fractions of the frame;
       default 0.2,0.55,0.8,1.0: the chin and neck of a centred portrait)
Prints the chosen frames and their turns (radians) as JSON.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def pick(frames: list[dict], count: int) -> list[dict]:
    """The `count` frames of largest turn, at least len/(2 count) frames apart
    (so that one long nod does not fill the sheet), in time order."""
    gap = max(1, len(frames) // (2 * count))
    order = sorted(frames, key=lambda f: -float(np.linalg.norm(f["head_rotation"])))
    chosen: list[dict] = []
    for f in order:
        if all(abs(f["frame"] - c["frame"]) >= gap for c in chosen):
            chosen.append(f)
        if len(chosen) == count:
            break
    return sorted(chosen, key=lambda f: f["frame"])


def sheet(frames_dir: Path, count: int, crop: tuple[float, float, float, float]) -> tuple[Image.Image, list[dict]]:
    timing = json.loads((frames_dir / "timing.json").read_text())
    chosen = pick(timing["frames"], count)
    tiles = []
    for f in chosen:
        im = Image.open(frames_dir / f"frame_{f['frame']:06d}.png").convert("RGB")
        w, h = im.size
        box = (int(crop[0] * w), int(crop[1] * h), int(crop[2] * w), int(crop[3] * h))
        zoom = im.crop(box).resize((w, h * (box[3] - box[1]) * w // ((box[2] - box[0]) * h)), Image.LANCZOS)
        tile = Image.new("RGB", (2 * w, max(h, zoom.size[1]) + 20), "white")
        tile.paste(im, (0, 20))
        tile.paste(zoom, (w, 20))
        d = ImageDraw.Draw(tile)
        d.rectangle((box[0], box[1] + 20, box[2], box[3] + 20), outline=(255, 200, 0))
        r = f["head_rotation"]
        d.text((4, 4), f"frame {f['frame']} (t {f['time_s']:.2f} s), turn "
                       f"({r[0]:+.3f}, {r[1]:+.3f}, {r[2]:+.3f}) rad", fill="black")
        tiles.append(tile)
    cols = 2
    tw, th = tiles[0].size
    out = Image.new("RGB", (cols * tw, -(-len(tiles) // cols) * th), "white")
    for i, t in enumerate(tiles):
        out.paste(t, ((i % cols) * tw, (i // cols) * th))
    return out, chosen


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("frames", type=Path)
    ap.add_argument("-o", "--out", type=Path, required=True)
    ap.add_argument("--count", type=int, default=8)
    ap.add_argument("--crop", default="0.2,0.55,0.8,1.0")
    a = ap.parse_args(argv)
    if a.count < 1:
        ap.error("--count must be at least 1")
    crop = tuple(float(v) for v in a.crop.split(","))
    if len(crop) != 4 or not (0 <= crop[0] < crop[2] <= 1 and 0 <= crop[1] < crop[3] <= 1):
        ap.error(f"--crop {a.crop}: four fractions X0,Y0,X1,Y1 with X0 < X1 and Y0 < Y1")
    if not (a.frames / "timing.json").is_file():
        ap.error(f"{a.frames}: no timing.json (make the frames with `synctalk render --frames`)")
    if not json.loads((a.frames / "timing.json").read_text()).get("frames"):
        ap.error(f"{a.frames}/timing.json lists no frames")
    im, chosen = sheet(a.frames, a.count, crop)
    im.save(a.out, quality=88)
    print(json.dumps([{"frame": f["frame"], "head_rotation": f["head_rotation"]} for f in chosen]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
