"""The Expression Generator: its ONNX graph computes what the numpy forward
pass does, the shipped network and vectors are this module's, silence
leaves the face at rest and stressed speech raises the brows."""
from pathlib import Path

import numpy as np

from synctalk_toolchain import audio as af
from synctalk_toolchain import expression

ROOT = Path(__file__).resolve().parents[3]
NETS = ROOT / "models" / "networks"


def test_onnx_graph_is_the_numpy_forward_pass(tmp_path, run_onnx):
    rng = np.random.default_rng(0)
    m = expression.Expression(rng.normal(0, 0.1, 52), rng.normal(0, 0.01, 52))
    path = tmp_path / "expression.onnx"
    expression.write_onnx(m, path)
    windows = np.load(NETS / "face_sync_inputs.npy")
    got = run_onnx(path, windows)
    assert got.shape == (len(windows), 52)
    assert np.abs(got - m.forward(windows)).max() < 1e-5


def test_shipped_network_gives_its_vectors(run_onnx):
    windows = np.load(NETS / "face_sync_inputs.npy")
    want = np.load(NETS / "expression_outputs.npy")
    assert np.abs(run_onnx(NETS / "expression.onnx", windows) - want).max() < 1e-5


def test_silence_rests_and_stress_raises_the_brows():
    import onnx
    from onnx import numpy_helper

    init = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(NETS / "expression.onnx")).graph.initializer}
    m = expression.Expression(init["w"], init["b"])
    floor = np.float32(np.log(af.LOG_FLOOR))
    silent = np.full((1, af.CONTEXT, af.N_MELS), floor, np.float32)
    assert np.abs(m.forward(silent)).max() == 0
    # Steady speech-like energy, then the same with the last 180 ms 12 dB louder.
    rng = np.random.default_rng(1)
    steady = rng.normal(-4.0, 0.5, (1, af.CONTEXT, af.N_MELS)).astype(np.float32)
    stressed = steady.copy()
    stressed[:, expression.SPAN[0] :] += np.float32(np.log(10 ** 1.2))
    up = [expression.UPPER.index(n) for n in ("browInnerUp", "browOuterUpLeft", "browOuterUpRight")]
    names = list(expression.UPPER)
    cols = np.flatnonzero(init["w"])
    assert len(cols) == len(names)
    rise = m.forward(stressed)[0, cols[up]] - m.forward(steady)[0, cols[up]]
    assert (rise > 0.05).all(), rise
