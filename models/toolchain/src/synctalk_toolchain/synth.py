"""Training data for the audio networks: speech paired with blendshape targets.

Seconds of real paired video exist, so most of the data is synthetic: speech
from Festival and eSpeak NG (many voices and languages) with its phone
timings, mapped to blendshape targets through a **viseme table learned from
the real clips** (pocketsphinx phones of each clip's audio against its
MediaPipe blendshapes, read `LEAD_FRAMES` earlier: the lips lead the sound),
smoothed for coarticulation, and heavily augmented (speed, noise,
reverberation, gain). The real clips themselves are added with their own
blendshapes as targets.

Phones of all synthesisers are reduced to a small set of articulation
classes, so eSpeak's phoneme mnemonics in any language and ARPAbet share one
table.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import audio as af
from .audio import SAMPLE_RATE

CLASSES = ["sil", "bilabial", "labiodental", "dental", "alveolar", "postalveolar", "velar", "r", "w", "j", "h",
           "open", "mid", "front", "round"]
LEAD_FRAMES = 2  # the articulation-sync best shift on the real clips is -1..-3 frames

_ARPA = {
    "SIL": "sil", "PAU": "sil", "+SPN+": "sil", "+NSN+": "sil",
    "P": "bilabial", "B": "bilabial", "M": "bilabial", "F": "labiodental", "V": "labiodental",
    "TH": "dental", "DH": "dental", "T": "alveolar", "D": "alveolar", "N": "alveolar", "S": "alveolar",
    "Z": "alveolar", "L": "alveolar", "SH": "postalveolar", "ZH": "postalveolar", "CH": "postalveolar",
    "JH": "postalveolar", "K": "velar", "G": "velar", "NG": "velar", "R": "r", "ER": "r", "AXR": "r",
    "W": "w", "Y": "j", "HH": "h",
    "AA": "open", "AE": "open", "AH": "open", "AO": "open", "AW": "open", "AY": "open",
    "EH": "mid", "EY": "mid", "AX": "mid", "IX": "mid",
    "IH": "front", "IY": "front",
    "OW": "round", "OY": "round", "UH": "round", "UW": "round",
}


def arpabet_class(phone: str) -> str:
    """Articulation class of an ARPAbet phone (any case, stress digits allowed)."""
    return _ARPA.get(phone.upper().rstrip("012"), "sil")


# IPA symbols (eSpeak NG's phoneme events when it is initialised for IPA, as
# the browser build is) beyond the ASCII letters, which mean the same in
# eSpeak's mnemonics and in IPA.
_IPA = {
    "ɸ": "bilabial", "β": "bilabial", "ʙ": "bilabial", "ɱ": "labiodental", "ʋ": "labiodental",
    "θ": "dental", "ð": "dental", "ɾ": "alveolar", "ɬ": "alveolar", "ɮ": "alveolar", "ɫ": "alveolar",
    "ɺ": "alveolar", "ʦ": "alveolar", "ʣ": "alveolar", "ɳ": "alveolar", "ɖ": "alveolar", "ʈ": "alveolar",
    "ɭ": "alveolar", "ʃ": "postalveolar", "ʒ": "postalveolar", "ʧ": "postalveolar", "ʤ": "postalveolar",
    "ɕ": "postalveolar", "ʑ": "postalveolar", "ʂ": "postalveolar", "ʐ": "postalveolar", "ç": "postalveolar",
    "ɟ": "j", "ʝ": "j", "ʎ": "j", "ɲ": "j", "ŋ": "velar", "ɡ": "velar", "ɣ": "velar", "χ": "velar",
    "ɢ": "velar", "ɰ": "velar", "ɹ": "r", "ɻ": "r", "ʀ": "r", "ʁ": "r", "ɚ": "r", "ɝ": "r", "ɜ": "r",
    "ʍ": "w", "ɥ": "w", "ɦ": "h", "ʔ": "h", "ħ": "h", "ʕ": "h",
    "ɑ": "open", "ɒ": "open", "æ": "open", "ʌ": "open", "ɐ": "open", "ɶ": "open",
    "ɔ": "round", "ʊ": "round", "ʏ": "round", "ø": "round", "œ": "round", "ɵ": "round",
    "ɛ": "mid", "ə": "mid", "ɘ": "mid", "ɤ": "mid", "ɯ": "mid", "ɞ": "mid",
    "ɪ": "front", "ɨ": "front",
}


def espeak_class(ph: str) -> str:
    """Articulation class of an eSpeak NG phoneme, as its mnemonic or in IPA
    (any language)."""
    # Stress, length and pause marks go; so do variant digits after a
    # phoneme ("@2"), but not the phonemes that are digits ("3": ɜ, "0": ɒ).
    p = ph.strip("'\",%=:;!_-ˈˌːˑ\u0306\u203f\u0361")
    p = p.rstrip("0123456789") or p[:1]
    if not p:
        return "sil"
    if p[0] in _IPA:
        return _IPA[p[0]]
    two = p[:2]
    if two in ("tS", "dZ", "tʃ", "dʒ"):
        return "postalveolar"
    if two in ("aI", "aU", "a#", "A@", "A:"):
        return "open"
    if two in ("oU", "OI", "u:", "o:", "O:", "U@", "y:"):
        return "round"
    if two in ("i:", "I@", "iE"):
        return "front"
    c = p[0]
    table = {
        "p": "bilabial", "b": "bilabial", "m": "bilabial", "f": "labiodental", "v": "labiodental",
        "T": "dental", "D": "dental", "t": "alveolar", "d": "alveolar", "n": "alveolar", "s": "alveolar",
        "z": "alveolar", "l": "alveolar", "L": "alveolar", "S": "postalveolar", "Z": "postalveolar",
        "C": "postalveolar", "J": "j", "k": "velar", "g": "velar", "N": "velar", "x": "velar", "q": "velar",
        "r": "r", "R": "r", "3": "r", "w": "w", "j": "j", "h": "h", "Q": "h", "?": "h",
        "a": "open", "A": "open", "V": "open", "&": "open", "0": "open", "O": "round", "o": "round",
        "u": "round", "U": "round", "y": "round", "Y": "round", "W": "round",
        "e": "mid", "E": "mid", "@": "mid", "i": "front", "I": "front",
    }
    return table.get(c, "sil")


def _frames_of(segments, classify, n_frames: int, fps: float) -> np.ndarray:
    """Class index per video frame (the segment under each frame's time)."""
    out = np.zeros(n_frames, np.int64)
    t = np.arange(n_frames) / fps
    for name, s, e in segments:
        out[(t >= s) & (t < e)] = CLASSES.index(classify(name))
    return out


def viseme_table(clips) -> tuple[np.ndarray, np.ndarray]:
    """Mean blendshapes [classes, 52] per articulation class over real clips,
    each given as (ARPAbet segments, blendshapes [T, 52], fps), read
    LEAD_FRAMES earlier than the sound. Silence is the mean of the clips'
    most closed mouths (lowest fifth of jawOpen), since speakers
    pause with parted lips too. Returns the table and the frame counts."""
    sums = np.zeros((len(CLASSES), 52))
    counts = np.zeros(len(CLASSES))
    closed = []
    for segs, bs, fps in clips:
        T = len(bs)
        cls = _frames_of(segs, arpabet_class, T, fps)
        src = np.clip(np.arange(T) - LEAD_FRAMES, 0, T - 1)
        np.add.at(sums, cls, bs[src])
        np.add.at(counts, cls, 1)
        jaw = bs[:, 25]
        closed.append(bs[jaw <= np.quantile(jaw, 0.2)])
    table = sums / np.maximum(counts, 1)[:, None]
    table[0] = np.concatenate(closed).mean(0)
    table[counts == 0] = table[0]  # classes the clips never said: rest
    return table, counts


def target_curve(segments, classify, table: np.ndarray, n_frames: int, fps: float, sigma_frames: float = 1.0) -> np.ndarray:
    """Blendshape targets [T, 52] for a phone sequence: the class targets,
    moved LEAD_FRAMES earlier and smoothed (coarticulation)."""
    cls = _frames_of(segments, classify, n_frames + LEAD_FRAMES, fps)[LEAD_FRAMES:]
    y = table[cls]
    r = int(np.ceil(3 * sigma_frames))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma_frames) ** 2)
    k /= k.sum()
    pad = np.pad(y, ((r, r), (0, 0)), mode="edge")
    return np.stack([np.convolve(pad[:, j], k, mode="valid") for j in range(y.shape[1])], 1)


# --- augmentation --------------------------------------------------------------

def change_speed(x: np.ndarray, factor: float) -> np.ndarray:
    """Plays `factor` times faster (pitch moves with it)."""
    from scipy.signal import resample_poly

    up = 100
    down = int(round(100 * factor))
    return resample_poly(x, up, down).astype(np.float32)


def augment(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Noise (white or brown, 10-40 dB SNR), reverberation and gain."""
    y = x.astype(np.float64)
    if rng.random() < 0.35:
        rt60 = rng.uniform(0.15, 0.6)
        n = int(rt60 * SAMPLE_RATE)
        ir = rng.normal(size=n) * np.exp(-6.9 * np.arange(n) / n)
        ir[0] = 1.0
        from scipy.signal import fftconvolve

        y = fftconvolve(y, ir / np.linalg.norm(ir), mode="full")[: len(y)]
    if rng.random() < 0.6:
        noise = rng.normal(size=len(y))
        if rng.random() < 0.5:
            noise = np.cumsum(noise)
            noise -= np.convolve(noise, np.ones(801) / 801, mode="same")
        p_sig = np.mean(y**2) + 1e-12
        snr = rng.uniform(10, 40)
        y = y + noise * np.sqrt(p_sig / (np.mean(noise**2) + 1e-12) / 10 ** (snr / 10))
    peak = np.abs(y).max() + 1e-9
    return (y / peak * rng.uniform(0.1, 0.95)).astype(np.float32)


# --- texts ---------------------------------------------------------------------------

def english_words() -> list[str]:
    from pocketsphinx import get_model_path

    words = []
    for line in (Path(get_model_path()) / "en-us" / "cmudict-en-us.dict").read_text().splitlines():
        w = line.split(" ", 1)[0]
        if "(" not in w and w.isalpha() and 2 <= len(w) <= 10:
            words.append(w)
    return words


def sentence(words, rng) -> str:
    n = int(rng.integers(4, 13))
    out = []
    for i in range(n):
        out.append(words[int(rng.integers(len(words)))])
        if i + 1 < n and rng.random() < 0.12:
            out[-1] += ","
    return " ".join(out) + rng.choice([".", ".", "?", "!"])


SYLLABLES_C = "p b m f v t d n s z l r k g h w j sh ch".split()
SYLLABLES_V = "a e i o u a e o".split()


def pseudo_sentence(rng) -> str:
    words = []
    for _ in range(int(rng.integers(4, 10))):
        words.append("".join(rng.choice(SYLLABLES_C) + rng.choice(SYLLABLES_V) for _ in range(int(rng.integers(1, 4)))))
    return " ".join(words) + "."


ESPEAK_VOICES = ["en-us", "en", "en-us+f3", "en-us+m3", "en+f2", "en-us+f4", "de", "fr", "es", "it", "pt", "nl", "pl", "sv"]


def utterance(rng, words, table):
    """One synthetic utterance: (audio, targets [T, 52] at 25 fps, description)."""
    from . import tts

    kind = rng.random()
    if kind < 0.3:
        voice = str(rng.choice(["slt", "kal"]))
        x, segs = tts.festival(sentence(words, rng), voice)
        classify, desc = arpabet_class, f"festival/{voice}"
    else:
        voice = str(rng.choice(ESPEAK_VOICES))
        text = sentence(words, rng) if voice.startswith("en") else pseudo_sentence(rng)
        x, segs = tts.espeak(text, voice, rate_wpm=int(rng.integers(120, 230)), pitch=int(rng.integers(20, 85)))
        classify, desc = espeak_class, f"espeak/{voice}"
    factor = float(rng.uniform(0.85, 1.2))
    x = change_speed(x, factor)
    segs = [(p, s / factor, e / factor) for p, s, e in segs]
    # Leading and trailing silence of random length (the mouth must close).
    pre, post = int(rng.uniform(0.05, 0.6) * SAMPLE_RATE), int(rng.uniform(0.05, 0.6) * SAMPLE_RATE)
    x = np.concatenate([np.zeros(pre, np.float32), x, np.zeros(post, np.float32)])
    segs = [(p, s + pre / SAMPLE_RATE, e + pre / SAMPLE_RATE) for p, s, e in segs]
    x = augment(x, rng)
    T = int(len(x) / SAMPLE_RATE * 25)
    return x, target_curve(segs, classify, table, T, 25.0), desc


def match_spread(targets: list, real: list, rest: np.ndarray, max_gain: float = 4.0) -> np.ndarray:
    """Scales the synthetic targets' deviations from the rest pose, per
    mouth blendshape, so that their spread matches the real clips' (in place).
    Class means average transitions and speakers: without this the synthetic
    mouth opens about a third as far as a real one."""
    syn = np.concatenate(targets).astype(np.float64)
    ref = np.concatenate(real).astype(np.float64)
    gains = np.clip(ref.std(0) / np.maximum(syn.std(0), 1e-6), 1.0, max_gain)
    # Only the mouth and jaw (MediaPipe 23..49) and cheekPuff (6): speech
    # barely drives the rest, whose real spread (blinks) is not the phones'.
    keep = np.zeros(len(gains), bool)
    keep[[6, *range(23, 50)]] = True
    gains = np.where(keep, gains, 1.0)
    for k, t in enumerate(targets):
        t64 = rest + (t.astype(np.float64) - rest) * gains
        targets[k] = np.clip(t64, 0.0, 1.0).astype(t.dtype)
    return gains


def generate(datasets: list[Path], out: Path, seconds: float, seed: int = 0, progress=None) -> dict:
    """Writes `out` (.npz): per utterance its log-mel frames and 25 fps
    targets, synthetic ones first, then the real clips (with augmented copies)."""
    from . import sync

    rng = np.random.default_rng(seed)
    clips, real = [], []
    import soundfile as sf

    for d in datasets:
        x, sr = sf.read(d / "aud.wav", dtype="float32")
        bs = np.load(d / "blendshapes.npy").astype(np.float64)
        segs, _ = sync.phones(x)
        clips.append((segs, bs, 25.0))
        real.append((x, bs))
    table, counts = viseme_table(clips)
    words = english_words()
    mels, targets, kinds, descs = [], [], [], []
    total = 0.0
    while total < seconds:
        x, y, desc = utterance(rng, words, table)
        mels.append(af.log_mel(x).astype(np.float16))
        targets.append(y.astype(np.float16))
        kinds.append(0)
        descs.append(desc)
        total += len(x) / SAMPLE_RATE
        if progress:
            progress(min(total, seconds), seconds)
    gains = match_spread(targets, [bs for _, bs in real], table[0])
    for x, bs in real:
        for copy in range(4):
            xa, ya = x, bs
            if copy:
                f = float(rng.uniform(0.9, 1.1))
                xa = augment(change_speed(x, f), rng)
                T = int(len(xa) / SAMPLE_RATE * 25)
                src = np.clip(np.round(np.arange(T) * f).astype(int), 0, len(bs) - 1)
                ya = bs[src]
            mels.append(af.log_mel(xa).astype(np.float16))
            targets.append(np.asarray(ya, np.float16))
            kinds.append(1)
            descs.append("real" if copy == 0 else "real+aug")
    np.savez_compressed(
        out, mel_lengths=np.array([len(m) for m in mels]), target_lengths=np.array([len(t) for t in targets]),
        mel=np.concatenate(mels), targets=np.concatenate(targets), kinds=np.array(kinds),
        table=table.astype(np.float32), table_counts=counts)
    info = {"spread_gains": [round(float(g), 3) for g in gains], "synthetic_seconds": round(total, 1), "utterances": len(mels), "real_clips": len(real),
            "voices": sorted(set(descs)), "classes": CLASSES, "class_frames": counts.astype(int).tolist()}
    out.with_suffix(".json").write_text(json.dumps(info, indent=1) + "\n")
    names = json.loads((datasets[0] / "blendshapes.json").read_text())
    (out.parent / "blendshape_names.json").write_text(json.dumps(names) + "\n")
    return info
