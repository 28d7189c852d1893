#!/usr/bin/env bash
# Copies what `synctalk train` and torch_trainer.py read from a synctalk-prepare
# dataset into DEST/NAME (a git-ignored folder of the checkout, to carry to
# a device call), with the torso PNGs recompressed losslessly (optipng,
# Debian's `optipng`): about 14 MB for a 200-frame 512² clip, so that a
# dataset, the release `synctalk` (xz) and the gsplat wheel fit one call's
# 64 MiB with the working tree. The parsing PNGs are copied as they are:
# the loader wants 8-bit grey labels, which optipng may turn into a palette.
# Usage: tools/gpu/stage_dataset.sh PREPARED_DIR DEST
set -euo pipefail
src=$1; dest=$2/$(basename "$1")
mkdir -p "$dest"
for f in frames parsing torso background.png landmarks.npy blendshapes.npy blendshapes.json \
    canonical_face.npy transforms.json dataset.json; do
  cp -r "$src/$f" "$dest/"
done
ls "$dest"/torso/*.png | xargs -P"$(nproc)" -n 20 optipng -quiet -o2
du -sh "$dest" >&2
