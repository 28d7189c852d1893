"""Synthetic Face-Sync data: phone classes, the learned viseme table, target
curves that lead the sound, and one synthesised utterance by value."""
import numpy as np

from synctalk_toolchain import synth
from synctalk_toolchain.audio import SAMPLE_RATE

JAW = 25


def test_phone_classes():
    assert [synth.arpabet_class(p) for p in ["M", "b", "AA1", "uw", "SIL", "F"]] == \
        ["bilabial", "bilabial", "open", "round", "sil", "labiodental"]
    assert [synth.espeak_class(p) for p in ["m", "p", "aI", "u:", "_:", "tS", "@", "'a"]] == \
        ["bilabial", "bilabial", "open", "round", "sil", "postalveolar", "mid", "open"]


def test_viseme_table_reads_the_lips_ahead_of_the_sound():
    # A clip whose jaw opens exactly LEAD_FRAMES before each "AA" sounds.
    fps, T = 25.0, 200
    segs, bs = [], np.zeros((T, 52))
    for k in range(10):
        s = 10 + 18 * k
        segs += [("M", s / fps, (s + 4) / fps), ("AA", (s + 4) / fps, (s + 10) / fps)]
        bs[s + 4 - synth.LEAD_FRAMES : s + 10 - synth.LEAD_FRAMES, JAW] = 0.6
    table, counts = synth.viseme_table([(segs, bs, fps)])
    op, bl = synth.CLASSES.index("open"), synth.CLASSES.index("bilabial")
    assert counts[op] > 0 and counts[bl] > 0
    assert table[op, JAW] > 0.55 and table[bl, JAW] < 0.05
    assert table[0, JAW] < 0.05  # silence: the most closed mouths


def test_target_curve_leads_and_is_smooth():
    table = np.zeros((len(synth.CLASSES), 52))
    table[synth.CLASSES.index("open"), JAW] = 1.0
    y = synth.target_curve([("sil", 0, 1.0), ("AA", 1.0, 1.4), ("sil", 1.4, 2.0)], synth.arpabet_class, table, 50, 25.0)
    on = np.flatnonzero(y[:, JAW] > 0.5)
    assert on[0] == 25 - synth.LEAD_FRAMES and on[-1] == 34 - synth.LEAD_FRAMES
    assert np.abs(np.diff(y[:, JAW])).max() < 0.5  # smoothed, no jumps


def test_one_utterance():
    table = np.zeros((len(synth.CLASSES), 52))
    table[synth.CLASSES.index("open"), JAW] = 0.5
    rng = np.random.default_rng(3)
    words = ["papa", "mama", "banana", "father", "map", "bob"]
    x, y, desc = synth.utterance(rng, words, table)
    assert x.dtype == np.float32 and np.isfinite(x).all() and 0.05 < np.abs(x).max() <= 0.95
    assert y.shape == (int(len(x) / SAMPLE_RATE * 25), 52)
    assert y[:, JAW].max() > 0.3 and y[0, JAW] < 0.05 and y[-1, JAW] < 0.05  # speaks, then silence
    assert desc.split("/")[0] in ("festival", "espeak")


def test_match_spread_widens_synthetic_targets_to_the_real_spread():
    rng = np.random.default_rng(0)
    rest = np.zeros(52)
    syn = [(0.1 * rng.random((100, 52))).astype(np.float16) for _ in range(3)]
    real = [0.3 * rng.random((200, 52))]
    gains = synth.match_spread(syn, real, rest)
    mouth = np.r_[6, 23:50]
    assert np.allclose(gains[mouth], 3.0, atol=0.4) and np.all(np.delete(gains, mouth) == 1.0)
    spread = np.concatenate(syn).astype(np.float64).std(0)
    assert np.allclose(spread[mouth], real[0].std(0)[mouth], rtol=0.15)
