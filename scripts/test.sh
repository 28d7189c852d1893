#!/usr/bin/env bash
# Runs every check of the project on a Debian 12 machine, GPU or not,
# installing what is missing: formatting, clippy, the wasm32 build of the
# browser crates, all Rust tests (GPU tests run on Mesa's lavapipe without a
# GPU), the browser tests (headless Chromium with WebGPU) and the Python
# toolchain's tests (in its pinned virtual environment).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
t0=$SECONDS
ensure_vulkan
apt_install python3 pkg-config
ensure_rust wasm32-unknown-unknown
step "cargo fmt --check" cargo fmt --all -- --check
step "clippy (-D warnings)" cargo clippy --locked --workspace --all-targets -- -D warnings
step "wasm32 build of the browser crates" scripts/wasm.sh
step "Rust tests" cargo test --locked --workspace
step "browser tests (Chromium, WebGPU)" scripts/browser-test.sh
venv=$(bash scripts/toolchain.sh)
PATH="$PWD/$venv/bin:$PATH" step "toolchain tests (pytest)" "$venv/bin/python" -m pytest -q models/toolchain
echo "==> all checks passed in $((SECONDS - t0)) s"
