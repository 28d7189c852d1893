"""The log-mel front end against its spec (docs/audio-features.md) and the
shared test vectors that the Rust runtime must reproduce."""
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from synctalk_toolchain import audio

VECTORS = Path(__file__).resolve().parents[3] / "tests" / "vectors" / "audio"
NAMES = ["hdtf_katiehill", "librispeech_1088", "jfk_44k1_stereo", "synthetic"]


def naive_frame(x: np.ndarray, k: int) -> np.ndarray:
    """One mel frame computed straight from the spec's words, with a direct DFT."""
    frame = np.zeros(audio.WINDOW)
    for n in range(audio.WINDOW):
        s = audio.HOP * k - audio.WINDOW // 2 + n
        if 0 <= s < x.size:
            frame[n] = x[s] * (0.5 - 0.5 * np.cos(2 * np.pi * n / audio.WINDOW))
    bins = np.arange(audio.N_FFT // 2 + 1)
    n = np.arange(audio.WINDOW)
    dft = np.exp(-2j * np.pi * np.outer(bins, n) / audio.N_FFT) @ frame
    power = np.abs(dft) ** 2
    mel = lambda f: 2595 * np.log10(1 + f / 700)
    edges_mel = np.linspace(mel(20.0), mel(7600.0), 82)
    edges = 700 * (10 ** (edges_mel / 2595) - 1)
    freqs = bins * 16000 / 512
    out = np.zeros(80)
    for m in range(80):
        lo, mid, hi = edges[m], edges[m + 1], edges[m + 2]
        w = np.where(freqs <= mid, (freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid))
        out[m] = np.log(np.sum(np.clip(w, 0, None) * power) + 1e-6)
    return out


def load(name):
    pcm, sr = sf.read(VECTORS / f"{name}.wav", dtype="int16")
    assert sr == 16000 and pcm.ndim == 1
    return pcm.astype(np.float64) / 32768.0


@pytest.mark.parametrize("name", NAMES)
def test_vectors_reproduce(name):
    x = load(name)
    want = np.load(VECTORS / f"{name}.mel.npy")
    got = audio.log_mel(x)
    assert got.shape == want.shape == (x.size // 160 + 1, 80)
    assert np.max(np.abs(got - want)) < 1e-4


def test_params_file_matches_the_code():
    assert json.loads((VECTORS / "params.json").read_text()) == audio.PARAMS


@pytest.mark.parametrize("name", ["hdtf_katiehill", "synthetic"])
def test_implementation_follows_the_spec_literally(name):
    x = load(name)
    mel = audio.log_mel(x)
    for k in [0, 1, 7, mel.shape[0] // 2, mel.shape[0] - 1]:
        assert np.max(np.abs(mel[k] - naive_frame(x, k))) < 1e-6, k


def test_tone_lands_in_its_band_and_silence_is_the_floor():
    t = np.arange(16000) / 16000
    mel = audio.log_mel(0.5 * np.sin(2 * np.pi * 1000 * t))
    edges = audio.mel_to_hz(np.linspace(audio.hz_to_mel(20), audio.hz_to_mel(7600), 82))
    band = int(np.argmax(mel[50]))
    assert edges[band] < 1000 < edges[band + 2]
    silent = audio.log_mel(np.zeros(8000))
    assert np.all(silent == np.log(1e-6))


def test_frame_windows_reach_a_second_back_and_70_ms_ahead():
    mel = np.arange(130 * 80, dtype=np.float64).reshape(130, 80)
    w = audio.frame_windows(mel, num_video_frames=34, fps=25.0)
    floor = np.log(1e-6)
    assert w.shape == (34, 100, 80) and audio.CONTEXT == 100 and audio.AHEAD == 7
    # Video frame 0 is at mel frame 0: rows 0..91 are padding, 92..99 mel frames 0..7.
    assert np.all(w[0, :92] == floor) and np.all(w[0, 92:] == mel[0:8])
    # Video frame 25 (1 s): mel frames 8..107, centre row 92 = mel frame 100.
    assert np.all(w[25] == mel[8:108]) and np.all(w[25, 92] == mel[100])
    # Video frame 33 (1.32 s): mel frames 40..139, of which 130..139 are past the end.
    assert np.all(w[33, :90] == mel[40:130]) and np.all(w[33, 90:] == floor)
    # 30 fps rounds to the nearest mel frame.
    w30 = audio.frame_windows(mel, num_video_frames=2, fps=30.0)
    assert np.all(w30[1, 92] == mel[3])


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="NaN"):
        audio.log_mel(np.array([0.0, np.nan, 0.1]))
    with pytest.raises(ValueError, match="mono"):
        audio.log_mel(np.zeros((100, 2)))
