"""Times gsplat's forward rasterization (CUDA) on the scenes `synctalk bench
--export` wrote, with the same cameras, and saves one render per scene size
for an image comparison with ours. Usage: gsplat_bench.py SCENES_DIR OUT_JSON
"""
import json, sys, glob, os, time
import numpy as np
import torch
from gsplat import rasterization
from plyio import read_ply

scenes, out = sys.argv[1], sys.argv[2]
dev = "cuda"
results = []
for ply in sorted(glob.glob(os.path.join(scenes, "bench_*.ply")), key=lambda p: int(p.split("_")[-1][:-4])):
    count = int(ply.split("_")[-1][:-4])
    s = read_ply(ply)
    t = {k: torch.from_numpy(np.ascontiguousarray(v)).to(dev) for k, v in s.items() if k != "sh_degree"}
    for cams in sorted(glob.glob(os.path.join(scenes, "cameras_*.json"))):
        cam = json.load(open(cams))[0]
        w, h = cam["width"], cam["height"]
        c2w = np.eye(4)
        c2w[:3, :3] = np.array(cam["rotation"])
        c2w[:3, 3] = cam["position"]
        view = torch.tensor(np.linalg.inv(c2w), dtype=torch.float32, device=dev)[None]
        K = torch.tensor([[cam["fx"], 0, w / 2], [0, cam["fy"], h / 2], [0, 0, 1]], dtype=torch.float32, device=dev)[None]

        def run():
            return rasterization(t["means"], t["quats"], torch.exp(t["log_scales"]), torch.sigmoid(t["opacity_logits"]),
                                 t["sh"], view, K, w, h, sh_degree=s["sh_degree"], near_plane=0.2)

        # One second of untimed frames first, as `synctalk bench` does, so
        # that the GPU runs at its working clock.
        t0 = time.time()
        while time.time() - t0 < 1.0:
            img, alpha, meta = run()
            torch.cuda.synchronize()
        times = []
        for _ in range(50):
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record(); img, alpha, meta = run(); b.record()
            torch.cuda.synchronize()
            times.append(a.elapsed_time(b))
        med = float(np.median(times))
        # The events above span gsplat's whole call: with small scenes the GPU
        # mostly waits for PyTorch to launch the next kernel. The sum of the
        # CUDA kernels' own durations (profiler) is the GPU work alone, a
        # lower bound that does not depend on the host CPU.
        kernel_ms = None
        try:
            from torch.profiler import profile, ProfilerActivity
            with profile(activities=[ProfilerActivity.CUDA]) as prof:
                for _ in range(50):
                    run()
                torch.cuda.synchronize()
            us = sum(getattr(e, "self_device_time_total", getattr(e, "self_cuda_time_total", 0))
                     for e in prof.key_averages())
            kernel_ms = us / 50 / 1000
        except Exception as e:  # the profiler needs CUPTI
            print(f"profiler unavailable: {e}", flush=True)
        results.append({"gaussians": count, "size": w, "median_ms": med, "kernel_ms": kernel_ms})
        print(f"gsplat {count:>8} {w:>5} {med:8.3f} ms (kernels {kernel_ms if kernel_ms is None else round(kernel_ms, 3)} ms)", flush=True)
        if count == 100000:
            rgb = (img[0].clamp(0, 1) * 255 + 0.5).to(torch.uint8).cpu().numpy()
            np.save(os.path.join(scenes, f"gsplat_{count}_{w}.npy"), rgb)
json.dump({"gsplat_version": __import__("gsplat").__version__, "results": results}, open(out, "w"), indent=1)
