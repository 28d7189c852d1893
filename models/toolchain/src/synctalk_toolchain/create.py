"""`synctalk-create VIDEO -o PORTRAIT.stk`: one command from a talking video to
a complete portrait, on this machine.

1. checks the video (readable, one stream of pictures at a constant frame
   rate, speech, long enough) and refuses it with the cause before any work;
2. prepares the dataset (`synctalk-prepare`: frames, MediaPipe landmarks
   and blendshapes, head pose, parsing, torso, audio; a video with no face
   or several faces is refused here, before training);
3. trains the portrait with the native trainer (`synctalk train`: wgpu on
   the first GPU it finds, or the one `--adapter` names), which writes the
   held-out evaluation, `condition_range` and `head_pivot` into META;
4. adds the shipped speaker-independent networks (Face-Sync, the
   Expression Generator, Head-Sync: `models/networks`);
5. calibrates the person's articulation (the portrait rendered speaking the
   video's own audio, its lips measured against the person's own) and adds
   LPIPS to the held-out evaluation;
6. writes PORTRAIT.stk whole (a temporary file renamed at the end).

Work goes to `--work` (default PORTRAIT.stk's name + `.work`): running the
same command again resumes where it stopped (the dataset's finished steps,
the trainer's last checkpoint). A refused video leaves nothing behind.
The portrait's metadata names the video by its file name only.

Progress goes to stderr; a JSON summary to stdout.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from . import evaluate, probe
from .media import MediaError
from .prepare import PrepareError, prepare
from .prepare import check_video as prepare_check

ROOT = Path(__file__).resolve().parents[4]
NETWORKS = (("face_sync", "face_sync.onnx"), ("expression", "expression.onnx"), ("head_sync", "head_sync.onnx"))
BUILD_HINT = ("build it in the repository with `cargo build --release -p synctalk-cli` (it lands in "
              "target/release/synctalk) or install it with `cargo install --path crates/synctalk-cli`, "
              "then put it on PATH, set SYNCTALK to it or pass --synctalk")


class CreateError(Exception):
    """A video, setting or step that stops the portrait, with the cause."""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def find_synctalk(explicit: Path | None) -> Path:
    """The `synctalk` program: --synctalk, $SYNCTALK, PATH, then the
    repository's own release and debug builds."""
    if explicit is not None:
        if not (explicit.is_file() and os.access(explicit, os.X_OK)):
            raise CreateError(f"--synctalk {explicit}: not an executable file; {BUILD_HINT}")
        return explicit
    env = os.environ.get("SYNCTALK")
    if env:
        p = Path(env)
        if not (p.is_file() and os.access(p, os.X_OK)):
            raise CreateError(f"SYNCTALK={env}: not an executable file; {BUILD_HINT}")
        return p
    on_path = shutil.which("synctalk")
    if on_path:
        return Path(on_path)
    for p in (ROOT / "target" / "release" / "synctalk", ROOT / "target" / "debug" / "synctalk"):
        if p.is_file() and os.access(p, os.X_OK):
            return p
    raise CreateError(f"the `synctalk` program (the native trainer and renderer) was not found; {BUILD_HINT}")


def find_networks(explicit: Path | None) -> list[tuple[str, Path]]:
    folder = explicit or ROOT / "models" / "networks"
    nets = [(name, folder / file) for name, file in NETWORKS]
    missing = [str(p) for _, p in nets if not p.is_file()]
    if missing:
        raise CreateError(f"the shipped networks are missing: {', '.join(missing)} (pass --networks DIR)")
    return nets


def check_video(video: Path, allow_vfr: bool) -> probe.VideoInfo:
    """Refuses what the toolchain cannot make a portrait of, with the cause."""
    if not video.is_file():
        raise CreateError(f"{video}: no such file")
    try:
        info = probe.probe(video)
        prepare_check(video, info)
    except MediaError as e:
        raise CreateError(str(e)) from e
    if info.variable_frame_rate and not allow_vfr:
        raise CreateError(
            f"{video}: variable frame rate (frames {info.fps:g} fps nominal, {info.avg_fps:.3f} on average); "
            "re-encode it at a constant rate (e.g. `ffmpeg -i IN -vf fps=25 -c:a copy OUT.mp4`) or pass "
            "--resample-variable-frame-rate to have it resampled to --fps")
    return info


def run(cmd: list, what: str) -> str:
    """Runs a step; its progress passes to stderr, its stdout is returned."""
    log(f"[create] {what}")
    r = subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise CreateError(f"{what} failed (exit status {r.returncode}); its message is above")
    return r.stdout


class CalibrationError(Exception):
    """The articulation could not be measured on the rendered frames."""


def calibrate_articulation(synctalk: Path, portrait: Path, dataset: Path, frames_dir: Path, fps: float) -> dict:
    """The person's articulation (`synctalk-eval calibrate`): `portrait`
    rendered speaking the dataset's own audio at strength 1, its lips
    measured against the person's own on the dataset. Returns
    `evaluate.calibrate`'s report; the frames are removed after."""
    shutil.rmtree(frames_dir, ignore_errors=True)
    try:
        run([synctalk, "render", "--portrait", portrait, "--audio", dataset / "aud.wav", "--frames", frames_dir,
             "--fps", fps, "--articulation", 1], "articulation: the portrait speaking the video's own audio")
        frames = sorted(frames_dir.glob("*.png"))
        timing = json.loads((frames_dir / "timing.json").read_text())
        try:
            cal = evaluate.calibrate(frames, timing, dataset, fps)
        except Exception as e:  # noqa: BLE001 - no face found, a mouth that does not move, MediaPipe's own
            raise CalibrationError(str(e)) from e
    finally:
        shutil.rmtree(frames_dir, ignore_errors=True)
    log(f"[create] articulation: slope {cal['slope']} (r {cal['rendered_vs_implied_r']}) -> "
        f"strength {cal['articulation']['strength']}")
    return cal


def set_meta(synctalk: Path, portrait: Path, key: str, value, tmp: Path) -> None:
    f = tmp / f"{key}.json"
    f.write_text(json.dumps(value))
    run([synctalk, "set-meta", portrait, "--key", key, "--json", f], f"META {key}")


def complete(synctalk: Path, nets: list[tuple[str, Path]], portrait: Path, dataset: Path, work: Path,
             report: dict, fps: float, heldout_dir: Path | None = None,
             heldout_scores: dict | None = None) -> tuple[dict | None, dict, list[str]]:
    """The steps after training, on a trained `portrait` (changed in place):
    the networks, the articulation calibration on `dataset` (its frames in
    `work`/calibration) and the held-out LPIPS of `heldout_dir` (default
    `work`/train/heldout, where `synctalk train --work work/train` puts
    them) in META `evaluation` (from `report`, the trainer's JSON), or the
    scores `synctalk-eval heldout` measured already (`heldout_scores`, its
    JSON: for renders that stayed on the machine that trained). Returns
    (calibration or None, evaluation, warnings). Also for a portrait
    trained on another machine from the same dataset."""
    for name, path in nets:
        run([synctalk, "add-network", portrait, "--name", name, "--onnx", path], f"network {name}")

    warnings = []
    with tempfile.TemporaryDirectory(prefix="synctalk-create-") as tmp:
        tmp = Path(tmp)
        try:
            cal = calibrate_articulation(synctalk, portrait, dataset, work / "calibration", fps)
            set_meta(synctalk, portrait, "articulation", cal["articulation"], tmp)
        except CalibrationError as e:
            # The portrait is complete without it (the engine then uses
            # strength 1): say so rather than lose the training.
            cal = None
            warnings.append(f"articulation not calibrated: {e}")
            log(f"[create] warning: articulation not calibrated: {e}; the portrait speaks at strength 1 "
                "(train longer: the rendered frames must show a face MediaPipe finds)")

        evaluation = dict(report.get("evaluation") or {})
        heldout_dir = heldout_dir or work / "train" / "heldout"
        if heldout_scores is not None or (heldout_dir.is_dir() and any(heldout_dir.glob("frame_*.png"))):
            log("[create] held-out LPIPS")
            try:
                scores = heldout_scores if heldout_scores is not None else evaluate.heldout(heldout_dir, dataset)
                evaluation["lpips_tracked_pose"] = {k: scores["mean"][k]["lpips"] for k in ("full", "face", "neck")}
                if "turned_head_neck" in scores["mean"]:
                    evaluation["lpips_turned_head_neck"] = scores["mean"]["turned_head_neck"]["lpips"]
                set_meta(synctalk, portrait, "evaluation", evaluation, tmp)
            except (OSError, ValueError, KeyError) as e:
                warnings.append(f"held-out LPIPS not measured: {e}")
                log(f"[create] warning: held-out LPIPS not measured: {e}")

    return cal, evaluation, warnings


def create(a: argparse.Namespace) -> dict:
    video, out = Path(a.video), Path(a.output)
    if out.suffix != ".stk":
        raise CreateError(f"-o {out}: the portrait's file name must end in .stk")
    synctalk = find_synctalk(a.synctalk)
    nets = find_networks(a.networks)
    check_video(video, a.resample_variable_frame_rate)
    work = Path(a.work) if a.work else out.with_name(out.name + ".work")
    fresh = not work.exists()
    dataset = work / "dataset"
    try:
        prepare(video, dataset, a.fps, log=lambda m: log(f"[prepare] {m}"))
    except (MediaError, PrepareError) as e:
        if fresh:
            shutil.rmtree(work, ignore_errors=True)
        raise CreateError(str(e)) from e

    portrait = work / "portrait.stk"
    train = [synctalk, "train", dataset, "-o", portrait, "--work", work / "train",
             "--name", a.name or video.stem, "--licence", a.licence, "--attribution", a.attribution]
    for flag, v in (("--iters", a.iters), ("--max-seconds", a.max_seconds), ("--adapter", a.adapter),
                    ("--init-points", a.init_points), ("--max-gaussians", a.max_gaussians),
                    ("--fit-pose-steps", a.fit_pose_steps)):
        if v is not None:
            train += [flag, v]
    report = json.loads(run(train, "training (synctalk train)"))

    cal, evaluation, warnings = complete(synctalk, nets, portrait, dataset, work, report, a.fps)

    # The finished portrait must read back whole before it replaces OUTPUT.
    info = json.loads(run([synctalk, "inspect", portrait], "checking the portrait"))
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(out.name + ".part")
    shutil.copyfile(portrait, part)
    os.replace(part, out)
    return {"portrait": str(out), "bytes": out.stat().st_size, "work": str(work),
            "gaussians": report.get("gaussians"), "iterations": report.get("iterations"),
            "networks": [n.get("name") for n in info.get("networks", [])],
            "articulation": cal["articulation"]["strength"] if cal else None, "evaluation": evaluation,
            "warnings": warnings}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="synctalk-create", description=__doc__.split("\n\n")[0])
    ap.add_argument("video", type=Path, help="a talking-head video of one person, with their speech")
    ap.add_argument("-o", "--output", type=Path, required=True, help="the portrait file to write (.stk)")
    ap.add_argument("--work", type=Path, help="work folder (default: OUTPUT + .work); a rerun resumes from it")
    ap.add_argument("--fps", type=float, default=25.0, help="frame rate of the dataset (default 25)")
    ap.add_argument("--resample-variable-frame-rate", action="store_true",
                    help="accept a variable-frame-rate video and resample it to --fps")
    ap.add_argument("--iters", type=int, help="training steps (default: synctalk train's)")
    ap.add_argument("--max-seconds", type=float, help="stop training after this long")
    ap.add_argument("--adapter", help="the GPU to train on (a part of its name; default: the first found)")
    ap.add_argument("--init-points", type=int, help="Gaussians placed at the start")
    ap.add_argument("--max-gaussians", type=int, help="the Gaussian budget")
    ap.add_argument("--fit-pose-steps", type=int, help="steps of the held-out frames' pose fit")
    ap.add_argument("--name", default="", help="the portrait's name (default: the video's file name)")
    ap.add_argument("--licence", default="unspecified", help="licence of the portrait")
    ap.add_argument("--attribution", default="", help="attribution text")
    ap.add_argument("--synctalk", type=Path, help="the `synctalk` program (default: $SYNCTALK, PATH, the repository's build)")
    ap.add_argument("--networks", type=Path, help="folder of the shipped networks (default: models/networks)")
    a = ap.parse_args(argv)
    try:
        summary = create(a)
    except CreateError as e:
        # One line: a tool's message quoted inside may span several.
        print("error: " + "; ".join(line.strip() for line in str(e).splitlines() if line.strip()), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume", file=sys.stderr)
        return 130
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
