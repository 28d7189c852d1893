#!/usr/bin/env bash
# Runs every check of the project on a Debian 12 machine, GPU or not,
# installing what is missing: formatting, clippy (natively and for wasm32),
# all Rust tests (GPU tests run on Mesa's lavapipe without a
# GPU), the browser tests (headless Chromium with WebGPU) and the Python
# toolchain's tests (in its pinned virtual environment).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
t0=$SECONDS
ensure_vulkan
apt_install python3 pkg-config ffmpeg
ensure_rust wasm32-unknown-unknown
step "cargo fmt --check" cargo fmt --all -- --check
# One compilation builds the tests and lints every target (clippy as the
# workspace's compiler, see with_clippy in scripts/lib.sh).
step "Rust build + clippy (-D warnings)" with_clippy cargo test --locked --workspace --all-targets --no-run
# Each test step has a deadline (about 10x its usual time), so that a hang
# fails with the step's name instead of running into CI's limit.
step "Rust tests" with_clippy timeout --kill-after=30 1200 cargo test --locked --workspace
# Builds (and lints, for wasm32) the browser crates, then drives Chromium.
SYNCTALK_LINT=1 step "wasm32 build + clippy, browser tests (Chromium, WebGPU)" scripts/browser-test.sh
venv=$(bash scripts/toolchain.sh)
PATH="$PWD/$venv/bin:$PATH" step "toolchain tests (pytest)" timeout --kill-after=30 1200 "$venv/bin/python" -m pytest -q models/toolchain
echo "==> all checks passed in $((SECONDS - t0)) s"
