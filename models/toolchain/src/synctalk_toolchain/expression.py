"""The Expression Generator: a log-mel window (docs/audio-features.md spec v2)
to offsets of the upper face's blendshapes (brows, eye squint and widening)
from the portrait's rest, driven by emphasis in the speech.

People raise their brows and open their eyes on the words they stress. A
word is stressed by being louder than the speech around it, whatever the
voice, the language or the microphone, so the generator hears only that:

- emphasis: the loudness (log energy of the mel frames) of the 380 ms
  around the frame (`SPAN`) against the mean loudness of the window's real
  frames (a second of context), clipped to `EMPHASIS`;
- a gate: 1 while the span is within `GATE_RANGE` of the window's loudest
  frame and holds signal, falling to 0 in pauses, so that silence leaves
  the face at rest.

Offsets = gate · (emphasis · w + b) for the `UPPER` shapes, 0 elsewhere:
one ridge regression per shape, fitted on the real clips (each shape
centred on its clip's mean: what is learned is how the face moves with
emphasis, not where a speaker's brows sit), scaled up (at most
`MAX_GAIN`×) to move as much as the clips' faces did. Each clip predicted
by the fit on the other four (session 8, the five prepared HDTF clips):
42 of the 45 correlations (9 shapes × 5 speakers) are positive, mean 0.18,
at most 0.33 — a weak cue, honestly reported, that moves the upper face
with the speech's stress rather than not at all.

The network is one small ONNX graph mirroring `forward`; test vectors are
written beside it for tract to reproduce.

    python -m synctalk_toolchain.expression DATASET_DIR... -o OUT_DIR
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
from .onnx_graph import INPUT, Graph, publish

UPPER = ("browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
         "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight")
CENTRE = af.CONTEXT - 1 - af.AHEAD
# Mel frames (inclusive) whose loudness is the frame's: 380 ms. Brows move
# slower than syllables: over 180 ms the output jittered twice as much as
# the real brows from frame to frame (mean |change| 0.033 against 0.018),
# over 380 ms 0.023, at the same held-out correlation (0.175).
SPAN = (CENTRE - 30, CENTRE + af.AHEAD)
EMPHASIS = (-3.0, 3.0)  # clip of the emphasis (natural log of energy ratio)
GATE_RANGE = (8.0, 4.0)  # gate 0 at 8 (35 dB) below the window's loudest, 1 from 4 below
RIDGE = 1e-3
MAX_GAIN = 4.0  # most that the fitted movement is scaled up (as facesync.MAX_GAIN)


def span_vector() -> np.ndarray:
    """[CONTEXT]: the averaging weights of `SPAN`."""
    v = np.zeros(af.CONTEXT, np.float32)
    v[SPAN[0] : SPAN[1] + 1] = 1.0 / (SPAN[1] - SPAN[0] + 1)
    return v


def span_cues(windows: np.ndarray, spans: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(emphasis [B, J], gate [B, J]) of log-mel windows [B, CONTEXT, 80] over
    `J` spans (averaging weights [J, CONTEXT]), in float32 and in the ONNX
    graph's order of operations (`span_cue_nodes`)."""
    x = np.asarray(windows, np.float32)
    s = np.asarray(spans, np.float32).T  # [N, J]
    loud = np.log(np.exp(x) @ np.ones((af.N_MELS, 1), np.float32))[..., 0]  # [B, N]
    real = ((x > ph.FLOOR_GATE).astype(np.float32) @ np.ones((af.N_MELS, 1), np.float32) > 0.5).astype(np.float32)[..., 0]
    n = np.maximum(real.sum(1), np.float32(1))
    mean = (real * loud).sum(1) / n
    loudest = (loud + (real - 1) * np.float32(1e4)).max(1)
    cen = loud @ s
    real_span = real @ s
    emphasis = np.clip(cen - mean[:, None], np.float32(EMPHASIS[0]), np.float32(EMPHASIS[1]))
    lo, hi = GATE_RANGE
    gate = np.clip((cen - loudest[:, None] + np.float32(lo)) / np.float32(lo - hi), 0, 1) * real_span
    return emphasis.astype(np.float32), gate.astype(np.float32)


def cues(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(emphasis [B], gate [B]) of log-mel windows [B, CONTEXT, 80] over `SPAN`."""
    e, g = span_cues(windows, span_vector()[None])
    return e[:, 0], g[:, 0]


def span_cue_nodes(graph: Graph, spans: np.ndarray) -> tuple[str, str]:
    """Adds the nodes of `span_cues` (spans [J, CONTEXT]) to `graph`, reading
    its input window; returns the names of emphasis and gate, each [1, J, 1]."""
    from onnx import TensorProto

    const, op = graph.const, graph.op
    N = af.CONTEXT
    x = INPUT
    ones_bands = const("ones_bands", np.ones((af.N_MELS, 1)))
    loud = op("Log", [op("MatMul", [op("Exp", [x], "power"), ones_bands], "energy")], "loudness")  # [1, N, 1]
    above = op("Cast", [op("Greater", [x, const("gate", ph.FLOOR_GATE)], "above_b")], "above", to=TensorProto.FLOAT)
    real = op("Cast", [op("Greater", [op("MatMul", [above, ones_bands], "bands_above"), const("half", 0.5)], "is_real_b")],
              "is_real", to=TensorProto.FLOAT)  # [1, N, 1]
    real_t = op("Transpose", [real], "is_real_t", perm=[0, 2, 1])  # [1, 1, N]
    n = op("Max", [op("MatMul", [real_t, const("ones_frames", np.ones((N, 1)))], "n_real"), const("one", 1.0)], "n_real_1")
    mean = op("Div", [op("MatMul", [real_t, loud], "loud_sum"), n], "loud_mean")  # [1, 1, 1]
    big = op("Mul", [op("Sub", [real, const("one_b", 1.0)], "not_real_neg"), const("big", 1e4)], "mask_big")
    masked = op("Reshape", [op("Add", [loud, big], "loud_masked"), const("shape_row", [1, 1, N], np.int64)], "loud_row")
    loudest = op("MaxPool", [masked], "loudest", kernel_shape=[N])  # [1, 1, 1]
    span = const("span", spans)  # [J, N]
    cen = op("MatMul", [span, loud], "loud_span")  # [1, J, 1]
    real_span = op("MatMul", [span, real], "real_span")
    emphasis = op("Clip", [op("Sub", [cen, mean], "emphasis_raw"), const("emph_lo", EMPHASIS[0]), const("emph_hi", EMPHASIS[1])],
                  "emphasis")
    lo, hi = GATE_RANGE
    rel = op("Div", [op("Add", [op("Sub", [cen, loudest], "below_loudest"), const("gate_lo", lo)], "gate_shift"),
                     const("gate_width", lo - hi)], "gate_raw")
    gate = op("Mul", [op("Clip", [rel, const("zero", 0.0), const("one_c", 1.0)], "gate_clipped"), real_span], "speech_gate")
    return emphasis, gate


class Expression:
    """Offsets [B, 52] = gate · (emphasis · w + b), w and b [52] (0 outside `UPPER`)."""

    def __init__(self, w, b):
        self.w = np.asarray(w, np.float32)
        self.b = np.asarray(b, np.float32)

    def forward(self, windows: np.ndarray) -> np.ndarray:
        e, g = cues(windows)
        return (g[:, None] * (e[:, None] * self.w + self.b)).astype(np.float32)


def fit(clips, names: list[str]) -> Expression:
    """Ridge regression from clips [(windows [T, N, 80], blendshapes [T, 52])]."""
    cols = [names.index(n) for n in UPPER]
    xs, ys = [], []
    for windows, bs in clips:
        e, g = cues(windows)
        xs.append(np.stack([g * e, g], 1).astype(np.float64))
        y = bs[:, cols].astype(np.float64)
        ys.append(y - y.mean(0))
    x, y = np.concatenate(xs), np.concatenate(ys)
    coef = np.linalg.solve(x.T @ x + RIDGE * len(x) * np.eye(2), x.T @ y)  # [2, U]
    # The regression predicts the mean movement for an emphasis, far less
    # than faces move: scaled, as Face-Sync's gains, to move as much as the
    # clips' faces did, at most MAX_GAIN times.
    gain = np.clip(y.std(0) / np.maximum((x @ coef).std(0), 1e-9), 1.0, MAX_GAIN)
    w, b = np.zeros(52, np.float32), np.zeros(52, np.float32)
    w[cols], b[cols] = coef[0] * gain, coef[1] * gain
    return Expression(w, b)


def held_out(clips, names: list[str], labels: list[str]) -> dict:
    """Per clip, the correlation of each `UPPER` shape with the fit on the other clips."""
    out = {}
    for i, label in enumerate(labels):
        m = fit(clips[:i] + clips[i + 1 :], names)
        windows, bs = clips[i]
        pred = m.forward(windows)
        r = {}
        for n in UPPER:
            j = names.index(n)
            ok = pred[:, j].std() > 0 and bs[:, j].std() > 0
            r[n] = round(float(np.corrcoef(pred[:, j], bs[:, j])[0, 1]), 3) if ok else 0.0
        out[label] = r
    return out


def write_onnx(m: Expression, path: Path) -> None:
    """The generator as one ONNX graph (opset 17): `mel_window` [1, 100, 80] → `expression` [1, 52]."""
    graph = Graph()
    const, op = graph.const, graph.op
    emphasis, gate = span_cue_nodes(graph, span_vector()[None])
    lin = op("Add", [op("Mul", [emphasis, const("w", m.w)], "emphasis_w"), const("b", m.b)], "offsets_ungated")  # [1, 1, 52]
    out = op("Mul", [gate, lin], "offsets")
    op("Reshape", [out, const("shape_out", [1, 52], np.int64)], "expression")
    graph.save("expression", "expression", path)


def main(argv=None) -> int:
    from . import media

    ap = argparse.ArgumentParser(prog="synctalk-expression", description=__doc__.split("\n\n")[0])
    ap.add_argument("datasets", type=Path, nargs="+", help="prepared real clips (synctalk-prepare)")
    ap.add_argument("-o", "--out", type=Path, required=True)
    args = ap.parse_args(argv)
    t0 = time.time()
    names = json.loads((args.datasets[0] / "blendshapes.json").read_text())
    clips, audio = [], []
    for d in args.datasets:
        x = media.load_audio(d / "aud.wav")
        bs = np.load(d / "blendshapes.npy")
        clips.append((af.frame_windows(af.log_mel(x), len(bs), 25.0).astype(np.float32), bs))
        audio.append(x)
    m = fit(clips, names)
    report = {"seconds": 0.0, "clips": [d.name for d in args.datasets], "span_ms": [10 * (SPAN[0] - CENTRE), 10 * (SPAN[1] - CENTRE)],
              "emphasis_clip": list(EMPHASIS), "gate_range": list(GATE_RANGE),
              "w": {n: round(float(m.w[names.index(n)]), 5) for n in UPPER},
              "b": {n: round(float(m.b[names.index(n)]), 5) for n in UPPER},
              "held_out_correlation": held_out(clips, names, [d.name for d in args.datasets])}
    publish(args.out, "expression", lambda path: write_onnx(m, path), m.forward, audio, report, t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
