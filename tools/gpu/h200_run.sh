#!/usr/bin/env bash
# One device call: renderer benchmark (ours, native Vulkan) against gsplat on
# the same scenes, and the fit of the small real 3DGS scene shipped in
# models/scenes/. Expects .gl (Vulkan loader .debs), .whl (gsplat wheel),
# .dev/frame0.png and .dev/synctalk (stripped release build) carried with the call.
set -uo pipefail
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
export PYTHONUNBUFFERED=1 TORCH_CUDA_ARCH_LIST=9.0 MAX_JOBS=16
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD/tools/gpu
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv
mkdir -p /tmp/scenes
# Compile gsplat's CUDA kernels in the background while our benchmark runs.
python3 -c "
import torch, gsplat
m = torch.zeros(1, 3, device='cuda'); m[0, 2] = 2
gsplat.rasterization(m, torch.tensor([[1., 0, 0, 0]], device='cuda'), torch.full((1, 3), .1, device='cuda'), torch.ones(1, device='cuda'),
    torch.ones(1, 3, device='cuda'), torch.eye(4, device='cuda')[None], torch.tensor([[[16., 0, 8], [0, 16., 8], [0, 0, 1]]], device='cuda'), 16, 16)
torch.cuda.synchronize(); print('gsplat ready', gsplat.__version__)" > $OUT/gsplat_build.log 2>&1 &
build=$!
nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,utilization.gpu --format=csv,noheader -lms 250 > /tmp/clocks.csv &
smi=$!
.dev/synctalk bench --frames ${FRAMES:-50} --raster ${RASTER:-tiles,quads} --export /tmp/scenes --json $OUT/bench_ours.json 2>&1 | tee $OUT/bench_ours.txt | grep -v '^{'
kill $smi; echo "SM clock during our bench (MHz): $(cut -d, -f2 /tmp/clocks.csv | sort | uniq -c | sort -rn | head -4 | tr '\n' ';')"
wait $build; cat $OUT/gsplat_build.log | tail -3
nvidia-smi --query-gpu=timestamp,clocks.sm --format=csv,noheader -lms 250 > /tmp/clocks2.csv &
smi=$!
python3 tools/gpu/gsplat_bench.py /tmp/scenes $OUT/bench_gsplat.json 2>&1 | tail -12
kill $smi; echo "SM clock during gsplat (MHz): $(cut -d, -f2 /tmp/clocks2.csv | sort | uniq -c | sort -rn | head -4 | tr '\n' ';')"
# Same scene, both renderers: image agreement at 512^2 and 1024^2.
for s in 512 1024; do
  .dev/synctalk render-ply /tmp/scenes/bench_100000.ply --cameras /tmp/scenes/cameras_$s.json --out /tmp/scenes/ours_$s.png
  python3 -c "
import numpy as np; from PIL import Image
a=np.asarray(Image.open('/tmp/scenes/ours_$s.png'))[...,:3].astype(float); b=np.load('/tmp/scenes/gsplat_100000_$s.npy').astype(float)
mse=((a-b)**2).mean(); print('ours vs gsplat, 100k at $s: PSNR %.2f dB' % (10*np.log10(255**2/mse)))"
done
if [ -n "${SKIP_FIT:-}" ]; then tail -20 $OUT/bench_ours.txt | grep -v '^{'; exit 0; fi
mkdir -p $OUT/fit
python3 tools/gpu/fit_3dgs.py .dev/frame0.png $OUT/fit ${FIT_N:-32000} ${FIT_ITERS:-3000} 2>&1 | tail -8
.dev/synctalk render-ply $OUT/fit/scene.ply --cameras $OUT/fit/cameras.json --out $OUT/fit/ours.png
python3 -c "
import numpy as np; from PIL import Image
a=np.asarray(Image.open('$OUT/fit/ours.png'))[...,:3].astype(float); b=np.asarray(Image.open('$OUT/fit/fit.png'))[...,:3].astype(float)
print('fitted scene, ours vs gsplat: PSNR %.2f dB' % (10*np.log10(255**2/((a-b)**2).mean())))"
# At most 8 files come back: pack the fitted scene into one archive.
tar -C $OUT -czf $OUT/fit.tgz fit && rm -rf $OUT/fit
tail -20 $OUT/bench_ours.txt | grep -v '^{'
