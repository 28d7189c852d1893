"""Synthetic speech with phone timings (Festival and eSpeak NG from Debian):
the segments tile the audio, and they line up with it (pauses are quiet,
vowels loud)."""
import numpy as np
import pytest

from synctalk_toolchain import tts
from synctalk_toolchain.audio import SAMPLE_RATE

TEXT = "My big map, I think, is on the table."


def rms(audio, a, b):
    seg = audio[int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE)]
    return float(np.sqrt(np.mean(seg**2))) if len(seg) else 0.0


def check(audio, segs, vowels, pause):
    assert audio.dtype == np.float32 and np.isfinite(audio).all() and np.abs(audio).max() <= 1.0
    dur = len(audio) / SAMPLE_RATE
    assert 0.8 < dur < 5.0
    starts = np.array([s for _, s, _ in segs])
    ends = np.array([e for _, _, e in segs])
    assert np.all(ends > starts) and np.all(np.diff(starts) >= 0)
    assert np.allclose(starts[1:], ends[:-1], atol=1e-6), "segments tile the audio"
    assert abs(ends[-1] - dur) < 0.06
    loud = [rms(audio, s, e) for p, s, e in segs if p in vowels]
    quiet = [rms(audio, s, e) for p, s, e in segs if p in pause and e - s > 0.05]
    assert loud and quiet
    assert np.median(loud) > 5 * max(np.median(quiet), 1e-4)


@pytest.mark.parametrize("voice", ["slt", "kal"])
def test_festival(voice):
    audio, segs = tts.festival(TEXT, voice)
    phones = [p for p, _, _ in segs]
    assert {"m", "b", "p", "ay", "ae"} <= set(phones)
    check(audio, segs, {"ay", "ih", "ae", "aa", "ey", "ax"}, {"pau"})


@pytest.mark.parametrize("voice, text", [("en-us", TEXT), ("de", "Guten Tag, wie geht es Ihnen heute?")])
def test_espeak(voice, text):
    audio, segs = tts.espeak(text, voice)
    check(audio, segs, {"aI", "I", "a", "u:", "A:", "e:", "@", "O2", "eI", "i:", "aI@"}, {"_", "_:", "_!"})


def test_errors():
    with pytest.raises(tts.TtsError, match="no voice"):
        tts.espeak("hello", "xx-nonexistent")
    with pytest.raises(tts.TtsError, match="unknown Festival voice"):
        tts.festival("hello", "nobody")
