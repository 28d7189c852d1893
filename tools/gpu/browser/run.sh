#!/usr/bin/env bash
# The browser frame-time bench on a lent GPU machine (see README.md here).
#
#   run.sh stash [PART_DIR...]  copy this call's part(s) of the bundle (default:
#                               every .brw/p*/ of the current folder) and this
#                               harness into $BRW (default /tmp/brw), outside the
#                               checkout, where they outlive the call while the
#                               machine stays warm
#   run.sh go [CONFIG...]       unpack the bundle, start Xvfb from it (not for
#                               bundle_shell.sh's headless shell), serve the
#                               site with the bench page, run Chromium once for
#                               each configuration (default: the bundle's NVIDIA
#                               list);
#                               results: $OUT/browser.json, the log:
#                               $OUT/browser.log, Chromium's stderr tails:
#                               $OUT/chromium-stderr.txt; a summary on stdout
#   run.sh libs                 list the bundle's ELF files' libraries that
#                               resolve outside it or not at all
#   run.sh list                 the configurations
#
# Needs on the machine: bash, coreutils, tar, python3 (also unpacks .xz when
# there is no xz). Everything else comes from the bundle, run with
# LD_LIBRARY_PATH; only the Python server runs without it. The one change to
# / : where /usr/bin/xkbcomp is missing, a wrapper that runs the bundle's
# (Xvfb runs it by that compiled-in path; no option moves it).
set -uo pipefail

BRW=${BRW:-/tmp/brw}
OUT=${OUT:-$BRW/out}
HERE=$(cd "$(dirname "$0")" && pwd)
R=$BRW/root
PORT=${BRW_PORT:-8765}
DISPLAY_NUM=${BRW_DISPLAY:-99}
SECONDS_SPEECH=${BRW_SECONDS:-10}
CONFIG_TIMEOUT=${BRW_CONFIG_TIMEOUT:-75}   # s, one configuration at most
ADAPTER_TIMEOUT=${BRW_ADAPTER_TIMEOUT:-30} # s until the page's first report
DEADLINE=${BRW_DEADLINE:-530}              # s from `go` on: no configuration starts later than this minus CONFIG_TIMEOUT
NV_ICD=${BRW_NV_ICD:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
NV_EGL=${BRW_NV_EGL:-/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json}

say() { echo "[$(date +%T)] $*" >&2; [ -d "$OUT" ] && echo "[$(date +%T)] $*" >>"$OUT/browser.log"; return 0; }

# Configurations: NAME|ENVIRONMENT|FLAGS. Environment `nv`: NVIDIA's GLX,
# EGL and Vulkan drivers; `mesa`: Mesa's GLX/EGL (llvmpipe) and Chromium's
# SwiftShader Vulkan driver; `shell-nv`, `shell-cpu`: the headless shell's
# (bundle_shell.sh), NVIDIA's Vulkan driver listed before SwiftShader's or
# SwiftShader's alone. Every run also gets COMMON_FLAGS.
CONFIGS=(
  # ANGLE on desktop GL through NVIDIA's GLX on Xvfb; WebGPU on Dawn's
  # default backend (Vulkan): the plan (compositor and Dawn on one GPU).
  "nv-gl|nv|--use-angle=gl"
  # The same with Chromium's Vulkan feature (Skia/compositor on Vulkan).
  "nv-gl-vulkan|nv|--use-angle=gl --enable-features=Vulkan --use-vulkan=native"
  # Dawn's OpenGL ES backend on ANGLE on NVIDIA's GL: still the real GPU.
  "nv-gl-gles|nv|--use-angle=gl --use-webgpu-adapter=opengles"
  # ANGLE on Vulkan, everything on Vulkan (needs an X11 Vulkan surface on
  # Xvfb from NVIDIA's driver).
  "nv-vulkan|nv|--use-angle=vulkan --enable-features=Vulkan,VulkanFromANGLE,DefaultANGLEVulkan --use-vulkan=native"
  # 2026-12-07 on an H100: with Chromium's Vulkan feature Dawn's adapter is
  # NVIDIA's (the page's requestAdapter() saw it), but the GPU process dies
  # at vkCreateSwapchainKHR (-13) for the Xvfb window and the page loses it.
  # These keep Dawn on NVIDIA's Vulkan and present without a Vulkan swap
  # chain: Chromium's `--disable-vulkan-surface` (read back and blit
  # instead of VK_KHR_surface), or software compositing.
  "nv-gl-vk-nosurface|nv|--use-angle=gl --enable-features=Vulkan --use-vulkan=native --disable-vulkan-surface"
  "nv-vk-nosurface|nv|--use-angle=vulkan --enable-features=Vulkan,VulkanFromANGLE,DefaultANGLEVulkan --use-vulkan=native --disable-vulkan-surface"
  "nv-gl-vk-swcomp|nv|--use-angle=gl --enable-features=Vulkan --use-vulkan=native --disable-gpu-compositing"
  # Headless (no X window, so no surface at all) with Dawn on Vulkan.
  "nv-headless-vk|nv|--headless --ozone-platform=headless --use-angle=vulkan --enable-features=Vulkan --use-vulkan=native --disable-vulkan-surface"
  # The flags Chrome's developers published for headless WebGPU and WebGL on
  # an NVIDIA T4 in Colab (developer.chrome.com/docs/web-platform/webgpu/colab-headless):
  # new headless, GL through ANGLE on Vulkan, no Vulkan surface.
  "nv-headless-colab|nv|--headless=new --ozone-platform=headless --use-gl=angle --use-angle=vulkan --enable-features=Vulkan --disable-vulkan-surface"
  # ANGLE on EGL (NVIDIA's EGL on the X11 platform).
  "nv-egl|nv|--use-angle=gl-egl"
  "nv-egl-gles|nv|--use-angle=gl-egl --use-webgpu-adapter=opengles"
  # What Chromium picks by itself.
  "nv-default|nv|"
  # Controls on the CPU (no GPU needed): ANGLE and Dawn on SwiftShader;
  # ANGLE on Mesa's llvmpipe through GLX with Dawn's GLES backend.
  "cpu-swiftshader|mesa|--use-angle=swiftshader --use-webgpu-adapter=opengles"
  "cpu-llvmpipe-gles|mesa|--use-angle=gl --use-webgpu-adapter=opengles"
  # The headless shell (bundle_shell.sh): no X server. ANGLE's GL on
  # SwiftShader (its Vulkan driver has VK_EXT_headless_surface, NVIDIA's
  # has not); Chromium's Vulkan feature on, so that Dawn's adapters are the
  # Vulkan devices (2026-12-07: with GL compositing Dawn offered only
  # SwiftShader), without a Vulkan swap chain.
  "shell-vk|shell-nv|--use-angle=swiftshader --enable-unsafe-swiftshader --enable-features=Vulkan --use-vulkan=native --disable-vulkan-surface"
  "shell-vk-skia|shell-nv|--use-angle=swiftshader --enable-unsafe-swiftshader --enable-features=Vulkan --disable-vulkan-surface"
  # The Colab flags: ANGLE on Vulkan too (it may pick NVIDIA's device).
  "shell-colab|shell-nv|--use-gl=angle --use-angle=vulkan --enable-features=Vulkan --disable-vulkan-surface"
  "shell-angle-vk|shell-nv|--use-angle=vulkan --enable-features=Vulkan,VulkanFromANGLE,DefaultANGLEVulkan --use-vulkan=native --disable-vulkan-surface"
  # ANGLE on NVIDIA's EGL without a display (surfaceless), with Dawn's
  # GLES backend on it, or Dawn on Vulkan beside it.
  "shell-egl-gles|shell-nv|--use-angle=gl-egl --use-webgpu-adapter=opengles"
  "shell-egl-vk|shell-nv|--use-angle=gl-egl --enable-features=Vulkan --use-vulkan=native --disable-vulkan-surface"
  "shell-default|shell-nv|"
  # Tried 2026-12-08 (docs/benchmarks.md), each offered SwiftShader alone or
  # no adapter: Dawn's default adapter asked for; software compositing; no GL.
  "shell-vk-default|shell-nv|--use-angle=swiftshader --enable-unsafe-swiftshader --enable-features=Vulkan --use-vulkan=native --disable-vulkan-surface --use-webgpu-adapter=default"
  "shell-swcomp|shell-nv|--disable-gpu-compositing --use-angle=swiftshader --enable-unsafe-swiftshader --enable-features=Vulkan --use-vulkan=native --disable-vulkan-surface"
  "shell-nogl|shell-nv|--use-gl=disabled --enable-features=Vulkan --use-vulkan=native --disable-vulkan-surface"
  # Control: SwiftShader alone (as on a machine without a GPU).
  "shell-cpu|shell-cpu|--use-angle=swiftshader --enable-unsafe-swiftshader --use-webgpu-adapter=opengles"
  # Control of the Vulkan path: shell-vk's flags on SwiftShader's driver alone (Skia
  # and Dawn on Vulkan in the headless shell, as shell-vk wants them on NVIDIA's).
  "shell-cpu-vk|shell-cpu|--use-angle=swiftshader --enable-unsafe-swiftshader --enable-features=Vulkan --use-vulkan=native --disable-vulkan-surface"
)
# Those not yet run first (2026-12-08: the headless shell never offered the
# H100 to WebGPU; docs/benchmarks.md): ANGLE on NVIDIA's GL with Dawn on its
# Vulkan, presenting without a Vulkan swap chain or compositing in software.
DEFAULT_CONFIGS="nv-gl-vk-nosurface nv-vk-nosurface nv-gl-vk-swcomp nv-headless-vk nv-gl-vulkan nv-gl cpu-swiftshader"
DEFAULT_SHELL_CONFIGS="shell-vk shell-colab shell-angle-vk shell-egl-gles shell-egl-vk shell-vk-skia shell-default shell-cpu"

COMMON_FLAGS="--no-sandbox --disable-gpu-sandbox --enable-unsafe-webgpu --ignore-gpu-blocklist
  --disable-dev-shm-usage --window-size=1024,800 --window-position=0,0
  --disable-background-networking --disable-component-update --disable-sync --no-first-run
  --no-default-browser-check --disable-quic --disable-default-apps --disable-extensions
  --disable-breakpad --disable-domain-reliability --disable-client-side-phishing-detection
  --metrics-recording-only --password-store=basic --use-mock-keychain --lang=en-US
  --autoplay-policy=no-user-gesture-required --disable-renderer-backgrounding
  --disable-background-timer-throttling --disable-backgrounding-occluded-windows
  --enable-logging=stderr --v=0"

# Which bundle was unpacked: bundle.sh's Debian Chromium, or bundle_shell.sh's
# headless shell.
flavour() { if [ -x "$R/shell/chromium" ]; then echo shell; else echo debian; fi; }

libpath() {
  # pulseaudio/: libpulse's RUNPATH names the system's copy of that folder.
  local p="$R/usr/lib/x86_64-linux-gnu:$R/lib/x86_64-linux-gnu:$R/usr/lib/x86_64-linux-gnu/pulseaudio"
  [ "$(flavour)" = shell ] && p="$R/shell/lib:$R/shell"
  local d
  for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do [ -d "$d" ] && p="$p:$d"; done
  echo "$p${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
}

cmd_stash() {
  mkdir -p "$BRW/parts"
  local parts=("$@") d f
  if [ ${#parts[@]} -eq 0 ]; then parts=(.brw/p*/); fi
  for d in "${parts[@]}"; do
    [ -d "$d" ] || { say "stash: no part folder $d"; return 1; }
    for f in "$d"/bundle.tar.xz.*; do
      [ -e "$f" ] && cp -f "$f" "$BRW/parts/" && say "stash: $(basename "$f") ($(stat -c %s "$f") B)"
    done
    [ -f "$d/MANIFEST" ] && cp -f "$d/MANIFEST" "$BRW/parts/"
  done
  for f in run.sh serve.py bench.html bench.js README.md; do
    [ -f "$HERE/$f" ] && cp -f "$HERE/$f" "$BRW/"
  done
  say "stash: $BRW/parts now holds $(ls "$BRW/parts" | grep -c 'bundle.tar.xz') part(s)"
}

# Checks the parts against MANIFEST and unpacks them into $R (once).
unpack() {
  [ -f "$R/.unpacked" ] && return 0
  local m="$BRW/parts/MANIFEST"
  [ -f "$m" ] || { say "no $m: run stash with each part first"; return 1; }
  local ok=1 name sum
  while read -r sum name; do
    if [ ! -f "$BRW/parts/$name" ]; then
      say "missing part $name"; ok=0
    elif [ "$(sha256sum "$BRW/parts/$name" | cut -d' ' -f1)" != "$sum" ]; then
      say "part $name: wrong sha256"; ok=0
    fi
  done < <(grep -E '^[0-9a-f]{64} ' "$m")
  [ $ok = 1 ] || return 1
  rm -rf "$R"; mkdir -p "$R"
  local t=$SECONDS
  if command -v xz >/dev/null; then
    cat "$BRW"/parts/bundle.tar.xz.* | xz -dc | tar -x -i -C "$R" || return 1
  else
    cat "$BRW"/parts/bundle.tar.xz.* \
      | python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.stdin.buffer), sys.stdout.buffer, 1 << 20)' \
      | tar -x -i -C "$R" || return 1
  fi
  touch "$R/.unpacked"
  say "unpacked $(du -sm "$R" | cut -f1) MB into $R in $((SECONDS - t)) s"
}

cmd_libs() {
  # Every ELF file of the bundle, its NEEDED libraries resolved as the
  # runs resolve them (LD_LIBRARY_PATH, then the system's): those found
  # outside the bundle and those not found at all.
  local lp f line outside missing
  lp=$(libpath)
  declare -A seen_out=() seen_missing=()
  while IFS= read -r f; do
    head -c 4 "$f" 2>/dev/null | grep -q ELF || continue
    while IFS= read -r line; do
      case "$line" in
        *"not found"*) seen_missing["${line%% *} (${f#"$R"/})"]=1 ;;
        *"=> /"*)
          local p=${line#*=> }; p=${p%% (*}
          case "$p" in "$R"/*) ;; *) seen_out["${line%% *} => $p"]=1 ;; esac ;;
      esac
    done < <(LD_LIBRARY_PATH="$lp" ldd "$f" 2>/dev/null | sed 's/^[[:space:]]*//')
  done < <(find "$R/usr/lib/chromium" "$R/usr/bin" "$R/usr/lib/x86_64-linux-gnu" "$R/lib/x86_64-linux-gnu" "$R/shell" \
             -type f \( -name '*.so*' -o -perm -u+x \) 2>/dev/null)
  echo "libraries from outside the bundle:"
  for line in "${!seen_out[@]}"; do echo "  $line"; done | sort
  echo "libraries not found:"
  for line in "${!seen_missing[@]}"; do echo "  $line"; done | sort
}

xkbcomp_shim() {
  [ -x /usr/bin/xkbcomp ] && return 0
  printf '#!/bin/sh\nLD_LIBRARY_PATH=%s exec %s "$@"\n' "$(libpath)" "$R/usr/bin/xkbcomp" >/usr/bin/xkbcomp \
    && chmod +x /usr/bin/xkbcomp && say "wrote /usr/bin/xkbcomp (a wrapper for the bundle's; Xvfb runs it by that path)"
}

start_xvfb() {
  local sock=/tmp/.X11-unix/X$DISPLAY_NUM
  if [ -S "$sock" ]; then say "Xvfb :$DISPLAY_NUM already running"; return 0; fi
  xkbcomp_shim
  LD_LIBRARY_PATH=$(libpath) LIBGL_DRIVERS_PATH=$R/usr/lib/x86_64-linux-gnu/dri \
    setsid "$R/usr/bin/Xvfb" ":$DISPLAY_NUM" -screen 0 1280x1024x24 -nolisten tcp -noreset \
      -xkbdir "$R/usr/share/X11/xkb" +extension GLX >"$OUT/xvfb.txt" 2>&1 &
  XVFB_PID=$!
  local i
  for i in $(seq 1 100); do [ -S "$sock" ] && break; sleep 0.1; done
  if [ ! -S "$sock" ]; then say "Xvfb did not start:"; cat "$OUT/xvfb.txt" >&2; return 1; fi
  say "Xvfb :$DISPLAY_NUM up (pid $XVFB_PID)"
}

start_server() {
  local site=$BRW/site
  rm -rf "$site"; mkdir -p "$site"
  cp -a "$R/site/." "$site/"
  cp -f "$BRW/bench.html" "$BRW/bench.js" "$site/"
  if [ ! -f "$site/assets/demo.stk" ]; then
    # The portrait travels in the checkout (models/demo/portrait.stk).
    cp -f models/demo/portrait.stk "$site/assets/demo.stk" 2>/dev/null \
      || { say "no demo portrait: run go from the repository root"; return 1; }
  fi
  local want have
  want=$(grep '^portrait-sha256 ' "$BRW/parts/MANIFEST" | cut -d' ' -f2)
  have=$(sha256sum "$site/assets/demo.stk" | cut -d' ' -f1)
  [ -z "$want" ] || [ "$want" = "$have" ] || say "WARNING: the portrait differs from the one the wasm was built with ($have, not $want)"
  rm -rf "$BRW/results"; mkdir -p "$BRW/results"
  env -u LD_LIBRARY_PATH setsid python3 -u "$BRW/serve.py" "$site" "$PORT" "$BRW/results" >>"$OUT/browser.log" 2>&1 &
  SERVER_PID=$!
  local i
  for i in $(seq 1 50); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/bench.html')" 2>/dev/null && break
    sleep 0.2
  done
  say "serving $site on 127.0.0.1:$PORT (pid $SERVER_PID)"
}

fallback_of() { # whether the page's high-performance adapter for configuration $1 is a fallback one
  python3 -c 'import json, sys; print((json.load(open(sys.argv[1])).get("adapterHighPerformance") or {}).get("isFallbackAdapter"))' \
    "$BRW/results/$1.json" 2>/dev/null || echo unknown
}

clean_gpu_run() { # yes when configuration $1 spoke to its end on a GPU adapter with no error
  # (the page reports `done` also after a failed speech or a lost device: those
  # go to its `errors`).
  python3 -c 'import json, sys
p = json.load(open(sys.argv[1]))
a = p.get("adapterHighPerformance") or {}
ok = (p.get("phase") == "done" and a.get("isFallbackAdapter") is False and not p.get("errors")
      and (p.get("speech") or {}).get("result") == "ended")
print("yes" if ok else "no")' "$BRW/results/$1.json" 2>/dev/null || echo no
}

phase_of() { # the phase the page last reported for configuration $1
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get("phase", "?"))' "$BRW/results/$1.json" 2>/dev/null || echo none
}

gpu_snapshot() {
  command -v nvidia-smi >/dev/null || return 0
  { echo "--- nvidia-smi ($1)"; nvidia-smi --query-gpu=name,utilization.gpu,memory.used,clocks.sm --format=csv,noheader 2>&1
    nvidia-smi 2>&1 | sed -n '/Processes/,$p'; } >>"$OUT/browser.log"
}

run_config() {
  local name=$1 kind=$2 flags=$3
  local prof=$BRW/profiles/$name err=$BRW/stderr-$name.txt
  rm -rf "$prof"; mkdir -p "$prof" "$BRW/home"
  local -a envs=(DISPLAY=":$DISPLAY_NUM" HOME="$BRW/home" XDG_CONFIG_HOME="$BRW/home/.config" XDG_CACHE_HOME="$BRW/home/.cache"
                 XDG_RUNTIME_DIR="$BRW/home" FONTCONFIG_FILE="$BRW/fonts.conf" LD_LIBRARY_PATH="$(libpath)"
                 LIBGL_DRIVERS_PATH="$R/usr/lib/x86_64-linux-gnu/dri")
  local exe=$R/usr/lib/chromium/chromium extra="--ozone-platform=x11"
  if [ "${kind#shell-}" != "$kind" ]; then
    exe=$R/shell/chromium extra="--headless --no-zygote"
    [ -x "$exe" ] || { say "--- $name: not the headless shell's bundle (bundle_shell.sh)"; return 0; }
  elif [ ! -x "$exe" ]; then
    say "--- $name: not the Debian Chromium's bundle (bundle.sh)"; return 0
  fi
  if [ "$kind" = shell-nv ]; then
    # NVIDIA's driver listed first; SwiftShader's for ANGLE (and as Dawn's
    # fallback adapter).
    local icds="$NV_ICD:$R/shell/vk_swiftshader_icd.json"
    envs+=(__EGL_VENDOR_LIBRARY_FILENAMES="$NV_EGL" VK_DRIVER_FILES="$icds" VK_ICD_FILENAMES="$icds")
  elif [ "$kind" = shell-cpu ]; then
    envs+=(VK_DRIVER_FILES="$R/shell/vk_swiftshader_icd.json" VK_ICD_FILENAMES="$R/shell/vk_swiftshader_icd.json")
  elif [ "$kind" = nv ]; then
    envs+=(__GLX_VENDOR_LIBRARY_NAME=nvidia __EGL_VENDOR_LIBRARY_FILENAMES="$NV_EGL" VK_DRIVER_FILES="$NV_ICD" VK_ICD_FILENAMES="$NV_ICD")
  else
    local sw=$R/usr/lib/chromium/vk_swiftshader_icd.json
    envs+=(__GLX_VENDOR_LIBRARY_NAME=mesa __EGL_VENDOR_LIBRARY_DIRS="$R/usr/share/glvnd/egl_vendor.d" VK_DRIVER_FILES="$sw" VK_ICD_FILENAMES="$sw")
  fi
  # BRW_LD_DEBUG=1: the dynamic loader's record of every library loaded,
  # into $BRW/lddebug/ (to find what comes from outside the bundle).
  # BRW_VK_DEBUG=1: the Vulkan loader's driver log in the configuration's stderr.
  [ -n "${BRW_VK_DEBUG:-}" ] && envs+=(VK_LOADER_DEBUG=error,warn,driver)
  if [ -n "${BRW_LD_DEBUG:-}" ]; then mkdir -p "$BRW/lddebug"; envs+=(LD_DEBUG=libs LD_DEBUG_OUTPUT="$BRW/lddebug/$name"); fi
  local url="http://127.0.0.1:$PORT/bench.html?cfg=$name&seconds=$SECONDS_SPEECH"
  [ "${name#cpu-}" != "$name" ] && url="http://127.0.0.1:$PORT/bench.html?cfg=$name&seconds=${BRW_CPU_SECONDS:-3}"
  say "=== $name: $flags"
  local t=$SECONDS
  # shellcheck disable=SC2086
  env -i PATH=/usr/bin:/bin "${envs[@]}" setsid "$exe" $COMMON_FLAGS $extra $flags \
    --user-data-dir="$prof" "$url" >"$err" 2>&1 &
  local pid=$! phase=none snap=0 why=""
  while :; do
    sleep 1
    phase=$(phase_of "$name")
    if [ "$phase" = done ] || [ "$phase" = failed ]; then why="page $phase"; break; fi
    if ! kill -0 $pid 2>/dev/null; then why="chromium exited"; break; fi
    if [ "$phase" = none ] && [ $((SECONDS - t)) -ge "$ADAPTER_TIMEOUT" ]; then why="no report in $ADAPTER_TIMEOUT s"; break; fi
    # A configuration meant for the GPU whose adapter is SwiftShader ends at
    # once (BRW_KEEP_FALLBACK=1: measure it anyway), leaving time for others.
    if [ -z "${BRW_KEEP_FALLBACK:-}" ] && [ "$kind" != mesa ] && [ "$kind" != shell-cpu ] \
        && [ "$phase" != none ] && [ "$(fallback_of "$name")" = True ]; then
      why="fallback adapter (SwiftShader)"; break
    fi
    if [ $((SECONDS - t)) -ge "$CONFIG_TIMEOUT" ]; then why="timed out ($CONFIG_TIMEOUT s) in phase $phase"; break; fi
    if [ $snap = 0 ] && [ "$phase" = loaded ]; then snap=1; sleep 3; gpu_snapshot "$name, speaking"; fi
  done
  kill -TERM -- -$pid 2>/dev/null; sleep 2; kill -KILL -- -$pid 2>/dev/null
  wait $pid 2>/dev/null
  say "--- $name: $why after $((SECONDS - t)) s"
  # Chromium's lines about the GPU, WebGPU, Vulkan, ANGLE, GL.
  grep -aiE 'gpu|webgpu|dawn|vulkan|angle|egl|glx|opengl|adapter|shared ?image|swap ?chain|x11|fatal|crash' "$err" \
    | grep -avE 'DevTools|Fontconfig' | sort | uniq -c | sort -rn | head -40 | sed "s/^/[$name] /" >>"$OUT/browser.log"
  { echo "===== $name ($why): $flags"; tail -n 150 "$err"; } >>"$OUT/chromium-stderr.txt"
  python3 - "$name" "$kind" "$flags" "$why" "$((SECONDS - t))" "$BRW/results/$name.json" >>"$BRW/configs.jsonl" <<'PY'
import json, sys
name, kind, flags, why, secs, path = sys.argv[1:]
try:
    page = json.load(open(path))
except (OSError, ValueError):
    page = None
print(json.dumps({"name": name, "drivers": kind, "flags": flags, "ended": why, "seconds": int(secs), "page": page}))
PY
}

summarise() {
  python3 - "$BRW/configs.jsonl" "$OUT/browser.json" "$@" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
env = dict(a.split("=", 1) for a in sys.argv[3:])
json.dump({"environment": env, "configs": rows}, open(sys.argv[2], "w"), indent=1)
def m(d, *keys):
    for k in keys:
        d = d.get(k) if isinstance(d, dict) else None
    return d
for r in rows:
    p = r["page"] or {}
    a = p.get("adapter") or {}
    print(f"== {r['name']}: {r['ended']} ({r['seconds']} s), last phase {p.get('phase')}")
    print(f"   adapter: {a.get('vendor')} / {a.get('architecture')} / {a.get('device')} / {a.get('description')}"
          f" fallback={a.get('isFallbackAdapter')}  webgl: {m(p, 'webgl', 'renderer')}")
    if p.get("info"):
        print(f"   portrait {p['info'].get('width')}x{p['info'].get('height')}, wgpu adapter: {p['info'].get('adapter')}, load {p.get('loadMs')} ms")
    s = p.get("speech")
    if s:
        print(f"   speech {s['seconds']} s ({s['result']}): {s['fps']} fps, {s['framesDrawn']} frames ({s['speakingFrames']} speaking);"
              f" CPU frame ms median {m(s, 'cpuFrameMs', 'median')} p90 {m(s, 'cpuFrameMs', 'p90')};"
              f" engine (speaking) median {m(s, 'engineMsSpeaking', 'median')} p90 {m(s, 'engineMsSpeaking', 'p90')};"
              f" frame interval median {m(s, 'frameIntervalMs', 'median')} p90 {m(s, 'frameIntervalMs', 'p90')}")
        print(f"   audio clock rate {m(p, 'audioContext', 'clockRate')}, memory GPU {m(p, 'memory', 'gpuBytes')} B, wasm heap {m(p, 'memory', 'wasmHeapBytes')} B")
    g = p.get("gpu")
    if g:
        print(f"   GPU: latency {g['gpuLatencyMs']} ms (frame+read-back median {g['frameAndReadBackMs']['median']}, read-back alone {g['readBackAloneMs']['median']});"
              f" throughput median {m(g, 'throughputMsPerFrame', 'median')} ms/frame; render call CPU median {m(g, 'renderCallCpuMs', 'median')} ms ({g['frames']} frames)")
    if p.get("benchAudio"):
        b = p["benchAudio"]
        print(f"   benchAudio: median {b.get('medianMs')} ms, p95 {b.get('p95Ms')} ms over {b.get('frames')} frames")
    for e in (p.get("errors") or [])[:5]:
        print(f"   error: {e[:300]}")
PY
}

cmd_go() {
  local t0=$SECONDS
  mkdir -p "$OUT"; : >"$OUT/browser.log"; : >"$OUT/chromium-stderr.txt"
  say "go: $(uname -srm); $(nproc) cores; $(grep -m1 PRETTY_NAME /etc/os-release 2>/dev/null)"
  unpack || return 1
  grep -E '^(pkg|built|commit) ' "$BRW/parts/MANIFEST" | head -3 >>"$OUT/browser.log"
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi >>"$OUT/browser.log" 2>&1
    { echo "--- NVIDIA's GL/EGL/Vulkan libraries"; ls -la /usr/local/nvidia/lib64 2>/dev/null | grep -iE 'glx|egl|vulkan|libGL'
      ldconfig -p 2>/dev/null | grep -iE 'nvidia|libGLX|libEGL|libvulkan' | head -20
      echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"; } >>"$OUT/browser.log"
    [ -f "$NV_ICD" ] && { echo "--- $NV_ICD"; cat "$NV_ICD"; } >>"$OUT/browser.log"
  fi
  { echo "--- run.sh libs"; cmd_libs; } >>"$OUT/browser.log" 2>&1
  mkdir -p "$BRW/fontcache"
  cat >"$BRW/fonts.conf" <<XML
<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig><dir>$R/usr/share/fonts</dir><dir>$R/shell/fonts</dir><cachedir>$BRW/fontcache</cachedir></fontconfig>
XML
  if [ "$(flavour)" = debian ]; then start_xvfb || return 1; fi
  start_server || return 1
  : >"$BRW/configs.jsonl"
  local names=("$@") n entry measured=
  if [ ${#names[@]} -eq 0 ]; then
    if [ "$(flavour)" = shell ]; then read -ra names <<<"$DEFAULT_SHELL_CONFIGS"; else read -ra names <<<"$DEFAULT_CONFIGS"; fi
  fi
  for n in "${names[@]}"; do
    entry=$(printf '%s\n' "${CONFIGS[@]}" | grep "^$n|") || { say "no configuration $n"; continue; }
    if [ $((SECONDS - t0 + CONFIG_TIMEOUT)) -gt "$DEADLINE" ]; then say "skipped $n: the deadline ($DEADLINE s) is near"; continue; fi
    IFS='|' read -r n kind flags <<<"$entry"
    # Once a configuration has run the page to its end on a GPU adapter
    # (not SwiftShader), the other GPU configurations are skipped, the CPU
    # controls not: device time goes to one measured GPU run and its control
    # (BRW_ALL=1: run every configuration anyway).
    if [ -n "$measured" ] && [ -z "${BRW_ALL:-}" ] && [ "$kind" != mesa ] && [ "$kind" != shell-cpu ]; then
      say "skipped $n: $measured already ran on the GPU"; continue
    fi
    run_config "$n" "$kind" "$flags"
    if [ "$kind" != mesa ] && [ "$kind" != shell-cpu ] && [ "$(clean_gpu_run "$n")" = yes ]; then
      measured=$n
    fi
  done
  gpu_snapshot "after"
  kill -- -"$SERVER_PID" 2>/dev/null
  [ -n "${XVFB_PID:-}" ] && kill -- -"$XVFB_PID" 2>/dev/null
  tail -n 20 "$OUT/xvfb.txt" >>"$OUT/browser.log" 2>/dev/null; rm -f "$OUT/xvfb.txt"
  summarise "started=$(date -u +%FT%TZ)" "kernel=$(uname -r)" "cores=$(nproc)" \
    "gpu=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)" \
    "bundle=$(grep -m1 '^built ' "$BRW/parts/MANIFEST" | cut -d' ' -f2-)"
  say "go: done in $((SECONDS - t0)) s; $OUT/browser.json"
}

case "${1:-}" in
  stash) shift; cmd_stash "$@" ;;
  go) shift; cmd_go "$@" ;;
  libs) unpack && cmd_libs ;;
  list) printf '%s\n' "${CONFIGS[@]}" ;;
  *) sed -n '2,22p' "$0"; exit 2 ;;
esac
