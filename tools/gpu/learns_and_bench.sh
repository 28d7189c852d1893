#!/usr/bin/env bash
# One device call: does the native trainer stay finite and learn on an
# NVIDIA GPU after the SSIM-backward fix (docs/trainer.md), then the bench
# against torch_trainer.py (tools/gpu/trainer_bench.sh, same card, same call), then
# synctalk-train's GPU tests on that GPU with what time is left.
# Carried (git-ignored): .gl, .whl, .dev/ds (a synctalk-prepare dataset,
# PNGs recompressed losslessly with optipng to fit the call), .dev/synctalk.xz
# (stripped release `synctalk`), .dev/gpu.xz (the stripped release test
# binary of crates/synctalk-train/tests/gpu, built in /work/main: it finds
# its fixtures by that path, so the path is linked to this checkout).
# Writes to $OUT: dB.log, trainer_bench.sh's six files, gputests.log.
set -uo pipefail
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
xz -dc .dev/synctalk.xz > /tmp/synctalk && chmod +x /tmp/synctalk
# Last session's failing case: 20k Gaussians, no growth, NaN before step 1000.
t0=$SECONDS
timeout 120 /tmp/synctalk train .dev/ds -o /tmp/dB.stk --work /tmp/dB --fit-pose-steps 0 \
  --checkpoint-every 1000000 --log-every 100 --check-finite --iters 1000 \
  --init-points 20000 --max-gaussians 20000 > /tmp/dB.json 2> >(tr '\r' '\n' | grep -v XDG_RUNTIME > "$OUT/dB.log")
echo "20k run: rc $? in $((SECONDS - t0)) s"; grep -E "step|error|PSNR|psnr" "$OUT/dB.log" | tail -6
STEP_VECTORS=0 ITERS=${ITERS:-12000} bash tools/gpu/trainer_bench.sh
rm -f "$OUT/work.tgz.tmp"
[ -e /work/main ] || { mkdir -p /work && ln -s "$PWD" /work/main; }
xz -dc .dev/gpu.xz > /tmp/gpu && chmod +x /tmp/gpu
left=$((575 - SECONDS)); [ $left -gt 150 ] && left=150
echo "gpu tests get $left s"
timeout "$left" /tmp/gpu --test-threads 2 > "$OUT/gputests.log" 2>&1
echo "synctalk-train gpu tests: rc $?"; grep -E "test result|panicked|FAILED" "$OUT/gputests.log" | head -20
