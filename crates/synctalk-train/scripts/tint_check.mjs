// Validates every trainer kernel (src/gpu/*.wgsl but the preludes, and
// src/gpu/step/*.wgsl, each
// kernel's entry point named like its file) with Dawn's Tint, the WGSL
// compiler of Chrome: parse, uniformity analysis, WebGPU's default limits
// (16 KiB of workgroup memory, 8 storage buffers per stage). Dawn's null
// backend is enough for that and needs no GPU. Each kernel is checked by
// tint_kernel.mjs in a process of its own: the node binding (webgpu 0.6.2)
// has crashed (SIGSEGV, SIGABRT) compiling many modules in one process,
// and in some scripts even one.
//
//   (cd /tmp/dawn && npm install webgpu@0.6.2)
//   node crates/synctalk-train/scripts/tint_check.mjs /tmp/dawn/node_modules/webgpu
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { NOT_KERNELS } from './tint_kernel.mjs';

const pkg = process.argv[2];
if (!pkg) {
  console.error('usage: node tint_check.mjs <path to the webgpu npm package>');
  process.exit(2);
}
const here = path.dirname(fileURLToPath(import.meta.url));
const dir = path.join(here, '..', 'src', 'gpu');
const wgsl = (sub) =>
  fs.readdirSync(path.join(dir, sub)).filter((f) => f.endsWith('.wgsl')).map((f) => path.join(sub, f));
// TrainStep's glue kernels live in src/gpu/step/.
const files = [...wgsl(''), ...wgsl('step')].filter((f) => !NOT_KERNELS.includes(f)).sort();
let bad = 0;
for (const file of files) {
  const r = spawnSync(process.execPath, [path.join(here, 'tint_kernel.mjs'), pkg, file], { stdio: 'inherit' });
  if (r.status !== 0) {
    if (r.status === null) console.log(`${file}: checker died (${r.signal})`);
    bad++;
  }
}
process.exit(bad ? 1 : 0);
