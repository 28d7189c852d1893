"""A quick proxy of the articulation score for Face-Sync networks, without
rendering: on the six English clips of ../shared/data/audio (the issue's
out-of-distribution set), the network's own jawOpen track against the
clip's phones (pocketsphinx: recognised, then force-aligned), with the
articulation contrast of `synctalk_toolchain.sync` per picture shift.
Report only: selecting networks on these clips would leak the test set.

    python tools/face_sync_proxy.py NAME=net.onnx [NAME=other.onnx ...]

Needs numpy, scipy, soundfile, onnxruntime and pocketsphinx (a plain venv:
`pip install numpy scipy soundfile onnxruntime pocketsphinx`); the phones
are cached in /tmp/face_sync_proxy_phones.json.
"""
import os
import sys, json, numpy as np, soundfile as sf, onnxruntime as ort
sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'models', 'toolchain', 'src'))
from synctalk_toolchain import audio as af
from synctalk_toolchain import sync

def to16k(x, sr):
    if sr == 16000: return x
    from scipy.signal import resample_poly
    from math import gcd
    g = gcd(sr, 16000)
    return resample_poly(x, 16000 // g, sr // g)

clips = ['Obama_5s.wav','RD_Radio31_000.wav','RD_Radio36_000.wav','jfk.flac','librispeech_1088-134315-0000.wav','librispeech_2412-153948-0000.flac']
nets = {k: ort.InferenceSession(v) for k, v in (a.split('=') for a in sys.argv[1:])}
cache = '/tmp/face_sync_proxy_phones.json'
try: phones = json.load(open(cache))
except Exception: phones = {}
res = {k: {} for k in nets}
for c in clips:
    x, sr = sf.read(os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'data', 'audio', '') + c, dtype='float32', always_2d=True)
    x = to16k(x.mean(1), sr).astype(np.float32)
    if c not in phones:
        phones[c] = sync.phones(x)[0]
        json.dump(phones, open(cache, 'w'))
    mel = af.log_mel(x)
    n = int(len(x) / 16000 * 25)
    w = af.frame_windows(mel, n, 25.0).astype(np.float32)
    for k, s in nets.items():
        jaw = np.concatenate([s.run(None, {s.get_inputs()[0].name: w[i:i+1]})[0][:, 25] for i in range(n)])
        sc = sync.articulation_contrast(phones[c], jaw, 25.0)
        res[k][c] = (sc.best_shift, round(sc.best_contrast, 2), round(sc.contrasts[-1], 2), round(sc.contrasts[0], 2), round(float(jaw.std()), 3))
for k, r in res.items():
    print(k, 'mean best', round(np.mean([v[1] for v in r.values()]), 3), 'mean@-1', round(np.mean([v[2] for v in r.values()]), 3), 'mean@0', round(np.mean([v[3] for v in r.values()]), 3))
    for c, v in r.items(): print('   ', c, v)
