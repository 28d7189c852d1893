#!/usr/bin/env bash
# Builds the browser product into www/dist/ (a plain static site):
# the wasm package (wasm-bindgen at the crate's exact version, wasm-opt from
# npm's binaryen; settings from wasm-pack.toml), the JavaScript API and the
# <synctalk-avatar> element, the demo page, its service worker and manifest,
# the demo portrait and the sample speech. Installs what is missing.
#
# SYNCTALK_WEB_PROFILE=wasm-test SYNCTALK_WASM_OPT=0 (what the test command
# uses) builds the same code without link-time optimisation and wasm-opt:
# minutes faster, a larger and slower wasm.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_base
ensure_rust
ensure_node
read -r triple rustflags < <(python3 - <<'PY'
import tomllib
c = tomllib.load(open("wasm-pack.toml", "rb"))
print(c["target"]["triple"], "\x1f".join(c["target"]["rustflags"]).replace(" ", "\x1e"))
PY
)
flags=$(echo "$rustflags" | tr '\037\036' '  ')
bindgen_version=$(python3 - <<'PY'
import tomllib
lock = tomllib.load(open("Cargo.lock", "rb"))
print(next(p["version"] for p in lock["package"] if p["name"] == "wasm-bindgen"))
PY
)
if ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $bindgen_version"; then
    log "==> installing wasm-bindgen-cli $bindgen_version"
    cargo install --quiet wasm-bindgen-cli --version "$bindgen_version" --force >&2
fi
(cd www && npm ci --no-audit --no-fund --silent >&2)

log "==> building the wasm package"
profile="${SYNCTALK_WEB_PROFILE:-web}"
# SYNCTALK_LINT=1 (the test command): clippy -D warnings on the workspace's
# crates in the same compilation.
# SYNCTALK_WEB_ALSO: more packages built (and linted) in the same
# compilation, e.g. the browser tests' `-p synctalk-train-web`.
# shellcheck disable=SC2086
RUSTFLAGS="$flags" lint_if_asked cargo build --locked --profile "$profile" --target "$triple" --target-dir target/wasm -p synctalk-web ${SYNCTALK_WEB_ALSO:-}
dist=www/dist
rm -rf "$dist"
mkdir -p "$dist/synctalk" "$dist/assets"
wasm-bindgen --target web --out-dir "$dist/synctalk" --out-name synctalk_web \
    "target/wasm/$triple/$profile/synctalk_web.wasm"
wasm="$dist/synctalk/synctalk_web_bg.wasm"
raw=$(stat -c %s "$wasm")
if [ "${SYNCTALK_WASM_OPT:-1}" != 0 ]; then
    www/node_modules/.bin/wasm-opt -O2 --strip-debug --strip-producers --enable-simd --enable-bulk-memory --enable-sign-ext \
        --enable-mutable-globals --enable-nontrapping-float-to-int --enable-reference-types \
        --enable-multivalue "$wasm" -o "$wasm.opt"
    mv "$wasm.opt" "$wasm"
fi
# The npm package: every file its package.json lists (the wasm-bindgen
# output is already there).
python3 - "$dist/synctalk" <<'PY'
import json, shutil, sys
for f in json.load(open("www/src/package.json"))["files"]:
    if not f.startswith("synctalk_web") and f != "tts/":  # tts/: below
        shutil.copy(f"www/src/{f}" if not f.startswith(("LICENSE", "NOTICE")) else f, sys.argv[1])
PY
cp www/src/package.json "$dist/synctalk/"
cp LICENSE-MIT LICENSE-APACHE NOTICE "$dist/"
cp www/src/index.html www/src/app.js www/src/style.css www/src/manifest.webmanifest \
    www/src/icon.svg www/src/element.html "$dist/"
cp models/demo/portrait.stk "$dist/assets/demo.stk"
# The example of an avatar inside a three.js scene, with three.js (MIT).
mkdir -p "$dist/examples/three"
cp www/src/examples/three.html www/src/examples/three.css www/src/examples/three-example.js "$dist/examples/"
cp www/node_modules/three/build/three.module.js www/node_modules/three/build/three.core.js \
    www/node_modules/three/LICENSE "$dist/examples/three/"
# The speech synthesiser of avatar.say(), in the package's tts/ folder:
# eSpeak NG compiled to JavaScript (npm @echogarden/espeak-ng-emscripten), a
# separate GPL-3.0-or-later program (see NOTICE), with its licence and where
# its source is.
espeak=www/node_modules/@echogarden/espeak-ng-emscripten
mkdir -p "$dist/synctalk/tts"
cp "$espeak/espeak-ng.js" "$espeak/espeak-ng.data" "$espeak/COPYING" "$dist/synctalk/tts/"
cat > "$dist/synctalk/tts/README.md" <<MD
# eSpeak NG $(python3 -c "import json; print(json.load(open('$espeak/package.json'))['version'])") (compiled to JavaScript)

The speech synthesiser that avatar.say() loads on first use: eSpeak NG
(https://github.com/espeak-ng/espeak-ng), Copyright (C) the eSpeak NG
contributors, compiled with Emscripten by the Echogarden project
(https://github.com/echogarden-project/espeak-ng-emscripten; npm
@echogarden/espeak-ng-emscripten). Licence: GNU General Public License,
version 3 or later (COPYING). Its source: those repositories.
MD
cp www/assets/speech/* "$dist/assets/"
# The service worker caches exactly these files, under a name that changes
# whenever any of them does.
python3 - "$dist" <<'PY'
import hashlib, json, os, sys
dist = sys.argv[1]
# The synthesiser (synctalk/tts/, 25 MB) is cached when a visitor first uses it, not
# on the first visit; the examples are not part of the offline app.
files = sorted(
    os.path.relpath(os.path.join(d, f), dist)
    for d, _, fs in os.walk(dist) for f in fs
    if not f.endswith((".d.ts", "package.json", "README.md", "LICENSE-MIT", "LICENSE-APACHE", "NOTICE", "COPYING"))
    and not os.path.relpath(d, dist).startswith(("synctalk/tts", "examples"))
)
h = hashlib.sha256()
for f in files:
    h.update(f.encode())
    h.update(open(os.path.join(dist, f), "rb").read())
sw = open("www/src/sw.js").read()
sw = sw.replace("__VERSION__", h.hexdigest()[:16]).replace("__FILES__", json.dumps(["./"] + files))
open(os.path.join(dist, "sw.js"), "w").write(sw)
PY
gz=$(gzip -9 -c "$wasm" | wc -c)
echo "wasm: raw $raw B from wasm-bindgen, $(stat -c %s "$wasm") B after wasm-opt, $gz B gzipped"
echo "built $(pwd)/$dist"
