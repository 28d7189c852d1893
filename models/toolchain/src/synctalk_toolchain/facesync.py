"""The Face-Sync network: a log-mel window (docs/audio-features.md spec v2:
100 mel frames, the last 7 after the video frame's time) to the 52
blendshapes of that frame.

Three parts, all speaker-independent by construction:

- the fixed phonetic front end of `phonetic`: what a classic acoustic model,
  trained on many real speakers, hears in the window (42 phone
  log-posteriors) and how loud it is, every 10 ms from 70 ms before the
  frame to 40 ms after it;
- a decoder: forward-backward over a phone HMM whose transitions are
  English phonotactics (`transitions`: the model's pronunciation
  dictionary), so that a phone is judged with its neighbours in time. A
  stop of 60 ms that the frame-by-frame posteriors blur into its vowels
  stays an M, B or P for its whole length;
- a viseme head learned from the real clips: each phone's articulation class
  has the mean blendshapes the real speakers showed while saying it
  (`apex_table`); the head mixes those by the decoded posteriors, turns
  to the closed-mouth rest where a speech gate (logistic regression on the
  decoded silence posterior, the loudness cues and the window's undecoded
  silence posterior, fitted to the clips' pauses) says silence, and averages the instants of `OUT_OFFSETS` with `KERNEL`
  (coarticulation).

Seconds of real video cannot teach a regression network to hear phones in
new voices (issue 4's experiments: held-out voices scored 0.7-0.9 against
a target of 1.5); the acoustic model can, and the head keeps only what the
video teaches well: how a face articulates each kind of sound.

Fitting takes seconds on the CPU. The network is one ONNX graph whose every op
mirrors `phonetic.front` and `VisemeHead.forward`; test vectors (inputs and
this module's outputs) are written beside it for tract to reproduce.

    python -m synctalk_toolchain.facesync DATASET_DIR... -o OUT_DIR
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from . import audio as af
from . import phonetic as ph
from .onnx_graph import INPUT, Graph
from . import synth, sync

JAW_OPEN = 25
OUT_OFFSETS = (-1, 0, 1)  # instants (mel frames from the centre) whose decoded phones the head mixes
KERNEL = (0.25, 0.5, 0.25)  # their weights: coarticulation
STAY = 0.8  # decoder: probability that a phone goes on for another 10 ms
BETA = 0.5  # decoder: weight of the acoustic evidence (posteriors raised to it)
SMOOTH = 0.1  # decoder: share of the phone changes spread evenly (unseen pairs stay possible)
PAUSE_AFTER_WORD = 0.1  # decoder: share of word ends followed by a pause or noise


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def transitions(phones: list[str], stay: float = STAY, smooth: float = SMOOTH) -> np.ndarray:
    """[42, 42] phone-to-phone probabilities per 10 ms step for the decoder:
    a phone goes on with probability `stay`; otherwise it changes as English
    words do (`phonetic.dictionary_bigrams`: the next phone inside a word, or
    at a word's end the first phone of any word, or a pause or noise), mixed
    with `smooth` of an even spread."""
    pairs, starts, ends = ph.dictionary_bigrams(phones)
    pause = np.array([synth.arpabet_class(p) == "sil" for p in phones])
    first = starts / starts.sum()
    m = pairs + np.outer(ends, first) * (1 - PAUSE_AFTER_WORD)
    m[:, pause] += (ends * PAUSE_AFTER_WORD / pause.sum())[:, None]
    m[pause] = first  # after a pause or noise, a word starts
    np.fill_diagonal(m, 0.0)
    n = len(phones)
    m = m / m.sum(1, keepdims=True)
    m = (1 - smooth) * m + smooth * (1 - np.eye(n)) / (n - 1)
    return (stay * np.eye(n) + (1 - stay) * m).astype(np.float32)


class VisemeHead:
    """features [B, K, 44] (`phonetic.front` at its K instants) → blendshapes
    [B, 52] (see the module's doc).

    Decoding: the phone posteriors of the K instants, 10 ms apart, are
    smoothed by forward-backward over a phone HMM (`trans` [42, 42], the
    evidence weighted by `beta`), so that a phone is judged by its
    neighbours in time as a recogniser would. Then, at `OUT_OFFSETS`:
    `table` [42, 52]: each phone's blendshapes; `rest` [52]: the silent mouth;
    `sil_mask` [42]: the phones that mean silence (SIL, noise); `gate_w` [4],
    `gate_b`: P(speech) from the decoded P(silence) and the cues of
    `decoded` (c0 − loudest, c0 − mean, the window's undecoded P(silence));
    `gain` [52]: how much more than the mixed table the face moves (the
    phone posteriors blur the table's extremes; see `fit`)."""

    def __init__(self, table, rest, sil_mask, gate_w, gate_b, trans, kernel=KERNEL, gain=None, beta=BETA):
        self.gain = np.ones(52, np.float32) if gain is None else np.asarray(gain, np.float32)
        self.table = np.asarray(table, np.float32)
        self.rest = np.asarray(rest, np.float32)
        self.sil_mask = np.asarray(sil_mask, np.float32)
        self.gate_w = np.asarray(gate_w, np.float32)
        self.gate_b = np.float32(gate_b)
        self.trans = np.asarray(trans, np.float32)
        self.kernel = np.asarray(kernel, np.float32)
        self.beta = np.float32(beta)

    def decoded(self, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Decoded phone posteriors [B, J, 42] at the J = len(OUT_OFFSETS)
        instants and the speech gate's other cues [B, J, 3]: the instant's
        loudness against the window's loudest and mean, and the undecoded
        P(silence) averaged over all K instants (noise in a pause, which the
        decoder may read as a fricative, is mostly silence frame by frame).
        In float32, in the ONNX graph's order of operations."""
        f = np.asarray(f, np.float32)
        e = np.exp(f[..., : ph.N_PHONES] * self.beta)  # [B, K, 42]; the best phone of each instant is 1
        K = e.shape[1]
        out = [ph.OFFSETS.index(o) for o in OUT_OFFSETS]
        norm = lambda v: v / (v @ np.ones((ph.N_PHONES, 1), np.float32))  # noqa: E731
        fwd = [norm(e[:, 0])]
        for t in range(1, max(out) + 1):
            fwd.append(norm((fwd[-1] @ self.trans) * e[:, t]))
        bwd = {K - 1: np.full_like(e[:, 0], 1.0 / ph.N_PHONES)}
        for t in range(K - 2, min(out) - 1, -1):
            bwd[t] = norm((bwd[t + 1] * e[:, t + 1]) @ self.trans.T)
        post = np.stack([norm(fwd[t] * bwd[t]) for t in out], 1)
        raw_sil = np.exp(f[..., : ph.N_PHONES]) @ self.sil_mask[:, None]  # [B, K, 1]
        window_sil = np.repeat(raw_sil.mean(1, keepdims=True), len(out), 1)  # [B, J, 1]
        return post, np.concatenate([f[:, out, ph.N_PHONES :], window_sil], -1)

    def speech(self, f: np.ndarray) -> np.ndarray:
        """P(speech) [B, J] of features [B, K, 44], at the J output instants."""
        return self._speech(*self.decoded(f))

    def _speech(self, post: np.ndarray, cues: np.ndarray) -> np.ndarray:
        g = np.concatenate([post @ self.sil_mask[:, None], cues], -1)
        # An instant without signal (padding, digital silence) is silence,
        # whatever the acoustic model makes of the log floor.
        signal = (cues[..., 0] > np.float32(ph.QUIET / 2)).astype(np.float32)
        return _sigmoid(g @ self.gate_w + self.gate_b) * signal

    def forward(self, f: np.ndarray) -> np.ndarray:
        post, cues = self.decoded(f)  # [B, J, 42], [B, J, 3]
        g = self._speech(post, cues)[..., None]  # [B, J, 1]
        y = g * (post @ self.table - self.rest)  # [B, J, 52], from the rest
        y = np.einsum("k,bkj->bj", self.kernel, y)
        return np.clip(y * self.gain + self.rest, 0.0, 1.0).astype(np.float32)


def silence_labels(segments, n: int, fps: float = 25.0, min_s: float = 0.0) -> np.ndarray:
    """1 on video frames inside pocketsphinx's silences and noises of at
    least `min_s` seconds."""
    lab = np.zeros(n, np.float32)
    for name, s, e in segments:
        if synth.arpabet_class(name) == "sil" and e - s >= min_s:
            lab[int(np.ceil(s * fps)) : int(np.floor(e * fps)) + 1] = 1
    return lab


# The pauses the speech gate learns to close the mouth in. Between words
# pocketsphinx marks gaps of 30-150 ms (stop closures, glottal onsets of
# vowel-initial words) in which real mouths do not go back to rest; taught
# to close those too, the gate shut the mouth on 9-26% of the frames of
# running speech of the out-of-distribution clips (now 4-15%).
MIN_PAUSE = 0.2

# Silent frames weigh this much more than speech in the gate's fit (after
# balancing the classes): jfk's hissy pauses, which the decoder reads as
# fricatives, stay closed (rendered jawOpen at most 0.08 there; 0.10 at 12).
SILENCE_WEIGHT = 20.0


def fit_gate(post: np.ndarray, cues: np.ndarray, silent: np.ndarray, sil_mask: np.ndarray,
             silence_weight: float = SILENCE_WEIGHT, steps: int = 2000):
    """Logistic regression of speech (1 − silent) on the centre instant's gate
    inputs (decoded posteriors [T, 42], cues [T, 3]), the classes
    balanced and then silence weighted `silence_weight` times (a mouth open
    in a pause shows more than one closed a moment early), a little L2;
    plain gradient descent."""
    x = np.concatenate([post @ sil_mask[:, None], cues], -1).astype(np.float64)
    y = 1.0 - silent
    mu, sd = x.mean(0), x.std(0) + 1e-9
    z = (x - mu) / sd
    wt = np.where(y > 0.5, 0.5 / max(y.mean(), 1e-9), silence_weight * 0.5 / max(1 - y.mean(), 1e-9))
    w, b = np.zeros(x.shape[1]), 0.0
    for _ in range(steps):
        p = _sigmoid(z @ w + b)
        r = (p - y) * wt / len(y)
        w -= 0.5 * (z.T @ r + 1e-3 * w)
        b -= 0.5 * r.sum()
    return w / sd, b - (w / sd) @ mu


def phone_table(class_table: np.ndarray, phones: list[str]) -> np.ndarray:
    """[42, 52]: each phone's row of the class table."""
    return np.stack([class_table[synth.CLASSES.index(synth.arpabet_class(p))] for p in phones])


VOWELS = {"open", "mid", "front", "round"}


def apex_table(clips) -> tuple[np.ndarray, np.ndarray]:
    """Blendshapes [classes, 52] per articulation class: the mean over the
    real clips' phone segments of the frame where each segment's articulation
    peaks — the widest lip aperture for a vowel, the narrowest for a
    consonant — read `synth.LEAD_FRAMES` earlier than the sound (the lips
    lead). A segment's mean would mix in the transitions to its neighbours.
    Silence: the mean of the clips' most closed fifth (as synth.viseme_table).
    Clips: (segments, blendshapes [T, 52], lip aperture [T]). Also returns the
    segment counts."""
    lead = synth.LEAD_FRAMES
    sums = np.zeros((len(synth.CLASSES), 52))
    counts = np.zeros(len(synth.CLASSES))
    closed = []
    for segs, bs, ap in clips:
        T = len(bs)
        for name, s, e in segs:
            c = synth.arpabet_class(name)
            a, b = max(int(np.ceil(s * 25)) - lead, 0), min(int(np.floor(e * 25)) - lead, T - 1)
            if c == "sil" or b < a:
                continue
            seg = ap[a : b + 1]
            k = a + int(np.argmax(seg) if c in VOWELS else np.argmin(seg))
            sums[synth.CLASSES.index(c)] += bs[k]
            counts[synth.CLASSES.index(c)] += 1
        jaw = bs[:, JAW_OPEN]
        closed.append(bs[jaw <= np.quantile(jaw, 0.2)])
    table = sums / np.maximum(counts, 1)[:, None]
    table[0] = np.concatenate(closed).mean(0)
    table[counts == 0] = table[0]
    return table, counts


MAX_GAIN = 4.0


def fit(clips, phones: list[str], mouth: np.ndarray, trans: np.ndarray, silence_weight: float = SILENCE_WEIGHT) -> VisemeHead:
    """The head from real clips, each (segments, blendshapes [T, 52], lip
    aperture [T], features [T, K, 44]), with the decoder's `transitions`. The gains make the head's output on
    the clips' own audio move as much as their faces did (standard deviation
    per mouth blendshape, at most MAX_GAIN×)."""
    table, _ = apex_table([(s, bs, ap) for s, bs, ap, _ in clips])
    # Face-Sync moves the mouth only: the other shapes (brows, eyes, blinks)
    # of the clips' phone segments are the speakers' expressions, not
    # articulation, and stay at rest here.
    table[:, ~mouth] = table[0, ~mouth]
    sil_mask = np.array([synth.arpabet_class(p) == "sil" for p in phones], np.float32)
    feats = np.concatenate([f for *_, f in clips])
    silent = np.concatenate([silence_labels(s, len(f), min_s=MIN_PAUSE) for s, _, _, f in clips])
    head = VisemeHead(phone_table(table, phones), table[0], sil_mask, np.zeros(4), 0.0, trans)
    post, cues = head.decoded(feats)
    c = OUT_OFFSETS.index(0)
    w, b = fit_gate(post[:, c], cues[:, c], silent, sil_mask, silence_weight)
    head.gate_w, head.gate_b = np.asarray(w, np.float32), np.float32(b)
    out = head.forward(feats)
    real = np.concatenate([bs for _, bs, _, _ in clips])
    head.gain = np.where(mouth, np.clip(real.std(0) / np.maximum(out.std(0), 1e-6), 1.0, MAX_GAIN), 1.0).astype(np.float32)
    return head


def jaw_contrast(jaw: np.ndarray, segments, fps: float = 25.0) -> dict:
    """Articulation contrast (sync.articulation_contrast) of a jawOpen track per shift."""
    try:
        return {k: round(v, 3) for k, v in sync.articulation_contrast(segments, jaw, fps).contrasts.items()}
    except sync.AlignError as e:
        return {"error": str(e)}


def load_clip(ac: ph.Acoustic, d: Path):
    import soundfile as sf

    x, sr = sf.read(d / "aud.wav", dtype="float32")
    if sr != af.SAMPLE_RATE:
        raise ValueError(f"{d / 'aud.wav'}: {sr} Hz, expected {af.SAMPLE_RATE}")
    bs = np.load(d / "blendshapes.npy").astype(np.float64)
    ap = sync.lip_aperture(np.load(d / "landmarks.npy"))
    segs, _ = sync.phones(x)
    f = ph.front(ac, af.frame_windows(af.log_mel(x), len(bs), 25.0))
    return segs, bs, ap, f, x


MOUTH = {"jawForward", "jawLeft", "jawOpen", "jawRight", "mouthClose", "mouthDimpleLeft", "mouthDimpleRight",
         "mouthFrownLeft", "mouthFrownRight", "mouthFunnel", "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight",
         "mouthPressLeft", "mouthPressRight", "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper",
         "mouthShrugLower", "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft",
         "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight", "cheekPuff"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="synctalk-facesync", description=__doc__.split("\n\n")[0])
    ap.add_argument("datasets", type=Path, nargs="+", help="prepared real clips (synctalk-prepare)")
    ap.add_argument("-o", "--out", type=Path, required=True)
    ap.add_argument("--tau", type=float, default=ph.TAU, help="temperature of the phone posteriors")
    ap.add_argument("--silence-weight", type=float, default=SILENCE_WEIGHT, help="weight of silent frames in the speech gate's fit")
    args = ap.parse_args(argv)
    t0 = time.time()
    ac = ph.Acoustic(tau=args.tau)
    names = json.loads((args.datasets[0] / "blendshapes.json").read_text())
    mouth = np.array([n in MOUTH for n in names])
    clips, audio = [], []
    for d in args.datasets:
        segs, bs, lip, f, x = load_clip(ac, d)
        clips.append((segs, bs, lip, f))
        audio.append(x)
        print(f"[facesync] {d.name}: {len(bs)} frames, {len(segs)} phones", flush=True)
    trans = transitions(ac.phones)
    head = fit(clips, ac.phones, mouth, trans, silence_weight=args.silence_weight)
    # Each clip scored by the head fitted without it.
    held_out = {}
    for i, d in enumerate(args.datasets):
        h = fit(clips[:i] + clips[i + 1 :], ac.phones, mouth, trans, silence_weight=args.silence_weight) if len(clips) > 1 else head
        segs, bs, lip, f = clips[i]
        y = h.forward(f)
        sil = silence_labels(segs, len(f), min_s=MIN_PAUSE) > 0
        held_out[d.name] = {
            "jaw_corr": round(float(np.corrcoef(y[:, JAW_OPEN], bs[:, JAW_OPEN])[0, 1]), 3),
            "l1": round(float(np.abs(y - bs).mean()), 4),
            "contrast_of_jaw_open": jaw_contrast(y[:, JAW_OPEN], segs),
            "contrast_of_the_real_jaw_open": jaw_contrast(bs[:, JAW_OPEN], segs),
            "contrast_of_the_real_lip_aperture": jaw_contrast(lip, segs),
            "speech_gate_accuracy": round(float(((h.speech(f)[:, OUT_OFFSETS.index(0)] > 0.5) != sil).mean()), 3),
        }
    args.out.mkdir(parents=True, exist_ok=True)
    onnx_path = args.out / "face_sync.onnx"
    write_onnx(ac, head, onnx_path)
    vin = vector_windows(audio)
    vout = forward(ac, head, vin)
    np.save(args.out / "face_sync_inputs.npy", vin)
    np.save(args.out / "face_sync_outputs.npy", vout)
    report = {"seconds": round(time.time() - t0, 1), "clips": [d.name for d in args.datasets], "kernel": list(KERNEL),
              "decoder": {"instants_ms": [10 * o for o in ph.OFFSETS], "out_ms": [10 * o for o in OUT_OFFSETS],
                          "stay": STAY, "beta": BETA, "smooth": SMOOTH, "pause_after_word": PAUSE_AFTER_WORD},
              "tau": ac.tau, "silence_weight": args.silence_weight, "min_pause_s": MIN_PAUSE, "gate": {"w": head.gate_w.tolist(), "b": float(head.gate_b)},
              "gain": {n: round(float(g), 3) for n, g in zip(names, head.gain) if g != 1.0}, "held_out": held_out,
              # The engine's blendshapes::is_mouth must be the same set (a Rust test reads it here).
              "mouth": [n for n in names if n in MOUTH],
              "bytes": onnx_path.stat().st_size}
    (args.out / "face_sync_report.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))
    return 0


def vector_windows(audio: list[np.ndarray]) -> np.ndarray:
    """16 windows for the parity vectors: real speech of the clips, the start
    of a clip (padding), silence, the same speech quieter and louder, noise,
    a tilted channel, speech reversed in time, speech after digital silence."""
    out = []
    for i, t in [(0, 0), (0, 3), (0, 60), (0, 130), (1 % len(audio), 40), (1 % len(audio), 110),
                 (2 % len(audio), 75), (len(audio) - 1, 150), (len(audio) - 1, 190)]:
        x = audio[i]
        n = int(len(x) / af.SAMPLE_RATE * 25)
        out.append(af.frame_windows(af.log_mel(x), min(t + 1, n), 25.0)[-1])
    floor = np.log(af.LOG_FLOOR)
    out.append(np.full((af.CONTEXT, af.N_MELS), floor))
    out.append(np.maximum(out[2] - 9.0, floor))  # 39 dB quieter
    out.append(out[3] + 3.0)  # 13 dB louder
    rng = np.random.default_rng(7)
    out.append(np.log(np.exp(rng.normal(-9, 1, (af.CONTEXT, af.N_MELS))) + af.LOG_FLOOR))  # noise
    out.append(out[4] + np.linspace(-2, 2, af.N_MELS)[None])  # tilted channel
    out.append(out[5][::-1].copy())  # reversed in time
    late = out[2].copy()
    late[:60] = floor  # speech after digital silence
    out.append(late)
    return np.stack(out).astype(np.float32)


def forward(ac: ph.Acoustic, head: VisemeHead, windows: np.ndarray) -> np.ndarray:
    """The network's function in numpy: windows [B, 100, 80] → blendshapes [B, 52]."""
    return head.forward(ph.front(ac, windows))


def write_onnx(ac: ph.Acoustic, head: VisemeHead, path: Path) -> None:
    """The front end and the viseme head as one ONNX graph (opset 17), input
    `mel_window` [1, 100, 80], output `blendshapes` [1, 52]."""
    from onnx import TensorProto

    K = len(ph.OFFSETS)
    graph = Graph()
    const, op = graph.const, graph.op

    # Sums are matrix products and maxima are max-pools: tract allocates in
    # its reductions once per output row, in these not at all.
    N = af.CONTEXT
    x = INPUT
    p = op("Exp", [x], "power")
    e = op("Add", [op("MatMul", [p, const("mix_t", ac.mix.T)], "sphinx_fb"), const("eps", 1e-9)], "sphinx_fb_eps")
    cep = op("MatMul", [op("Log", [e], "log_fb"), const("dct_t", ac.dct.T)], "cep")  # [1, N, 13]
    above = op("Cast", [op("Greater", [x, const("gate", ph.FLOOR_GATE)], "above_b")], "above", to=TensorProto.FLOAT)
    bands = op("MatMul", [above, const("ones_bands", np.ones((af.N_MELS, 1)))], "bands_above")  # [1, N, 1]
    real = op("Cast", [op("Greater", [bands, const("half", 0.5)], "is_real_b")], "is_real", to=TensorProto.FLOAT)
    real_t = op("Transpose", [real], "is_real_t", perm=[0, 2, 1])  # [1, 1, N]
    n = op("Max", [op("MatMul", [real_t, const("ones_frames", np.ones((N, 1)))], "n_real"), const("one", 1.0)], "n_real_1")
    mean = op("Div", [op("MatMul", [real_t, cep], "cep_sum"), n], "cep_mean")  # [1, 1, 13]
    cn = op("Sub", [cep, mean], "cep_norm")
    feat = op("MatMul", [const("time", ac.time), cn], "feat")  # [1, 3K, 13]
    f3 = op("Reshape", [feat, const("shape_f", [3, K, ph.N_CEP], np.int64)], "feat3")
    # [x², x, 1]: the Gaussians' constants ride in the product (a broadcast
    # add of them cost tract more than the product itself). The product is
    # Gaussians × instants, so that its long side fills tract's tiles.
    q = op("Concat", [op("Mul", [f3, f3], "feat_sq"), f3, const("ones_quad", np.ones((3, K, 1)))], "quad", axis=2)  # [3, K, 27]
    qt = op("Transpose", [q], "quad_t", perm=[0, 2, 1])  # [3, 27, K]
    wb = np.concatenate([ac.gauss_w, ac.gauss_b_best], 1).transpose(0, 2, 1)  # [3, 42·128, 27]
    ll = op("MatMul", [const("gauss_wb_t", wb), qt], "ll")  # [3, 42·128, K]
    ll_rows = op("Reshape", [ll, const("shape_pool", [1, 3 * ph.N_PHONES, ph.N_DENS, K], np.int64)], "ll_rows")
    best = op("MaxPool", [ll_rows], "mix_best", kernel_shape=[ph.N_DENS, 1])  # [1, 3·42, 1, K]: best Gaussian
    b3 = op("Reshape", [best, const("shape_streams", [3, ph.N_PHONES * K], np.int64)], "mix_best_streams")
    st = op("MatMul", [const("ones_streams", np.ones((1, 3))), b3], "streams")  # [1, 42·K]
    pk = op("Reshape", [st, const("shape_phones", [ph.N_PHONES, K], np.int64)], "phone_scores_t")
    pb2 = op("Transpose", [pk], "phone_scores", perm=[1, 0])  # [K, 42]
    score = op("Div", [pb2, const("tau", ac.tau)], "score")  # [K, 42]
    lp = op("LogSoftmax", [score], "log_post", axis=1)
    c0_all = op("Slice", [cep, const("s0", [0], np.int64), const("s1", [1], np.int64), const("s2", [2], np.int64)], "c0_all")
    time_c = const("time_c", ac.time[:K])
    c0 = op("MatMul", [time_c, c0_all], "c0")  # [1, K, 1]
    real_k = op("MatMul", [time_c, real], "real_at")  # [1, K, 1]: is there signal at each instant
    big = op("Mul", [op("Sub", [real, const("one_b", 1.0)], "not_real_neg"), const("big", 1e4)], "mask_big")
    masked = op("Reshape", [op("Add", [c0_all, big], "c0_masked"), const("shape_c0", [1, 1, N], np.int64)], "c0_row")
    loudest = op("MaxPool", [masked], "loudest", kernel_shape=[N])  # [1, 1, 1]
    mean0 = op("Slice", [mean, const("m0", [0], np.int64), const("m1", [1], np.int64), const("m2", [2], np.int64)], "mean_c0")
    loud = op("Concat", [op("Sub", [c0, loudest], "c0_rel_max"), op("Sub", [c0, mean0], "c0_rel_mean")], "loud_raw", axis=2)
    quiet = op("Mul", [op("Sub", [const("one_q", 1.0), real_k], "no_signal"), const("quiet", ph.QUIET)], "quiet_part")
    loud = op("Add", [op("Mul", [loud, real_k], "loud_real"), quiet], "loud")
    out_at = [ph.OFFSETS.index(o) for o in OUT_OFFSETS]
    loud_k = op("Reshape", [loud, const("shape_l", [K, 2], np.int64)], "loud_k")
    loud2 = op("MatMul", [const("pick_out", np.eye(K)[out_at]), loud_k], "loud2")  # [J, 2]
    # The decoder, unrolled over the K instants (VisemeHead.decoded).
    e = op("Exp", [op("Mul", [lp, const("beta", head.beta)], "log_post_w")], "evidence")  # [K, 42]
    ones_p = const("ones_phones", np.ones((ph.N_PHONES, 1)))
    trans, trans_t = const("trans", head.trans), const("trans_t", head.trans.T)

    made: set[str] = set()

    def norm(v, name):
        return op("Div", [v, op("MatMul", [v, ones_p], name + "_sum")], name)

    def row(t):
        name = f"evidence_{t}"
        if name not in made:
            made.add(name)
            # A row by a one-hot product: tract would move a Slice up the
            # graph and name what it moved differently on each conversion.
            op("MatMul", [const(f"pick_{t}", np.eye(K)[t : t + 1]), e], name)  # [1, 42]
        return name

    fwd = {0: norm(row(0), "fwd_0")}
    for t in range(1, max(out_at) + 1):
        fwd[t] = norm(op("Mul", [op("MatMul", [fwd[t - 1], trans], f"fwd_pred_{t}"), row(t)], f"fwd_raw_{t}"), f"fwd_{t}")
    bwd = {K - 1: const("bwd_last", np.full((1, ph.N_PHONES), 1.0 / ph.N_PHONES))}
    for t in range(K - 2, min(out_at) - 1, -1):
        bwd[t] = norm(op("MatMul", [op("Mul", [bwd[t + 1], row(t + 1)], f"bwd_ev_{t}"), trans_t], f"bwd_raw_{t}"), f"bwd_{t}")
    rows = [norm(op("Mul", [fwd[t], bwd[t]], f"post_raw_{t}"), f"post_{t}") for t in out_at]
    post = op("Concat", rows, "post", axis=0)  # [J, 42]
    sil_mask = const("sil_mask", head.sil_mask[:, None])
    raw_sil = op("MatMul", [op("Exp", [lp], "raw_post"), sil_mask], "raw_silence")  # [K, 1]
    window_sil = op("MatMul", [const("mean_instants", np.full((1, K), 1.0 / K)), raw_sil], "window_silence")  # [1, 1]
    window_sil = op("MatMul", [const("ones_out", np.ones((len(out_at), 1))), window_sil], "window_silence_out")  # [J, 1]
    # The gate's terms one product each: tract splits a product of a Concat
    # into parts and names them differently on each NNEF conversion.
    w = head.gate_w
    z = op("Add", [op("MatMul", [op("MatMul", [post, sil_mask], "p_silence"), const("gate_w_sil", w[None, :1])], "gate_sil"),
                   op("MatMul", [loud2, const("gate_w_loud", w[1:3, None])], "gate_loud")], "gate_sum")
    z = op("Add", [z, op("MatMul", [window_sil, const("gate_w_window", w[None, 3:])], "gate_window")], "gate_sum_all")
    g = op("Sigmoid", [op("Add", [z, const("gate_b", head.gate_b)], "gate_z")], "speech_p")  # [J, 1]
    c0_rel = op("Slice", [loud2, const("c0_rel_from", [0], np.int64), const("c0_rel_to", [1], np.int64),
                          const("c0_rel_axis", [1], np.int64)], "c0_rel_at")  # [J, 1]
    signal = op("Cast", [op("Greater", [c0_rel, const("quiet_half", ph.QUIET / 2)], "signal_b")], "signal", to=TensorProto.FLOAT)
    g = op("Mul", [g, signal], "speech")
    rest = const("rest", head.rest)
    spoken = op("Sub", [op("MatMul", [post, const("table", head.table)], "spoken_abs"), rest], "spoken")
    y = op("MatMul", [const("kernel", head.kernel[None]), op("Mul", [g, spoken], "gated")], "mixed")  # [1, 52]
    out = op("Add", [op("Mul", [y, const("gain", head.gain)], "amplified"), rest], "unclipped")
    op("Clip", [out, const("zero", 0.0), const("one_c", 1.0)], "blendshapes")
    graph.save("face_sync", "blendshapes", path)


if __name__ == "__main__":
    sys.exit(main())
