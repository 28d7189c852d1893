#!/usr/bin/env bash
# One device call: the native trainer (`synctalk train`, wgpu on Vulkan)
# against torch_trainer.py (PyTorch + gsplat) on the same prepared dataset, the same
# steps and settings, on the same card, one after the other.
# Carried (git-ignored): .gl (Debian's Vulkan/GL loader .debs), .whl (the
# gsplat 1.5.3 wheel), .dev/ds (a synctalk-prepare dataset), .dev/synctalk.xz
# (a stripped release `synctalk` built on Debian 12, xz: the call's 64 MiB).
# Env: ITERS (default 6000), SKIP_PY=1 to run ours only.
# Writes to $OUT (7 files: a call returns at most 8): ours.json, ours.log,
# ours_lpips.json, py.json, py.log, work.tgz (plots, held-out sheets) and
# step.tgz (tools/gpu/step_vectors.py's shared vectors, tests/vectors/train-step).
# Env: STEP_VECTORS=0 skips those.
set -uo pipefail
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
export PYTHONUNBUFFERED=1 TORCH_CUDA_ARCH_LIST=9.0 MAX_JOBS=16
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/models/toolchain/src
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader
python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('.dev/synctalk.xz'), open('/tmp/synctalk', 'wb'))" && chmod +x /tmp/synctalk
ITERS=${ITERS:-6000}
export TORCH_EXTENSIONS_DIR=/tmp/text
if [ "${STEP_VECTORS:-1}" = 1 ]; then
  t0=$SECONDS
  python3 tools/gpu/step_vectors.py crates/synctalk-testdata/data/dataset-mini -o /tmp/step > /tmp/step.log 2>&1
  echo "step vectors: rc $? in $((SECONDS - t0)) s"; tail -3 /tmp/step.log
  tar -C /tmp -czf $OUT/step.tgz step step.log 2>/dev/null
fi

# Largest GPU memory in use while "$@" runs (MiB, whole device), to FILE.
peak_mem() {
  local file=$1; shift
  ( peak=0; while sleep 0.2; do
      m=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1)
      [ "${m:-0}" -gt "$peak" ] && peak=$m && echo "$peak" > "$file"
    done ) &
  local mon=$!
  "$@"; local rc=$?
  kill $mon 2>/dev/null
  return $rc
}

base=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1)
echo "GPU memory in use before: $base MiB"
rm -rf /tmp/wo /tmp/wp
t0=$SECONDS
peak_mem /tmp/ours_mem.txt /tmp/synctalk train .dev/ds -o /tmp/ours.stk --work /tmp/wo --iters "$ITERS" \
  --checkpoint-every 1000000 > $OUT/ours.json 2> >(tr '\r' '\n' | grep -v XDG_RUNTIME > $OUT/ours.log)
echo "ours: rc $? in $((SECONDS - t0)) s, peak $(cat /tmp/ours_mem.txt) MiB"
tail -5 $OUT/ours.log
python3 -m synctalk_toolchain.evaluate heldout --rendered /tmp/wo/heldout --dataset .dev/ds -o $OUT/ours_lpips.json >/dev/null 2>/tmp/ours_lpips.log \
  && python3 -c "import json; print('ours LPIPS', json.load(open('$OUT/ours_lpips.json'))['mean'])"
if [ -z "${SKIP_PY:-}" ]; then
  t0=$SECONDS
  # torch_trainer.py prints its progress and its report on stdout.
  peak_mem /tmp/py_mem.txt python3 tools/gpu/torch_trainer.py .dev/ds -o /tmp/py.stk --work /tmp/wp \
    --iters "$ITERS" --checkpoint-every 1000000 > $OUT/py.log 2>&1
  echo "torch_trainer.py: rc $? in $((SECONDS - t0)) s, peak $(cat /tmp/py_mem.txt) MiB"
  cp /tmp/wp/report.json $OUT/py.json
  grep "\[train\]" $OUT/py.log | tail -12
fi
tar -C /tmp -czf $OUT/work.tgz wo/loss.svg wo/heldout.png wo/report.json wp/loss.png wp/heldout.png wp/report.json 2>/dev/null
ls -la $OUT
