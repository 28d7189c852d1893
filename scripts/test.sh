#!/usr/bin/env bash
# Runs every check of the project on a Debian 12 machine, GPU or not, bare or
# not, installing what is missing (scripts/lib.sh: Rust of
# rust-toolchain.toml through rustup, a C toolchain, Node.js, Debian's
# Chromium, Mesa's Vulkan driver, the toolchain's venv): formatting, clippy
# (natively and for wasm32), all Rust tests (GPU tests run on Mesa's lavapipe
# without a GPU), the browser tests (headless Chromium with WebGPU) and the
# Python tests (the toolchain's, in its pinned virtual environment, and the
# scripts' own). Progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
t0=$SECONDS
ensure_base
ensure_vulkan
apt_install ffmpeg
ensure_rust
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
PATH="$venv/bin:$PATH" step "toolchain and scripts tests (pytest)" \
    timeout --kill-after=30 1200 "$venv/bin/python" -m pytest -q models/toolchain tests/scripts
log "==> all checks passed in $((SECONDS - t0)) s"
