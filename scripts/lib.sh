# Shared helpers for the project's scripts: install what is missing on a
# Debian 12 machine (bare or not), pinned, and print steps. Source it; do not
# run it.
#
# Everything these helpers print (progress, installers' output) goes to
# stderr: stdout carries only the results of the scripts that source this,
# because scripts capture each other's stdout (`venv=$(bash scripts/toolchain.sh)`).

# The pinned tools that do not come from Debian. Rust's version is in
# rust-toolchain.toml; rustup itself, Node.js and npm are pinned here, each
# with the SHA-256/512 of what it downloads.
RUSTUP_VERSION=1.29.0
RUSTUP_SHA256_x86_64=4acc9acc76d5079515b46346a485974457b5a79893cfb01112423c89aeb5aa10
RUSTUP_SHA256_aarch64=9732d6c5e2a098d3521fca8145d826ae0aaa067ef2385ead08e6feac88fa5792
# Node.js from the npm registry's node-linux-<arch> packages (the official
# build's binary; nodejs.org itself may be unreachable where the registries
# are not), npm from the registry's npm package.
NODE_VERSION=24.22.3
NODE_SHA512_x64=287b286fe16ff587ab013bd8ba331b8b226a9d10af2edadcaff79336a46a88e486a7dec43a244fd723f8efe9271a043fc677375d8f31ce45b9f3b76567336a44
NODE_SHA512_arm64=219c74279dbfd4d0f002c6368b2591f6794f218b98be24d67ad8e3f3e125bd8421dbe5d184b7c27e46c5105ff63b9bc623685c51bc8f34757e9f3df8d856c95f
NPM_VERSION=11.21.3
NPM_SHA512=e427fe8c4f9772d6e11ffce338ea970be8adcbb79e73f4e4938425dfcb5feb0fb586da76c183c7984e1cd51d44b370d8db6ec0735e3e48bae5609c2406271b4e

# The repository's root (scripts/..), where .tools/ holds Node.js.
SYNCTALK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# log MESSAGE...: one line on stderr.
log() {
    echo "$*" >&2
}

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else log "error: root (or sudo) is needed to run: $*"; return 1
    fi
}

# apt_install PKG...: installs the Debian packages that are not installed yet
# (Debian 12's archive pins their versions; `apt-get update` runs once per
# script).
apt_install() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "==> installing Debian packages: ${missing[*]}"
        if [ -z "${SYNCTALK_APT_UPDATED:-}" ]; then
            as_root apt-get update -qq >&2
            SYNCTALK_APT_UPDATED=1
        fi
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

# ensure_base: what every script uses: curl for the pinned downloads, a C
# toolchain (Rust links through `cc`; build scripts compile C), Python 3
# (the scripts' TOML and JSON one-liners, the static server).
ensure_base() {
    apt_install ca-certificates curl build-essential python3
}

# download URL FILE SUM: fetches URL into FILE and checks its SHA-256 or
# SHA-512 (by the length of SUM); a mismatch deletes FILE and fails.
download() {
    local url="$1" file="$2" sum="$3" tool=sha256sum
    [ ${#sum} = 128 ] && tool=sha512sum
    curl --proto '=https' --tlsv1.2 -sSfL --retry 3 -o "$file" "$url" || {
        log "error: could not download $url"
        return 1
    }
    if ! echo "$sum  $file" | "$tool" -c --quiet >/dev/null 2>&1; then
        rm -f "$file"
        log "error: $url does not have the pinned checksum ($tool $sum)"
        return 1
    fi
}

# ensure_rust: rustup (installed from the Rust project's static server when
# missing) and the toolchain of rust-toolchain.toml with its components
# (clippy, rustfmt) and targets (wasm32-unknown-unknown).
ensure_rust() {
    ensure_base
    export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
    export PATH="$CARGO_HOME/bin:$PATH"
    if ! command -v rustup >/dev/null 2>&1; then
        local arch sum tmp
        arch=$(uname -m)
        case "$arch" in
            x86_64) sum=$RUSTUP_SHA256_x86_64 ;;
            aarch64) sum=$RUSTUP_SHA256_aarch64 ;;
            *) log "error: no pinned rustup for $arch: install rustup (https://rustup.rs), then rerun"; return 1 ;;
        esac
        log "==> installing rustup $RUSTUP_VERSION into $CARGO_HOME"
        tmp=$(mktemp -d)
        download "https://static.rust-lang.org/rustup/archive/$RUSTUP_VERSION/$arch-unknown-linux-gnu/rustup-init" \
            "$tmp/rustup-init" "$sum" || { rm -rf "$tmp"; return 1; }
        chmod +x "$tmp/rustup-init"
        "$tmp/rustup-init" -y --quiet --no-modify-path --profile minimal --default-toolchain none >&2
        rm -rf "$tmp"
    fi
    local channel
    channel=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' "$SYNCTALK_ROOT/rust-toolchain.toml")
    if ! rustup +"$channel" component list --installed 2>/dev/null | grep -q '^clippy' ||
        ! rustup +"$channel" component list --installed 2>/dev/null | grep -q '^rustfmt' ||
        ! rustup +"$channel" target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
        log "==> installing Rust $channel (clippy, rustfmt, wasm32-unknown-unknown)"
        rustup toolchain install "$channel" --profile minimal --component clippy,rustfmt \
            --target wasm32-unknown-unknown >&2
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

# step NAME CMD...: runs CMD, announcing it and its time on stderr.
step() {
    local name="$1"
    shift
    log "==> $name"
    local t0=$SECONDS
    "$@"
    log "    ($name: $((SECONDS - t0)) s)"
}

# together NAME FUNCTION [NAME FUNCTION]...: runs the steps at once, each
# FUNCTION (a shell function or command, no arguments) in the background
# with its output in a log of its own, printed whole (then its time) when
# all have finished, in the order given; fails when any failed. For steps
# that each keep about one core busy (the browser tests wait on Chromium,
# pytest runs one process at a time), so that a 2-core machine does both
# in about the time of the longer. Call it as a plain command: inside `if`,
# `&&` or `||` bash turns `set -e` off in the steps, and a failing command
# in the middle of a step would go unnoticed.
together() {
    local names=() pids=() logs=() rc=0 i
    # Ctrl-C or a kill stops the steps too (background jobs of a script
    # ignore SIGINT) and removes their logs.
    trap 'kill "${pids[@]}" 2>/dev/null; rm -f "${logs[@]}"; trap - INT TERM; return 130' INT TERM
    while [ $# -ge 2 ]; do
        local out
        out=$(mktemp)
        names+=("$1")
        logs+=("$out")
        log "==> $1 (beside the others)"
        (
            t0=$SECONDS
            set +e
            (
                set -e
                "$2"
            ) >"$out" 2>&1
            status=$?
            echo "    ($1: $((SECONDS - t0)) s)" >>"$out"
            exit $status
        ) &
        pids+=($!)
        shift 2
    done
    for i in "${!pids[@]}"; do
        local status=0
        wait "${pids[$i]}" || status=$?
        log "==> ${names[$i]}: its output"
        cat "${logs[$i]}" >&2
        rm -f "${logs[$i]}"
        if [ "$status" != 0 ]; then
            log "error: ${names[$i]} failed (exit status $status)"
            rc=1
        fi
    done
    trap - INT TERM
    return $rc
}

# ensure_node: Node.js $NODE_VERSION and npm $NPM_VERSION in .tools/ (first on
# PATH), whatever Node the machine has: the build and the browser tests need
# Node >= 20, and Debian 12's is 18.
ensure_node() {
    local dir="$SYNCTALK_ROOT/.tools/node-$NODE_VERSION-npm-$NPM_VERSION"
    if [ ! -x "$dir/bin/node" ] || [ ! -e "$dir/bin/npm" ]; then
        ensure_base
        local arch sum tmp
        case "$(uname -m)" in
            x86_64) arch=x64 sum=$NODE_SHA512_x64 ;;
            aarch64) arch=arm64 sum=$NODE_SHA512_arm64 ;;
            *) log "error: no pinned Node.js for $(uname -m)"; return 1 ;;
        esac
        log "==> installing Node.js $NODE_VERSION and npm $NPM_VERSION into ${dir#"$SYNCTALK_ROOT"/}"
        mkdir -p "$SYNCTALK_ROOT/.tools"
        tmp=$(mktemp -d "$SYNCTALK_ROOT/.tools/.part.XXXXXX")
        download "https://registry.npmjs.org/node-linux-$arch/-/node-linux-$arch-$NODE_VERSION.tgz" "$tmp/node.tgz" "$sum" &&
            download "https://registry.npmjs.org/npm/-/npm-$NPM_VERSION.tgz" "$tmp/npm.tgz" "$NPM_SHA512" || {
            rm -rf "$tmp"
            return 1
        }
        mkdir -p "$tmp/node/lib/node_modules/npm"
        tar -xzf "$tmp/node.tgz" -C "$tmp/node" --strip-components=1 package/bin/node package/LICENSE
        tar -xzf "$tmp/npm.tgz" -C "$tmp/node/lib/node_modules/npm" --strip-components=1
        ln -s ../lib/node_modules/npm/bin/npm-cli.js "$tmp/node/bin/npm"
        ln -s ../lib/node_modules/npm/bin/npx-cli.js "$tmp/node/bin/npx"
        rm -rf "$dir"
        mv "$tmp/node" "$dir"
        rm -rf "$tmp"
    fi
    export PATH="$dir/bin:$PATH"
}

# The Debian packages of the toolchain's environment (scripts/toolchain.sh):
# ffmpeg, libsndfile, the speech synthesisers (eSpeak NG, Festival) and
# MediaPipe's GL libraries (EGL, GLES).
ensure_toolchain_packages() {
    apt_install ffmpeg libsndfile1 python3 python3-venv libegl1 libgles2 espeak-ng festival festvox-us-slt-hts \
        festvox-kallpc16k
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
