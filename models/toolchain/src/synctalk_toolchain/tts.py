"""Synthetic speech with phone timings, for training the audio networks on
voices the real clips do not have: Festival (`festvox-us-slt-hts`,
`festvox-kallpc16k`; ARPAbet phones) and eSpeak NG (many languages; its own
phoneme mnemonics), both from Debian. Each returns 16 kHz mono float32 audio
and `(phone, start_s, end_s)` segments on the audio's clock.
"""
from __future__ import annotations

import ctypes
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from .audio import SAMPLE_RATE


class TtsError(RuntimeError):
    """A synthesiser that is missing or failed, with the reason."""


FESTIVAL_VOICES = {"slt": "voice_cmu_us_slt_arctic_hts", "kal": "voice_kal_diphone"}


def _resample(x: np.ndarray, rate: int) -> np.ndarray:
    if rate == SAMPLE_RATE:
        return x.astype(np.float32)
    from scipy.signal import resample_poly

    g = np.gcd(rate, SAMPLE_RATE)
    return resample_poly(x, SAMPLE_RATE // g, rate // g).astype(np.float32)


def festival(text: str, voice: str = "slt") -> tuple[np.ndarray, list[tuple[str, float, float]]]:
    """Speaks `text` with Festival (speed is varied afterwards, by resampling)."""
    import soundfile as sf

    if shutil.which("festival") is None:
        raise TtsError("festival is not installed (Debian: festival festvox-us-slt-hts festvox-kallpc16k)")
    if voice not in FESTIVAL_VOICES:
        raise TtsError(f"unknown Festival voice {voice!r} (have {sorted(FESTIVAL_VOICES)})")
    quoted = text.replace("\\", " ").replace('"', " ")
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        script = d / "say.scm"
        lines = [f"({FESTIVAL_VOICES[voice]})", f'(set! u (Utterance Text "{quoted}"))', "(utt.synth u)",
                 f'(utt.save.segs u "{d / "segs.txt"}")', f'(utt.save.wave u "{d / "out.wav"}" \'riff)']
        script.write_text("\n".join(lines) + "\n")
        r = subprocess.run(["festival", "-b", str(script)], capture_output=True, text=True, timeout=120)
        if r.returncode != 0 or not (d / "out.wav").is_file():
            raise TtsError(f"festival failed: {r.stderr.strip()[-300:]}")
        audio, sr = sf.read(d / "out.wav", dtype="float32")
        segs, start = [], 0.0
        for line in (d / "segs.txt").read_text().splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] != "#":
                end = float(parts[0])
                segs.append((parts[2], start, end))
                start = end
    return _resample(audio, sr), segs


# --- eSpeak NG through its C library (phoneme events carry their audio position) ---

class _Event(ctypes.Structure):
    class _Id(ctypes.Union):
        _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]

    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
                ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", _Id)]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))
_EVENT_PHONEME, _EVENT_END = 7, 5
_espeak = None


def _lib(ipa: bool = False):
    global _espeak
    if _espeak is None:
        try:
            lib = ctypes.CDLL("libespeak-ng.so.1")
        except OSError as e:
            raise TtsError(f"eSpeak NG's library is missing (Debian: espeak-ng): {e}") from e
        # Synchronous output, phoneme events on (as IPA: option 2).
        rate = lib.espeak_Initialize(2, 0, None, 1 | (2 if ipa else 0))
        if rate <= 0:
            raise TtsError("espeak_Initialize failed")
        _espeak = (lib, rate, ipa)
    if _espeak[2] != ipa:
        raise TtsError("eSpeak NG gives phonemes one way per process: mnemonics or IPA, not both")
    return _espeak[:2]


def espeak(text: str, voice: str = "en-us", rate_wpm: int = 175, pitch: int = 50,
           ipa: bool = False) -> tuple[np.ndarray, list[tuple[str, float, float]]]:
    """Speaks `text` with eSpeak NG voice `voice` (e.g. `en-us`, `de`, `fr`,
    `en-us+f3`). Phones are eSpeak's mnemonics (pauses are `_`), or IPA
    with `ipa` (as the browser's build gives them; one way per process)."""
    lib, sr = _lib(ipa)
    chunks: list[np.ndarray] = []
    events: list[tuple[str, int]] = []

    def cb(wav, n, ev):
        if wav and n > 0:
            chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while ev[i].type != 0:
            if ev[i].type == _EVENT_PHONEME:
                events.append((ev[i].id.string.decode("utf-8", "replace"), ev[i].audio_position))
            i += 1
        return 0

    keep = _CALLBACK(cb)
    lib.espeak_SetSynthCallback(keep)
    if lib.espeak_SetVoiceByName(voice.encode()) != 0:
        raise TtsError(f"eSpeak NG has no voice {voice!r}")
    lib.espeak_SetParameter(1, int(rate_wpm), 0)  # espeakRATE
    lib.espeak_SetParameter(3, int(pitch), 0)  # espeakPITCH
    data = text.encode("utf-8") + b"\0"
    err = lib.espeak_Synth(data, len(data), 0, 1, 0, 0, None, None)
    lib.espeak_Synchronize()
    if err != 0:
        raise TtsError(f"espeak_Synth failed with code {err}")
    audio = np.concatenate(chunks).astype(np.float32) / 32768.0 if chunks else np.zeros(0, np.float32)
    total = len(audio) / sr
    segs = []
    for k, (ph, ms) in enumerate(events):
        end = events[k + 1][1] / 1000.0 if k + 1 < len(events) else total
        if ph and end > ms / 1000.0:
            segs.append((ph, ms / 1000.0, end))
    return _resample(audio, sr), segs
