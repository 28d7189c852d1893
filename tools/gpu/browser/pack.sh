# Sourced by bundle.sh and bundle_shell.sh (not run on its own): the steps
# the two bundles share once their browser is unpacked into a root folder.
# Both scripts set: repo (the repository root, the working directory), here
# (this folder), out (.brw), cache, part_bytes, build (1: build the site),
# and log().

# add_site ROOT: the demo site into ROOT/site (built unless --no-build and
# already built). The speech synthesiser (synctalk/tts), the examples and
# the portrait stay behind: the bench speaks a clip, and the portrait
# travels in the checkout (models/demo/portrait.stk; run.sh copies it and
# checks it against the sha256 recorded in MANIFEST). Sets portrait_sha.
add_site() {
  local root=$1
  log "==> the demo site"
  if [ "$build" = 1 ] || [ ! -f www/dist/synctalk/synctalk_web_bg.wasm ]; then bash scripts/web.sh >&2; fi
  mkdir -p "$root/site"
  tar -C www/dist --exclude=./synctalk/tts --exclude=./examples --exclude=./assets/demo.stk -cf - . | tar -C "$root/site" -xf -
  portrait_sha=$(sha256sum www/dist/assets/demo.stk | cut -d' ' -f1)
}

# pack_bundle ROOT EXE REST_DICT LABEL PKGS: ROOT as one tar.xz cut into
# equal parts of at most part_bytes, each a folder out/pN with the MANIFEST
# and the harness; prints the sizes and the device calls. Two xz streams,
# compressed side by side: the browser's executable EXE (relative to ROOT;
# BCJ x86 filter: 74.5 MB against 82 MB with zstd -22 --long=31 for the
# Debian Chromium) and the rest (LZMA2 dictionary REST_DICT); the run
# unpacks their concatenation with `tar -x -i` (two tar archives). LABEL
# ends MANIFEST's first line; PKGS (text) is its package list, a line each.
# BRW_XZ: more xz options.
pack_bundle() {
  local root=$1 exe=$2 rest_dict=$3 label=$4 pkgs=$5
  local tar_o=(--sort=name --owner=0 --group=0 --numeric-owner --mtime=@0)
  log "==> compressing ($(du -sm "$root" | cut -f1) MB; xz -9e, two streams, minutes)"
  rm -rf "$out"; mkdir -p "$out"
  # shellcheck disable=SC2086  # BRW_XZ holds words
  tar -C "$root" "${tar_o[@]}" -cf - "./$exe" \
    | xz ${BRW_XZ:-} --x86 --lzma2=preset=9e,dict=192MiB -c >"$cache/a.tar.xz" &
  # shellcheck disable=SC2086
  tar -C "$root" "${tar_o[@]}" --exclude="./$exe" -cf - . \
    | xz ${BRW_XZ:-} --lzma2=preset=9e,dict="$rest_dict" -c >"$cache/b.tar.xz" &
  wait %1 && wait %2
  cat "$cache/a.tar.xz" "$cache/b.tar.xz" >"$cache/bundle.tar.xz"
  local total nparts each
  total=$(stat -c %s "$cache/bundle.tar.xz")
  # As few parts as the size allows, of equal size.
  nparts=$(( (total + part_bytes - 1) / part_bytes ))
  each=$(( (total + nparts - 1) / nparts ))
  (cd "$out" && split -b "$each" -d -a 2 "$cache/bundle.tar.xz" bundle.tar.xz.)
  local manifest=$cache/MANIFEST
  {
    echo "built $(date -u +%FT%TZ) from $(git rev-parse --short HEAD) ($(git rev-parse --abbrev-ref HEAD))$label"
    echo "commit $(git rev-parse HEAD)"
    echo "portrait-sha256 $portrait_sha"
    echo "bundle-bytes $total"
    (cd "$out" && sha256sum bundle.tar.xz.*)
    printf '%s\n' "$pkgs" | sed '/^$/d; s/^/pkg /'
  } >"$manifest"
  local i=0 f
  for f in "$out"/bundle.tar.xz.*; do
    i=$((i + 1))
    mkdir -p "$out/p$i"
    mv "$f" "$out/p$i/"
    cp "$manifest" "$here"/{run.sh,serve.py,bench.html,bench.js,README.md} "$out/p$i/"
  done

  # The carried folder must be git-ignored (the device call carries only
  # ignored paths); info/exclude of the common git folder covers every worktree.
  local excl
  excl="$(git rev-parse --git-common-dir)/info/exclude"
  mkdir -p "$(dirname "$excl")"
  grep -qxF '/.brw/' "$excl" 2>/dev/null || echo '/.brw/' >>"$excl"

  local tracked limit d s
  tracked=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
  limit=$((64 * 1024 * 1024))
  echo "bundle: $total bytes of tar.xz in $i part(s) of $each bytes (limit $part_bytes); unpacked $(du -sm "$root" | cut -f1) MB"
  for d in "$out"/p*/; do
    s=$(du -cb "$d" | tail -1 | cut -f1)
    echo "  ${d#"$repo"/}: $s bytes; with the tracked tree ($tracked bytes): $((s + tracked)) of $limit"
    [ $((s + tracked)) -lt $((limit - 2 * 1024 * 1024)) ] || echo "  WARNING: ${d#"$repo"/} leaves less than 2 MiB of margin"
  done
  echo
  echo "Device calls, in this order, back to back (the machine keeps /tmp while warm, 30 s):"
  local rel=${out#"$repo"/} k
  for k in $(seq 1 "$i"); do
    if [ "$k" -lt "$i" ]; then
      echo "  run(carry=[\"$rel/p$k\"], timeout_s=120, command=\"bash $rel/p$k/run.sh stash $rel/p$k\")"
    else
      echo "  run(carry=[\"$rel/p$k\"], timeout_s=600, command=\"bash $rel/p$k/run.sh stash $rel/p$k && bash /tmp/brw/run.sh go\")"
    fi
  done
}
