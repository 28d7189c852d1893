"""Writes the shared audio-feature test vectors (tests/vectors/audio/).

    python -m synctalk_toolchain.vectors SHARED_DATA_DIR OUT_DIR

Cuts of real speech (licences in OUT_DIR/README.md) plus a synthetic signal,
as 16-bit mono 16 kHz WAV, with their log-mel frames as float32 .npy.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from .audio import PARAMS, SAMPLE_RATE, log_mel
from .media import load_audio, to_pcm16

# (name, source file under the shared data dir, start s, duration s)
CUTS = [
    ("hdtf_katiehill", "video/WDA_KatieHill_000.mp4", 2.0, 1.5),
    ("librispeech_1088", "audio/librispeech_1088-134315-0000.wav", 1.0, 1.5),
    ("jfk_44k1_stereo", "audio/jfk.flac", 3.0, 1.5),
]


def synthetic() -> np.ndarray:
    """Silence, a 440 Hz tone, a clipped square wave and a chirp: edge cases."""
    t = np.arange(int(0.25 * SAMPLE_RATE)) / SAMPLE_RATE
    parts = [
        np.zeros(4000),
        0.5 * np.sin(2 * np.pi * 440 * t),
        np.sign(np.sin(2 * np.pi * 150 * t)) * 1.0,
        0.3 * np.sin(2 * np.pi * (100 + 7000 * t / t[-1] / 2) * t),
    ]
    x = np.concatenate(parts)
    return (np.clip(np.round(x * 32767), -32768, 32767) / 32768.0).astype(np.float32)


def write(name: str, samples: np.ndarray, out: Path) -> None:
    pcm = to_pcm16(samples)
    sf.write(out / f"{name}.wav", pcm, SAMPLE_RATE, subtype="PCM_16")
    np.save(out / f"{name}.mel.npy", log_mel(pcm.astype(np.float64) / 32768.0).astype(np.float32))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    shared, out = Path(argv[0]), Path(argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for name, src, start, dur in CUTS:
        write(name, load_audio(shared / src, start, dur), out)
    write("synthetic", synthetic(), out)
    (out / "params.json").write_text(json.dumps(PARAMS, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
