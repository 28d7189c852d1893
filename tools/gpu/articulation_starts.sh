#!/usr/bin/env bash
# One device call: render the demo portrait as it is in the tree (its own
# networks and articulation) saying each clip of each named folder
# (NAME:DIR ...), and bring the frames back as JPEG crops of the face in a
# tar of 15 MiB parts, for `synctalk-eval sync` here. The score moves with
# which recorded poses show while the words are spoken, so the demo's
# articulation.json averages three starts: the clips as they are
# (.bench/audio), then after 0.48 s and 0.96 s of silence (.bench/pad1,
# .bench/pad2, made here with soundfile: zeros prepended). Two starts fit one
# call (64 MiB back at most):
#   bash tools/gpu/articulation_starts.sh A:.bench/audio B:.bench/pad1
#   bash tools/gpu/articulation_starts.sh C:.bench/pad2
# Expects .gl (Vulkan loader .debs) and .bench/synctalk.gz (a stripped,
# gzipped release build) carried with the call.
set -uo pipefail
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
[ -f .bench/synctalk.gz ] && gunzip -f .bench/synctalk.gz
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
nvidia-smi --query-gpu=name --format=csv,noheader
rm -rf /tmp/r
for spec in "$@"; do
  v=${spec%%:*}; dir=${spec#*:}
  for a in "$dir"/*; do
    c=$(basename "$a"); c=${c%.*}
    /usr/bin/time -f "$v $c %e s" .bench/synctalk render --portrait models/demo/portrait.stk --audio "$a" \
      --frames "/tmp/r/$v/$c" 2>&1 | grep -v XDG
  done
done
python3 - <<'PY'
import glob, os
from PIL import Image
for p in sorted(glob.glob("/tmp/r/*/*/*.png")):
    Image.open(p).convert("RGB").crop((112, 104, 448, 472)).save(p[:-4] + ".jpg", quality=85)
    os.remove(p)
PY
tar -C /tmp/r -cf /tmp/v.tar . && split -b 15m /tmp/v.tar "$OUT/v.tar." && ls -la "$OUT"
