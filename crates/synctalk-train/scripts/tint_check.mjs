// Validates every trainer kernel (src/gpu/*.wgsl but common.wgsl, whose
// entry point is named like its file) with Dawn's Tint, the WGSL compiler of
// Chrome: parse, uniformity analysis, WebGPU's default limits (16 KiB of
// workgroup memory, 8 storage buffers per stage). Dawn's null backend is
// enough for that and needs no GPU.
//
//   (cd /tmp/dawn && npm install webgpu@0.6.2)
//   node crates/synctalk-train/scripts/tint_check.mjs /tmp/dawn/node_modules/webgpu
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const pkg = process.argv[2];
if (!pkg) {
  console.error('usage: node tint_check.mjs <path to the webgpu npm package>');
  process.exit(2);
}
const { create, globals } = await import(pathToFileURL(path.join(pkg, 'index.js')).href);
Object.assign(globalThis, globals);
const adapter = await create(['backend=null']).requestAdapter();
const device = await adapter.requestDevice(); // default limits
const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'src', 'gpu');
const common = fs.readFileSync(path.join(dir, 'common.wgsl'), 'utf8');
const files = fs.readdirSync(dir).filter((f) => f.endsWith('.wgsl') && f !== 'common.wgsl').sort();
let bad = 0;
for (const file of files) {
  const code = common + '\n' + fs.readFileSync(path.join(dir, file), 'utf8');
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code });
  for (const m of (await module.getCompilationInfo()).messages) {
    if (m.type !== 'info') console.log(`${file}: ${m.type} at line ${m.lineNum}: ${m.message}`);
  }
  device.createComputePipeline({
    layout: 'auto',
    compute: { module, entryPoint: path.basename(file, '.wgsl') },
  });
  const err = await device.popErrorScope();
  if (err) {
    console.log(`${file}: ${err.message}`);
    bad++;
  } else {
    console.log(`${file}: ok`);
  }
}
process.exit(bad ? 1 : 0);
