#!/usr/bin/env bash
# The main job: build the browser product into www/dist/ (wasm package, demo
# page, service worker, demo portrait) and serve it on localhost, printing
# the URL. Before that, the native renderer draws the bundled real 3DGS scene
# and a frame of the demo portrait to out/ (GPU or Mesa's lavapipe).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_base
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
scripts/web.sh
port="${PORT:-8080}"
echo "demo site (static files in $(pwd)/www/dist): open http://127.0.0.1:$port/ in a browser with WebGPU (Ctrl-C stops)"
exec python3 -m http.server "$port" --bind 127.0.0.1 --directory www/dist
