# Shared helpers for the project's scripts: install what is missing on a
# Debian 12 machine, print steps. Source it; do not run it.

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else echo "error: root (or sudo) is needed to run: $*" >&2; return 1
    fi
}

# apt_install PKG...: installs the Debian packages that are not installed yet.
apt_install() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "==> installing Debian packages: ${missing[*]}"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

# ensure_rust [TARGET...]: a Rust toolchain with clippy, rustfmt and the targets.
ensure_rust() {
    if ! command -v cargo >/dev/null 2>&1; then
        [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        echo "error: no Rust toolchain: install rustup (https://rustup.rs), then rerun" >&2
        return 1
    fi
    if command -v rustup >/dev/null 2>&1; then
        rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
        rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
        local t
        for t in "$@"; do
            rustup target list --installed | grep -qx "$t" || rustup target add "$t"
        done
    fi
}

# A Vulkan driver for wgpu: the GPU's own, or Mesa's lavapipe on the CPU.
ensure_vulkan() {
    apt_install mesa-vulkan-drivers libvulkan1
    # Mesa's WSI layers want a runtime dir even for headless use.
    if [ -z "${XDG_RUNTIME_DIR:-}" ] || [ ! -d "${XDG_RUNTIME_DIR:-}" ]; then
        XDG_RUNTIME_DIR="$(mktemp -d)"
        export XDG_RUNTIME_DIR
    fi
}

step() {
    local name="$1"
    shift
    echo "==> $name"
    local t0=$SECONDS
    "$@"
    echo "    ($name: $((SECONDS - t0)) s)"
}

# Node.js and npm (Debian's) for the web build and the browser tests.
ensure_node() {
    command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || apt_install nodejs npm
}

# Chromium (Debian's) for the browser tests; never a downloaded browser.
ensure_chromium() {
    apt_install chromium
}

# with_clippy CMD...: runs a cargo build or test command with clippy as the
# compiler of the workspace's own crates (`-D warnings`), so that one
# compilation both lints and builds them; dependencies compile as usual.
# This is what `cargo clippy` does for a check; doing it in the build saves
# compiling every dependency a second time in check mode.
with_clippy() {
    RUSTC_WORKSPACE_WRAPPER="$(command -v clippy-driver)" \
        CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__" "$@"
}

# lint_if_asked CMD...: with_clippy CMD when SYNCTALK_LINT=1 (the test
# command), CMD as it is otherwise.
lint_if_asked() {
    if [ "${SYNCTALK_LINT:-0}" = 1 ]; then with_clippy "$@"; else "$@"; fi
}
