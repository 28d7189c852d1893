"""Builds gsplat's CUDA kernels (its first call compiles them: minutes) by
rasterizing one Gaussian, so that a later run on the same machine finds them
in TORCH_EXTENSIONS_DIR. Prints gsplat's version when ready."""
import torch
import gsplat

means = torch.zeros(1, 3, device="cuda")
means[0, 2] = 2
K = torch.tensor([[[16.0, 0, 8], [0, 16.0, 8], [0, 0, 1]]], device="cuda")
gsplat.rasterization(means, torch.tensor([[1.0, 0, 0, 0]], device="cuda"), torch.full((1, 3), 0.1, device="cuda"),
                     torch.ones(1, device="cuda"), torch.ones(1, 3, device="cuda"), torch.eye(4, device="cuda")[None],
                     K, 16, 16)
torch.cuda.synchronize()
print("gsplat ready", gsplat.__version__)
