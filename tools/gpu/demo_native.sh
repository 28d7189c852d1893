#!/usr/bin/env bash
# The demo portrait trained by the native trainer on the lent GPU, then its
# parity frames drawn by gsplat from the file alone (tools/gpu/parity_frames.py;
# gsplat's CUDA kernels compile on the CPUs while the portrait trains). The
# networks, calibration, held-out LPIPS and metadata are added afterwards on a
# developer's machine (models/demo/README.md: create.complete).
#
#   bash tools/gpu/demo_native.sh DATASET OUTDIR
#
# Env: SYNCTALK (the `synctalk` binary, default /tmp/synctalk), ITERS (default
# 15000, as the PyTorch-trained demo), WHL (folder of the gsplat wheel, default
# .whl). Needs the NVIDIA Vulkan ICD at /usr/local/nvidia (the lent machines'),
# libvulkan (tools/gpu/five_clips.sh installs it from .gl), PyTorch with CUDA.
# Writes OUTDIR/portrait.stk, OUTDIR/work/{report.json,loss.png,heldout/...},
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
if [ ! -d /tmp/site ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site "$WHL"/*.whl
fi
export PYTHONPATH=/tmp/site:$PWD/models/toolchain/src
python3 tools/gpu/gsplat_build.py > "$out/gsplat_build.log" 2>&1 &
build=$!
t0=$SECONDS
"$SYNCTALK" train "$ds" -o "$out/portrait.stk" --work "$out/work" --iters "$ITERS" --seed 0 \
  --name "Katie Hill (HDTF WDA_KatieHill_000)" --licence "CC BY 4.0" \
  --attribution "Derived from the HDTF dataset (Zhang et al., CVPR 2021), clip WDA_KatieHill_000, US congressional weekly address footage, CC BY 4.0" \
  > "$out/train.json" 2> >(tr '\r' '\n' | grep -v XDG_RUNTIME > "$out/train.log")
echo "demo trained in $((SECONDS - t0)) s" >&2
t1=$SECONDS
wait $build || { cat "$out/gsplat_build.log" >&2; exit 1; }
python3 tools/gpu/parity_frames.py "$out/portrait.stk" "$ds" -o "$out/parity"
echo "parity frames in $((SECONDS - t1)) s (gsplat's JIT build included)" >&2
