"""Typed text: do the lips follow eSpeak NG's speech better from its audio
(Face-Sync, as `avatar.say()` does) or from its own phoneme timings?

`prepare` speaks passages with eSpeak NG (the toolchain's `tts.espeak`, the
same engine the browser runs, at 16 kHz) and writes, per passage, the WAV,
eSpeak's phones and a text-driven blendshape track for `synctalk render
--blendshapes`: each phone's articulation class (`synth.espeak_class`) takes
the mean real mouth of that class, Face-Sync's own viseme table (read from the
network's ONNX constants), moved `synth.LEAD_FRAMES` earlier and smoothed
(`synth.target_curve`), then through the portrait's articulation and trained
range as the engine treats Face-Sync's output. Only the mouth's shapes are
given: brows, eyes and blinks stay the engine's.

`score` measures the rendered lips of both variants with the project's sync
score (`sync.articulation_contrast` of MediaPipe's lip aperture), against
eSpeak's own phones (exact: the synthesiser says which phone is where) and,
where pocketsphinx can align them, against its recognised phones as
`synctalk-eval sync` does.

    python tools/tts_articulation.py prepare OUT
    synctalk render --portrait P --audio OUT/NAME.wav --frames R/audio/NAME
    synctalk render --portrait P --audio OUT/NAME.wav --blendshapes OUT/NAME.track.json --frames R/text/NAME
    synctalk render --portrait P --audio OUT/NAME.wav --phones OUT/NAME.phones.json --frames R/phones/NAME
    python tools/tts_articulation.py score OUT R --variants audio text phones
    python tools/tts_articulation.py vectors tests/vectors/visemes

`vectors` writes the shared vectors of the engine's phone-driven mouth
(`synctalk_engine::visemes`): a passage's eSpeak phones, their classes, the
class table read from Face-Sync's constants and the curve of 52 blendshapes
at 25 frames a second, before the portrait's articulation and range.

Runs with the toolchain's venv (.venv).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "models" / "toolchain" / "src"))
from synctalk_toolchain import landmarks, stk, sync, synth, tts  # noqa: E402
from synctalk_toolchain import phonetic as ph  # noqa: E402

ROOT = HERE.parent
FPS = 25.0
# Passages of everyday English, rich in open vowels and in M, B and P.
PASSAGES = {
    "market": "My mother bought a big brown bag of apples at the market. Bob and Pam paid for the map, "
              "and we walked back past the park.",
    "morning": "Maybe the baby will sleep, but Mom made pancakes for breakfast on Monday. "
               "Pass the butter and the maple syrup, please.",
    "harvard": "The boy was there when the sun rose. A pot of tea helps to pass the evening. "
               "Bring your best compass to the third class.",
    "boat": "The captain of the boat put up a map of the bay. Palm trees by the pier swayed above the bright blue water.",
}


def blendshape_names() -> list[str]:
    """The engine's 52 names in condition-vector order (its blendshapes.rs)."""
    import re

    text = (ROOT / "crates/synctalk-engine/src/blendshapes.rs").read_text()
    body = text[text.index("pub const NAMES"):]
    names = re.findall(r'"([A-Za-z_]+)"', body[: body.index("];")])
    assert len(names) == 52, len(names)
    return names


def class_table(onnx_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Face-Sync's viseme table per articulation class [classes, 52] and its rest."""
    import onnx
    from onnx import numpy_helper

    init = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(onnx_path)).graph.initializer}
    table, rest = init["table"], init["rest"]
    phones = ph.Acoustic().phones
    out = np.tile(rest, (len(synth.CLASSES), 1)).astype(np.float64)
    for c, name in enumerate(synth.CLASSES):
        rows = [table[i] for i, p in enumerate(phones) if synth.arpabet_class(p) == name]
        if rows and name != "sil":
            out[c] = np.mean(rows, 0)
    return out, rest


def speak(text: str, table: np.ndarray):
    """eSpeak NG's speech of `text` (16 kHz), its phones, and their mouth
    curve [frames, 52] at FPS (before the portrait's articulation)."""
    audio, segs = tts.espeak(text, "en-us", rate_wpm=160)
    n = int(np.floor(len(audio) / 16000 * FPS))
    return audio, segs, synth.target_curve(segs, synth.espeak_class, table, n, FPS, sigma_frames=1.0)


def prepare(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    portrait = (ROOT / "models/demo/portrait.stk").read_bytes()
    extra = stk.read_meta(portrait).get("extra", {})
    art = extra.get("articulation", 1.0)
    strength = float(art["strength"] if isinstance(art, dict) else art)
    report = json.loads((ROOT / "models/networks/face_sync_report.json").read_text())
    mouth = [blendshape_names().index(n) for n in report["mouth"]]
    table, rest = class_table(ROOT / "models/networks/face_sync.onnx")
    centre = np.asarray(art["centre"], np.float64) if isinstance(art, dict) else rest.astype(np.float64)
    rng = extra.get("condition_range", {"min": [0.0] * 52, "max": [1.0] * 52})
    lo, hi = np.asarray(rng["min"]), np.asarray(rng["max"])
    import soundfile as sf

    for name, text in PASSAGES.items():
        audio, segs, y = speak(text, table)
        n = len(y)
        sf.write(out / f"{name}.wav", audio, 16000, subtype="PCM_16")
        y[:, mouth] = centre[mouth] + (y[:, mouth] - centre[mouth]) * strength
        y = np.clip(y, lo, hi)
        names = [blendshape_names()[i] for i in mouth]
        track = {"fps": FPS, "names": names, "frames": np.round(y[:, mouth], 5).tolist()}
        (out / f"{name}.track.json").write_text(json.dumps(track))
        (out / f"{name}.phones.json").write_text(json.dumps({"text": text, "segments": segs}))
        print(f"{name}: {len(audio) / 16000:.2f} s, {len(segs)} phones, {n} frames", file=sys.stderr)


def vectors(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    table, _ = class_table(ROOT / "models/networks/face_sync.onnx")
    audio, segs, y = speak(PASSAGES["market"], table)
    seconds = len(audio) / 16000
    # The same speech's phones in IPA, as the browser's eSpeak NG gives them
    # (eSpeak gives one or the other per process; pauses have no IPA, so
    # they are left out).
    import subprocess

    ipa = json.loads(subprocess.run(
        [sys.executable, "-c", "import json, sys; sys.path.insert(0, sys.argv[1]); from synctalk_toolchain import tts; "
         "print(json.dumps(tts.espeak(sys.argv[2], 'en-us', rate_wpm=160, ipa=True)[1]))",
         str(ROOT / "models" / "toolchain" / "src"), PASSAGES["market"]],
        check=True, capture_output=True, text=True).stdout)
    spoken = [(s, e) for p, s, e in segs if synth.espeak_class(p) != "sil"]
    assert [(s, e) for p, s, e in ipa if synth.espeak_class(p) != "sil"] == spoken, "the IPA run spoke differently"
    np.save(out / "curve.npy", y.astype(np.float32))
    np.save(out / "class_table.npy", table.astype(np.float32))
    (out / "phones.json").write_text(json.dumps({
        "text": PASSAGES["market"], "voice": "en-us", "seconds": seconds, "fps": FPS,
        "lead_frames": synth.LEAD_FRAMES, "classes": synth.CLASSES,
        "phones": [[p, s, e] for p, s, e in segs],
        "phones_ipa": [[p, s, e] for p, s, e in ipa],
        "phone_classes": [synth.CLASSES.index(synth.espeak_class(p)) for p, _, _ in segs],
    }, indent=0))
    print(f"{len(segs)} phones, {len(y)} frames -> {out}", file=sys.stderr)


def espeak_as_arpabet(segs):
    """eSpeak's phones as the ARPAbet names the sync score reads: open vowels
    as AA, bilabials as M, the rest by class."""
    name = {"open": "AA", "bilabial": "M", "sil": "SIL"}
    return [(name.get(synth.espeak_class(p), "X"), s, e) for p, s, e in segs]


def score(out: Path, renders: Path, variants=("audio", "text")) -> None:
    import soundfile as sf

    rows = {}
    for name in PASSAGES:
        segs = json.loads((out / f"{name}.phones.json").read_text())["segments"]
        audio, _ = sf.read(out / f"{name}.wav", dtype="float32")
        row = {}
        for variant in variants:
            frames = sorted((renders / variant / name).glob("frame_*.*"))
            if not frames:
                continue
            track = landmarks.track(frames, FPS)
            ap = sync.lip_aperture(track.landmarks)
            exact = sync.articulation_contrast(espeak_as_arpabet(segs), ap, FPS)
            r = {"espeak_phones": {"best": round(exact.best_contrast, 3), "shift": exact.best_shift,
                                   "at_0": round(exact.contrasts[0], 3)}}
            try:
                psegs, _ = sync.phones(audio)
                rec = sync.articulation_contrast(psegs, ap, FPS)
                r["pocketsphinx"] = {"best": round(rec.best_contrast, 3), "shift": rec.best_shift}
            except (sync.AlignError, RuntimeError) as e:  # pocketsphinx gives up on some TTS speech
                r["pocketsphinx"] = str(e)
            row[variant] = r
        rows[name] = row
        print(name, json.dumps(row), file=sys.stderr)
    summary = {}
    for variant in variants:
        v = [r[variant]["espeak_phones"]["best"] for r in rows.values() if variant in r]
        v0 = [r[variant]["espeak_phones"]["at_0"] for r in rows.values() if variant in r]
        summary[variant] = {"mean_best": round(float(np.mean(v)), 3), "mean_at_shift_0": round(float(np.mean(v0)), 3)}
    print(json.dumps({"passages": rows, "summary": summary}, indent=1))


def main(argv=None) -> int:
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = a.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("out", type=Path)
    s = sub.add_parser("score")
    s.add_argument("out", type=Path)
    s.add_argument("renders", type=Path)
    s.add_argument("--variants", nargs="+", default=["audio", "text"],
                   help="the folders of RENDERS to score (e.g. audio phones: `synctalk render --phones`)")
    v = sub.add_parser("vectors")
    v.add_argument("out", type=Path)
    args = a.parse_args(argv)
    if args.cmd == "prepare":
        prepare(args.out)
    elif args.cmd == "vectors":
        vectors(args.out)
    else:
        score(args.out, args.renders, args.variants)
    return 0


if __name__ == "__main__":
    sys.exit(main())
