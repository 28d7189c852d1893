#!/usr/bin/env bash
# The demo portrait trained by the native trainer on the lent GPU, then its
# parity frames drawn by gsplat from the file alone (tools/gpu/parity_frames.py;
# gsplat's CUDA kernels compile on the CPUs while the portrait trains). The
# networks, calibration, held-out LPIPS and metadata are added afterwards on a
# developer's machine (tools/complete_portrait.py; docs/portrait-quality.md).
#
#   bash tools/gpu/demo_native.sh DATASET OUTDIR
#
# Env: SYNCTALK (the `synctalk` binary, default /tmp/synctalk), ITERS (default
# 15000, as the PyTorch-trained demo), WHL (folder of the gsplat wheel, default
# .whl), NAME, LICENCE, ATTRIBUTION (the portrait's; default the demo's),
# SEED (default 0), TRAIN_FLAGS (more `synctalk train` flags, e.g.
# `--cond-noise 0.05`). Needs the NVIDIA Vulkan ICD at /usr/local/nvidia (the
# lent machines'), libvulkan (tools/gpu/five_clips.sh installs it from .gl),
# PyTorch with CUDA. Writes OUTDIR/portrait.stk,
# OUTDIR/work/{report.json,loss.svg,heldout.png,heldout/...},
# OUTDIR/parity/{frame_*.png,parity.json}.
set -euo pipefail
ds=${1:?dataset}
out=${2:?out dir}
SYNCTALK=${SYNCTALK:-/tmp/synctalk}
ITERS=${ITERS:-15000}
WHL=${WHL:-.whl}
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
export PYTHONUNBUFFERED=1 TORCH_CUDA_ARCH_LIST=9.0 MAX_JOBS=16 TORCH_EXTENSIONS_DIR=/tmp/text
mkdir -p "$out"
NAME=${NAME:-Katie Hill (HDTF WDA_KatieHill_000)}
LICENCE=${LICENCE:-CC BY 4.0}
ATTRIBUTION=${ATTRIBUTION:-Derived from the HDTF dataset (Zhang et al., CVPR 2021), clip WDA_KatieHill_000, US congressional weekly address footage, CC BY 4.0}
if [ ! -d /tmp/site ]; then  # whole or not at all: a half install is not mistaken for one
  rm -rf /tmp/site.part
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site.part "$WHL"/*.whl
  mv /tmp/site.part /tmp/site
fi
export PYTHONPATH=/tmp/site:$PWD/models/toolchain/src
python3 tools/gpu/gsplat_build.py > "$out/gsplat_build.log" 2>&1 &
build=$!
trap 'kill $build 2>/dev/null; echo "demo_native: failed; the end of $out/train.log:" >&2; tail -n 5 "$out/train.log" >&2' ERR
t0=$SECONDS
# shellcheck disable=SC2086  # TRAIN_FLAGS are words
"$SYNCTALK" train "$ds" -o "$out/portrait.stk" --work "$out/work" --iters "$ITERS" --seed "${SEED:-0}" \
  --name "$NAME" --licence "$LICENCE" --attribution "$ATTRIBUTION" ${TRAIN_FLAGS:-} \
  > "$out/train.json" 2> >(tr '\r' '\n' | grep -v XDG_RUNTIME > "$out/train.log")
echo "demo trained in $((SECONDS - t0)) s" >&2
t1=$SECONDS
wait $build || { cat "$out/gsplat_build.log" >&2; exit 1; }
python3 tools/gpu/parity_frames.py "$out/portrait.stk" "$ds" -o "$out/parity"
echo "parity frames in $((SECONDS - t1)) s (gsplat's JIT build included)" >&2
