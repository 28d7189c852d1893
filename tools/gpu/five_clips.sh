#!/usr/bin/env bash
# Device calls for issue 19 DoD 5 and issue 20 DoD 1 on the HDTF clips: for
# each synctalk-prepare dataset given (folders of the checkout, carried),
# the native trainer with the dataset's split and with the
# pose-extrapolation split (`--holdout poses`) and torch_trainer.py with the
# dataset's split, one after the other (PARALLEL=1: all at once, which a
# shared GPU time-slices; the speed ratio comes from trainer_bench.sh),
# then synctalk-eval's LPIPS of each.
# The first call of a warm machine carries .gl, .whl and .bin/synctalk.xz
# (stripped release `synctalk`) besides a dataset; later calls on the same
# warm machine find them installed in /tmp and carry datasets only.
# Env: BIN (default .bin/synctalk.xz: the `synctalk` build to run), TRAIN_FLAGS (more flags for
# every native run, e.g. a Gaussian budget), ITERS (default 12000), SEED (default 0: both trainers' --seed; a
# second seed measures the run-to-run spread), RUNS (default "ours poses
# py": which of the three runs to make), KEEP_STK (set: the native
# dataset-split portraits come back in $OUT too). Writes $OUT/results.tgz (reports, logs) and
# prints a summary line per run.
set -uo pipefail
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
export PYTHONUNBUFFERED=1 TORCH_CUDA_ARCH_LIST=9.0 MAX_JOBS=16 TORCH_EXTENSIONS_DIR=/tmp/text
if ! ldconfig -p | grep -q libvulkan.so.1; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
fi
ITERS=${ITERS:-12000}
SEED=${SEED:-0}
RUNS=${RUNS:-ours poses py}
has() { [[ " $RUNS " == *" $1 "* ]]; }
# The gsplat wheel: only the reference trainer needs it (RUNS without py can leave .whl behind).
if has py && [ ! -d /tmp/site ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
fi
export PYTHONPATH=/tmp/site:$PWD/models/toolchain/src
# BIN: which build of `synctalk` (an xz of the checkout; an experiment's build beside the usual one).
BIN=${BIN:-.bin/synctalk.xz}
SYNCTALK=/tmp/$(basename "$BIN" .xz)
# Unpacked every call: /tmp outlives a call, and an older build may be there.
xz -dc "$BIN" > "$SYNCTALK.new" && chmod +x "$SYNCTALK.new" && mv "$SYNCTALK.new" "$SYNCTALK" || exit 1
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
mkdir -p /tmp/res
pids=()
# The native trainer on dataset $1 as run $2 (ours, poses), further flags after.
native() {
  local ds=$1 run=$2 n; n=$(basename "$1"); shift 2
  "$SYNCTALK" train "$ds" -o "/tmp/res/$n-$run.stk" --work "/tmp/res/$n-$run" --iters "$ITERS" --seed "$SEED" \
    --checkpoint-every 1000000 ${TRAIN_FLAGS:-} "$@" > "/tmp/res/$n-$run.json" 2> >(tr '\r' '\n' | grep -v XDG_RUNTIME > "/tmp/res/$n-$run.log")
}
# Each process's GPU memory once a second while they train (the peak per run: mem.log).
( while :; do nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits 2>/dev/null \
    | while IFS=', ' read -r pid mib; do echo "$pid $(tr '\0' ' ' < /proc/$pid/cmdline 2>/dev/null | cut -c1-300) $mib"; done; sleep 1; done \
  >> /tmp/res/mem.log ) & sampler=$!
# The runs go one after the other: processes sharing one GPU are
# time-sliced, and seven native trainers at once ran 18x slower each
# (docs/trainer.md). PARALLEL=1 starts them all at once, as sessions 17-18 did.
later() { if [ -n "${PARALLEL:-}" ]; then "$@" & pids+=($!); else "$@"; fi; }
train_py() {
  python3 tools/gpu/torch_trainer.py "$1" -o "/tmp/res/$2-py.stk" --work "/tmp/res/$2-py" \
    --iters "$ITERS" --seed "$SEED" --checkpoint-every 1000000 > "/tmp/res/$2-py.log" 2>&1
}
for ds in "$@"; do
  n=$(basename "$ds")
  if has ours; then later native "$ds" ours; fi
  if has poses; then later native "$ds" poses --holdout poses; fi
  if has py; then later train_py "$ds" "$n"; fi
done
for p in "${pids[@]}"; do wait "$p"; done
kill $sampler 2>/dev/null
for ds in "$@"; do
  n=$(basename "$ds")
  for run in $RUNS; do
    h=dataset; [ $run = poses ] && h=poses
    python3 -m synctalk_toolchain.evaluate heldout --rendered "/tmp/res/$n-$run/heldout" --dataset "$ds" \
      --holdout $h -o "/tmp/res/$n-$run-lpips.json" > /dev/null 2>> /tmp/res/eval.log
    python3 - "$n" "$run" <<'PY'
import json, sys
n, run = sys.argv[1:]
try:
    m = json.load(open(f"/tmp/res/{n}-{run}-lpips.json"))["mean"]
    f = m["face"]; k = m.get("neck", {}); t = m.get("turned_head_neck", {})
    print(f"{n} {run}: face {f['psnr']:.2f} dB LPIPS {f['lpips']:.4f}; neck {k.get('psnr', float('nan')):.2f} / {k.get('lpips', float('nan')):.4f}; turned neck {t.get('psnr', float('nan')):.2f} / {t.get('lpips', float('nan')):.4f}")
except Exception as e:
    print(f"{n} {run}: no scores ({e})")
PY
  done
  grep -h "steps in" /tmp/res/$n-ours.log /tmp/res/$n-poses.log | tail -2
  grep "\[train\] step" /tmp/res/$n-py.log | tail -1
done
[ -n "${KEEP_STK:-}" ] && cp /tmp/res/*-ours.stk "$OUT/" 2>/dev/null
for ds in "$@"; do  # the peak GPU memory of each native run
  n=$(basename "$ds")
  for run in ours poses; do
    grep -- "--work /tmp/res/$n-$run " /tmp/res/mem.log | awk -v r="$n $run" '$NF>m{m=$NF} END{if(m) print r": peak GPU memory " m " MiB"}'
  done
done
cd /tmp/res && tar -czf "$OUT/results.tgz" *.json *.log */report.json 2>/dev/null
ls -la "$OUT"
