// Validates one trainer kernel with Dawn's Tint (see tint_check.mjs), with
// common.wgsl and the preludes PRELUDES lists prepended as kernel.rs and
// project.rs prepend them.
//
//   node crates/synctalk-train/scripts/tint_kernel.mjs <webgpu package> project_bwd.wgsl
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// Files that are not kernels, and what each kernel needs besides common.wgsl.
export const NOT_KERNELS = ['common.wgsl', 'controller.wgsl', 'frame.wgsl', 'gaussian.wgsl', 'loss.wgsl',
  'loss_runs.wgsl', 'quat.wgsl', 'rotation.wgsl'];
const PRELUDES = {
  'project_fwd.wgsl': ['frame.wgsl', 'quat.wgsl', 'gaussian.wgsl'],
  'project_bwd.wgsl': ['frame.wgsl', 'quat.wgsl', 'gaussian.wgsl'],
  'noise.wgsl': ['quat.wgsl'],
  'pose_view.wgsl': ['rotation.wgsl'],
  'pose_bwd.wgsl': ['rotation.wgsl'],
  'loss_pixel.wgsl': ['loss.wgsl'],
  'ssim_rows.wgsl': ['loss.wgsl'],
  'ssim_cols.wgsl': ['loss.wgsl'],
  'ssim_spread.wgsl': ['loss.wgsl'],
  'loss_grad.wgsl': ['loss.wgsl'],
  'loss_pixel_runs.wgsl': ['loss.wgsl', 'loss_runs.wgsl'],
  'ssim_rows_runs.wgsl': ['loss.wgsl', 'loss_runs.wgsl'],
  'ssim_cols_runs.wgsl': ['loss.wgsl', 'loss_runs.wgsl'],
  'ssim_tree_runs.wgsl': ['loss.wgsl', 'loss_runs.wgsl'],
  'ssim_spread_runs.wgsl': ['loss.wgsl', 'loss_runs.wgsl'],
  'loss_grad_runs.wgsl': ['loss.wgsl', 'loss_runs.wgsl'],
  'deform_bwd.wgsl': ['frame.wgsl'],
  'controller_fwd.wgsl': ['controller.wgsl'],
  'controller_bwd.wgsl': ['controller.wgsl'],
  'step/step_init.wgsl': ['frame.wgsl'],
  'step/tile_counts.wgsl': ['frame.wgsl'],
  'step/emit.wgsl': ['frame.wgsl'],
};
// Entry points not named like their file (a variable holds the name).
const ENTRIES = {
  'step/tile_counts.wgsl': 'tile_counts_main',
  'step/ranges.wgsl': 'ranges_main',
};

const [pkg, file] = process.argv.slice(2);
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (!pkg || !file) {
    console.error('usage: node tint_kernel.mjs <path to the webgpu npm package> <kernel.wgsl>');
    process.exit(2);
  }
  const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'src', 'gpu');
  const code = ['common.wgsl', ...(PRELUDES[file] ?? []), file]
    .map((f) => fs.readFileSync(path.join(dir, f), 'utf8'))
    .join('\n');
  const { create, globals } = await import(pathToFileURL(path.join(pkg, 'index.js')).href);
  Object.assign(globalThis, globals);
  const adapter = await create(['backend=null']).requestAdapter();
  const device = await adapter.requestDevice(); // default limits
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code });
  for (const m of (await module.getCompilationInfo()).messages) {
    if (m.type !== 'info') console.log(`${file}: ${m.type} at line ${m.lineNum}: ${m.message}`);
  }
  device.createComputePipeline({
    layout: 'auto',
    compute: { module, entryPoint: ENTRIES[file] ?? path.basename(file, '.wgsl') },
  });
  const err = await device.popErrorScope();
  console.log(err ? `${file}: ${err.message}` : `${file}: ok`);
  process.exit(err ? 1 : 0);
}
