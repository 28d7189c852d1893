#!/usr/bin/env bash
# Builds the bundle that tools/gpu/browser/run.sh runs on a lent GPU machine
# (see README.md here): Debian 12's Chromium, Xvfb, Mesa and the GL/Vulkan
# loaders with every library they need beyond glibc and libstdc++ (.debs
# fetched with apt-get download from the current Debian 12 lists and
# unpacked, docs and unused files dropped), and the demo site (scripts/web.sh),
# as one tar.xz cut into parts that each fit one device call beside the
# checkout: .brw/p1/, .brw/p2/, ... (each with a copy of the harness), then
# prints the device calls to make.
#
#   bash tools/gpu/browser/bundle.sh [--no-build | --harness]
#
# --no-build: use the www/dist already built. --harness: only copy the
# harness (run.sh, the page, the server) into the parts already made. Environment: BRW_OUT (default
# <repo>/.brw), BRW_CACHE (default /tmp/brw-bundle: apt lists, .debs, the
# staged tree), BRW_PART_BYTES (default 28000000), BRW_XZ (extra xz
# options, default none).
set -euo pipefail
cd "$(dirname "$0")/../../.."
repo=$(pwd)
here=$repo/tools/gpu/browser
out=${BRW_OUT:-$repo/.brw}
cache=${BRW_CACHE:-/tmp/brw-bundle}
part_bytes=${BRW_PART_BYTES:-28000000}
build=1
[ "${1:-}" = --no-build ] && build=0
log() { echo "$*" >&2; }
# shellcheck source=tools/gpu/browser/pack.sh
. "$here/pack.sh"
if [ "${1:-}" = --harness ]; then
  # Only the harness files of the parts already made (no new bundle).
  for d in "$out"/p*/; do cp "$here"/{run.sh,serve.py,bench.html,bench.js,README.md} "$d"; done
  log "harness copied into $(ls -d "$out"/p*/ | wc -l) part(s)"
  exit 0
fi

# What is asked for: the browser, the X server and its keymaps, Mesa (the
# X server's GLX needs its swrast driver; llvmpipe is the CPU control), the
# GL/EGL/Vulkan loaders (libglvnd; NVIDIA's vendor libraries come from the
# machine's driver), a font.
roots=(chromium xvfb xkb-data x11-xkb-utils libgl1-mesa-dri libglx-mesa0 libegl-mesa0
       libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 fonts-dejavu-core)
# Not carried: glibc and the compiler's runtime (every Linux has newer ones),
# packages of programs and data nothing here runs or reads (package
# management, init, PAM modules, D-Bus daemons, Perl, icon themes, desktop
# integration scripts), and GTK with what only it needs (Chromium loads GTK
# if it is there and runs without it: checked on Xvfb) and the X utilities'
# libraries (only xkbcomp of x11-xkb-utils runs).
exclude=" libc6 libgcc-s1 libstdc++6 gcc-12-base
  tar dpkg debconf usrmerge init-system-helpers sysvinit-utils lsb-base passwd adduser mount procps
  perl-base perl-modules-5.36 libperl5.36 perl libnumber-compare-perl libtext-glob-perl libfile-find-rule-perl
  libdb5.3 libgdbm6 libgdbm-compat4
  systemd systemd-sysv libsystemd-shared libpam-systemd libpam-modules libpam-modules-bin libpam-runtime
  dbus dbus-bin dbus-daemon dbus-session-bus-common dbus-system-bus-common dbus-user-session
  dmsetup libdevmapper1.02.1 libcryptsetup12 libfdisk1 libkmod2 libargon2-1 libjson-c5 libip4tc2 libapparmor1
  libsemanage-common libsemanage2 libsepol2 libproc2-0
  dconf-service dconf-gsettings-backend libdconf1
  hicolor-icon-theme adwaita-icon-theme gtk-update-icon-cache shared-mime-info
  xdg-utils x11-utils
  libgtk-3-0 libgtk-3-common libcairo-gobject2 libcolord2 libepoxy0 libgdk-pixbuf-2.0-0 libgdk-pixbuf2.0-common
  libtiff6 libjbig0 liblerc4 libwebp7 libdeflate0 libpangocairo-1.0-0 libpangoft2-1.0-0 libwayland-cursor0
  libwayland-egl1 libxcursor1 libxinerama1 libxaw7 libxmu6 libxmuu1 libxpm4 libxt6 libxtst6 libxv1 libxxf86dga1
  libxft2 libice6 libsm6 libxcb-shape0 libssl3 libncursesw6 "
apt_o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists="$cache/lists"
       -oDir::State::status="$cache/empty-status" -oDir::Cache="$cache/apt-cache" -oAPT::Install-Recommends=false)

mkdir -p "$cache/lists/partial" "$cache/apt-cache/archives/partial" "$cache/debs"
: >"$cache/empty-status"
log "==> apt-get update (own lists in $cache/lists)"
apt-get "${apt_o[@]}" update >&2
# The closure as apt would install it on an empty system.
apt-get "${apt_o[@]}" -s install "${roots[@]}" | awk '/^Inst /{gsub(/[()]/, "", $3); print $2, $3}' >"$cache/closure.txt"
: >"$cache/carried.txt"
while read -r name version; do
  case "$exclude" in *" $name "*) continue ;; esac
  echo "$name $version" >>"$cache/carried.txt"
done <"$cache/closure.txt"
log "==> $(wc -l <"$cache/closure.txt") packages in the closure, $(wc -l <"$cache/carried.txt") carried"
(cd "$cache/debs" && while read -r name version; do
   ls "${name}_"*.deb >/dev/null 2>&1 && [ "$(dpkg-deb -f "${name}_"*.deb Version)" = "$version" ] && continue
   rm -f "${name}_"*.deb
   apt-get "${apt_o[@]}" download "$name=$version" >&2
 done <"$cache/carried.txt")

log "==> unpacking into $cache/root"
root=$cache/root
rm -rf "$root"; mkdir -p "$root"
while read -r name version; do
  dpkg -x "$cache/debs/${name}_"*.deb "$root"
done <"$cache/carried.txt"
# Merged /usr as on any current system: /lib/x86_64-linux-gnu beside
# /usr/lib/x86_64-linux-gnu (the run's LD_LIBRARY_PATH names both).
rm -rf "$root"/usr/share/{doc,man,info,lintian,bug,locale,icons,applications,menu,pixmaps,gnome-control-center,bash-completion,zsh,appdata,metainfo,gtk-doc,pkgconfig,X11/locale} \
       "$root"/usr/include "$root"/etc/{cron.daily,logrotate.d,init.d} \
       "$root"/usr/lib/chromium/libVkLayer_khronos_validation.so "$root"/usr/lib/chromium/libVkICD_mock_icd.so
find "$root/usr/lib/chromium/locales" -type f ! -name 'en-US.pak' -delete
# Of the programs only Xvfb and xkbcomp run; of Mesa's DRI drivers (hard
# links of one file) only swrast (Xvfb's GLX, llvmpipe).
find "$root/usr/bin" -mindepth 1 ! -name Xvfb ! -name xkbcomp -delete
find "$root/usr/lib/x86_64-linux-gnu/dri" -mindepth 1 ! -name swrast_dri.so -delete
find "$root" -name '*.a' -delete
# Absolute symbolic links would point into the machine's own /: made
# relative inside the bundle (or dropped where their target is not in it).
find "$root" -type l -lname '/*' | while read -r l; do
  t=$(readlink "$l")
  if [ -e "$root$t" ]; then ln -sfn "$(realpath --relative-to="$(dirname "$l")" "$root$t")" "$l"; else rm -f "$l"; fi
done
find "$root" -xtype l -delete

add_site "$root"
pack_bundle "$root" usr/lib/chromium/chromium 192MiB "" "$(cat "$cache/carried.txt")"
echo "Then, on the same warm machine, a rerun of chosen configurations needs no parts:"
echo "  run(command=\"bash /tmp/brw/run.sh go nv-gl nv-gl-gles\")"
