"""Several portraits of one person side by side at the same speech frames:
each frame's pose-track frame, condition (the 52 blendshapes the engine
gave it) and Head-Sync's turn from a `synctalk render --frames DIR` run's timing.json, drawn by
`synctalk render-portrait` for every portrait, cropped and tiled (a row per
frame, a column per portrait). For comparing trained candidates where the
speech asks for expressions no training frame had (issue 20's streak by
the mouth). The head is posed by the pose-track frame the speech frame
was nearest to (`pose_frame`), not by its fractional `pose_position`, so the
pose may differ from the video's by a fraction of a frame's motion.

Usage: python3 tools/condition_sheet.py TIMING.json --frames 88 138 -o SHEET.png
       A.stk B.stk ... [--crop X0,Y0,X1,Y1] (pixels; default the lower
       middle of a 512x512 portrait) [--synctalk PATH] (needs models/toolchain/src on PYTHONPATH)
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw

from synctalk_toolchain import create


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("timing", type=Path)
    ap.add_argument("portraits", type=Path, nargs="+")
    ap.add_argument("--frames", type=int, nargs="+", required=True)
    ap.add_argument("-o", "--out", type=Path, required=True)
    ap.add_argument("--crop", default="106,250,406,510")
    ap.add_argument("--synctalk", type=Path, help="the synctalk binary (default: found as synctalk-create finds it)")
    a = ap.parse_args(argv)
    try:
        synctalk = str(create.find_synctalk(a.synctalk))
    except create.CreateError as e:
        ap.error(str(e))
    crop = tuple(int(v) for v in a.crop.split(","))
    if len(crop) != 4 or crop[0] >= crop[2] or crop[1] >= crop[3]:
        ap.error(f"--crop {a.crop}: X0,Y0,X1,Y1 in pixels with X0 < X1 and Y0 < Y1")
    frames = json.loads(a.timing.read_text())["frames"]
    bad = [f for f in a.frames if not 0 <= f < len(frames)]
    if bad:
        ap.error(f"--frames {bad}: {a.timing} has frames 0..{len(frames) - 1}")
    w, h = crop[2] - crop[0], crop[3] - crop[1]
    out = Image.new("RGB", (w * len(a.portraits), 20 + h * len(a.frames)), "white")
    d = ImageDraw.Draw(out)
    for j, p in enumerate(a.portraits):
        d.text((j * w + 4, 4), p.name, fill="black")
    with tempfile.TemporaryDirectory() as tmp:
        for i, f in enumerate(a.frames):
            row = frames[f]
            cond = Path(tmp) / "condition.json"
            cond.write_text(json.dumps(row["blendshapes"]))
            for j, p in enumerate(a.portraits):
                png = Path(tmp) / "frame.png"
                turn = ",".join(f"{v:.6f}" for v in row.get("head_rotation", [0, 0, 0]))
                r = subprocess.run([synctalk, "render-portrait", str(p), "--frame", str(row["pose_frame"]),
                                    "--condition", str(cond), f"--turn={turn}", "--out", str(png)],
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    print(f"{p}: render-portrait failed: {r.stderr.strip()}", file=sys.stderr)
                    return 1
                out.paste(Image.open(png).convert("RGB").crop(crop), (j * w, 20 + i * h))
            d.text((4, 20 + i * h + 4), f"speech frame {f} (pose frame {row['pose_frame']})", fill="white")
    out.save(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
