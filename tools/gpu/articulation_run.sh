#!/usr/bin/env bash
# One device call: render the demo portrait saying each clip of .bench/audio
# with each Face-Sync network of .bench/nets (NAME.onnx), and bring the frames
# back as JPEG crops of the face (a tar per network in 15 MiB parts: at most 8 files, 64 MiB in all)
# for `synctalk-eval sync` here. Expects .gl (Vulkan loader .debs) and
# .bench/synctalk (stripped release build, or gzipped as .bench/synctalk.gz to
# keep the call under 64 MiB) carried with the call.
set -uo pipefail
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
[ -f .bench/synctalk.gz ] && gunzip -f .bench/synctalk.gz
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
for net in .bench/nets/*.onnx; do
  n=$(basename "$net" .onnx)
  for a in .bench/audio/*; do
    c=$(basename "$a"); c=${c%.*}
    /usr/bin/time -f "$n $c %e s" .bench/synctalk render --portrait models/demo/portrait.stk --face-sync "$net" \
      --audio "$a" --frames /tmp/r/$n/$c ${ARGS:-} 2>&1 | grep -v XDG
  done
  python3 - "$n" <<'PY'
import sys, glob, os
from PIL import Image
n = sys.argv[1]
for d in sorted(glob.glob(f"/tmp/r/{n}/*")):
    for p in sorted(glob.glob(d + "/*.png")):
        Image.open(p).convert("RGB").crop((112, 104, 448, 472)).save(p[:-4] + ".jpg", quality=85)
        os.remove(p)
PY
  # Files come back at most 16 MiB each: the tar in 15 MiB parts.
  tar -C /tmp/r -cf /tmp/$n.tar $n && split -b 15m /tmp/$n.tar $OUT/$n.tar.
  ls -la $OUT
done
