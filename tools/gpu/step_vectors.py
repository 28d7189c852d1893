"""Shared vectors for the whole-step check of the native trainer against
torch_trainer.py (issue 19, point 2): one training step of torch_trainer.py (PyTorch +
gsplat, CUDA) on a real frame, its inputs and its loss and gradients, as
.npy files that `crates/synctalk-train/tests/gpu/step_vs_torch.rs` reads.

The frame is frame 2 of the dataset fixture
(`crates/synctalk-testdata/data/dataset-mini`, HDTF WDA_KatieHill_000, CC BY
4.0), cropped to 192x192 around the mouth (the principal point moved with
the crop), so that the files stay small. The parameters are those of
mid-training rather than of the start: torch_trainer.py's initial points of that
frame's region with opacities, scales, rotations, SH degree 1, deformation
bases, the controller and the frame's pose correction all set away from
their initial values (seeded), so that every gradient path carries signal.

What is stored is exactly what torch_trainer.py's loop computes for that step
(`tools/gpu/torch_trainer.py`: `render_head`, `pose_delta`, `ssim`, the loss
terms): the image loss `l1 + ssim_w (1 - ssim) + alpha_w alpha` and its
gradients for every Gaussian parameter and the pose correction, and for the
controller the gradient of the image loss plus its L2 term (the native
trainer folds that term into the controller's gradient; the other
regularisers are added inside its Adam kernels and are not part of this).

Run where gsplat runs (CUDA):
  python3 tools/gpu/step_vectors.py crates/synctalk-testdata/data/dataset-mini -o OUT
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

FRAME = 2
CROP = 192
BASES = 4
HIDDEN = 64
MAX_GAUSSIANS = 1200
MOUTH_W, SSIM_W, ALPHA_W, REG_W = 4.0, 0.2, 0.05, 1e-3
MOUTH = [13, 14, 61, 291]  # inner lip centres and mouth corners


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("-o", "--out", type=Path, required=True)
    a = ap.parse_args()

    import torch

    import gsplat
    import torch_trainer as tp  # beside this script

    torch.manual_seed(0)
    dev = torch.device("cuda")
    ds = tp.load_dataset(a.dataset)
    t = FRAME
    rng = np.random.default_rng(0)

    # The crop: CROP x CROP around the mouth.
    lm = np.load(a.dataset / "landmarks.npy")[t]
    H, W = ds.frames.shape[1:3]
    c = lm[MOUTH, :2].mean(0)
    x0 = int(np.clip(round(c[0]) - CROP // 2, 0, W - CROP))
    y0 = int(np.clip(round(c[1]) - CROP // 2 - 24, 0, H - CROP))
    sl = (slice(y0, y0 + CROP), slice(x0, x0 + CROP))
    gt_u8 = np.ascontiguousarray(ds.frames[t][sl])
    under_u8 = np.ascontiguousarray(ds.under[t][sl])
    mask_u8 = np.ascontiguousarray(ds.masks[t][sl])
    K = ds.K.copy()
    K[0, 2] -= x0
    K[1, 2] -= y0
    view = ds.head_to_camera[t].copy()

    # Initial points of the region, as torch_trainer.py places them.
    pts, cols = tp.initial_points(ds, 6000, rng)
    cam = pts.astype(np.float64) @ view[:3, :3].T + view[:3, 3]
    px = cam[:, :2] / cam[:, 2:3] * K[0, 0] + K[:2, 2]
    inside = np.nonzero((px[:, 0] > -8) & (px[:, 0] < CROP + 8) & (px[:, 1] > -8) & (px[:, 1] < CROP + 8))[0]
    pick = np.sort(rng.choice(inside, size=min(MAX_GAUSSIANS, len(inside)), replace=False))
    pts, cols = pts[pick], cols[pick]
    n = len(pts)

    # Mid-training values.
    depth = float(np.median(ds.head_to_camera[:, 2, 3]))
    px_cm = depth / ds.K[0, 0]
    f32 = np.float32
    means = (pts + rng.normal(0, 0.05, pts.shape)).astype(f32)
    quats = np.concatenate([np.ones((n, 1)), np.zeros((n, 3))], 1) + rng.normal(0, 0.3, (n, 4))
    quats = quats.astype(f32)
    scales = (math.log(2.5 * px_cm) + rng.normal(0, 0.35, (n, 3))).astype(f32)
    opacities = rng.uniform(-2.5, 2.5, n).astype(f32)
    sh = np.zeros((n, 4, 3), f32)
    sh[:, 0] = (cols - 0.5) / tp.SH_C0
    sh[:, 1:] = rng.normal(0, 0.15, (n, 3, 3))
    bases = rng.normal(0, 0.03, (n, BASES, 11)).astype(f32)
    bs = ds.blendshapes
    norm = tp.Normalizer(bs[ds.train])
    cond = ((bs[t] - norm.mean) * norm.scale).astype(f32)
    pose = rng.normal(0, 1.0, 6).astype(f32)

    T = lambda x: torch.tensor(np.asarray(x), device=dev)  # noqa: E731
    params = {
        "means": T(means), "quats": T(quats), "scales": T(scales), "opacities": T(opacities),
        "sh0": T(sh[:, :1]), "shN": T(sh[:, 1:]), "bases": T(bases),
    }
    for v in params.values():
        v.requires_grad_(True)
    controller = torch.nn.Sequential(
        torch.nn.Linear(bs.shape[1], HIDDEN), torch.nn.ReLU(),
        torch.nn.Linear(HIDDEN, HIDDEN), torch.nn.ReLU(),
        torch.nn.Linear(HIDDEN, BASES),
    ).to(dev)
    # Larger than torch's default initialisation, so that w is of the
    # size trained controllers give (about 0.1 to 1).
    with torch.no_grad():
        for p in controller.parameters():
            p.mul_(3.0)
    pose_d = T(pose[None]).requires_grad_(True)

    # torch_trainer.py's step (its loop body, without noise: the condition given is
    # already normalised).
    w = controller(T(cond))
    views = T(view).float()
    Kt = T(K).float()
    v = views @ tp.pose_delta(pose_d)[0]
    img, alpha, _ = tp.render_head(params, w, v, Kt, CROP, CROP, 1)
    gt = T(gt_u8).float() / 255
    pred = img + (1 - alpha) * (T(under_u8).float() / 255)
    m = T(mask_u8)
    weight = 1.0 + MOUTH_W * ((m & 8) > 0).float()
    l1 = (weight[..., None] * (pred - gt).abs()).mean()
    s = tp.ssim(pred, gt)
    al = alpha[..., 0]
    ins, outs = (m & 2) > 0, (m & 4) > 0
    lalpha = (1 - al)[ins].mean() + al[outs].mean()
    image = l1 + SSIM_W * (1 - s) + ALPHA_W * lalpha
    l2 = REG_W * 1e-2 * sum((p**2).mean() for p in controller.parameters())
    (image + l2).backward()

    out = a.out
    out.mkdir(parents=True, exist_ok=True)
    np_ = lambda x: x.detach().cpu().numpy()  # noqa: E731
    save = lambda name, x: np.save(out / f"{name}.npy", np.ascontiguousarray(x))  # noqa: E731
    save("gt", gt_u8)
    save("under", under_u8)
    save("mask", mask_u8)
    save("view", view)
    save("K", K)
    save("means", means)
    save("quats", quats)
    save("scales", scales)
    save("opacities", opacities)
    save("sh", sh)
    save("bases", bases)
    save("cond", cond)
    save("pose", pose)
    theta = np.concatenate([np_(p).reshape(-1) for p in controller.parameters()]).astype(f32)
    save("theta", theta)
    save("loss", np.array([image.item(), l1.item(), s.item(), lalpha.item()], f32))
    save("w", np_(w).astype(f32))
    save("pred", np_(pred).astype(f32))
    g = {k: np_(v.grad) for k, v in params.items()}
    save("d_means", g["means"])
    save("d_quats", g["quats"])
    save("d_scales", g["scales"])
    save("d_opacities", g["opacities"])
    save("d_sh", np.concatenate([g["sh0"], g["shN"]], 1))
    save("d_bases", g["bases"])
    save("d_theta", np.concatenate([np_(p.grad).reshape(-1) for p in controller.parameters()]).astype(f32))
    save("d_pose", np_(pose_d.grad)[0])
    meta = {
        "frame": t, "crop_origin": [x0, y0], "size": [CROP, CROP], "gaussians": n, "bases": BASES,
        "hidden": HIDDEN, "weights": {"mouth": MOUTH_W, "ssim": SSIM_W, "alpha": ALPHA_W, "reg": REG_W},
        "sh_degree": 1, "device": torch.cuda.get_device_name(), "torch": torch.__version__,
        "gsplat": gsplat.__version__,
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(json.dumps({**meta, "loss": [image.item(), l1.item(), s.item(), lalpha.item()],
                      "w": np_(w).round(4).tolist()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
