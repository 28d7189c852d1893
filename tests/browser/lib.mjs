// Shared by the browser tests: a plain static server, and Chromium's flags
// for WebGPU on the CPU (SwiftShader) with a fake microphone.

import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Serves `root` under `prefix` with `python3 -m http.server` (the plain
 * static server the README promises works), on a free port. */
export function serve(root, prefix, port = 0) {
  const dir = mkdtempSync(join(tmpdir(), 'synctalk-site-'));
  const parts = prefix.split('/').filter(Boolean);
  mkdirSync(join(dir, ...parts.slice(0, -1)), { recursive: true });
  symlinkSync(root, join(dir, ...parts));
  const proc = spawn('python3', ['-u', '-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', dir], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return new Promise((resolve, reject) => {
    proc.on('exit', (code) => reject(new Error(`python3 -m http.server exited (${code})`)));
    proc.stdout.on('data', (d) => {
      const m = /port (\d+)/.exec(String(d));
      if (m) {
        resolve({
          url: `http://127.0.0.1:${m[1]}${prefix}`,
          close: () => {
            proc.kill();
            rmSync(dir, { recursive: true, force: true });
          },
        });
      }
    });
  });
}

// Flags verified in ../shared/notes/webgpu-headless.md.
export const ARGS = [
  '--headless=new', '--no-sandbox', '--disable-gpu-sandbox', '--enable-unsafe-webgpu',
  '--use-angle=swiftshader', '--use-webgpu-adapter=opengles',
  // Two Dawn safety nets that cost SwiftShader more than the frame itself:
  // Tint's zero-initialisation of workgroup memory (a loop and one more
  // barrier in every synchronising workgroup; our kernels initialise what
  // they read, so a kernel that relied on it fails here) and robust
  // buffer access (bounds clamps on every access; our kernels stay in
  // bounds). Measured in this browser on 2 cores, the demo portrait's
  // 512x512 frame (GPU process CPU time, 3 frames each): 10.4 s with
  // both, 4.7 to 5.7 without the first, 8.1 to 8.4 without the second,
  // 5.3 to 5.7 without either. WebGPU validation stays on
  // (`skip_validation` would hide API misuse).
  '--enable-dawn-features=disable_workgroup_init,disable_robustness',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--no-first-run', '--disable-quic', '--autoplay-policy=no-user-gesture-required',
  // A microphone that hears the sample speech (looped), granted without a prompt.
  '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
  `--use-file-for-fake-audio-capture=${join(repo, 'www', 'assets', 'speech', 'jfk.wav')}`,
];


// How often `page.waitForFunction` looks at its condition, in ms. Its
// default polls on requestAnimationFrame, which waits for the GPU: here a
// frame the software renderer is still drawing held each look back by a
// whole frame (a condition set after 200 ms was seen after 3.4 to 4.3 s;
// with this, after 210 to 226 ms). The conditions are the same.
export const POLLING = 100;
