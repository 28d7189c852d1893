"""The phonetic front end and the Face-Sync network on real speech: the
cepstra track Sphinx's own, the acoustic model hears the phones that
pocketsphinx aligns, at any level; the ONNX graph computes what the numpy
forward pass does; the shipped network is this front end's."""
from pathlib import Path

import numpy as np
import pytest

from synctalk_toolchain import audio as af
from synctalk_toolchain import facesync, media, phonetic, synth, sync

ROOT = Path(__file__).resolve().parents[3]
NETS = ROOT / "models" / "networks"


@pytest.fixture(scope="module")
def ac():
    return phonetic.Acoustic()


@pytest.fixture(scope="module")
def speech(clip):
    return media.load_audio(clip)


def sphinx_cepstra(x: np.ndarray) -> np.ndarray:
    """Sphinx's own front end, written from its description (pre-emphasis,
    410-sample Hamming frames every 160, 25 unit-area mel filters
    130-6800 Hz, log, DCT, lifter): the reference for `mix_matrix`."""
    y = np.append(x[0], x[1:] - phonetic.PREEMPH * x[:-1]) * 32768.0
    n = (len(y) - 410) // 160 + 1
    frames = y[np.arange(410)[None] + 160 * np.arange(n)[:, None]] * np.hamming(410)
    power = np.abs(np.fft.rfft(frames, 512)) ** 2
    w = 2 * np.pi * np.arange(257) / 512
    fb = phonetic.sphinx_filterbank() / np.abs(1 - phonetic.PREEMPH * np.exp(-1j * w)) ** 2  # pre-emphasis done above
    return np.log(power @ fb.T + 1e-5) @ phonetic.dct_matrix().T


def test_cepstra_track_sphinx(speech):
    ref = sphinx_cepstra(speech)
    lm = af.log_mel(speech)
    ours = np.log(np.exp(lm) @ phonetic.mix_matrix().T + 1e-9) @ phonetic.dct_matrix().T
    # Sphinx frame t is centred on sample 160 t + 205, ours k on 160 k: k = t + 1.28.
    n = min(len(ref), len(ours) - 1)
    a, b = ref[:n] - ref[:n].mean(0), ours[1 : n + 1] - ours[1 : n + 1].mean(0)
    corr = [np.corrcoef(a[:, i], b[:, i])[0, 1] for i in range(phonetic.N_CEP)]
    assert min(corr) > 0.9, np.round(corr, 3)
    assert np.median(corr) > 0.97, np.round(corr, 3)


def test_model_hears_the_aligned_phones_at_any_level(ac, speech):
    segs, _ = sync.phones(speech)
    n = int(len(speech) / 16000 * 25)
    f = phonetic.front(ac, af.frame_windows(af.log_mel(speech), n, 25.0))
    assert f.shape == (n, len(phonetic.OFFSETS), phonetic.FEATURES_PER_OFFSET) and np.isfinite(f).all()
    centre = phonetic.OFFSETS.index(0)
    best = f[:, centre, : phonetic.N_PHONES].argmax(1)
    truth = np.full(n, -1)
    for name, s, e in segs:
        if name in ac.phones:
            truth[int(np.ceil(s * 25)) : int(np.floor(e * 25)) + 1] = ac.phones.index(name)
    ok = truth >= 0
    cls = np.vectorize(lambda i: synth.arpabet_class(ac.phones[i]))
    phone_acc = (best[ok] == truth[ok]).mean()
    class_acc = (cls(best[ok]) == cls(truth[ok])).mean()
    # 42 phones, frame by frame, no decoding: chance is a few percent.
    assert phone_acc > 0.25 and class_acc > 0.45, (phone_acc, class_acc)
    # The decoder (phone HMM over the window's instants) hears more of them:
    # 0.41 and 0.58 on this clip, from 0.30 and 0.50.
    head = facesync.VisemeHead(np.zeros((42, 52)), np.zeros(52), np.zeros(42), np.zeros(4), 0.0,
                               facesync.transitions(ac.phones))
    post, _ = head.decoded(f)
    dec = post[:, facesync.OUT_OFFSETS.index(0)].argmax(1)
    dec_phone, dec_class = (dec[ok] == truth[ok]).mean(), (cls(dec[ok]) == cls(truth[ok])).mean()
    assert dec_phone > phone_acc + 0.07 and dec_class > class_acc + 0.04, (dec_phone, dec_class, phone_acc, class_acc)
    # The running mean removes the level: 26 dB quieter, the same posteriors.
    q = phonetic.front(ac, af.frame_windows(af.log_mel(speech * 0.05), n, 25.0))
    assert np.abs(np.exp(q[..., :42]) - np.exp(f[..., :42])).mean() < 0.02
    # The loudness cues too, mostly (pauses meet the log floor sooner in the
    # quieter copy, which moves the window's mean a little).
    loud = f[..., 42] > -20
    assert loud.mean() > 0.5 and np.median(np.abs(q[..., 42:][loud] - f[..., 42:][loud])) < 0.5


# onnx's reference ops evaluate both branches of Sigmoid and take the log of
# underflowed softmax values: harmless warnings, the results are checked.
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_onnx_graph_is_the_numpy_forward_pass(ac, tmp_path):
    import onnx
    from onnx.reference import ReferenceEvaluator

    rng = np.random.default_rng(0)
    mask = np.array([synth.arpabet_class(p) == "sil" for p in ac.phones], np.float32)
    trans = rng.uniform(0, 1, (42, 42)) + np.eye(42) * 20
    head = facesync.VisemeHead(rng.uniform(0, 0.5, (42, 52)), rng.uniform(0, 0.1, 52), mask, [-6.0, 0.1, 0.01, -3.0], 2.0,
                               trans / trans.sum(1, keepdims=True), gain=rng.uniform(1, 4, 52))
    path = tmp_path / "net.onnx"
    facesync.write_onnx(ac, head, path)
    windows = np.load(NETS / "face_sync_inputs.npy")[[0, 2, 9, 10, 12]]
    want = facesync.forward(ac, head, windows)
    sess = ReferenceEvaluator(onnx.load(str(path)))
    got = np.concatenate([sess.run(None, {"mel_window": w[None]})[0] for w in windows])
    assert got.shape == (5, 52)
    assert np.abs(got - want).max() < 1e-4


def test_shipped_network_is_this_front_end(ac):
    import onnx
    from onnx import numpy_helper

    m = onnx.load(str(NETS / "face_sync.onnx"))
    init = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    wb = np.concatenate([ac.gauss_w, ac.gauss_b_best], 1).transpose(0, 2, 1)
    for name, mine in [("mix_t", ac.mix.T), ("dct_t", ac.dct.T), ("time", ac.time), ("gauss_wb_t", wb),
                       ("trans", facesync.transitions(ac.phones))]:
        # Equal to within float rounding of values near zero (numpy builds
        # differ there by 1e-18 in the mel mixing matrix; the values are O(1)).
        assert init[name].shape == mine.shape and np.abs(init[name] - mine).max() <= 1e-9, name
    gate_w = np.concatenate([init["gate_w_sil"][0], init["gate_w_loud"][:, 0], init["gate_w_window"][0]])
    head = facesync.VisemeHead(init["table"], init["rest"], init["sil_mask"][:, 0], gate_w,
                               init["gate_b"], init["trans"], init["kernel"][0], init["gain"], init["beta"])
    ac1 = phonetic.Acoustic(tau=float(init["tau"]))
    got = facesync.forward(ac1, head, np.load(NETS / "face_sync_inputs.npy"))
    assert np.abs(got - np.load(NETS / "face_sync_outputs.npy")).max() < 1e-6


def test_decoder_transitions_are_english_phonotactics(ac):
    """Each row is a distribution that keeps the phone with STAY and moves as
    the dictionary's words do: NG is followed by K or G ('think', 'finger'),
    M by a vowel, and after a pause a word starts (never another pause
    first); every change stays possible (the even share)."""
    t = facesync.transitions(ac.phones)
    p = ac.phones.index
    assert np.allclose(t.sum(1), 1.0, atol=1e-5) and np.allclose(np.diag(t), facesync.STAY)
    off = t[~np.eye(len(t), dtype=bool)]
    assert off.min() >= (1 - facesync.STAY) * facesync.SMOOTH / (len(t) - 1) * 0.999
    nxt = lambda a: sorted((q for q in ac.phones if q != a), key=lambda q: -t[p(a), p(q)])  # noqa: E731
    assert nxt("NG")[:2] == ["K", "G"], nxt("NG")[:4]
    assert synth.arpabet_class(nxt("M")[0]) in facesync.VOWELS, nxt("M")[:4]
    pauses = [q for q in ac.phones if synth.arpabet_class(q) == "sil"]
    assert all(synth.arpabet_class(nxt(q)[0]) != "sil" for q in pauses)
