#!/usr/bin/env bash
# One device call: the demo's dataset trained with several settings of the
# deformation's generalisation knobs (issue 20: the candidate demo's streak
# by the mouth in open smiles, docs/portrait-quality.md), one run after the
# other (several trainers at once on one GPU are time-sliced: 18x slower
# each, docs/trainer.md). Each portrait comes back whole (12 MB; the device
# tool returns at most 8 files of 16 MiB, 64 MiB in all: at most 4 runs a
# call) with its report; then, here: `synctalk render --head-motion 4` of
# www/dist/assets/jfk.wav and tools/contact_sheet.py, or render-portrait of
# the streak's (pose frame, condition) pairs.
#
#   bash tools/gpu/deform_sweep.sh DATASET "NAME:FLAGS" ...
#   e.g. bash tools/gpu/deform_sweep.sh .dsa/katie "s1:--seed 1" "sm05:--basis-smooth 0.5" \
#          "mp1:--mesh-prior 1" "mp5:--mesh-prior 5"
#
# Carry .gl (Vulkan loader .debs), .bin/synctalk.xz and the dataset. Env:
# ITERS (default 15000, as the demo), DEADLINE (seconds of the call after
# which no run starts, default 430: a run takes about 100 s on an H200),
# NAME, LICENCE, ATTRIBUTION (the portraits' metadata, as `synctalk train`
# takes them; default none), WHL (a folder of the gsplat wheel, carried:
# then each portrait's parity frames are drawn by gsplat too, as
# demo_native.sh does, so that any run can ship). Each run's held-out LPIPS
# (`synctalk-eval heldout`, numpy) is measured on the CPUs while the next
# run trains, into NAME.lpips.json: `tools/complete_portrait.py --heldout-scores`
# takes it, since the held-out renders (43 MB a run) do not come back.
# TIMING (a carried timing.json of `synctalk render --frames`, e.g. the
# shipped demo speaking www/dist/assets/jfk.wav at --head-motion 4): each
# portrait's deformation is also measured at that speech's conditions
# (`synctalk face-motion`, into NAME.face_motion.json).
set -uo pipefail
ds=${1:?dataset}; shift
ITERS=${ITERS:-15000}
DEADLINE=${DEADLINE:-430}
export VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
if ! ldconfig -p | grep -q libvulkan.so.1; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
fi
# The carried build every call (/tmp outlives a call: an older one may be there).
xz -dc .bin/synctalk.xz > /tmp/synctalk.new && chmod +x /tmp/synctalk.new && mv /tmp/synctalk.new /tmp/synctalk || exit 1
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
mkdir -p /tmp/sweep
export PYTHONPATH=$PWD/models/toolchain/src
meta=()
[ -n "${NAME:-}" ] && meta+=(--name "$NAME")
[ -n "${LICENCE:-}" ] && meta+=(--licence "$LICENCE")
[ -n "${ATTRIBUTION:-}" ] && meta+=(--attribution "$ATTRIBUTION")
build=
if [ -n "${WHL:-}" ]; then
  export TORCH_CUDA_ARCH_LIST=9.0 MAX_JOBS=16 TORCH_EXTENSIONS_DIR=/tmp/text
  if [ ! -d /tmp/site ]; then
    rm -rf /tmp/site.part
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site.part "$WHL"/*.whl &&
      mv /tmp/site.part /tmp/site
  fi
  export PYTHONPATH=/tmp/site:$PYTHONPATH
  python3 tools/gpu/gsplat_build.py > /tmp/sweep/gsplat_build.log 2>&1 &
  build=$!
fi
evals=() trained=()
for run in "$@"; do
  case "$run" in *:*) ;; *) echo "$run: not NAME:FLAGS" >&2; exit 2 ;; esac
  name=${run%%:*} flags=${run#*:}
  rm -rf "/tmp/sweep/$name" "/tmp/sweep/$name".*
  if [ "$SECONDS" -gt "$DEADLINE" ]; then echo "$name: not started ($SECONDS s into the call)"; continue; fi
  t0=$SECONDS
  # shellcheck disable=SC2086  # FLAGS are words
  /tmp/synctalk train "$ds" -o "$OUT/$name.stk" --work "/tmp/sweep/$name" --iters "$ITERS" \
    --checkpoint-every 1000000 "${meta[@]}" $flags > "/tmp/sweep/$name.json" 2> "/tmp/sweep/$name.raw"
  rc=$?
  if [ "$rc" = 0 ]; then
    python3 -m synctalk_toolchain.evaluate heldout --rendered "/tmp/sweep/$name/heldout" --dataset "$ds" \
      -o "/tmp/sweep/$name.lpips.json" > /dev/null 2> "/tmp/sweep/$name.lpips.log" &
    evals+=($!)
    trained+=("$name")
    if [ -n "${TIMING:-}" ]; then
      /tmp/synctalk face-motion "$OUT/$name.stk" --dataset "$ds" --timing "$TIMING" \
        > "/tmp/sweep/$name.face_motion.json" 2> "/tmp/sweep/$name.face_motion.log" &
      evals+=($!)
    fi
  fi
  tr '\r' '\n' < "/tmp/sweep/$name.raw" | grep -v XDG_RUNTIME > "/tmp/sweep/$name.log"
  python3 - "$name" "$rc" "$((SECONDS - t0))" <<'PY'
import json, sys
name, rc, secs = sys.argv[1:]
if rc != "0":
    print(f"{name} ({secs} s): failed, rc {rc} (its log: /tmp/sweep/{name}.log, in sweep.tgz)")
    sys.exit(0)
try:
    e = json.load(open(f"/tmp/sweep/{name}/report.json"))["evaluation"]
    t, r, h = e["tracked_pose"], e["refined_pose"], e["turned_head"]
    fm = e.get("face_motion") or {}
    print(f"{name} ({secs} s, rc {rc}): face {t['face']['psnr']:.2f} (refined {r['face']['psnr']:.2f}), "
          f"neck {t['neck']['psnr']:.2f}, turned neck {h['neck']['psnr']:.2f}, train {e['train_full_psnr']:.2f}; "
          "off the face's motion " + " / ".join(f"{fm[k]:.2f}" if k in fm else "?" for k in
          ("trained_mm", "recombined_mm", "extrapolated_mm")) + " mm (trained / recombined / extrapolated)")
except Exception as ex:
    print(f"{name} ({secs} s, rc {rc}): no report ({ex})")
PY
done
# Parity frames once every run has trained (gsplat's build, minutes on the
# CPUs, is not waited for between runs).
if [ -n "$build" ]; then
  if wait "$build"; then
    for name in "${trained[@]}"; do
      python3 tools/gpu/parity_frames.py "$OUT/$name.stk" "$ds" -o "/tmp/sweep/$name.parity" \
        > /dev/null 2> "/tmp/sweep/$name.parity.log" || echo "$name: parity frames failed (its log in sweep.tgz)"
    done
  else
    echo "gsplat did not build (gsplat_build.log in sweep.tgz)"
  fi
fi
for p in "${evals[@]}"; do wait "$p"; done
python3 - "$@" <<'PY'
import json, sys
for run in sys.argv[1:]:
    name = run.split(":")[0]
    try:
        m = json.load(open(f"/tmp/sweep/{name}.lpips.json"))["mean"]
        print(f"{name}: LPIPS face {m['face']['lpips']:.3f}, neck {m['neck']['lpips']:.3f}"
              + (f", turned neck {m['turned_head_neck']['lpips']:.3f}" if "turned_head_neck" in m else ""))
    except Exception as ex:
        print(f"{name}: no LPIPS ({ex})")
    try:
        s = json.load(open(f"/tmp/sweep/{name}.face_motion.json"))["speech"]
        w = s["worst_frames"][0]
        print(f"{name}: off the face's motion over the speech {s['rms_mm']:.2f} mm; worst frame {w['frame']} "
              f"({w['rms_mm']:.2f} mm, a Gaussian {w['worst_gaussian_mm']:.1f} mm off at {w['worst_gaussian_at']})")
    except Exception:
        pass
PY
cd /tmp/sweep && tar -czf "$OUT/sweep.tgz" ./*.json ./*.log ./*/report.json ./*/loss.svg ./*.parity 2>/dev/null
ls -la "$OUT"
