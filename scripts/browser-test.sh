#!/usr/bin/env bash
# The browser tests: builds www/dist (scripts/web.sh), renders the demo
# portrait's frame 0 natively (the reference), then drives Debian's Chromium
# headless with WebGPU through Playwright (tests/browser/): the demo site
# (browser.test.mjs), the API an app integrates with (api.test.mjs), the
# npm package installed into apps built by Vite and webpack (package.test.mjs),
# and the trainer taking steps in the page (train.test.mjs).
#
#   scripts/browser-test.sh [build|run]
# `build` only builds the wasm32 side (the site, the trainer's page), `run`
# renders the native reference frame (building the CLI as the Rust tests
# do) and runs the tests; both by default. scripts/test.sh builds the wasm
# side beside the native build, and runs the tests beside pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_base
ensure_vulkan
ensure_chromium
ensure_rust
ensure_node

build() {
    # The same code as the shipped build, at opt-level 1 without LTO and
    # wasm-opt (3 minutes instead of 15 on 2 cores; the CPU side of a frame
    # stays well under a millisecond); scripts/main.sh builds the optimised one.
    profile="${SYNCTALK_WEB_PROFILE:-wasm-test}"
    SYNCTALK_WEB_PROFILE="$profile" SYNCTALK_WASM_OPT="${SYNCTALK_WASM_OPT:-0}" SYNCTALK_WEB_ALSO="-p synctalk-train-web" scripts/web.sh
    # The trainer in a page (train.test.mjs): synctalk-train-web, built beside
    # the product in the same compilation, with the page and the dataset fixture.
    site=tests/browser/out/train-site
    rm -rf "$site"
    mkdir -p "$site"
    wasm-bindgen --target web --out-dir "$site/pkg" --out-name synctalk_train_web \
        "target/wasm/wasm32-unknown-unknown/$profile/synctalk_train_web.wasm"
    cp tests/browser/train/index.html "$site/"
    cp -r crates/synctalk-testdata/data/dataset-mini "$site/dataset"
}

run_tests() {
    # The reference renderer: the CLI as the Rust tests build it (the test
    # command's own build, so after it this compiles nothing; a build of
    # `-p synctalk-cli` alone resolves other features for synctalk-nets and
    # synctalk-engine, and compiled them and the CLI again).
    lint_if_asked cargo test --locked --workspace --all-targets --no-run
    mkdir -p tests/browser/out
    python3 -c "import json; d = json.load(open('models/demo/parity/parity.json')); json.dump(d['frames'][0]['condition'], open('tests/browser/out/condition0.json', 'w'))"
    # The page's first frame (session clock 0) shows pose-track frame 6: the
    # engine's track starts at rest half a turn in (synctalk_engine::TURN / 2).
    ./target/debug/synctalk render-portrait models/demo/portrait.stk --frame 6 \
        --condition tests/browser/out/condition0.json --out tests/browser/out/native_frame0.png
    # Each test has its own deadline (tests/browser/); each file has 20
    # minutes, all four 40 (they take about 12 here), and the process is killed
    # 30 s after that, so nothing can hang CI.
    timeout --kill-after=30 2400 node --test --test-concurrency=1 --test-timeout=1200000 tests/browser/*.test.mjs
    echo "browser figures: $(pwd)/tests/browser/out/{report,api-report,package-report}.json"
}

case "${1:-all}" in
    build) build ;;
    run) run_tests ;;
    all)
        build
        run_tests
        ;;
    *) log "usage: scripts/browser-test.sh [build|run]"; exit 2 ;;
esac
