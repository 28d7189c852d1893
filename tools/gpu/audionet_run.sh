#!/usr/bin/env bash
# One device call: train Face-Sync variants on .net/data.npz (from
# synth.generate, with real_labels.npz beside it), keep the one with the best
# held-out articulation contrast, bring it back under $OUT/nets (and every
# variant's network as $OUT/vN.onnx, for tools/face_sync_proxy.py).
set -uo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD/models/toolchain/src
nvidia-smi --query-gpu=name,clocks.sm --format=csv,noheader
i=0
for v in "$@"; do
  i=$((i+1))
  echo "=== variant $i: $v"
  python3 -m synctalk_toolchain.audionet .net/data.npz -o /tmp/v$i --steps ${STEPS:-12000} --val-utterance ${VAL:--2} $v 2>&1 \
    | grep -vE "step': [0-9]*[1-9]00,|Warning|warn" | cut -c1-400
done
best=$(for j in $(seq 1 $i); do python3 -c "import json; print(json.load(open('/tmp/v$j/face_sync_report.json'))['best_val_jaw_corr'], $j)"; done | sort -g | tail -1 | cut -d' ' -f2)
echo "best variant: $best"
mkdir -p $OUT/nets && cp /tmp/v$best/* $OUT/nets/
# (A call brings back at most 8 files: the 4 of nets/, one merged report and
# up to 3 variants' networks.)
for j in $(seq 1 $i); do [ "$j" -le 3 ] && cp /tmp/v$j/face_sync.onnx $OUT/v$j.onnx; done
python3 -c "import json, sys; json.dump({j: json.load(open(f'/tmp/v{j}/face_sync_report.json')) for j in range(1, $i + 1)}, open('$OUT/reports.json', 'w'), indent=1)"
