#!/usr/bin/env bash
# Checks (clippy -D warnings) the browser crates for wasm32 with the settings of wasm-pack.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_rust
read -r triple rustflags crates < <(python3 - <<'PY'
import tomllib
c = tomllib.load(open("wasm-pack.toml", "rb"))
print(c["target"]["triple"], "\x1f".join(c["target"]["rustflags"]).replace(" ", "\x1e"), ",".join(c["check"]["crates"]))
PY
)
flags=$(echo "$rustflags" | tr '\037\036' '  ')
args=()
IFS=, read -ra list <<< "$crates"
for c in "${list[@]}"; do args+=(-p "$c"); done
# A separate target dir keeps the native build cache intact.
RUSTFLAGS="$flags" cargo clippy --locked --target "$triple" --target-dir target/wasm "${args[@]}" -- -D warnings
