"""Fits a small 3D Gaussian Splatting scene (INRIA .ply layout, SH degree 1)
to one frame of a talking-head clip with gsplat, from a fixed camera.
Usage: fit_3dgs.py FRAME.png OUT_DIR [N_GAUSSIANS] [ITERS]
Writes OUT_DIR/scene.ply, OUT_DIR/cameras.json, OUT_DIR/fit.json, OUT_DIR/fit.png.
"""
import json, math, sys, os
import numpy as np
import torch
from PIL import Image
from gsplat import rasterization
from torchmetrics.functional.image import structural_similarity_index_measure as ssim
from plyio import write_ply

frame, out = sys.argv[1], sys.argv[2]
n = int(sys.argv[3]) if len(sys.argv) > 3 else 32000
iters = int(sys.argv[4]) if len(sys.argv) > 4 else 3000
torch.manual_seed(0)
dev = "cuda"
target = torch.from_numpy(np.array(Image.open(frame).convert("RGB"))).float().to(dev) / 255
h, w = target.shape[:2]
f = 1.25 * w  # a portrait lens: about 44 degrees
C0 = 0.28209479177387814

u, v = torch.rand(n, device=dev) * w, torch.rand(n, device=dev) * h
z = 2.0 + 0.2 * (torch.rand(n, device=dev) - 0.5)
means = torch.stack([(u - w / 2) * z / f, (v - h / 2) * z / f, z], 1)
colors = target[v.long().clamp(0, h - 1), u.long().clamp(0, w - 1)]
sh = torch.zeros(n, 4, 3, device=dev)
sh[:, 0] = (colors - 0.5) / C0
params = {
    "means": means,
    "quats": torch.nn.functional.normalize(torch.randn(n, 4, device=dev), dim=1),
    "log_scales": torch.log(torch.full((n, 3), 1.5, device=dev) * z[:, None] / f),
    "opacity_logits": torch.zeros(n, device=dev),
    "sh_dc": sh[:, :1].clone(),
    "sh_rest": sh[:, 1:].clone(),
}
params = {k: torch.nn.Parameter(p) for k, p in params.items()}
lrs = {"means": 1.6e-4 * 2.0, "quats": 1e-3, "log_scales": 5e-3, "opacity_logits": 5e-2, "sh_dc": 2.5e-3, "sh_rest": 1.25e-4}
opt = torch.optim.Adam([{"params": [params[k]], "lr": lr, "name": k} for k, lr in lrs.items()], eps=1e-15)
view = torch.eye(4, device=dev)[None]
K = torch.tensor([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1]], device=dev)[None]


def render():
    img, _, _ = rasterization(params["means"], params["quats"], torch.exp(params["log_scales"]),
                              torch.sigmoid(params["opacity_logits"]),
                              torch.cat([params["sh_dc"], params["sh_rest"]], 1), view, K, w, h,
                              sh_degree=1, near_plane=0.2)
    return img[0]


for it in range(iters):
    img = render()
    loss = 0.8 * (img - target).abs().mean() + 0.2 * (1 - ssim(img.permute(2, 0, 1)[None], target.permute(2, 0, 1)[None], data_range=1.0))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    if it % 500 == 0:
        print(f"fit {it} loss {loss.item():.4f}", flush=True)

with torch.no_grad():
    img = render().clamp(0, 1)
    mse = ((img - target) ** 2).mean().item()
    psnr = 10 * math.log10(1 / mse)
    print(f"fit PSNR {psnr:.2f} dB", flush=True)
    os.makedirs(out, exist_ok=True)
    Image.fromarray((img * 255 + 0.5).to(torch.uint8).cpu().numpy()).save(os.path.join(out, "fit.png"))
    sh = torch.cat([params["sh_dc"], params["sh_rest"]], 1)
    write_ply(os.path.join(out, "scene.ply"), params["means"].cpu().numpy(), params["quats"].cpu().numpy(),
              params["log_scales"].cpu().numpy(), params["opacity_logits"].cpu().numpy(), sh.cpu().numpy())
    cams = [{"id": 0, "img_name": "frame0", "width": w, "height": h, "position": [0.0, 0.0, 0.0],
             "rotation": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], "fx": f, "fy": f}]
    json.dump(cams, open(os.path.join(out, "cameras.json"), "w"), indent=1)
    json.dump({"gaussians": n, "iterations": iters, "psnr_db": psnr, "focal": f, "gsplat": __import__("gsplat").__version__},
              open(os.path.join(out, "fit.json"), "w"), indent=1)
