"""The shared log-mel front end (docs/audio-features.md), in numpy, float64."""
from __future__ import annotations

import numpy as np

SAMPLE_RATE = 16_000
HOP = 160
WINDOW = 400
N_FFT = 512
N_MELS = 80
F_MIN = 20.0
F_MAX = 7600.0
LOG_FLOOR = 1e-6
CONTEXT = 100  # mel frames per video frame window
AHEAD = 7  # of them after the centre frame (70 ms; the window reaches 82.5 ms ahead)
MEL_FPS = SAMPLE_RATE // HOP  # 100

PARAMS = {
    "version": 2,
    "sample_rate": SAMPLE_RATE,
    "hop": HOP,
    "window": WINDOW,
    "n_fft": N_FFT,
    "n_mels": N_MELS,
    "f_min": F_MIN,
    "f_max": F_MAX,
    "log_floor": LOG_FLOOR,
    "context": CONTEXT,
    "ahead": AHEAD,
    "mel_scale": "htk",
    "window_fn": "periodic hann",
}


def hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank() -> np.ndarray:
    """[N_MELS, N_FFT//2 + 1] triangular filters, peak 1, no normalisation."""
    edges = mel_to_hz(np.linspace(hz_to_mel(F_MIN), hz_to_mel(F_MAX), N_MELS + 2))
    freqs = np.arange(N_FFT // 2 + 1) * SAMPLE_RATE / N_FFT
    fb = np.zeros((N_MELS, freqs.size))
    for m in range(N_MELS):
        lo, mid, hi = edges[m], edges[m + 1], edges[m + 2]
        rise = (freqs - lo) / (mid - lo)
        fall = (hi - freqs) / (hi - mid)
        fb[m] = np.maximum(0.0, np.minimum(rise, fall))
    return fb


_FB = mel_filterbank()
_WIN = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(WINDOW) / WINDOW)


def num_frames(num_samples: int) -> int:
    return num_samples // HOP + 1


def log_mel(samples: np.ndarray) -> np.ndarray:
    """Log-mel frames [K, 80] (float64) of 16 kHz mono samples in [-1, 1]."""
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"log_mel expects mono samples, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("audio contains NaN or infinite samples")
    k = num_frames(x.size)
    padded = np.concatenate([np.zeros(WINDOW // 2), x, np.zeros(WINDOW)])
    # Frame k starts at sample 160k - 200, i.e. at 160k in `padded`.
    idx = np.arange(k)[:, None] * HOP + np.arange(WINDOW)[None, :]
    frames = padded[idx] * _WIN
    spec = np.fft.rfft(frames, n=N_FFT, axis=1)
    power = spec.real**2 + spec.imag**2
    return np.log(power @ _FB.T + LOG_FLOOR)


def frame_windows(mel: np.ndarray, num_video_frames: int, fps: float) -> np.ndarray:
    """[T, CONTEXT, 80] windows of mel frames for each video frame: the
    frame nearest its time and the CONTEXT - 1 - AHEAD before, AHEAD after."""
    floor = np.log(LOG_FLOOR)
    k = mel.shape[0]
    out = np.full((num_video_frames, CONTEXT, N_MELS), floor, dtype=np.float64)
    for t in range(num_video_frames):
        c = int(np.floor(MEL_FPS * t / fps + 0.5))
        lo, hi = c - (CONTEXT - 1 - AHEAD), c + AHEAD + 1
        a, b = max(lo, 0), min(hi, k)
        if a < b:
            out[t, a - lo : b - lo] = mel[a:b]
    return out
