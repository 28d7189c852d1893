"""Articulation sync: does the mouth open on open vowels and close on M/B/P?

The audio's phones come from pocketsphinx (recognition, then forced alignment
of what it recognised, or of a given transcript). The picture's lip aperture
is the inner-lip gap over the face height from MediaPipe landmarks. For each
picture shift s (frames), the contrast is

    (mean aperture on open-vowel frames - mean aperture on bilabial frames)
    / standard deviation of the aperture over the clip,

with the picture read s frames later than the audio (s < 0: the picture
leads). The best shift is the audio-visual offset. Real talking heads score
about 2-3 with their own audio, at a small negative shift (lips move before
the sound); with someone else's audio, below 1. A plain correlation of mouth
opening with loudness does not separate these on short clips.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .audio import SAMPLE_RATE

OPEN_VOWELS = {"AA", "AE", "AH", "AO", "AW", "AY"}
BILABIALS = {"M", "B", "P"}
UPPER_LIP, LOWER_LIP, FOREHEAD, CHIN = 13, 14, 10, 152


class AlignError(RuntimeError):
    """Audio that cannot be aligned (too short, silent), with the reason."""


def lip_aperture(landmarks: np.ndarray) -> np.ndarray:
    """Inner-lip gap over face height per frame, from landmarks [T, 478, 2+]."""
    lm = np.asarray(landmarks, np.float64)[..., :2]
    gap = np.linalg.norm(lm[:, UPPER_LIP] - lm[:, LOWER_LIP], axis=-1)
    height = np.linalg.norm(lm[:, FOREHEAD] - lm[:, CHIN], axis=-1)
    return gap / np.maximum(height, 1e-6)


def _decoder(**kw):
    from pocketsphinx import Decoder, get_model_path

    m = os.path.join(get_model_path(), "en-us")
    return Decoder(hmm=os.path.join(m, "en-us"), dict=os.path.join(m, "cmudict-en-us.dict"), loglevel="FATAL", **kw)


def phones(audio: np.ndarray, transcript: str | None = None) -> tuple[list[tuple[str, float, float]], str]:
    """ARPAbet phones `(phone, start_s, end_s)` of 16 kHz mono audio (float in
    [-1, 1]) and the transcript they were aligned to (recognised when not given)."""
    x = np.asarray(audio, np.float64)
    if x.ndim != 1 or len(x) < SAMPLE_RATE // 2:
        raise AlignError(f"need at least 0.5 s of mono 16 kHz audio, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise AlignError("audio holds NaN or infinite samples")
    if np.sqrt(np.mean(x**2)) < 1e-4:
        raise AlignError("audio is silent")
    pcm = (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()
    if not transcript:
        from pocketsphinx import get_model_path

        d = _decoder(lm=os.path.join(get_model_path(), "en-us", "en-us.lm.bin"))
        d.start_utt()
        d.process_raw(pcm, full_utt=True)
        d.end_utt()
        transcript = d.hyp().hypstr if d.hyp() else ""
        if not transcript.strip():
            raise AlignError("no speech recognised")
    d = _decoder()
    d.set_align_text(transcript.lower())
    d.start_utt()
    d.process_raw(pcm, full_utt=True)
    d.end_utt()
    d.set_alignment()
    d.start_utt()
    d.process_raw(pcm, full_utt=True)
    d.end_utt()
    out = []
    for word in d.get_alignment():
        for p in word:
            out.append((p.name, p.start / 100.0, (p.start + p.duration) / 100.0))
    if not out:
        raise AlignError(f"could not align the transcript {transcript!r}")
    return out, transcript


@dataclass
class SyncScore:
    contrasts: dict  # shift -> contrast
    best_shift: int
    best_contrast: float
    open_frames: int
    bilabial_frames: int


def articulation_contrast(segments, aperture: np.ndarray, fps: float, shifts=range(-4, 5)) -> SyncScore:
    """The contrast per picture shift (see the module's doc)."""
    ap = np.asarray(aperture, np.float64)
    T = len(ap)
    sd = ap.std()
    if T < 10 or sd <= 1e-9:
        raise AlignError("the mouth never moves: no contrast to measure")

    def frames(names):
        f = []
        for name, s, e in segments:
            if name in names:
                f.extend(range(int(np.ceil(s * fps)), int(np.floor(e * fps)) + 1))
        return np.array(sorted(set(f)), int)

    op, bl = frames(OPEN_VOWELS), frames(BILABIALS)
    if len(op) == 0 or len(bl) == 0:
        raise AlignError(f"need open vowels and bilabials (M/B/P): found {len(op)} and {len(bl)} frames")
    out = {}
    for s in shifts:
        a, b = op + s, bl + s
        a, b = a[(a >= 0) & (a < T)], b[(b >= 0) & (b < T)]
        out[int(s)] = float((ap[a].mean() - ap[b].mean()) / sd) if len(a) and len(b) else float("nan")
    best = max(out, key=lambda k: -np.inf if np.isnan(out[k]) else out[k])
    return SyncScore(out, best, out[best], len(op), len(bl))
