"""A small builder for the toolchain's hand-written ONNX graphs (Face-Sync,
the Expression Generator, Head-Sync): named constants, one op per call, and
the model (opset 17, IR 8) from a log-mel window input to a `[1, width]`
output."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import audio as af

INPUT = "mel_window"


class Graph:
    """Nodes and initialisers in the order they are added."""

    def __init__(self):
        self.inits, self.nodes = [], []

    def const(self, name: str, arr, dtype=np.float32) -> str:
        """An initialiser `name` holding `arr`; returns its name."""
        from onnx import numpy_helper

        self.inits.append(numpy_helper.from_array(np.asarray(arr, dtype), name))
        return name

    def op(self, kind: str, ins: list[str], out: str, **attrs) -> str:
        """A node `kind` of inputs `ins` with one output `out`; returns its name."""
        from onnx import helper

        self.nodes.append(helper.make_node(kind, ins, [out], **attrs))
        return out

    def save(self, name: str, output: str, path: Path, width: int = 52) -> None:
        """Checks and writes the model: input `mel_window` [1, CONTEXT, 80]
        to `output` [1, width]."""
        import onnx
        from onnx import TensorProto, helper

        graph = helper.make_graph(self.nodes, name,
                                  [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, [1, af.CONTEXT, af.N_MELS])],
                                  [helper.make_tensor_value_info(output, TensorProto.FLOAT, [1, width])], self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="synctalk-toolchain")
        model.ir_version = 8
        onnx.checker.check_model(model)
        onnx.save(model, str(path))


def publish(out: Path, name: str, write_onnx, forward, audio: list, report: dict, started: float) -> None:
    """Writes network `name` into `out`: `{name}.onnx` (by `write_onnx(path)`),
    `{name}_outputs.npy` (`forward` on the parity windows of `audio`,
    `facesync.vector_windows`, for tract to reproduce) and
    `{name}_report.json` (`report` with the seconds since `started` and the
    model's size); prints the report."""
    import json
    import time

    from .facesync import vector_windows

    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.onnx"
    write_onnx(path)
    np.save(out / f"{name}_outputs.npy", forward(vector_windows(audio)))
    report["seconds"] = round(time.time() - started, 1)
    report["bytes"] = path.stat().st_size
    (out / f"{name}_report.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))
