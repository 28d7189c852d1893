#!/usr/bin/env bash
# A smaller browser bundle for the lent GPU machine than bundle.sh's Debian
# Chromium (6 parts): Chromium's headless shell as the npm package
# @sparticuz/chromium packs it for serverless machines (one executable that
# needs only glibc and libgcc, with SwiftShader, a Vulkan loader and NSS
# beside it), the GL/EGL dispatch libraries (glvnd, for ANGLE on NVIDIA's
# EGL), a few fonts, and the demo site: 3 parts, so 3 back-to-back device
# calls. run.sh runs it (it tells the two bundles apart) with the `shell-*`
# configurations: no X server, the NVIDIA Vulkan driver listed beside
# SwiftShader's (ANGLE's GL on SwiftShader needs VK_EXT_headless_surface,
# which NVIDIA's driver lacks; Dawn then has both adapters to choose from).
#
#   tools/gpu/browser/bundle_shell.sh [--no-build]
#
# Needs: npm (the registry), brotli (Debian's `brotli`), xz, apt-get (the
# glvnd .debs, own lists in the cache). Writes .brw/pN/ (each: a part, the
# MANIFEST, the harness) and prints the parts' sizes. Progress on stderr.
set -euo pipefail
cd "$(dirname "$0")/../../.."
repo=$(pwd)
here=$repo/tools/gpu/browser
out=${BRW_OUT:-$repo/.brw}
cache=${BRW_CACHE:-/tmp/brw-shell}
part_bytes=${BRW_PART_BYTES:-28000000}
# Pinned: the package's version and the registry's integrity for it.
SHELL_PKG=@sparticuz/chromium
SHELL_VERSION=153.0.0
SHELL_INTEGRITY=sha512-jiGWqSvPMdu4+P9TilYqAR7yEGPEHINx+lCvE/NqNO/EHYzF/x1hUiI5T6ioVIt7dEy7n88byyT0vk+dnsgQwA==
GL_DEBS=(libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
build=1
[ "${1:-}" = --no-build ] && build=0
log() { echo "$*" >&2; }
# shellcheck source=tools/gpu/browser/pack.sh
. "$here/pack.sh"
for tool in npm brotli xz apt-get dpkg; do
  command -v "$tool" >/dev/null || { log "bundle_shell.sh: $tool is missing"; exit 1; }
done

mkdir -p "$cache"
tgz=$cache/sparticuz-chromium-$SHELL_VERSION.tgz
if [ ! -f "$tgz" ]; then
  log "==> npm pack $SHELL_PKG@$SHELL_VERSION"
  (cd "$cache" && npm pack --silent "$SHELL_PKG@$SHELL_VERSION" >&2)
fi
have="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
[ "$have" = "$SHELL_INTEGRITY" ] || { log "$tgz: integrity $have, not the pinned $SHELL_INTEGRITY"; exit 1; }

root=$cache/root
rm -rf "$root" "$cache/pkg"
mkdir -p "$root/shell" "$cache/pkg"
tar -xzf "$tgz" -C "$cache/pkg"
bin=$cache/pkg/package/bin
log "==> unpacking the headless shell"
brotli -dc "$bin/chromium.br" >"$root/shell/chromium"
chmod +x "$root/shell/chromium"
# SwiftShader (libvk_swiftshader.so, its ICD json, libEGL.so and
# libGLESv2.so: ANGLE), a Vulkan loader, NSS/expat (lib/), fonts (fonts/).
for t in swiftshader al2023 fonts; do brotli -dc "$bin/$t.tar.br" | tar -x -C "$root/shell"; done
shell_version=$("$root/shell/chromium" --version 2>/dev/null || echo unknown)
cp "$cache/pkg/package/LICENSE" "$root/shell/LICENSE.sparticuz-chromium"

log "==> glvnd's GL/EGL dispatch libraries (Debian 12)"
apt_o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists="$cache/lists"
       -oDir::State::status="$cache/empty-status" -oDir::Cache="$cache/apt-cache")
mkdir -p "$cache/lists/partial" "$cache/apt-cache/archives/partial" "$cache/debs"
: >"$cache/empty-status"
apt-get "${apt_o[@]}" update >&2
(cd "$cache/debs" && apt-get "${apt_o[@]}" download "${GL_DEBS[@]}" >&2)
rm -rf "$cache/gl"; mkdir -p "$cache/gl"
for f in "$cache"/debs/*.deb; do dpkg -x "$f" "$cache/gl"; done
cp -a "$cache"/gl/usr/lib/x86_64-linux-gnu/lib*.so* "$root/shell/lib/"
gl_versions=$(for f in "$cache"/debs/*.deb; do dpkg-deb -W --showformat='${Package} ${Version}\n' "$f"; done)

add_site "$root"
pack_bundle "$root" shell/chromium 64MiB ", headless shell" \
  "$(printf '%s\n%s\n' "$SHELL_PKG $SHELL_VERSION ($shell_version)" "$gl_versions")"
echo "(the last call runs the shell-* configurations; $shell_version)"
