"""The PyTorch + gsplat reference trainer (CUDA): `python3 tools/gpu/torch_trainer.py DATASET -o PORTRAIT.stk`.

Not the product's trainer: portraits are made by the native WGSL trainer
(`synctalk train`, `synctalk-create`). This one is kept as the reference the
native trainer is checked against: its functions make the whole-step
gradient vectors (`tools/gpu/step_vectors.py`) and the dataset fixture's
expected values (`crates/synctalk-testdata/data/dataset-mini/make_expected.py`),
and it trains the comparison runs of docs/trainer.md on a lent GPU
(`tools/gpu/five_clips.sh`, `trainer_bench.sh`). It needs the toolchain
(`models/toolchain/src` on PYTHONPATH) plus PyTorch and gsplat, which the
toolchain itself no longer depends on.

What it trains (the same model and losses as the native trainer): the head is a set of 3D Gaussians in head space (centimetres, the
stabilizer's canonical face frame), placed per frame by the tracked head pose.
Expression moves it through a deformation the browser evaluates per Gaussian
in WGSL (docs/portrait-format.md, `DEFM`): a small controller MLP maps the
frame's condition (the 52 MediaPipe blendshapes) to K coefficients, and each
Gaussian's raw parameters are offset by the coefficient-weighted sum of its K
learned bases (position, rotation, log-scale, opacity). Training composites
the head over the frame's torso layer and the background plate exactly as the
renderer does, so the loss sees the neck seam and hair edges the viewer sees.

Needs PyTorch and gsplat (CUDA); the dataset is written by `synctalk-prepare`.
Resumable: checkpoints go to `--work` (default: PORTRAIT.stk's name + `.work`).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synctalk_toolchain import __version__, headsync, holdout, metrics, stk
from synctalk_toolchain.metrics import psnr
from synctalk_toolchain.parsing import FACE, FACE_OVAL, HAIR, HEAD_OTHER, MOUTH, TORSO

HEAD_LABELS = (FACE, MOUTH, HAIR, HEAD_OTHER)
OUTER_LIPS = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185]
PARITY_FRAMES = 3


class TrainError(RuntimeError):
    """A dataset or setting training cannot use, with the reason."""


@dataclass
class Dataset:
    root: Path
    frames: np.ndarray  # [T, H, W, 3] uint8 RGB
    under: np.ndarray  # [T, H, W, 3] uint8: torso over background plate, what the head is composited on
    torso: np.ndarray  # [T, H, W, 4] uint8 RGBA (straight alpha, binary)
    background: np.ndarray  # [H, W, 3] uint8
    masks: np.ndarray  # [T, H, W] uint8 bits: 1 head, 2 head interior, 4 far outside the head, 8 mouth region
    face_boxes: np.ndarray  # [T, 4] x0, y0, x1, y1: bounding box of the face landmarks
    head_to_camera: np.ndarray  # [T, 4, 4]
    K: np.ndarray  # [3, 3]
    blendshapes: np.ndarray  # [T, 52]
    blendshape_names: list
    train: np.ndarray  # frame indices
    val: np.ndarray
    fps: float
    source: str


def load_dataset(root: Path, holdout_by: str = "dataset") -> Dataset:
    import cv2

    root = Path(root)
    meta_path = root / "dataset.json"
    if not meta_path.is_file():
        raise TrainError(f"{root}: no dataset.json (not a finished `synctalk-prepare` output)")
    meta = json.loads(meta_path.read_text())
    if meta.get("format") != "synctalk-dataset" or meta.get("version") != 1:
        raise TrainError(f"{meta_path}: not a synctalk-dataset v1")
    tr = json.loads((root / "transforms.json").read_text())
    T, W, H = meta["frames"], tr["w"], tr["h"]
    frames = np.empty((T, H, W, 3), np.uint8)
    torso = np.empty((T, H, W, 4), np.uint8)
    masks = np.zeros((T, H, W), np.uint8)
    lm = np.load(root / "landmarks.npy")
    bg = cv2.imread(str(root / "background.png"))
    if bg is None or bg.shape[:2] != (H, W):
        raise TrainError(f"{root / 'background.png'}: missing or not {W}x{H}")
    bg = bg[..., ::-1]
    k_far = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (31, 31))
    k_in = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))
    k_mouth = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (13, 13))
    boxes = np.zeros((T, 4), np.int64)
    for t in range(T):
        f = cv2.imread(str(root / "frames" / f"{t:06d}.jpg"))
        lab = cv2.imread(str(root / "parsing" / f"{t:06d}.png"), cv2.IMREAD_UNCHANGED)
        tor = cv2.imread(str(root / "torso" / f"{t:06d}.png"), cv2.IMREAD_UNCHANGED)
        for name, img in (("frames", f), ("parsing", lab), ("torso", tor)):
            if img is None or img.shape[:2] != (H, W):
                raise TrainError(f"{root / name}/{t:06d}: missing or not {W}x{H}")
        frames[t] = f[..., ::-1]
        head = np.isin(lab, HEAD_LABELS).astype(np.uint8)
        torso[t] = extend_torso(cv2.cvtColor(tor, cv2.COLOR_BGRA2RGBA), head)
        mouth = np.zeros_like(head)
        cv2.fillPoly(mouth, [np.round(lm[t, OUTER_LIPS, :2]).astype(np.int32)], 1)
        mouth = cv2.dilate(mouth, k_mouth) | (lab == MOUTH)
        masks[t] = (head | (cv2.erode(head, k_in) << 1) | ((1 - cv2.dilate(head, k_far)) << 2) | (mouth << 3)).astype(np.uint8)
        boxes[t] = metrics.face_box(lm[t], W, H)
    a = torso[..., 3:].astype(np.float32) / 255
    under = np.round(torso[..., :3] * a + bg[None] * (1 - a)).astype(np.uint8)
    poses = np.array([fr["head_to_camera"] for fr in tr["frames"]], np.float64)
    K = np.array([[tr["fl_x"], 0, tr["cx"]], [0, tr["fl_y"], tr["cy"]], [0, 0, 1]], np.float64)
    bs = np.load(root / "blendshapes.npy").astype(np.float32)
    names = json.loads((root / "blendshapes.json").read_text())
    train, val = holdout.split(root, holdout_by)
    return Dataset(root, frames, under, torso, np.ascontiguousarray(bg), masks, boxes, poses, K, bs, names,
                   train, val, float(meta["fps"]), str(meta.get("source", "")))


def extend_torso(rgba: np.ndarray, head: np.ndarray, reach: int = 24) -> np.ndarray:
    """The torso layer grown into the head region next to it (the neck under
    the chin) by repeating its nearest pixel: where the head's edge is not
    fully opaque, the viewer sees neck, not the background plate (the seam
    SyncTalk++'s Torso Restorer removes)."""
    import cv2

    have = rgba[..., 3] > 0
    if not have.any():
        return rgba
    dist, lab = cv2.distanceTransformWithLabels((~have).astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    grow = (head > 0) & ~have & (dist <= reach)
    ys, xs = np.nonzero(have)
    # Labels number the zero pixels of the input (the torso) in scan order.
    src = np.zeros(lab.max() + 1, np.int64)
    src[lab[ys, xs]] = ys * rgba.shape[1] + xs
    out = rgba.copy()
    gy, gx = np.nonzero(grow)
    flat = rgba.reshape(-1, 4)
    out[gy, gx, :3] = flat[src[lab[gy, gx]], :3]
    out[gy, gx, 3] = 255
    return out


# --- initialisation ------------------------------------------------------------------

def initial_points(ds: Dataset, n: int, rng: np.random.Generator):
    """Head-space points and colours from the head pixels of a few training
    frames: face pixels at the depth of the landmarks around them, the rest of
    the head (hair, ears) on a shell behind the face."""
    from scipy.interpolate import griddata

    lm = np.load(ds.root / "landmarks.npy")
    canon = np.load(ds.root / "canonical_face.npy")
    f, c = ds.K[0, 0], ds.K[:2, 2]
    picks = ds.train[np.linspace(0, len(ds.train) - 1, 8).astype(int)]
    per = n // len(picks)
    pts, cols = [], []
    for t in picks:
        R, tr = ds.head_to_camera[t, :3, :3], ds.head_to_camera[t, :3, 3]
        cam = canon @ R.T + tr
        proj = f * cam[:, :2] / cam[:, 2:3] + c
        ys, xs = np.nonzero(ds.masks[t] & 1)
        sel = rng.choice(len(xs), size=min(per, len(xs)), replace=False)
        px = np.stack([xs[sel], ys[sel]], 1).astype(np.float64) + rng.uniform(0, 1, (len(sel), 2))
        z = griddata(proj, cam[:, 2], px, method="linear")
        behind = np.isnan(z)
        # Outside the face: a shell from the face's depth to 8 cm behind it.
        z[behind] = tr[2] + rng.uniform(-2.0, 8.0, behind.sum())
        ray = np.concatenate([(px - c) / f, np.ones((len(px), 1))], 1) * z[:, None]
        pts.append((ray - tr) @ R)
        cols.append(ds.frames[t][px[:, 1].astype(int), px[:, 0].astype(int)] / 255.0)
    pts.append(canon)
    cols.append(np.full((len(canon), 3), 0.5))
    return np.concatenate(pts).astype(np.float32), np.concatenate(cols).astype(np.float32)


# --- model -------------------------------------------------------------------------

SH_C0 = 0.28209479177387814


def build(ds: Dataset, args, device):
    import torch

    rng = np.random.default_rng(args.seed)
    pts, cols = initial_points(ds, args.init_points, rng)
    n = len(pts)
    depth = float(np.median(ds.head_to_camera[:, 2, 3]))
    px_cm = depth / ds.K[0, 0]
    params = torch.nn.ParameterDict({
        "means": torch.tensor(pts),
        "scales": torch.full((n, 3), math.log(2.5 * px_cm)),
        "quats": torch.tensor([[1.0, 0, 0, 0]]).repeat(n, 1),
        "opacities": torch.full((n,), math.log(0.3 / 0.7)),
        "sh0": torch.tensor((cols - 0.5) / SH_C0)[:, None, :],
        "shN": torch.zeros(n, (args.sh_degree + 1) ** 2 - 1, 3),
        "bases": torch.zeros(n, args.bases, 11),
    }).to(device)
    cond_dim = ds.blendshapes.shape[1]
    controller = torch.nn.Sequential(
        torch.nn.Linear(cond_dim, args.hidden), torch.nn.ReLU(),
        torch.nn.Linear(args.hidden, args.hidden), torch.nn.ReLU(),
        torch.nn.Linear(args.hidden, args.bases),
    ).to(device)
    return params, controller, px_cm


def deform(params, w):
    """Deformed raw parameters for coefficients w [K], exactly as the WGSL
    preprocess does: offsets added before any activation or normalisation."""
    import torch

    off = torch.einsum("k,nkc->nc", w, params["bases"])
    return (params["means"] + off[:, 0:3], params["quats"] + off[:, 3:7],
            params["scales"] + off[:, 7:10], params["opacities"] + off[:, 10])


def render_head(params, w, viewmat, K, width, height, sh_degree, absgrad=False):
    from gsplat import rasterization

    import torch

    means, quats, log_scales, op = deform(params, w)
    colors = torch.cat([params["sh0"], params["shN"]], 1)
    img, alpha, info = rasterization(
        means, quats, torch.exp(log_scales), torch.sigmoid(op), colors, viewmat[None], K[None], width, height,
        near_plane=0.2, sh_degree=sh_degree, absgrad=absgrad, packed=True, rasterize_mode="classic")
    return img[0], alpha[0], info


POSE_UNITS = (0.01, 0.01, 0.01, 0.1, 0.1, 1.0)  # radians; cm (depth barely shows: coarser)


def pose_delta(d):
    """Head-space corrections [T, 6] (rotation vector, translation; in
    POSE_UNITS, so that one unit moves the face by about as many pixels on
    every axis) as 4x4 matrices: the refined head-to-camera is H @ delta."""
    import torch

    d = d * torch.tensor(POSE_UNITS, device=d.device)
    rv, tv = d[:, :3], d[:, 3:]
    th = rv.norm(dim=1, keepdim=True).clamp_min(1e-9)
    k = rv / th
    z = torch.zeros_like(th[:, 0])
    Kx = torch.stack([torch.stack([z, -k[:, 2], k[:, 1]], 1), torch.stack([k[:, 2], z, -k[:, 0]], 1),
                      torch.stack([-k[:, 1], k[:, 0], z], 1)], 1)
    eye = torch.eye(3, device=d.device).expand_as(Kx)
    R = eye + torch.sin(th)[..., None] * Kx + (1 - torch.cos(th))[..., None] * (Kx @ Kx)
    M = torch.eye(4, device=d.device).repeat(d.shape[0], 1, 1)
    M[:, :3, :3] = R
    M[:, :3, 3] = tv
    return M


def ssim(a, b):
    """Mean SSIM of images [H, W, 3] in [0, 1] (11x11 Gaussian window, sigma 1.5)."""
    import torch
    import torch.nn.functional as F

    g = torch.exp(-((torch.arange(11, device=a.device) - 5.0) ** 2) / (2 * 1.5**2))
    g = (g / g.sum())
    win = (g[:, None] * g[None, :]).expand(3, 1, 11, 11)
    x, y = a.permute(2, 0, 1)[None], b.permute(2, 0, 1)[None]
    mu_x, mu_y = F.conv2d(x, win, groups=3), F.conv2d(y, win, groups=3)
    sxx = F.conv2d(x * x, win, groups=3) - mu_x**2
    syy = F.conv2d(y * y, win, groups=3) - mu_y**2
    sxy = F.conv2d(x * y, win, groups=3) - mu_x * mu_y
    c1, c2 = 0.01**2, 0.03**2
    m = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))
    return m.mean()


class Normalizer:
    """The controller's input normalisation, folded into its first layer at export."""

    def __init__(self, cond: np.ndarray):
        self.mean = cond.mean(0)
        self.scale = 1.0 / (cond.std(0) + 0.05)

    def __call__(self, x):
        import torch

        return (x - torch.as_tensor(self.mean, device=x.device)) * torch.as_tensor(self.scale, device=x.device)


# --- training ------------------------------------------------------------------------

def train(args) -> dict:
    import torch
    from gsplat import MCMCStrategy

    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    t_start = time.time()
    ds = load_dataset(args.dataset, getattr(args, "holdout", "dataset"))
    T, H, W = ds.frames.shape[:3]
    print(f"[train] {args.dataset}: {T} frames {W}x{H}, {len(ds.train)} train / {len(ds.val)} held out", flush=True)
    params, controller, px_cm = build(ds, args, device)
    norm = Normalizer(ds.blendshapes[ds.train])
    lr = {"means": 1.6e-4 * 12.0, "scales": 5e-3, "quats": 1e-3, "opacities": 5e-2, "sh0": 2.5e-3,
          "shN": 2.5e-3 / 20, "bases": 2e-3}
    optims = {k: torch.optim.Adam([params[k]], lr=lr[k], eps=1e-15) for k in params}
    copt = torch.optim.Adam(controller.parameters(), lr=1e-3)
    # Per-frame pose corrections for the training frames (the tracker's poses
    # are good to about a pixel; a sharper head needs better than that).
    pose_d = torch.zeros(T, 6, device=device, requires_grad=True)
    popt = torch.optim.Adam([pose_d], lr=args.pose_lr)
    # MCMC densification (Kheradmand et al. 2024): a hard cap on the number of
    # Gaussians, which is what the portrait's size budget needs.
    strategy = MCMCStrategy(cap_max=args.max_gaussians, refine_start_iter=500, refine_stop_iter=int(args.iters * 0.75),
                            refine_every=100, min_opacity=0.005)
    strategy.check_sanity(params, optims)
    state = strategy.initialize_state()

    frames = torch.from_numpy(ds.frames).to(device)
    under = torch.from_numpy(ds.under).to(device)
    masks = torch.from_numpy(ds.masks).to(device)
    cond_all = torch.from_numpy(ds.blendshapes).to(device)
    views = torch.from_numpy(ds.head_to_camera).float().to(device)
    K = torch.from_numpy(ds.K).float().to(device)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    ckpt = work / "checkpoint.pt"
    step0, log = 0, []
    settings = {"dataset": json.loads((ds.root / "dataset.json").read_text()).get("fingerprint"), "bases": args.bases,
                "hidden": args.hidden, "sh_degree": args.sh_degree, "iters": args.iters, "max_gaussians": args.max_gaussians}
    if getattr(args, "holdout", "dataset") != "dataset":
        settings["holdout"] = args.holdout  # (absent: checkpoints made before --holdout stay valid)
    if ckpt.is_file() and not args.restart:
        s = torch.load(ckpt, map_location=device, weights_only=False)
        if s.get("settings") != settings:
            raise TrainError(f"{ckpt} was made with other settings ({s.get('settings')}); "
                             f"use the same ones, or --restart")
        for k, v in s["params"].items():
            params[k] = torch.nn.Parameter(v)
        optims = {k: torch.optim.Adam([params[k]], lr=lr[k], eps=1e-15) for k in params}
        for k, o in optims.items():
            o.load_state_dict(s["optims"][k])
        controller.load_state_dict(s["controller"])
        copt.load_state_dict(s["copt"])
        with torch.no_grad():
            pose_d.copy_(s["pose"])
        popt.load_state_dict(s["popt"])
        state, step0, log = s["state"], s["step"], s["log"]
        print(f"[train] resumed at step {step0} from {ckpt}", flush=True)

    from tqdm import tqdm

    rng = np.random.default_rng(args.seed + step0)
    bar = tqdm(range(step0, args.iters), initial=step0, total=args.iters, desc="train", mininterval=2.0,
               disable=not sys.stderr.isatty())
    done = step0
    for step in bar:
        if args.max_seconds and time.time() - t_start > args.max_seconds:
            print(f"[train] stopping at step {step}: --max-seconds {args.max_seconds} reached", flush=True)
            break
        t = int(rng.choice(ds.train))
        sh_degree = min(step // 1000, args.sh_degree)
        cond = cond_all[t] + args.cond_noise * torch.randn_like(cond_all[t])
        w = controller(norm(cond))
        means_lr = lr["means"] * 0.01 ** (step / args.iters)
        optims["means"].param_groups[0]["lr"] = means_lr
        view = views[t] @ pose_delta(pose_d[t : t + 1])[0] if step >= args.pose_start else views[t]
        img, alpha, info = render_head(params, w, view, K, W, H, sh_degree)
        gt = frames[t].float() / 255
        pred = img + (1 - alpha) * (under[t].float() / 255)
        m = masks[t]
        weight = 1.0 + args.mouth_weight * ((m & 8) > 0).float()
        l1 = (weight[..., None] * (pred - gt).abs()).mean()
        lssim = 1 - ssim(pred, gt)
        a = alpha[..., 0]
        inside, outside = (m & 2) > 0, (m & 4) > 0
        lalpha = (1 - a)[inside].mean() + a[outside].mean()
        reg = params["bases"].abs().mean() + 1e-2 * sum((p**2).mean() for p in controller.parameters())
        # MCMC's regularisers: unused Gaussians fade and shrink, to be relocated.
        mcmc = 0.01 * torch.sigmoid(params["opacities"]).mean() + 0.01 * torch.exp(params["scales"]).mean()
        lpose = (pose_d[t] ** 2).sum()
        loss = l1 + args.ssim_weight * lssim + args.alpha_weight * lalpha + args.reg_weight * reg + mcmc + 1e-3 * lpose
        loss.backward()
        for o in optims.values():
            o.step()
            o.zero_grad(set_to_none=True)
        copt.step()
        copt.zero_grad(set_to_none=True)
        if step >= args.pose_start:
            # Only this frame's correction moves: Adam's momentum must not
            # carry other frames' corrections along while they are not seen.
            with torch.no_grad():
                before = pose_d.detach().clone()
                popt.step()
                row = pose_d[t].clone()
                pose_d.copy_(before)
                pose_d[t] = row
        popt.zero_grad(set_to_none=True)
        strategy.step_post_backward(params, optims, state, step, info, lr=means_lr)
        if step % 50 == 0:
            with torch.no_grad():
                mse = ((pred - gt) ** 2).mean().item()
            log.append([step, loss.item(), l1.item(), lssim.item(), lalpha.item(), 10 * math.log10(1 / max(mse, 1e-10)),
                        len(params["means"])])
            bar.set_postfix(loss=f"{loss.item():.4f}", psnr=f"{log[-1][5]:.2f}", n=len(params["means"]))
            if step % 1000 == 0:
                print(f"[train] step {step}: loss {log[-1][1]:.4f}, PSNR {log[-1][5]:.2f} dB, {log[-1][6]} Gaussians,"
                      f" {time.time() - t_start:.0f} s", flush=True)
        if (step + 1) % args.checkpoint_every == 0 or step + 1 == args.iters:
            torch.save({"params": {k: v.detach() for k, v in params.items()},
                        "optims": {k: o.state_dict() for k, o in optims.items()},
                        "controller": controller.state_dict(), "copt": copt.state_dict(),
                        "pose": pose_d.detach(), "popt": popt.state_dict(),
                        "state": state, "step": step + 1, "log": log, "settings": settings}, work / "checkpoint.tmp")
            (work / "checkpoint.tmp").replace(ckpt)
        done = step + 1
    bar.close()
    # Gaussians that can never be seen (the renderer skips alpha < 1/255).
    with torch.no_grad():
        keep = torch.sigmoid(params["opacities"]) > 1 / 255
    final = {k: v.detach()[keep] for k, v in params.items()}
    with torch.no_grad():
        refined = views @ pose_delta(pose_d)
        train_mask = torch.zeros(T, dtype=torch.bool, device=device)
        train_mask[torch.from_numpy(ds.train).to(device)] = True
        refined = torch.where(train_mask[:, None, None], refined, views)
        moved = (pose_d[train_mask].abs().amax(0) * torch.tensor(POSE_UNITS, device=device)).cpu().numpy()
    print(f"[train] pose corrections, largest: rotation {np.degrees(moved[:3]).round(3)} deg, "
          f"translation {moved[3:].round(3)} cm", flush=True)
    return {"ds": ds, "params": final, "steps": done, "views": refined.cpu().numpy().astype(np.float64), "controller": controller, "norm": norm, "log": log,
            "seconds": time.time() - t_start, "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu"}


# --- export and evaluation ---------------------------------------------------------------

def quantized(params):
    """The parameters as the portrait stores them (f16 except positions)."""
    return {k: (v if k == "means" else v.half().float()) for k, v in params.items()}


def controller_layers(controller, norm: Normalizer) -> list[stk.Dense]:
    mods = list(controller)
    layers = []
    for i, m in enumerate(mods):
        if not hasattr(m, "weight"):
            continue
        Wt = m.weight.detach().double().cpu().numpy()
        b = m.bias.detach().double().cpu().numpy()
        if not layers:  # fold (x - mean) * scale into the first layer
            b = b - Wt @ (norm.mean * norm.scale)
            Wt = Wt * norm.scale[None, :]
        act = "relu" if i + 1 < len(mods) and mods[i + 1].__class__.__name__ == "ReLU" else "linear"
        layers.append(stk.Dense(Wt.astype(np.float32), b.astype(np.float32), act))
    return layers


def eval_controller(layers: list[stk.Dense], x: np.ndarray) -> np.ndarray:
    """The controller as the runtime evaluates it (f32, folded normalisation)."""
    y = np.asarray(x, np.float32)
    for layer in layers:
        y = layer.weight @ y + layer.bias
        if layer.activation == "relu":
            y = np.maximum(y, 0)
    return y


def composite(head_rgb, head_alpha, under):
    """Head (premultiplied) over what lies under it, as uint8."""
    import torch

    out = head_rgb + (1 - head_alpha) * under
    return torch.round(out.clamp(0, 1) * 255).to(torch.uint8)


def export(res: dict, args) -> dict:
    import cv2
    import torch

    ds, params, layers = res["ds"], quantized(res["params"]), controller_layers(res["controller"], res["norm"])
    T, H, W = ds.frames.shape[:3]
    device = params["means"].device
    views = torch.from_numpy(res["views"]).float().to(device)
    K = torch.from_numpy(ds.K).float().to(device)
    work = Path(args.work)

    def frame(t, view=None):
        w = torch.from_numpy(eval_controller(layers, ds.blendshapes[t])).to(device)
        with torch.no_grad():
            img, alpha, _ = render_head(params, w, views[t] if view is None else view, K, W, H, args.sh_degree)
            under = torch.from_numpy(ds.under[t]).to(device).float() / 255
            return composite(img, alpha, under).cpu().numpy(), w.cpu().numpy(), alpha[..., 0].cpu().numpy()

    def fit_pose(t, steps=100):
        """Test-time 6-DoF pose refinement on frame t (Gaussians, deformation
        and expression frozen): what the tracker's pose error costs."""
        w = torch.from_numpy(eval_controller(layers, ds.blendshapes[t])).to(device)
        d = torch.zeros(1, 6, device=device, requires_grad=True)
        opt = torch.optim.Adam([d], lr=args.pose_lr)
        gt = torch.from_numpy(ds.frames[t]).to(device).float() / 255
        under = torch.from_numpy(ds.under[t]).to(device).float() / 255
        for _ in range(steps):
            img, alpha, _ = render_head(params, w, views[t] @ pose_delta(d)[0], K, W, H, args.sh_degree)
            loss = (img + (1 - alpha) * under - gt).abs().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        return (views[t] @ pose_delta(d)[0]).detach()

    # Held-out frames: full frame and face crop, with the tracked pose and
    # with the pose refined on the frame itself.
    rows = {"tracked_pose": [], "refined_pose": []}
    sheet = []
    for k, t in enumerate(ds.val):
        gt = ds.frames[t]
        img = frame(t)[0]
        rows["tracked_pose"].append(metrics.image_scores(img, gt, ds.face_boxes[t]))
        img2 = frame(t, fit_pose(int(t)))[0]
        rows["refined_pose"].append(metrics.image_scores(img2, gt, ds.face_boxes[t]))
        if len(sheet) < 4 and k % max(1, len(ds.val) // 4) == 0:
            sheet.append(np.concatenate([gt, img, img2], 0))
    evaluation = {how: {k: {m: round(float(np.mean([r[k][m] for r in rs])), 4) for m in ("psnr", "ssim", "lpips")}
                        for k in ("full", "face")} for how, rs in rows.items()}
    train_psnr = [psnr(frame(t)[0], ds.frames[t]) for t in ds.train[:: max(1, len(ds.train) // 20)]]
    evaluation["train_full_psnr"] = round(float(np.mean(train_psnr)), 3)
    evaluation["holdout"] = getattr(args, "holdout", "dataset")
    evaluation["held_out_frames"] = [int(t) for t in ds.val]
    cv2.imwrite(str(work / "heldout.png"), np.concatenate(sheet, 1)[..., ::-1])

    # Parity vectors: frames the Rust renderer must reproduce.
    pdir = Path(args.parity) if args.parity else work / "parity"
    pdir.mkdir(parents=True, exist_ok=True)
    picks = [int(ds.train[0]), int(ds.train[len(ds.train) // 2]), int(ds.val[-1])][:PARITY_FRAMES]
    parity = []
    for t in picks:
        img, w, _ = frame(t)
        cv2.imwrite(str(pdir / f"frame_{t:06d}.png"), img[..., ::-1])
        parity.append({"frame": t, "condition": [float(v) for v in ds.blendshapes[t]],
                       "coefficients": [float(v) for v in w], "image": f"frame_{t:06d}.png"})

    n = len(params["means"])
    P = {k: v.detach().cpu().numpy() for k, v in params.items()}
    rot = res["views"][:, :3, :3]
    png_layers = [(stk.ROLE_BACKGROUND, 0, stk.png_rgba(np.concatenate([ds.background, np.full((H, W, 1), 255, np.uint8)], 2)), W, H)]
    png_layers += [(stk.ROLE_TORSO, t, stk.png_rgba(ds.torso[t]), W, H) for t in range(T)]
    meta = {
        "name": args.name or ds.root.name,
        "licence": args.licence,
        "attribution": args.attribution,
        "created_by": f"torch_trainer (reference) {__version__}",
        "extra": {
            "condition": "MediaPipe blendshapes (52, MediaPipe order, `_neutral` first)",
            "condition_names": ds.blendshape_names,
            # The deformation is only known inside the trained range: the
            # runtime clamps its inputs to it.
            "condition_range": {
                "min": [round(float(v), 5) for v in ds.blendshapes[ds.train].min(0)],
                "max": [round(float(v), 5) for v in ds.blendshapes[ds.train].max(0)],
            },
            # Head-Sync turns the head about this point (head space).
            "head_pivot": headsync.pivot(np.load(ds.root / "canonical_face.npy")),
            "source": ds.source,
            "iterations": res["steps"],
            "gaussians": n,
            "bases": args.bases,
            "training_seconds": round(res["seconds"], 1),
            "device": res["device"],
            "evaluation": evaluation,
        },
    }
    data = stk.PortraitData(
        meta=meta, width=W, height=H, fx=float(ds.K[0, 0]), fy=float(ds.K[1, 1]), cx=float(ds.K[0, 2]), cy=float(ds.K[1, 2]),
        positions=P["means"], rotations=P["quats"], log_scales=P["scales"], opacity_logits=P["opacities"],
        sh=np.concatenate([P["sh0"], P["shN"]], 1), bases=np.ascontiguousarray(P["bases"].transpose(1, 2, 0)),
        controller=layers, input_dim=ds.blendshapes.shape[1], pose_rotations=stk.quaternion_from_matrix(rot),
        pose_translations=res["views"][:, :3, 3], fps=ds.fps, layers=png_layers)
    size = stk.write(Path(args.output), data)
    (pdir / "parity.json").write_text(json.dumps({"portrait": Path(args.output).name, "min_psnr_db": 40.0,
                                                  "frames": parity}, indent=1) + "\n")
    report = {"portrait": Path(args.output).name, "bytes": size, "gaussians": n, "evaluation": evaluation,
              "training_seconds": round(res["seconds"], 1), "device": res["device"]}
    (work / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    loss_plot(res["log"], work / "loss.png")
    return report


def loss_plot(log, path: Path) -> None:
    """Loss and PSNR over steps, drawn with OpenCV (no plotting library needed)."""
    import cv2

    if len(log) < 2:
        return
    a = np.array(log, np.float64)
    img = np.full((300, 700, 3), 255, np.uint8)
    for col, (j, colour, label) in enumerate([(1, (200, 60, 0), "loss"), (5, (0, 140, 0), "PSNR dB")]):
        v = a[:, j]
        lo, hi = np.percentile(v, 1), np.percentile(v, 99)
        y = 280 - (np.clip(v, lo, hi) - lo) / max(hi - lo, 1e-9) * 250
        x = 40 + (a[:, 0] - a[0, 0]) / max(a[-1, 0] - a[0, 0], 1) * 640
        cv2.polylines(img, [np.stack([x, y], 1).astype(np.int32)], False, colour, 1)
        cv2.putText(img, f"{label}: {v[-1]:.3f} ({lo:.3g}..{hi:.3g})", (45, 20 + 18 * col), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1)
    cv2.putText(img, f"step {int(a[-1, 0])}, {int(a[-1, 6])} Gaussians", (450, 295), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
    cv2.imwrite(str(path), img)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="torch_trainer.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("dataset", type=Path, help="a dataset written by synctalk-prepare")
    ap.add_argument("-o", "--output", type=Path, required=True, help="portrait file to write (.stk)")
    ap.add_argument("--work", type=Path, help="checkpoints, loss plot, report (default: OUTPUT.work)")
    ap.add_argument("--parity", type=Path, help="where to write the parity frames (default: WORK/parity)")
    ap.add_argument("--iters", type=int, default=12000)
    ap.add_argument("--bases", type=int, default=10, help="deformation bases K (<= 32)")
    ap.add_argument("--hidden", type=int, default=64, help="controller width")
    ap.add_argument("--sh-degree", type=int, default=1)
    ap.add_argument("--init-points", type=int, default=20000)
    ap.add_argument("--max-gaussians", type=int, default=40000)
    ap.add_argument("--mouth-weight", type=float, default=4.0)
    ap.add_argument("--ssim-weight", type=float, default=0.2)
    ap.add_argument("--alpha-weight", type=float, default=0.05)
    ap.add_argument("--reg-weight", type=float, default=1e-3)
    ap.add_argument("--cond-noise", type=float, default=0.01)
    ap.add_argument("--pose-lr", type=float, default=0.02, help="per-frame pose refinement step (0: off)")
    ap.add_argument("--pose-start", type=int, default=3000, help="refine poses from this step")
    ap.add_argument("--max-seconds", type=float, default=0, help="stop training after this long (then export)")
    ap.add_argument("--checkpoint-every", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--holdout", choices=holdout.CHOICES, default="dataset",
                    help="held-out frames: dataset.json's split, or the 10%% of frames farthest from the mean pose")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--restart", action="store_true", help="ignore an existing checkpoint")
    ap.add_argument("--name", default="")
    ap.add_argument("--licence", default="CC BY 4.0")
    ap.add_argument("--attribution", default="")
    args = ap.parse_args(argv)
    if not 1 <= args.bases <= 32:
        ap.error("--bases must be 1..32")
    args.work = args.work or args.output.with_suffix(args.output.suffix + ".work")
    try:
        import gsplat  # noqa: F401
        import torch  # noqa: F401
    except ImportError as e:
        print(f"torch_trainer.py: needs PyTorch and gsplat on a CUDA machine ({e})", file=sys.stderr)
        return 2
    try:
        res = train(args)
        report = export(res, args)
    except TrainError as e:
        print(f"torch_trainer.py: {e}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
