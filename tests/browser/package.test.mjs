// The npm package as an app developer installs it: `npm pack` of
// www/dist/synctalk, installed (from the tarball, offline) into fresh apps
// that are then served by Vite 8's and Vite 7's dev servers, built by Vite 8
// and by webpack 5, and served as plain static files. Every page carries a
// strict Content-Security-Policy (no inline script or style, no data: or
// blob: scripts). In each, Chromium (WebGPU on SwiftShader) loads the demo
// portrait through the package, draws the first frame (compared with the
// native renderer), follows a microphone (the AudioWorklet file) and
// says typed text with the package's own synthesiser (eSpeak NG in tts/),
// registers the <synctalk-avatar> element with its style. Also: importing the package
// in Node (server-side rendering) does not throw, its TypeScript types check,
// and its package.json is complete.
//
// Needs: www/dist (scripts/web.sh), www/node_modules (npm ci: Vite, webpack,
// TypeScript, Playwright), tests/browser/out/native_frame0.png.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from '../../www/node_modules/playwright-core/index.mjs';
import { ARGS, POLLING, repo, serve } from './lib.mjs';

const www = createRequire(join(repo, 'www', 'package.json'));
const outDir = join(repo, 'tests', 'browser', 'out');
const native = readFileSync(join(outDir, 'native_frame0.png')).toString('base64');
const condition = JSON.parse(readFileSync(join(repo, 'models', 'demo', 'parity', 'parity.json'), 'utf8')).frames[0].condition;
const report = {};

// No inline script or style anywhere, no data:/blob: scripts; wasm allowed.
const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; style-src 'self'; img-src 'self' data:";

/** The app's page: a canvas and the module, under the strict CSP. */
const indexHtml = (script) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<title>an app</title></head>
<body><canvas id="c" width="512" height="512"></canvas>
<script type="module" src="${script}"></script></body></html>
`;

/** The app's module: imports the package by `specifier` and hands it to the test. */
const mainJs = (specifier) => `import * as synctalk from '${specifier}';
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));
window.__synctalk = synctalk;
`;

let work;
let tarball;
let context;
let profile;

/** A fresh app folder with the package installed from the tarball. */
function freshApp(name, specifier, script = './main.js') {
  const app = join(work, name);
  mkdirSync(join(app, 'public'), { recursive: true });
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name, private: true, type: 'module' }));
  writeFileSync(join(app, 'index.html'), indexHtml(script));
  writeFileSync(join(app, 'main.js'), mainJs(specifier));
  cpSync(join(repo, 'models', 'demo', 'portrait.stk'), join(app, 'public', 'portrait.stk'));
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error', tarball], { cwd: app, stdio: ['ignore', 'ignore', 'inherit'] });
  return app;
}

before(async () => {
  mkdirSync(outDir, { recursive: true });
  work = mkdtempSync(join(tmpdir(), 'synctalk-apps-'));
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', work, join(repo, 'www', 'dist', 'synctalk')], { encoding: 'utf8' }));
  tarball = join(work, packed[0].filename);
  report.packedFiles = packed[0].files.map((f) => f.path).sort();
  report.packedBytes = packed[0].size;
  profile = mkdtempSync(join(tmpdir(), 'synctalk-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true, args: ARGS,
  });
});

after(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  if (work) rmSync(work, { recursive: true, force: true });
  writeFileSync(join(outDir, 'package-report.json'), JSON.stringify(report, null, 2));
});

/**
 * Opens `url` and drives the package there: loads the demo portrait
 * (progress counted), draws frame 0 with its expression and compares it with
 * the native render, listens to the fake microphone through the worklet,
 * then shows the element. Returns what it saw.
 */
async function drive(url) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForFunction(() => window.__synctalk, null, { polling: POLLING, timeout: 120_000 });
  const r = await page.evaluate(async ([b64, cond]) => {
    const { Avatar } = window.__synctalk;
    const img = async (b) => {
      const bytes = Uint8Array.from(atob(b), (c) => c.charCodeAt(0));
      const bmp = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
      const c = new OffscreenCanvas(bmp.width, bmp.height);
      c.getContext('2d').drawImage(bmp, 0, 0);
      return c.getContext('2d').getImageData(0, 0, bmp.width, bmp.height).data;
    };
    const psnr = (a, b) => {
      let se = 0;
      let n = 0;
      for (let i = 0; i < a.length; i += 4) for (let k = 0; k < 3; k++) { const d = a[i + k] - b[i + k]; se += d * d; n++; }
      return 10 * Math.log10((255 * 255) / (se / n));
    };
    const out = {};
    try {
      let progress = [0, null];
      const a = await Avatar.load(document.getElementById('c'), 'portrait.stk', {
        autoStart: false, onProgress: (loaded, total) => (progress = [loaded, total]),
      });
      out.progress = progress;
      out.portraitBytes = (await (await fetch('portrait.stk')).arrayBuffer()).byteLength;
      const names = Avatar.blendshapeNames;
      a.setBlendshapes(Object.fromEntries(names.map((n, i) => [n, cond[i]])), 1);
      a.renderAt(0, undefined);
      out.psnr = psnr((await a.readPixels()).data, await img(b64));
      const mic = await navigator.mediaDevices.getUserMedia({ audio: true });
      await a.listen(mic);
      out.listening = a.listening;
      a.stop();
      mic.getTracks().forEach((t) => t.stop());
      // Typed text: eSpeak NG from the package's tts/ folder, wherever the
      // host put it, with no init({tts}).
      const words = [];
      a.addEventListener('subtitle', (e) => words.push(e.detail.word));
      await a.say('Hello there, friend.', { mute: true });
      out.words = words;
      a.dispose();
      // The element, registered by the package, styled under the CSP (its
      // loading is the main suite's to test).
      const el = document.createElement('synctalk-avatar');
      document.body.append(el);
      out.elementWidth = getComputedStyle(el).width;
      out.elementRole = el.getAttribute('role');
      el.remove();
    } catch (e) {
      out.error = `${e.code ?? e.name}: ${e.message}`;
    }
    out.violations = window.__violations;
    return out;
  }, [native, condition]);
  await page.close();
  r.pageErrors = errors;
  return r;
}

/** The files of a build over `min` bytes, but the portrait: the wasm and
 * the synthesiser's voices, each of which must be copied once. */
function bigFiles(dir, min = 5e6) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && statSync(join(e.parentPath, e.name)).size > min)
    .map((e) => e.name).filter((n) => n !== 'portrait.stk').sort();
}

/** The checks every host must pass. */
function check(name, r) {
  report[name] = r;
  assert.equal(r.error, undefined, `${name}: ${r.error}`);
  assert.deepEqual(r.pageErrors, [], `${name}: page errors`);
  assert.deepEqual(r.violations, [], `${name}: CSP violations`);
  assert.ok(r.psnr >= 35, `${name}: first frame vs native ${r.psnr} dB`);
  assert.ok(r.listening, `${name}: the microphone's worklet did not load`);
  assert.equal(r.elementWidth, '320px', `${name}: the element's style did not apply`);
  assert.equal(r.elementRole, 'img', `${name}: the element is not registered`);
  assert.deepEqual(r.words, ['Hello', 'there', 'friend'], `${name}: say() through the package's synthesiser`);
  // The progress counted the portrait and the wasm (the first load on this page).
  assert.ok(r.progress[1] > r.portraitBytes + 1e6 && r.progress[0] === r.progress[1], `${name}: progress ${r.progress} for a ${r.portraitBytes}-byte portrait`);
}

const LIMIT = { timeout: 300_000 };

test('package.json is complete, and the tarball holds what it lists', LIMIT, async () => {
  const app = freshApp('meta', 'synctalk-web');
  const pkg = JSON.parse(readFileSync(join(app, 'node_modules', 'synctalk-web', 'package.json'), 'utf8'));
  for (const key of ['name', 'version', 'description', 'license', 'repository', 'homepage', 'bugs', 'engines', 'types', 'exports', 'files']) {
    assert.ok(pkg[key], `package.json lacks ${key}`);
  }
  assert.equal(pkg.exports['.'].types, './synctalk.d.ts');
  assert.equal(pkg.exports['./package.json'], './package.json');
  for (const f of pkg.files) assert.ok(f.endsWith('/') ? report.packedFiles.some((p) => p.startsWith(f)) : report.packedFiles.includes(f), `the tarball lacks ${f}`);
  // eSpeak NG, with its licence (GPL-3.0-or-later, a separate program: NOTICE).
  for (const f of ['tts/espeak-ng.js', 'tts/espeak-ng.data', 'tts/COPYING']) assert.ok(report.packedFiles.includes(f), f);
  for (const f of ['LICENSE-MIT', 'LICENSE-APACHE', 'NOTICE']) assert.ok(report.packedFiles.includes(f), f);
});

test('importing the package in Node (server-side rendering) does not throw', LIMIT, async () => {
  const app = freshApp('ssr', 'synctalk-web');
  const entry = pathToFileURL(join(app, 'node_modules', 'synctalk-web', 'synctalk.js')).href;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e',
    `const m = await import(${JSON.stringify(entry)}); console.log(JSON.stringify(Object.keys(m).sort()));`], { encoding: 'utf8' });
  assert.deepEqual(JSON.parse(out), ['Avatar', 'SyncTalkAvatarElement', 'SyncTalkError', 'init', 'webgpuAvailable']);
});

test('the package\'s TypeScript types check in an app', LIMIT, async () => {
  const app = freshApp('types', 'synctalk-web');
  writeFileSync(join(app, 'app.ts'), `import { Avatar, init, SyncTalkError, type AvatarStats } from 'synctalk-web';
export async function run(canvas: HTMLCanvasElement, ctx: AudioContext): Promise<number> {
  await init({ worklet: '/capture.js' });
  const abort = new AbortController();
  const a: Avatar = await Avatar.load(canvas, 'portrait.stk', {
    onProgress: (l: number, t: number | null) => void [l, t], signal: abort.signal,
    audioContext: ctx, output: ctx.createGain(), reducedMotion: 'auto', pauseWhenHidden: true,
  });
  const s: AvatarStats = a.stats();
  const speaking: boolean = a.speaking;
  let jaw = 0;
  a.addEventListener('frame', (e) => { jaw = e.detail.blendshapes[0] + (e.detail.speaking ? 1 : 0); });
  a.addEventListener('error', (e) => console.log(e.detail.code));
  a.volume = 0.5;
  a.output.connect(ctx.destination);
  const first = a.speak(new Float32Array(16000), 16000, { mute: true });
  await a.speak(new Float32Array(16000), 16000, { queue: true, signal: abort.signal });
  a.interrupt();
  await first;
  a.setReducedMotion(true);
  const el = document.createElement('synctalk-avatar');
  el.addEventListener('speechstart', (e) => console.log(e.type));
  el.addEventListener('error', (e) => console.log(e.detail.message));
  try { a.setHeadMotion(9); } catch (e) { if (e instanceof SyncTalkError && e.code === 'BAD_ARGUMENT') return 1; }
  return s.fps + (speaking ? 1 : 0) + jaw + (a.reducedMotion ? 1 : 0);
}
`);
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { strict: true, noEmit: true, target: 'es2022', module: 'esnext', moduleResolution: 'bundler', lib: ['es2022', 'dom'], types: [] },
    files: ['app.ts'],
  }));
  const tsc = join(repo, 'www', 'node_modules', '.bin', 'tsc');
  try {
    execFileSync(tsc, ['-p', app], { encoding: 'utf8' });
  } catch (e) {
    assert.fail(`tsc: ${e.stdout}${e.stderr}`);
  }
});

test('a static page (no bundler) under a strict CSP', LIMIT, async () => {
  const app = freshApp('static', './node_modules/synctalk-web/synctalk.js');
  cpSync(join(app, 'public', 'portrait.stk'), join(app, 'portrait.stk'));
  const site = await serve(app, '/app/');
  try {
    check('static', await drive(site.url));
  } finally {
    site.close();
  }
});

for (const [label, pkgName] of [['Vite 8', 'vite'], ['Vite 7', 'vite7']]) {
  test(`${label}'s dev server`, LIMIT, async () => {
    const vite = await import(pathToFileURL(www.resolve(pkgName)).href);
    const app = freshApp(`${pkgName}-dev`, 'synctalk-web');
    const server = await vite.createServer({ root: app, configFile: false, logLevel: 'error', server: { port: 0, host: '127.0.0.1' } });
    await server.listen();
    try {
      report[`${pkgName}Version`] = vite.version;
      check(`${pkgName}-dev`, await drive(server.resolvedUrls.local[0]));
    } finally {
      await server.close();
    }
  });
}

test('Vite 8\'s production build', LIMIT, async () => {
  const vite = await import(pathToFileURL(www.resolve('vite')).href);
  const app = freshApp('vite-build', 'synctalk-web');
  await vite.build({ root: app, configFile: false, logLevel: 'error', base: './', build: { outDir: join(app, 'dist') } });
  // One copy each of the wasm and eSpeak NG's voices.
  report.viteBuildBigFiles = bigFiles(join(app, 'dist'));
  assert.equal(report.viteBuildBigFiles.length, 2, `big files: ${report.viteBuildBigFiles}`);
  const site = await serve(join(app, 'dist'), '/app/');
  try {
    check('vite-build', await drive(site.url));
  } finally {
    site.close();
  }
});

test('webpack 5\'s production build', LIMIT, async () => {
  const { default: webpack } = await import(pathToFileURL(www.resolve('webpack')).href);
  const app = freshApp('webpack', 'synctalk-web');
  const dist = join(app, 'dist');
  const stats = await new Promise((res, rej) => webpack({
    mode: 'production', context: app, entry: './main.js',
    output: { path: dist, filename: 'main.js', publicPath: 'auto' },
    performance: { hints: false },
  }, (err, s) => (err ? rej(err) : res(s))));
  assert.ok(!stats.hasErrors(), stats.toString('errors-only'));
  report.webpackVersion = webpack.version;
  writeFileSync(join(dist, 'index.html'), indexHtml('./main.js'));
  cpSync(join(app, 'public', 'portrait.stk'), join(dist, 'portrait.stk'));
  report.webpackBigFiles = bigFiles(dist);
  assert.equal(report.webpackBigFiles.length, 2, `big files: ${report.webpackBigFiles}`);
  const site = await serve(dist, '/app/');
  try {
    check('webpack', await drive(site.url));
  } finally {
    site.close();
  }
});
