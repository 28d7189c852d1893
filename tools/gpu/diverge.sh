#!/usr/bin/env bash
# One device call: where the native trainer's run on an NVIDIA GPU goes
# non-finite (docs/trainer.md, "Second GPU run"), and whether the trainer's
# own GPU tests hold on that GPU.
# Carried (git-ignored): .gl (Debian's Vulkan/GL loader .debs), .dev/ds (a
# synctalk-prepare dataset), .dev/synctalk.xz (a stripped release
# `synctalk`), .dev2/gpu.xz and .dev2/sort.xz (the stripped test binaries of
# synctalk-train's tests/gpu and synctalk-sort's tests/sort, built in
# /work/main: they find their fixtures by that compiled-in path, so it is
# linked to this checkout).
# Make them: cargo build --release -p synctalk-cli; cargo test -p
# synctalk-train -p synctalk-sort --no-run (the "Executable" lines name
# the binaries); strip; xz -6.
# Writes to $OUT: d*.json, d*.log (the runs), gputests.log, sorttests.log.
set -uo pipefail
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
for b in .dev/synctalk .dev2/gpu .dev2/sort; do
  [ -f "$b.xz" ] && xz -dc "$b.xz" > "/tmp/$(basename "$b")" && chmod +x "/tmp/$(basename "$b")"
done
# A run that goes bad within 1000 steps (20k Gaussians, no growth), read
# back every 50 steps: the first non-finite gradient or parameter group.
run() {
  local n=$1; shift
  rm -rf "/tmp/d$n"
  timeout 90 /tmp/synctalk train .dev/ds -o "/tmp/d$n.stk" --work "/tmp/d$n" --fit-pose-steps 0 \
    --checkpoint-every 1000000 --log-every 50 --check-finite "$@" \
    > "$OUT/d$n.json" 2> >(tr '\r' '\n' | grep -v XDG_RUNTIME > "$OUT/d$n.log")
  echo "run $n: rc $? ($*)"; grep -E "step|error" "$OUT/d$n.log" | tail -4
}
run B --iters 1000 --init-points 20000 --max-gaussians 20000
[ -e /work/main ] || { mkdir -p /work && ln -s "$PWD" /work/main; }
if [ -x /tmp/gpu ]; then
  timeout 150 /tmp/gpu --test-threads 2 > "$OUT/gputests.log" 2>&1
  echo "synctalk-train gpu tests: rc $?"; grep -E "test result|panicked|FAILED" "$OUT/gputests.log" | head -20
fi
if [ -x /tmp/sort ]; then
  timeout 90 /tmp/sort > "$OUT/sorttests.log" 2>&1
  echo "synctalk-sort tests: rc $?"; grep -E "test result|panicked|FAILED" "$OUT/sorttests.log" | head -10
fi
run M --iters 660 --init-points 20000 --max-gaussians 20000
run S --iters 1000 --init-points 20000 --max-gaussians 20000 --sh-degree 0
