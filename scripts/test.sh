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
# Every Debian package first: the steps below then install nothing through
# apt, and can run side by side.
ensure_base
ensure_vulkan
ensure_chromium
ensure_toolchain_packages
ensure_rust
ensure_node
step "cargo fmt --check" cargo fmt --all -- --check
# One compilation builds the tests and lints every target (clippy as the
# workspace's compiler, see with_clippy in scripts/lib.sh). Beside it: the
# wasm32 build of the browser crates (linted too) and the site, and the
# toolchain's environment. A 2-core build keeps both cores busy only part of
# the time (tract-core alone compiles for minutes, and the rest waits on
# it), so the wasm32 build, wasm-bindgen-cli's and the downloads take little
# more than the native build alone.
rust_build() {
    with_clippy cargo test --locked --workspace --all-targets --no-run
}
web_build() {
    SYNCTALK_LINT=1 scripts/browser-test.sh build
}
toolchain_env() {
    bash scripts/toolchain.sh >/dev/null
}
together "Rust build + clippy (-D warnings)" rust_build "wasm32 build + clippy, browser site" web_build \
    "toolchain environment (.venv)" toolchain_env
# Each test step has a deadline (about 10x its usual time), so that a hang
# fails with the step's name instead of running into CI's limit.
step "Rust tests" with_clippy timeout --kill-after=30 1200 cargo test --locked --workspace
venv=$(bash scripts/toolchain.sh)
# The browser tests (Chromium waits on its software GPU and on timers: about
# 0.7 of a core) and pytest (one process at a time: about one core) side by
# side, each with its deadline.
browser_tests() {
    SYNCTALK_LINT=1 scripts/browser-test.sh run
}
python_tests() {
    PATH="$venv/bin:$PATH" timeout --kill-after=30 1200 "$venv/bin/python" -m pytest -q models/toolchain tests/scripts
}
together "browser tests (Chromium, WebGPU)" browser_tests "toolchain and scripts tests (pytest)" python_tests
log "==> all checks passed in $((SECONDS - t0)) s"
