#!/usr/bin/env bash
# The main job at this stage: build the renderer and render the bundled real
# 3D Gaussian Splatting scene and the demo talking portrait to PNGs with the
# GPU (or Mesa's lavapipe).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_vulkan
ensure_rust
cargo build --locked --release -p synctalk-cli
mkdir -p out
scene=models/scenes/hdtf-katiehill-frame0
./target/release/synctalk render-ply "$scene/scene.ply" --cameras "$scene/cameras.json" --camera 0 --out out/portrait.png
./target/release/synctalk convert "$scene/scene.ply" -o out/portrait.stk --cameras "$scene/cameras.json" \
    --name "HDTF KatieHill frame 0" --licence "CC BY 4.0" --attribution "HDTF dataset (Zhang et al., CVPR 2021), clip WDA_KatieHill_000"
# The demo talking portrait (models/demo/), frame 0 with that frame's expression.
python3 -c "import json; d = json.load(open('models/demo/parity/parity.json')); json.dump(d['frames'][0]['condition'], open('out/demo_condition.json', 'w'))"
./target/release/synctalk render-portrait models/demo/portrait.stk --frame 0 --condition out/demo_condition.json --out out/demo.png
echo "rendered: $(pwd)/out/portrait.png"
echo "demo portrait, frame 0: $(pwd)/out/demo.png"
echo "portrait file: $(pwd)/out/portrait.stk (synctalk inspect out/portrait.stk)"
