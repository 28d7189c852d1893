"""The phonetic front end of Face-Sync: how much each English phone is being
spoken, from the shared log-mel window, by an acoustic model trained on many
real speakers (CMU Sphinx's US English model, shipped with pocketsphinx).

A network trained only on seconds of real video and on synthetic voices does
not learn to hear phones in voices it never heard; a classic acoustic model
trained on hours of many speakers does. This module turns a log-mel window
(docs/audio-features.md) into the model's inputs and scores, as a fixed
function that the exported network (`facesync.py`) reproduces op for op:

1. Sphinx's 25 filterbank energies (130-6800 Hz, pre-emphasis) as a
   non-negative mix of our 80 mel energies (`mix_matrix`: a least-squares fit
   of the filters' shapes, no data), their logarithm, then 13 cepstra (DCT-II,
   orthonormal, liftered by 22), as Sphinx computes them.
2. Cepstral mean normalisation over the window's real frames (padding left
   out): the window reaches a second into the past, so the mean is a running
   one, as in a live recogniser. It removes the level and the channel.
3. At each of the `OFFSETS` around the window's centre (every 10 ms from
   70 ms before it to 40 ms after it, for the decoder of `facesync`):
   cepstra, deltas and double deltas (Sphinx's `1s_c_d_dd`), scored by the
   42 context-independent phones (the model's phonetically tied mixtures:
   128 Gaussians per phone and stream, three streams, three states sharing
   them with their own weights). A stream is scored by its best Gaussian (no
   exponentials at run time), each Gaussian weighted by the largest of its
   three states' weights: an upper bound of the best state's score that
   costs a third as much, so that 12 instants fit the run-time budget. On a
   real clip it hears a little less: 0.30 of the frames' phones instead of
   0.33, and 0.41 instead of 0.45 after the decoder.
4. Log-posteriors over the 42 phones (softmax of the scores over `TAU`), and
   two loudness cues per offset: c0 against the window's loudest and its mean
   real frame (for silences at any level); an instant without signal
   (padding, digital silence) gets `QUIET` for both.

The model's files are read from the installed pocketsphinx package
(BSD-style licence, Alpha Cephei Inc. / Carnegie Mellon University; see
models/demo/README.md).
"""
from __future__ import annotations

import os
import struct

import numpy as np

from . import audio as af

N_CEP = 13
N_FILT = 25
LOWER_HZ, UPPER_HZ = 130.0, 6800.0
LIFTER = 22
PREEMPH = 0.97
OFFSETS = tuple(range(-7, 5))  # mel frames from the window's centre; deltas reach 3 further
TAU = 1.0  # posterior temperature: phone scores are divided by it before the softmax
N_PHONES = 42
N_STREAMS = 3
N_DENS = 128
N_STATES = 3
FEATURES_PER_OFFSET = N_PHONES + 2


def model_dir() -> str:
    from pocketsphinx import get_model_path

    return os.path.join(get_model_path(), "en-us", "en-us")


def dictionary_bigrams(phones: list[str], path: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Phonotactics of English from the pronunciation dictionary shipped with
    the model (cmudict-en-us.dict, every entry once): counts [42, 42] of
    phone b following phone a inside a word, and counts [42] of words
    starting and ending with each phone."""
    if path is None:
        from pocketsphinx import get_model_path

        path = os.path.join(get_model_path(), "en-us", "cmudict-en-us.dict")
    index = {p: i for i, p in enumerate(phones)}
    n = len(phones)
    pairs, starts, ends = np.zeros((n, n)), np.zeros(n), np.zeros(n)
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            ids = [index[p] for p in line.split()[1:] if p in index]
            if not ids:
                continue
            starts[ids[0]] += 1
            ends[ids[-1]] += 1
            np.add.at(pairs, (ids[:-1], ids[1:]), 1)
    if pairs.sum() == 0:
        raise ValueError(f"{path}: no pronunciations with the model's phones")
    return pairs, starts, ends


def _read_s3(path: str) -> np.ndarray:
    b = open(path, "rb").read()
    i = b.find(b"endhdr\n")
    if i < 0:
        raise ValueError(f"{path}: no s3 header")
    i += 7
    if struct.unpack("<I", b[i : i + 4])[0] != 0x11223344:
        raise ValueError(f"{path}: unexpected byte order")
    n_mgau, n_feat, n_dens = struct.unpack("<3i", b[i + 4 : i + 16])
    vl = struct.unpack(f"<{n_feat}i", b[i + 16 : i + 16 + 4 * n_feat])
    o = i + 16 + 4 * n_feat
    total = struct.unpack("<i", b[o : o + 4])[0]
    if len(set(vl)) != 1 or total != n_mgau * n_dens * sum(vl):
        raise ValueError(f"{path}: unexpected shape {n_mgau}x{n_feat}x{n_dens}x{vl}")
    return np.frombuffer(b[o + 4 : o + 4 + 4 * total], "<f4").reshape(n_mgau, n_feat, n_dens, vl[0])


def _read_mdef(path: str) -> tuple[list[str], int]:
    b = open(path, "rb").read()
    tag = b"END FILE FORMAT DESCRIPTION\n\x00"
    o = b.find(tag)
    if not b.startswith(b"BMDF") or o < 0:
        raise ValueError(f"{path}: not a binary model definition")
    o = (o + len(tag) + 3) // 4 * 4
    n_ci, _n_phone, n_emit, n_ci_sen = struct.unpack("<4i", b[o : o + 16])
    o += 40
    names = []
    for _ in range(n_ci):
        e = b.index(b"\0", o)
        names.append(b[o:e].decode())
        o = e + 1
    if n_emit != N_STATES or n_ci_sen != N_STATES * n_ci:
        raise ValueError(f"{path}: {n_emit} states, {n_ci_sen} CI senones")
    return names, n_ci_sen


def _read_sendump(path: str) -> np.ndarray:
    """Mixture weights as stored (uint8, minus log weight in units of
    1024·ln 1.0001), [stream, Gaussian, senone]."""
    b = open(path, "rb").read()
    o = 0
    while True:
        n = struct.unpack("<i", b[o : o + 4])[0]
        o += 4
        if n == 0:
            break
        o += n
    n_cw, n_sen = struct.unpack("<2i", b[o : o + 8])
    o += 8
    return np.frombuffer(b[o : o + N_STREAMS * n_cw * n_sen], np.uint8).reshape(N_STREAMS, n_cw, n_sen)


LOG_WEIGHT_UNIT = 1024.0 * np.log(1.0001)


def sphinx_filterbank() -> np.ndarray:
    """Sphinx's 25 mel filters (unit area) times the pre-emphasis gain, on our FFT bins [25, 257]."""
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    edges = 700.0 * (10.0 ** (np.linspace(mel(LOWER_HZ), mel(UPPER_HZ), N_FILT + 2) / 2595.0) - 1.0)
    f = np.arange(af.N_FFT // 2 + 1) * af.SAMPLE_RATE / af.N_FFT
    fb = np.zeros((N_FILT, f.size))
    for m in range(N_FILT):
        a, c, d = edges[m : m + 3]
        fb[m] = np.clip(np.minimum((f - a) / (c - a), (d - f) / (d - c)), 0.0, None) * 2.0 / (d - a)
    w = 2.0 * np.pi * f / af.SAMPLE_RATE
    return fb * np.abs(1.0 - PREEMPH * np.exp(-1j * w)) ** 2


def mix_matrix() -> np.ndarray:
    """[25, 80] non-negative weights: Sphinx filter m ≈ Σ_k A[m, k] · our mel filter k."""
    from scipy.optimize import nnls

    ours = af.mel_filterbank()
    return np.stack([nnls(ours.T, g)[0] for g in sphinx_filterbank()])


def dct_matrix() -> np.ndarray:
    """[13, 25]: orthonormal DCT-II rows, liftered."""
    n = np.arange(N_CEP)[:, None]
    j = np.arange(N_FILT)[None, :]
    d = np.cos(np.pi * n * (j + 0.5) / N_FILT) * np.sqrt(2.0 / N_FILT)
    d[0] *= np.sqrt(0.5)
    return d * (1.0 + LIFTER / 2.0 * np.sin(np.pi * np.arange(N_CEP) / LIFTER))[:, None]


def time_matrix(context: int = af.CONTEXT, ahead: int = af.AHEAD) -> np.ndarray:
    """[3·K, context]: rows give, at each offset, the cepstra, the deltas
    c[t+2] − c[t−2] and the double deltas (c[t+3] − c[t−1]) − (c[t+1] − c[t−3])."""
    centre = context - 1 - ahead
    K = len(OFFSETS)
    m = np.zeros((3 * K, context))
    for i, o in enumerate(OFFSETS):
        t = centre + o
        if t - 3 < 0 or t + 3 >= context:
            raise ValueError(f"offset {o} needs frames outside the window")
        m[i, t] = 1
        m[K + i, t + 2] += 1
        m[K + i, t - 2] -= 1
        m[2 * K + i, [t + 3, t + 1]] += [1, -1]
        m[2 * K + i, [t - 1, t - 3]] += [-1, 1]
    return m


class Acoustic:
    """The model's context-independent part as matrices, float32:
    `gauss_w` [3, 26, 42·128] and `gauss_b_best` [3, 1, 42·128] give each
    Gaussian's log-density from [x², x] of a stream plus the largest of its
    log mixture weights in the phone's three states."""

    def __init__(self, path: str | None = None, tau: float = TAU):
        self.tau = float(tau)
        d = path or model_dir()
        means = _read_s3(os.path.join(d, "means")).astype(np.float64)
        var = np.maximum(_read_s3(os.path.join(d, "variances")).astype(np.float64), 1e-4)
        self.phones, n_ci_sen = _read_mdef(os.path.join(d, "mdef"))
        if means.shape != (N_PHONES, N_STREAMS, N_DENS, N_CEP) or len(self.phones) != N_PHONES:
            raise ValueError(f"{d}: not the 42-phone PTM model this front end expects ({means.shape})")
        sd = _read_sendump(os.path.join(d, "sendump"))[:, :, :n_ci_sen].astype(np.float64)
        iv = 1.0 / var  # [42, 3, 128, 13]
        quad = -0.5 * iv
        lin = means * iv
        const = -0.5 * (means**2 * iv).sum(-1) - 0.5 * (np.log(2 * np.pi * var)).sum(-1)  # [42, 3, 128]
        w = np.concatenate([quad, lin], -1)  # [42, 3, 128, 26]
        self.gauss_w = np.ascontiguousarray(w.transpose(1, 3, 0, 2).reshape(N_STREAMS, 2 * N_CEP, N_PHONES * N_DENS)).astype(np.float32)
        gauss_b = const.transpose(1, 0, 2).reshape(N_STREAMS, 1, N_PHONES * N_DENS).astype(np.float32)
        # CI senone 3p + s belongs to phone p, state s.
        lw = -sd * LOG_WEIGHT_UNIT  # [3, 128, 126]
        log_w = lw.reshape(N_STREAMS, N_DENS, N_PHONES, N_STATES).transpose(0, 2, 3, 1).astype(np.float32)  # [3, 42, 3, 128]
        # Each Gaussian with the largest of its weights in the phone's states.
        self.gauss_b_best = (gauss_b + log_w.max(2).reshape(N_STREAMS, 1, N_PHONES * N_DENS)).astype(np.float32)
        self.mix = mix_matrix().astype(np.float32)
        self.dct = dct_matrix().astype(np.float32)
        self.time = time_matrix().astype(np.float32)


def front(ac: Acoustic, windows: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Features [B, K, 44] of log-mel windows [B, CONTEXT, 80] (float32, the
    exported network's arithmetic): per offset the 42 phone log-posteriors,
    c0 minus the window's loudest real c0, c0 minus its mean real c0."""
    x = np.asarray(windows, np.float32)
    if x.ndim != 3 or x.shape[1:] != (af.CONTEXT, af.N_MELS):
        raise ValueError(f"windows of shape [B, {af.CONTEXT}, {af.N_MELS}] expected, got {x.shape}")
    out = []
    for s in range(0, len(x), chunk):
        out.append(_front(ac, x[s : s + chunk]))
    return np.concatenate(out) if out else np.zeros((0, len(OFFSETS), FEATURES_PER_OFFSET), np.float32)


FLOOR_GATE = np.float32(np.log(af.LOG_FLOOR) + 1e-3)
QUIET = np.float32(-100.0)  # both loudness cues of an instant with no signal (padding, digital silence)


def _front(ac: Acoustic, x: np.ndarray) -> np.ndarray:
    B, K = len(x), len(OFFSETS)
    cep = np.log(np.exp(x) @ ac.mix.T + np.float32(1e-9)) @ ac.dct.T  # [B, N, 13]
    real = (x.max(2, keepdims=True) > FLOOR_GATE).astype(np.float32)  # [B, N, 1]
    n = np.maximum(real.sum(1, keepdims=True), np.float32(1))
    mean = (cep * real).sum(1, keepdims=True) / n  # [B, 1, 13]
    feat = ac.time @ (cep - mean)  # [B, 3K, 13]
    f = feat.reshape(B, 3, K, N_CEP).transpose(1, 0, 2, 3).reshape(3, B * K, N_CEP)
    q = np.concatenate([f * f, f], -1)  # [3, BK, 26]
    ll = q @ ac.gauss_w + ac.gauss_b_best  # [3, BK, 42*128]
    score = ll.reshape(3, B * K, N_PHONES, N_DENS).max(-1).sum(0) / np.float32(ac.tau)  # [BK, 42]
    score = score - score.max(-1, keepdims=True)
    lp = score - np.log(np.exp(score).sum(-1, keepdims=True))
    c0 = (ac.time[:K] @ cep[:, :, :1]).reshape(B * K, 1)  # raw c0 at the offsets
    loudest = (cep[:, :, :1] + (real - 1) * np.float32(1e4)).max(1)  # [B, 1]
    loud = np.concatenate([c0 - np.repeat(loudest, K, 0), c0 - np.repeat(mean[:, 0, :1], K, 0)], -1)
    real_k = (ac.time[:K] @ real).reshape(B * K, 1)
    loud = loud * real_k + (np.float32(1) - real_k) * QUIET
    return np.concatenate([lp, loud], -1).reshape(B, K, FEATURES_PER_OFFSET).astype(np.float32)
