#!/usr/bin/env bash
# Creates (or refreshes) the toolchain's virtual environment in .venv from the
# pinned models/toolchain/requirements.txt, with ffmpeg, libsndfile, the
# speech synthesisers (eSpeak NG, Festival) and MediaPipe's GL libraries
# (EGL, GLES) from Debian. Prints the venv's absolute path, alone on stdout
# (everything else goes to stderr): `venv=$(bash scripts/toolchain.sh)`.
# Idempotent: reinstalls only when the pins change.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_toolchain_packages
venv="$PWD/.venv"
stamp="$venv/.requirements.sha256"
want=$(cat models/toolchain/requirements.txt models/toolchain/pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "==> creating the toolchain environment in .venv"
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q --disable-pip-version-check -r models/toolchain/requirements.txt >&2
    "$venv/bin/pip" install -q --disable-pip-version-check --no-deps -e models/toolchain >&2
    echo "$want" > "$stamp"
fi
echo "$venv"
