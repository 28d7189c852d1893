"""Head-Sync: its ONNX graph computes what the numpy forward pass does, the
shipped network and vectors are this module's, silence gives no turn and no
activity, the fit finds a known response, the pivot sits below the ears."""
from pathlib import Path

import numpy as np

from synctalk_toolchain import audio as af
from synctalk_toolchain import headsync

ROOT = Path(__file__).resolve().parents[3]
NETS = ROOT / "models" / "networks"


def test_onnx_graph_is_the_numpy_forward_pass(tmp_path, run_onnx):
    rng = np.random.default_rng(0)
    m = headsync.HeadSync(rng.normal(0, 0.01, (headsync.N_SPANS, 3)))
    path = tmp_path / "head_sync.onnx"
    headsync.write_onnx(m, path)
    windows = np.load(NETS / "face_sync_inputs.npy")
    got = run_onnx(path, windows)
    assert got.shape == (len(windows), headsync.OUTPUTS)
    assert np.abs(got - m.forward(windows)).max() < 1e-5


def test_shipped_network_gives_its_vectors(run_onnx):
    windows = np.load(NETS / "face_sync_inputs.npy")
    want = np.load(NETS / "head_sync_outputs.npy")
    assert np.abs(run_onnx(NETS / "head_sync.onnx", windows) - want).max() < 1e-5


def test_silence_gives_nothing_and_speech_activity():
    import onnx
    from onnx import numpy_helper

    init = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(NETS / "head_sync.onnx")).graph.initializer}
    m = headsync.HeadSync(init["w"][:, : headsync.N_SPANS].T)
    floor = np.float32(np.log(af.LOG_FLOOR))
    silent = np.full((1, af.CONTEXT, af.N_MELS), floor, np.float32)
    assert np.abs(m.forward(silent)).max() == 0
    rng = np.random.default_rng(1)
    steady = rng.normal(-4.0, 0.5, (1, af.CONTEXT, af.N_MELS)).astype(np.float32)
    assert m.forward(steady)[0, 3] > 0.9
    # The last 160 ms 12 dB louder: the head turns.
    stressed = steady.copy()
    stressed[:, headsync.LAST - 15 :] += np.float32(np.log(10 ** 1.2))
    turn = m.forward(stressed)[0, :3] - m.forward(steady)[0, :3]
    assert np.abs(turn).max() > np.radians(0.3), np.degrees(turn)


def test_the_fit_finds_a_known_response():
    rng = np.random.default_rng(2)
    clips, true_w = [], rng.normal(0, 0.01, (headsync.N_SPANS, 3))
    for _ in range(3):
        loud = rng.normal(-4.0, 1.0, (300, 1, 1)) + rng.normal(0, 0.3, (300, af.CONTEXT, af.N_MELS))
        windows = loud.astype(np.float32)
        rot = headsync.features(windows)[0] @ true_w
        clips.append((windows, rot))
    m = headsync.fit(clips)
    pred = np.concatenate([m.forward(w)[:, :3] for w, _ in clips])
    real = np.concatenate([r for _, r in clips])
    for k in range(3):
        assert np.corrcoef(pred[:, k], real[:, k])[0, 1] > 0.95
    assert headsync.fit(clips, keep=(True, False, True)).w[:, 1].tolist() == [0.0] * headsync.N_SPANS
    held = {"a": [0.2, 0.1, -0.1], "b": [0.1, -0.1, -0.2], "c": [0.3, 0.2, 0.1], "d": [0.1, 0.1, -0.1], "e": [-0.1, 0.3, 0.2]}
    assert headsync.agreeing_axes(held) == [True, True, False]


def test_pivot_below_the_ears():
    canon = np.zeros((478, 3))
    canon[234], canon[454] = [-7.0, -1.0, 7.0], [7.0, -1.0, 7.5]
    assert headsync.pivot(canon) == [0.0, -1.0 + headsync.PIVOT_BELOW_EARS, 7.25]
