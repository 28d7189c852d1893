"""The Face-Sync network: a log-mel window (docs/audio-features.md: 16 frames
x 80 bands centred on a video frame) to the 52 blendshapes of that frame.

Trained speaker-independent on `synth.generate`'s data (synthetic voices in
many languages plus the real clips, augmented); one real clip is held out
entirely for validation. The input normalisation is part of the network, so
the runtime feeds the raw log-mel window. Exported to ONNX with test vectors
(inputs and PyTorch outputs) that tract must reproduce.

    python -m synctalk_toolchain.audionet DATA.npz -o OUT_DIR [--steps N]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from . import audio as af

MOUTH = ["jawForward", "jawLeft", "jawOpen", "jawRight", "mouthClose", "mouthDimpleLeft", "mouthDimpleRight",
         "mouthFrownLeft", "mouthFrownRight", "mouthFunnel", "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight",
         "mouthPressLeft", "mouthPressRight", "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper",
         "mouthShrugLower", "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft",
         "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight", "cheekPuff"]


def windows(npz) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per video frame: window [N, 16, 80], target [N, 52], utterance id [N]."""
    ml, tl = npz["mel_lengths"], npz["target_lengths"]
    mel, tg = npz["mel"].astype(np.float32), npz["targets"].astype(np.float32)
    xs, ys, ids = [], [], []
    mo = to = 0
    for u, (a, b) in enumerate(zip(ml, tl)):
        m = mel[mo : mo + a]
        y = tg[to : to + b]
        mo, to = mo + a, to + b
        w = af.frame_windows(m, b, 25.0).astype(np.float32)
        xs.append(w)
        ys.append(y)
        ids.append(np.full(b, u))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(ids)


def jaw_contrast(jaw: np.ndarray, labels: np.ndarray) -> dict:
    """Articulation contrast of a jawOpen track against per-frame phone labels
    (1 open vowel, 2 bilabial), per shift -4..4 (the picture read s frames
    later): the model-selection proxy of `sync.articulation_contrast`."""
    out = {}
    sd = jaw.std() + 1e-9
    op, bl = np.flatnonzero(labels == 1), np.flatnonzero(labels == 2)
    for s in range(-4, 5):
        a, b = op + s, bl + s
        a, b = a[(a >= 0) & (a < len(jaw))], b[(b >= 0) & (b < len(jaw))]
        out[s] = round(float((jaw[a].mean() - jaw[b].mean()) / sd), 3) if len(a) and len(b) else float("nan")
    return out


def augment_voice(x, p_channel: float, vtlp: float):
    """Speaker and channel variation on raw log-mel windows [B, 16, 80]:
    vocal-tract-length perturbation (the band axis stretched by a factor in
    1 ± `vtlp`, linear interpolation, edges held), then with probability
    `p_channel` a gain and a spectral tilt (log-power offsets, ±2 nats)."""
    import torch

    B, T, F = x.shape
    dev = x.device
    if vtlp > 0:
        a = 1.0 + (torch.rand(B, 1, 1, device=dev) * 2 - 1) * vtlp
        src = (torch.arange(F, device=dev, dtype=x.dtype)[None, None, :] / a).clamp(0, F - 1)
        lo = src.floor().long().clamp(max=F - 2)
        w = src - lo
        lo = lo.expand(B, T, F)
        x = torch.gather(x, 2, lo) * (1 - w) + torch.gather(x, 2, lo + 1) * w
    if p_channel > 0:
        on = (torch.rand(B, 1, 1, device=dev) < p_channel).to(x.dtype)
        gain = (torch.rand(B, 1, 1, device=dev) * 4 - 2) * on
        tilt = (torch.rand(B, 1, 1, device=dev) * 4 - 2) * on
        band = torch.linspace(-0.5, 0.5, F, device=dev, dtype=x.dtype)[None, None, :]
        x = x + gain + tilt * band
    return x


def build(mu, sd, width=128, dropout=0.0):
    import torch
    from torch import nn

    class FaceSync(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("mu", torch.as_tensor(mu, dtype=torch.float32))
            self.register_buffer("inv_sd", torch.as_tensor(1.0 / sd, dtype=torch.float32))
            self.conv = nn.Sequential(
                nn.Conv1d(80, width, 3, padding=1), nn.ReLU(),
                nn.Conv1d(width, width, 3, padding=1, stride=2), nn.ReLU(),
                nn.Conv1d(width, width, 3, padding=1, stride=2), nn.ReLU(),
                nn.Conv1d(width, width, 3, padding=1, stride=2), nn.ReLU(),
            )
            self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(2 * width, 256), nn.ReLU(),
                                      nn.Dropout(dropout), nn.Linear(256, 52))

        def forward(self, window):  # [B, 16, 80] raw log-mel
            x = ((window - self.mu) * self.inv_sd).transpose(1, 2)
            return torch.sigmoid(self.head(self.conv(x)))

    return FaceSync()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="synctalk-audionet", description=__doc__.split("\n\n")[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("-o", "--out", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=12000)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--val-utterance", type=int, default=-4, help="real clip held out (index among the real ones' originals)")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--dropout", type=float, default=0.3)
    ap.add_argument("--specaug", type=float, default=0.5, help="probability of SpecAugment masks per example")
    ap.add_argument("--real-weight", type=float, default=3.0)
    ap.add_argument("--aug-channel", type=float, default=0.0,
                    help="probability of a random gain (±2 nats) and spectral tilt (±2 nats across the bands) per example")
    ap.add_argument("--vtlp", type=float, default=0.0,
                    help="vocal-tract-length perturbation: warp the mel axis by a factor in 1 ± this, per example")
    args = ap.parse_args(argv)
    import torch

    torch.manual_seed(args.seed)
    t0 = time.time()
    npz = np.load(args.data)
    x, y, ids = windows(npz)
    kinds = npz["kinds"][ids]
    real_utts = np.flatnonzero(npz["kinds"] == 1)
    # Real utterances come as [original, 3 augmented copies] per clip: hold a whole clip out.
    clip = real_utts.reshape(-1, 4)[args.val_utterance]
    val = np.isin(ids, clip[:1])
    train = ~np.isin(ids, clip)
    names = json.loads((Path(args.data).parent / "blendshape_names.json").read_text()) if (Path(args.data).parent / "blendshape_names.json").exists() else None
    w_dim = np.ones(52, np.float32)
    if names:
        for n in MOUTH:
            if n in names:
                w_dim[names.index(n)] = 4.0
    mu = x[train].mean((0, 1))
    sd = x[train].std((0, 1)) + 1e-3
    dev = torch.device(args.device)
    net = build(mu, sd, args.width, args.dropout).to(dev)
    labels_path = Path(args.data).parent / "real_labels.npz"
    val_labels = None
    if labels_path.exists():
        lab = np.load(labels_path)
        val_labels = lab[lab.files[args.val_utterance]]
    X = torch.from_numpy(x).to(dev)
    Y = torch.from_numpy(y).to(dev)
    wk = torch.from_numpy(np.where(kinds == 1, args.real_weight, 1.0).astype(np.float32)).to(dev)
    wd = torch.from_numpy(w_dim).to(dev)
    tr_idx = torch.from_numpy(np.flatnonzero(train)).to(dev)
    va_idx = torch.from_numpy(np.flatnonzero(val)).to(dev)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=args.steps)
    log = []
    best = [-np.inf, -1, None]
    for step in range(args.steps):
        b = tr_idx[torch.randint(len(tr_idx), (args.batch,), device=dev)]
        xb = X[b] + 0.05 * torch.randn_like(X[b])  # a little feature noise
        if args.specaug > 0:  # SpecAugment: mask a few mel frames and bands
            B = xb.shape[0]
            on = (torch.rand(B, 1, 1, device=dev) < args.specaug)
            ts = torch.randint(0, 16, (B, 1, 1), device=dev)
            tw = torch.randint(0, 4, (B, 1, 1), device=dev)
            f0 = torch.randint(0, 80, (B, 1, 1), device=dev)
            fw = torch.randint(0, 12, (B, 1, 1), device=dev)
            ti = torch.arange(16, device=dev)[None, :, None]
            fi = torch.arange(80, device=dev)[None, None, :]
            m = on & (((ti >= ts) & (ti < ts + tw)) | ((fi >= f0) & (fi < f0 + fw)))
            xb = torch.where(m, net.mu.expand_as(xb), xb)
        if args.aug_channel > 0 or args.vtlp > 0:
            xb = augment_voice(xb, args.aug_channel, args.vtlp)
        pred = net(xb)
        loss = ((pred - Y[b]).abs() * wd).mean(1).mul(wk[b]).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 500 == 0 or step + 1 == args.steps:
            with torch.no_grad():
                net.eval()
                pv = net(X[va_idx])
                net.train()
                l1 = (pv - Y[va_idx]).abs().mean().item()
                jaw = 25
                c = np.corrcoef(pv[:, jaw].cpu().numpy(), Y[va_idx][:, jaw].cpu().numpy())[0, 1]
            entry = {"step": step, "train_loss": round(loss.item(), 5), "val_l1": round(l1, 5), "val_jaw_corr": round(float(c), 4)}
            if val_labels is not None:
                entry["val_contrast"] = jaw_contrast(pv[:, jaw].cpu().numpy(), val_labels)
            # Selection by the held-out clip's jawOpen correlation: its
            # articulation contrast rests on a handful of bilabial frames.
            if np.isfinite(c) and c > best[0]:
                best[:] = [float(c), step, {k: v.detach().clone() for k, v in net.state_dict().items()}]
            log.append(entry)
            print(f"[audionet] {log[-1]}", flush=True)
    if best[2] is not None:
        net.load_state_dict(best[2])
        print(f"[audionet] keeping step {best[1]}: held-out jawOpen correlation {best[0]:.3f}", flush=True)
    net.eval().cpu()
    args.out.mkdir(parents=True, exist_ok=True)
    onnx_path = args.out / "face_sync.onnx"
    dummy = torch.from_numpy(x[:1]).cpu()
    torch.onnx.export(net, (dummy,), str(onnx_path), input_names=["mel_window"], output_names=["blendshapes"],
                      opset_version=17, dynamo=False)
    # Test vectors: held-out real windows and synthetic ones, PyTorch's outputs.
    rng = np.random.default_rng(1)
    pick = np.concatenate([np.flatnonzero(val)[:: max(1, val.sum() // 8)][:8], rng.choice(np.flatnonzero(train), 8)])
    vin = x[pick]
    with torch.no_grad():
        vout = net(torch.from_numpy(vin)).numpy()
    np.save(args.out / "face_sync_inputs.npy", vin)
    np.save(args.out / "face_sync_outputs.npy", vout)
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path))
    o = np.concatenate([sess.run(None, {"mel_window": vin[i : i + 1]})[0] for i in range(len(vin))])
    diff = float(np.abs(o - vout).max())
    report = {"seconds": round(time.time() - t0, 1), "best_step": best[1], "best_val_jaw_corr": round(float(best[0]), 4),
              "settings": {k: str(v) for k, v in vars(args).items()}, "frames_train": int(train.sum()), "frames_val": int(val.sum()),
              "onnxruntime_max_abs_diff": diff, "log": log, "bytes": onnx_path.stat().st_size}
    (args.out / "face_sync_report.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "log"}))
    return 0 if diff <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
