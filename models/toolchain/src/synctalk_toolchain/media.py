"""Reading audio through ffmpeg (Debian's) into 16 kHz mono floats."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

from .audio import SAMPLE_RATE


class MediaError(Exception):
    """A media file that cannot be used, with the reason."""


def ffmpeg() -> str:
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise MediaError("ffmpeg is not installed (Debian: apt-get install ffmpeg)")
    return exe


def load_audio(path: Path, start: float = 0.0, duration: float | None = None) -> np.ndarray:
    """Decodes any audio (or the audio of a video) to 16 kHz mono float32 in [-1, 1]
    (16-bit quantised, as the shared test vectors are)."""
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: no such file")
    cmd = [ffmpeg(), "-nostdin", "-v", "error", "-ss", f"{start}", "-i", str(path)]
    if duration is not None:
        cmd += ["-t", f"{duration}"]
    cmd += ["-vn", "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "s16le", "-acodec", "pcm_s16le", "-"]
    r = subprocess.run(cmd, capture_output=True)
    if r.returncode != 0:
        raise MediaError(f"{path}: ffmpeg cannot decode its audio: {r.stderr.decode(errors='replace').strip()[:300]}")
    pcm = np.frombuffer(r.stdout, dtype="<i2")
    if pcm.size == 0:
        raise MediaError(f"{path}: no audio stream (or an empty one)")
    return (pcm.astype(np.float32) / 32768.0).astype(np.float32)


def to_pcm16(samples: np.ndarray) -> np.ndarray:
    """Floats in [-1, 1] to little-endian 16-bit PCM (rounded, clipped)."""
    return np.clip(np.round(np.asarray(samples, np.float64) * 32768.0), -32768, 32767).astype("<i2")
