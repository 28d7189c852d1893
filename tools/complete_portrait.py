"""The steps `synctalk-create` takes after training, for a portrait trained
elsewhere (e.g. `synctalk train` on a lent GPU) from a dataset this machine
has: the shipped networks, the articulation calibration and the held-out
LPIPS in META (`synctalk_toolchain.create.complete`). Changes PORTRAIT in
place; prints what was done as JSON.

Usage: python3 tools/complete_portrait.py PORTRAIT.stk DATASET TRAIN_WORK
       [--work DIR] [--fps 25] [--heldout-scores LPIPS.json]
(TRAIN_WORK: the trainer's --work folder, with report.json and heldout/;
--heldout-scores: `synctalk-eval heldout -o`'s JSON of those renders, where
they stayed on the machine that trained, as tools/gpu/deform_sweep.sh
leaves them)
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from synctalk_toolchain import create


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("portrait", type=Path)
    ap.add_argument("dataset", type=Path)
    ap.add_argument("train_work", type=Path)
    ap.add_argument("--work", type=Path, help="folder for the calibration's frames (default: a temporary one)")
    ap.add_argument("--fps", type=float, default=25.0)
    ap.add_argument("--heldout-scores", type=Path, help="synctalk-eval heldout's JSON (instead of TRAIN_WORK/heldout)")
    a = ap.parse_args(argv)
    # The steps work on a copy that replaces PORTRAIT only when all are done:
    # a failure leaves PORTRAIT as it was, not half completed.
    part = a.portrait.with_name(a.portrait.name + ".part")
    try:
        report = json.loads((a.train_work / "report.json").read_text())
        scores = json.loads(a.heldout_scores.read_text()) if a.heldout_scores else None
        shutil.copyfile(a.portrait, part)
        with tempfile.TemporaryDirectory(prefix="synctalk-complete-") as tmp:
            cal, evaluation, warnings = create.complete(
                create.find_synctalk(None), create.find_networks(None), part, a.dataset, a.work or Path(tmp),
                report, a.fps, heldout_dir=a.train_work / "heldout", heldout_scores=scores)
        os.replace(part, a.portrait)
    except (create.CreateError, OSError, ValueError) as e:
        part.unlink(missing_ok=True)
        print(f"complete_portrait: {e}", file=sys.stderr)
        return 1
    print(json.dumps({"articulation": cal["articulation"] if cal else None, "evaluation": evaluation,
                      "warnings": warnings}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
