#!/usr/bin/env bash
# One device call: train a portrait with synctalk-train on the H200.
# Carried: .whl (gsplat wheel), .dev/ds (a prepared dataset), optionally
# .dev/torch_ext.tgz (gsplat's compiled kernels from an earlier call).
# Env: ITERS (default 12000), MAX_SECONDS (default 420), EXTRA (more flags).
set -uo pipefail
export PYTHONUNBUFFERED=1 TORCH_CUDA_ARCH_LIST=9.0 MAX_JOBS=16
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/models/toolchain/src
nvidia-smi --query-gpu=name,driver_version,clocks.sm --format=csv,noheader
export TORCH_EXTENSIONS_DIR=/tmp/text; ext=$TORCH_EXTENSIONS_DIR
[ -f .dev/torch_ext.tgz ] && mkdir -p "$ext" && tar -C "$ext" -xzf .dev/torch_ext.tgz && echo "reusing compiled gsplat kernels" >&2
rm -rf /tmp/work  # a warm machine keeps the last call's checkpoint
start=$(date +%s)
python3 tools/gpu/torch_trainer.py .dev/ds -o $OUT/portrait.stk --work /tmp/work --parity /tmp/work/parity \
  --iters ${ITERS:-12000} --max-seconds ${MAX_SECONDS:-420} --name "${NAME:-demo}" --attribution "${ATTRIBUTION:-}" ${EXTRA:-} 2>&1 | tr '\r' '\n' | tail -80
echo "train call: $(( $(date +%s) - start )) s" >&2
tar -C /tmp/work -czf $OUT/work.tgz parity loss.png heldout.png report.json 2>/dev/null
[ -f .dev/torch_ext.tgz ] || tar -C "$ext" -czf $OUT/torch_ext.tgz . 2>/dev/null
ls -la $OUT
