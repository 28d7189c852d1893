"""A quick proxy of the articulation score for Face-Sync networks, without
rendering: on the six English clips of ../shared/data/audio (the issue's
out-of-distribution set), the network's own jawOpen track against the
clip's phones (pocketsphinx: recognised, then force-aligned), with the
articulation contrast of `synctalk_toolchain.sync` per picture shift.
Report only: selecting networks on these clips would leak the test set.

    python tools/face_sync_proxy.py NAME=net.onnx [NAME=other.onnx ...]

Needs numpy, onnxruntime and pocketsphinx (a plain venv: `pip install numpy
onnxruntime pocketsphinx`) and ffmpeg: the audio is decoded to 16 kHz by the
toolchain's own `media.load_audio`, as `synctalk-eval` does. The phones are
cached in /tmp/face_sync_proxy_phones.json.
"""
import json
import os
import sys

import numpy as np
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "models", "toolchain", "src"))
from synctalk_toolchain import audio as af  # noqa: E402
from synctalk_toolchain import media, sync  # noqa: E402

AUDIO = os.path.join(HERE, "..", "..", "shared", "data", "audio")
CLIPS = ["Obama_5s.wav", "RD_Radio31_000.wav", "RD_Radio36_000.wav", "jfk.flac",
         "librispeech_1088-134315-0000.wav", "librispeech_2412-153948-0000.flac"]
CACHE = "/tmp/face_sync_proxy_phones.json"
JAW_OPEN = 25


def main(argv):
    nets = {k: ort.InferenceSession(v) for k, v in (a.split("=", 1) for a in argv)}
    try:
        phones = json.load(open(CACHE))
    except (OSError, ValueError):
        phones = {}
    res = {k: {} for k in nets}
    for c in CLIPS:
        x = media.load_audio(os.path.join(AUDIO, c))
        if c not in phones:
            phones[c] = sync.phones(x)[0]
            json.dump(phones, open(CACHE, "w"))
        n = int(len(x) / 16000 * 25)
        w = af.frame_windows(af.log_mel(x), n, 25.0).astype(np.float32)
        for k, s in nets.items():
            name = s.get_inputs()[0].name
            jaw = np.concatenate([s.run(None, {name: w[i : i + 1]})[0][:, JAW_OPEN] for i in range(n)])
            sc = sync.articulation_contrast(phones[c], jaw, 25.0)
            res[k][c] = (sc.best_shift, round(sc.best_contrast, 2), round(sc.contrasts[-1], 2),
                         round(sc.contrasts[0], 2), round(float(jaw.std()), 3))
    for k, r in res.items():
        mean = lambda i: round(float(np.mean([v[i] for v in r.values()])), 3)  # noqa: E731
        print(k, "mean best", mean(1), "mean@-1", mean(2), "mean@0", mean(3))
        for c, v in r.items():
            print("   ", c, "(best shift, best, @-1, @0, jaw std)", v)


if __name__ == "__main__":
    main(sys.argv[1:])
