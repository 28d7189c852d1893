#!/usr/bin/env bash
# Creates (or refreshes) the toolchain's virtual environment in .venv from the
# pinned models/toolchain/requirements.txt, with ffmpeg, libsndfile and the
# speech synthesisers (eSpeak NG, Festival) from Debian. Prints the venv's path. Idempotent: reinstalls only when the pins change.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
apt_install ffmpeg libsndfile1 python3 python3-venv espeak-ng festival festvox-us-slt-hts festvox-kallpc16k
venv=.venv
stamp="$venv/.requirements.sha256"
want=$(cat models/toolchain/requirements.txt models/toolchain/pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "==> creating the toolchain environment in $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r models/toolchain/requirements.txt >&2
    "$venv/bin/pip" install -q --disable-pip-version-check --no-deps -e models/toolchain >&2
    echo "$want" > "$stamp"
fi
echo "$venv"
