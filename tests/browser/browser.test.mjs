// The browser product in Debian's Chromium, headless, with WebGPU on the CPU
// (SwiftShader), driven by Playwright. Checks by value: the first frame
// against the native renderer, lips that follow speech and rest in silence,
// setBlendshapes, speech streamed as it arrives, a microphone, offline reload
// through the service worker, no request to another origin, a message
// without WebGPU, bad portraits, a lost device.
//
// Needs: www/dist (scripts/web.sh) and the native render of the demo's frame
// 0 (scripts/browser-test.sh makes it and runs this file with `node --test`).
// Figures go to tests/browser/out/report.json.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdirSync, writeFileSync, mkdtempSync, rmSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from '../../www/node_modules/playwright-core/index.mjs';
import { ARGS, POLLING, serve } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const dist = join(repo, 'www', 'dist');
const outDir = join(here, 'out');
const native = readFileSync(process.env.NATIVE_FRAME ?? join(outDir, 'native_frame0.png')).toString('base64');
const condition = JSON.parse(readFileSync(join(repo, 'models', 'demo', 'parity', 'parity.json'), 'utf8')).frames[0].condition;
const report = {};

let site;
let profile;
let context;
const foreign = [];

before(async () => {
  mkdirSync(outDir, { recursive: true });
  // Served under a sub-path, as on a static host.
  site = await serve(dist, '/synctalk/demo/');
  profile = mkdtempSync(join(tmpdir(), 'synctalk-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ARGS,
    viewport: { width: 800, height: 900 },
  });
  const origin = new URL(site.url).origin;
  context.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(origin + '/') && !u.startsWith('data:') && !u.startsWith('blob:')) foreign.push(u);
  });
});

after(async () => {
  await context?.close();
  site?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  writeFileSync(join(outDir, 'report.json'), JSON.stringify(report, null, 2));
});

async function open(path, init) {
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(String(e)));
  if (init) await page.addInitScript(init);
  await page.goto(site.url + path);
  await page.waitForFunction(() => window.__synctalkReady, null, { polling: POLLING, timeout: 120_000 });
  page.errors = errors;
  return page;
}

// Image helpers evaluated in the page: decode PNGs, PSNR, region differences.
const HELPERS = `
window.__img = async (b64) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const bmp = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
  const c = new OffscreenCanvas(bmp.width, bmp.height);
  const g = c.getContext('2d');
  g.drawImage(bmp, 0, 0);
  return g.getImageData(0, 0, bmp.width, bmp.height).data;
};
window.__psnr = (a, b) => {
  let se = 0, n = 0;
  for (let i = 0; i < a.length; i += 4) for (let c = 0; c < 3; c++) { const d = a[i + c] - b[i + c]; se += d * d; n++; }
  return se === 0 ? Infinity : 10 * Math.log10((255 * 255) / (se / n));
};
window.__diff = (a, b, [x0, y0, x1, y1], w = 512) => {
  let s = 0, n = 0;
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) {
    const i = 4 * (y * w + x);
    for (let c = 0; c < 3; c++) { s += Math.abs(a[i + c] - b[i + c]); n++; }
  }
  return s / n;
};
`;
// In pose frame 0 of the demo portrait: the mouth and the eyes.
const MOUTH = [200, 330, 330, 430];
const EYES = [160, 200, 350, 270];

let page;

// Every test has a deadline, so that a wait which never ends (a service
// worker that cannot install, a crashed GPU process) fails with its name
// instead of hanging the suite. The slowest test takes about 45 s here.
const LIMIT = { timeout: 240_000 };

test('the demo page loads and the first frame matches the native renderer', LIMIT, async () => {
  page = await open('index.html?test');
  assert.equal(await page.evaluate(() => window.__synctalkReady), 'ok', page.errors.join('\n'));
  await page.evaluate(HELPERS);
  const info = await page.evaluate(() => window.__synctalk.info);
  report.adapter = info.adapter;
  report.surfaceFormat = info.surfaceFormat;
  report.loadMs = await page.evaluate(() => window.__synctalkLoadMs);
  const r = await page.evaluate(async ([b64, cond]) => {
    const a = window.__synctalk;
    const names = a.constructor.blendshapeNames;
    a.setBlendshapes(Object.fromEntries(names.map((n, i) => [n, cond[i]])), 1);
    a.renderAt(0, undefined);
    const { data } = await a.readPixels();
    const ref = await window.__img(b64);
    // What the canvas shows: the output composited over black (opaque here).
    return { psnr: window.__psnr(data, ref), stats: a.stats() };
  }, [native, condition]);
  report.firstFramePsnrReadback = r.psnr;
  assert.ok(r.psnr >= 35, `browser readback vs native: ${r.psnr.toFixed(2)} dB`);
  // And from the screen: a screenshot of the canvas.
  const box = await page.locator('#avatar').boundingBox();
  report.canvasBox = box;
  const png = await page.screenshot({ clip: { x: Math.round(box.x), y: Math.round(box.y), width: 512, height: 512 } });
  writeFileSync(join(outDir, 'browser_frame0.png'), png);
  const s = await page.evaluate(async ([a, b]) => {
    const x = await window.__img(a);
    const y = await window.__img(b);
    if (x.length !== y.length) throw new Error(`screenshot has ${x.length / 4} pixels, the native frame ${y.length / 4}`);
    return window.__psnr(x, y);
  }, [png.toString('base64'), native]);
  report.firstFramePsnrScreenshot = s;
  assert.ok(s >= 35, `screenshot vs native: ${s.toFixed(2)} dB`);
  report.gpuBytes = r.stats.gpuBytes;
  report.wasmHeapBytes = r.stats.wasmHeapBytes;
  assert.ok(r.stats.gpuBytes < 256 * 2 ** 20, `GPU memory ${r.stats.gpuBytes}`);
  assert.ok(r.stats.wasmHeapBytes < 128 * 2 ** 20, `wasm heap ${r.stats.wasmHeapBytes}`);
});

test('setBlendshapes({jawOpen: 1}) opens the mouth', LIMIT, async () => {
  const r = await page.evaluate(async ([cond, MOUTH, EYES]) => {
    const a = window.__synctalk;
    const names = a.constructor.blendshapeNames;
    a.clearBlendshapes();
    a.setBlendshapes(Object.fromEntries(names.map((n, i) => [n, cond[i]])), 1);
    a.setBlendshapes({ jawOpen: 0 }, 1);
    a.renderAt(0, undefined);
    const closed = (await a.readPixels()).data;
    a.setBlendshapes({ jawOpen: 1 }, 1);
    a.renderAt(0, undefined);
    const open = (await a.readPixels()).data;
    const png = new Uint8Array(await (await a.captureFrame()).arrayBuffer());
    const b64 = btoa(Array.from(png, (c) => String.fromCharCode(c)).join(''));
    // Dark pixels (the open mouth's inside) in the mouth box.
    const dark = (d) => {
      let n = 0;
      for (let y = MOUTH[1]; y < MOUTH[3]; y++) for (let x = MOUTH[0]; x < MOUTH[2]; x++) {
        const i = 4 * (y * 512 + x);
        if (0.3 * d[i] + 0.59 * d[i + 1] + 0.11 * d[i + 2] < 70) n++;
      }
      return n;
    };
    let bad = null;
    try { a.setBlendshapes({ jawOpenn: 1 }); } catch (e) { bad = { code: e.code, message: e.message }; }
    let badStrength = null;
    try { a.setExpressionStrength(5); } catch (e) { badStrength = { code: e.code, message: e.message }; }
    a.setExpressionStrength(1);
    let badHead = null;
    try { a.setHeadMotion(-1); } catch (e) { badHead = { code: e.code, message: e.message }; }
    a.setHeadMotion(1);
    let badPace = null;
    try { a.setIdlePace(0); } catch (e) { badPace = { code: e.code, message: e.message }; }
    a.setIdlePace(0.35);
    a.clearBlendshapes();
    return { mouth: window.__diff(open, closed, MOUTH), eyes: window.__diff(open, closed, EYES), darkClosed: dark(closed), darkOpen: dark(open), bad, badStrength, badHead, badPace, b64 };
  }, [condition, MOUTH, EYES]);
  writeFileSync(join(outDir, 'jaw_open.png'), Buffer.from(r.b64, 'base64'));
  delete r.b64;
  report.jawOpen = r;
  assert.ok(r.mouth > 8, `mouth region changed by ${r.mouth.toFixed(2)} levels`);
  assert.ok(r.mouth > 1.5 * r.eyes, `change not in the mouth (mouth ${r.mouth.toFixed(2)}, eyes ${r.eyes.toFixed(2)})`);
  assert.ok(r.darkOpen > r.darkClosed + 300, `dark mouth pixels ${r.darkClosed} -> ${r.darkOpen}`);
  assert.equal(r.bad?.code, 'BAD_ARGUMENT');
  assert.match(r.bad.message, /jawOpenn/);
  assert.equal(r.badStrength?.code, 'BAD_ARGUMENT');
  assert.match(r.badStrength.message, /expression strength 5/);
  assert.equal(r.badHead?.code, 'BAD_ARGUMENT');
  assert.match(r.badHead.message, /head motion -1/);
  assert.equal(r.badPace?.code, 'BAD_ARGUMENT');
  assert.match(r.badPace.message, /idle pace 0 /);
});

test('speech moves the mouth from frame to frame; silence does not', LIMIT, async () => {
  const r = await page.evaluate(async (MOUTH) => {
    const a = window.__synctalk;
    const bytes = await (await fetch('./assets/jfk.wav')).arrayBuffer();
    const buf = await new OfflineAudioContext(1, 16000, 16000).decodeAudioData(bytes);
    const samples = buf.getChannelData(0).slice(0, 4 * buf.sampleRate);
    // Frames placed by explicit speech times, at one head pose.
    await a.prepareSpeech(samples, buf.sampleRate);
    const frames = async () => {
      const out = [];
      for (let t = 0.6; t < 3.0; t += 0.2) {
        a.renderAt(0, t);
        out.push((await a.readPixels()).data);
      }
      return out;
    };
    const diffs = (f) => f.slice(1).map((d, i) => window.__diff(d, f[i], MOUTH));
    const speaking = diffs(await frames());
    a.stop();
    const silent = diffs(await frames());
    return { speaking, silent };
  }, MOUTH);
  report.speechMouthDiffs = r;
  const moving = r.speaking.filter((d) => d > 1.0).length;
  assert.ok(moving >= r.speaking.length * 0.6, `mouth changed in ${moving}/${r.speaking.length} steps: ${r.speaking.map((d) => d.toFixed(2))}`);
  assert.ok(Math.max(...r.silent) < 0.05, `silence changed the mouth: ${r.silent.map((d) => d.toFixed(3))}`);
});

test('benchAudio(): the audio side per displayed frame, as natively', LIMIT, async () => {
  const r = await page.evaluate(async () => {
    const a = window.__synctalk;
    return a.benchAudio('./assets/jfk.wav', { fps: 60, chunk: 128 });
  });
  // A figure for the report (this is the test build: opt-level 1, no
  // wasm-opt); the check is only that every frame was timed.
  report.benchAudio = r;
  assert.ok(r.frames > 500 && r.meanMs > 0 && r.maxMs >= r.p95Ms, JSON.stringify(r));
});

test('real playback: the audio clock drives the lips and speak() resolves at the end', LIMIT, async () => {
  const r = await page.evaluate(async () => {
    const a = window.__synctalk;
    const bytes = await (await fetch('./assets/jfk.wav')).arrayBuffer();
    const buf = await new OfflineAudioContext(1, 16000, 16000).decodeAudioData(bytes);
    const samples = buf.getChannelData(0).slice(Math.round(0.5 * buf.sampleRate), Math.round(3.5 * buf.sampleRate));
    a.start();
    const jaw = [];
    let speaking = 0;
    const frames0 = a.stats().framesRendered;
    const t0 = performance.now();
    // The lips as the audio clock places them now, without drawing (drawn
    // frames are rare on SwiftShader, and how many fall in these 3 s is up
    // to the machine: the 40-minute test checks that drawn frames follow
    // speech, waiting for them).
    const timer = setInterval(() => {
      jaw.push(a.blendshapes().jawOpen);
      speaking += a.speaking ? 1 : 0;
    }, 50);
    await a.speak(samples, buf.sampleRate, { mute: true });
    const seconds = (performance.now() - t0) / 1000;
    clearInterval(timer);
    const s = a.stats();
    a.pause();
    const mean = jaw.reduce((x, y) => x + y, 0) / jaw.length;
    const std = Math.sqrt(jaw.reduce((x, y) => x + (y - mean) ** 2, 0) / jaw.length);
    return { seconds, frames: s.framesRendered - frames0, fps: s.fps, jawStd: std, speaking, after: a.speaking, samples: jaw.length, stats: s };
  });
  report.playback = r;
  report.headlessFps = r.fps;
  assert.ok(r.seconds >= 2.9 && r.seconds < 10, `speak() took ${r.seconds} s for 3 s of audio`);
  // The sample starts in a word and ends in one: speaking for most of it.
  assert.ok(r.speaking > r.samples / 2, `speaking in ${r.speaking} of ${r.samples} samples`);
  assert.equal(r.after, false, 'still speaking after speak() resolved');
  assert.ok(r.jawStd > 0.01, `jawOpen std ${r.jawStd}`);
  assert.ok(r.stats.faceSync && r.stats.expression && r.stats.headSync, 'the portrait\'s three networks run');
  assert.ok(r.stats.wasmHeapBytes < 128 * 2 ** 20);
});

/** Standard deviation. */
const STD = `window.__std = (v) => {
  const m = v.reduce((x, y) => x + y, 0) / v.length;
  return Math.sqrt(v.reduce((x, y) => x + (y - m) ** 2, 0) / v.length);
};`;

test('40 minutes of speech fit the wasm memory budget: speak() streams long speech into the engine', LIMIT, async () => {
  const r = await page.evaluate(async () => {
    const a = window.__synctalk;
    const bytes = await (await fetch('./assets/jfk.wav')).arrayBuffer();
    const one = (await new OfflineAudioContext(1, 16000, 16000).decodeAudioData(bytes)).getChannelData(0);
    const rate = 16000;
    const long = new Float32Array(40 * 60 * rate);
    for (let i = 0; i < long.length; i += one.length) long.set(one.subarray(0, Math.min(one.length, long.length - i)), i);
    let refused = null;
    try {
      await a.prepareSpeech(long, rate);
    } catch (e) {
      refused = `${e.code}: ${e.message}`;
    }
    const done = a.speak(long, rate, { mute: true });
    // The animation loop draws frames that follow the speech: waits for
    // two of them (SwiftShader takes up to seconds a frame; the speech lasts
    // 40 minutes, the deadline is 150 s), and for at least 20 samples of
    // `speaking`, so that a fast renderer still gives a fair count.
    const before = a.stats().speakingFrames;
    a.start();
    const t0 = performance.now();
    let speaking = 0;
    let samples = 0;
    while ((a.stats().speakingFrames < before + 2 || samples < 20) && performance.now() - t0 < 150_000) {
      await new Promise((res) => setTimeout(res, 100));
      speaking += a.speaking ? 1 : 0;
      samples++;
    }
    const s = a.stats();
    a.pause();
    a.stop();
    await done;
    return { refused, heap: s.wasmHeapBytes, drawn: s.speakingFrames - before, waitedS: (performance.now() - t0) / 1000, speaking, samples, after: a.speaking };
  });
  report.longSpeech = r;
  assert.match(r.refused ?? '', /BAD_AUDIO: prepareSpeech\(\) holds at most 10 minutes/);
  assert.ok(r.drawn >= 2, `${r.drawn} drawn frames followed the long speech in ${r.waitedS.toFixed(1)} s`);
  assert.ok(r.speaking > r.samples / 2, `the lips follow the long speech: speaking in ${r.speaking} of ${r.samples} samples`);
  assert.equal(r.after, false, 'speaking after stop()');
  assert.ok(r.heap < 128 * 2 ** 20, `wasm heap ${r.heap}`);
});

test('a 3-hour WAV file is spoken as it is read; a truncated one ends early; a compressed file over 64 MB is refused', LIMIT, async () => {
  const r = await page.evaluate(async () => {
    const a = window.__synctalk;
    const bytes = await (await fetch('./assets/jfk.wav')).arrayBuffer();
    const one = (await new OfflineAudioContext(1, 16000, 16000).decodeAudioData(bytes)).getChannelData(0);
    const pcm = Int16Array.from(one, (x) => Math.max(-32768, Math.min(32767, Math.round(x * 32767))));
    const rate = 16000;
    // A WAV file of `seconds` (as its header says) whose body is generated
    // as it is read, stopping after `body` seconds: counts what was pulled.
    const wav = (seconds, body) => {
      const data = seconds * rate * 2;
      const head = new DataView(new ArrayBuffer(44));
      const tag = (o, t) => [...t].forEach((ch, i) => head.setUint8(o + i, ch.charCodeAt(0)));
      tag(0, 'RIFF'); head.setUint32(4, Math.min(36 + data, 0xffffffff), true); tag(8, 'WAVE');
      tag(12, 'fmt '); head.setUint32(16, 16, true); head.setUint16(20, 1, true); head.setUint16(22, 1, true);
      head.setUint32(24, rate, true); head.setUint32(28, rate * 2, true); head.setUint16(32, 2, true); head.setUint16(34, 16, true);
      tag(36, 'data'); head.setUint32(40, data, true);
      const state = { pulled: 0, sent: 0 };
      const end = body * rate * 2;
      state.response = new Response(new ReadableStream({
        pull(c) {
          if (state.pulled === 0) {
            state.pulled = 44;
            c.enqueue(new Uint8Array(head.buffer));
            return;
          }
          if (state.sent >= end) {
            c.close();
            return;
          }
          const n = Math.min(32768, (end - state.sent) / 2);
          const out = new Int16Array(n);
          for (let i = 0; i < n; i++) out[i] = pcm[(state.sent / 2 + i) % pcm.length];
          c.enqueue(new Uint8Array(out.buffer));
          state.sent += 2 * n;
          state.pulled += 2 * n;
        },
      }, { highWaterMark: 0 }));
      return state;
    };
    const long = wav(3 * 3600, 3 * 3600);
    const t0 = performance.now();
    const done = a.speak(long.response, undefined, { mute: true });
    const jaw = [];
    let speaking = 0;
    const timer = setInterval(() => {
      jaw.push(a.blendshapes().jawOpen);
      speaking += a.speaking ? 1 : 0;
    }, 100);
    await new Promise((res) => setTimeout(res, 8000));
    clearInterval(timer);
    const s = a.stats();
    const elapsed = (performance.now() - t0) / 1000;
    const pulled = long.pulled;
    a.stop();
    await done;
    // A header that promises 3 hours over 2 seconds of sound: it ends there.
    const short = wav(3 * 3600, 2);
    const t1 = performance.now();
    await a.speak(short.response, undefined, { mute: true });
    const truncatedSeconds = (performance.now() - t1) / 1000;
    let big = null;
    try {
      await a.speak(new Blob([new Uint8Array(65 * 2 ** 20)]));
    } catch (e) {
      big = `${e.code}: ${e.message}`;
    }
    return { elapsed, pulled, heap: s.wasmHeapBytes, arena: { bytes: s.arenaBytes, highWater: s.arenaHighWaterBytes, resets: s.arenaResets, overflows: s.arenaOverflows }, speaking, samples: jaw.length, jawStd: Math.sqrt(jaw.reduce((x, y) => x + y * y, 0) / jaw.length - (jaw.reduce((x, y) => x + y, 0) / jaw.length) ** 2), truncatedSeconds, big };
  });
  report.threeHourWav = r;
  // Read no further than 20 s ahead of playback (plus a chunk or two).
  assert.ok(r.pulled < (r.elapsed + 23) * 32000, `pulled ${r.pulled} bytes in ${r.elapsed.toFixed(1)} s`);
  assert.ok(r.speaking > r.samples / 2 && r.jawStd > 0.01, `speaking ${r.speaking}/${r.samples}, jaw std ${r.jawStd}`);
  assert.ok(r.heap < 128 * 2 ** 20, `wasm heap ${r.heap}`);
  // The networks' tensors came from the frame arena (a reset per run), none
  // from the heap.
  assert.ok(r.arena.resets > 30 && r.arena.overflows === 0, JSON.stringify(r.arena));
  assert.ok(r.truncatedSeconds > 1.5 && r.truncatedSeconds < 10, `truncated WAV took ${r.truncatedSeconds} s`);
  assert.match(r.big ?? '', /BAD_AUDIO: the audio file is 65 MB: .*at most 64 MB/);
});

test('a ReadableStream of PCM chunks is spoken as it arrives', LIMIT, async () => {
  await page.evaluate(STD);
  const r = await page.evaluate(async () => {
    const a = window.__synctalk;
    a.clearBlendshapes();
    const bytes = await (await fetch('./assets/jfk.wav')).arrayBuffer();
    const buf = await new OfflineAudioContext(1, 16000, 16000).decodeAudioData(bytes);
    const samples = buf.getChannelData(0).slice(Math.round(0.5 * buf.sampleRate), Math.round(3.5 * buf.sampleRate));
    // A TTS engine producing 100 ms chunks a little faster than real time.
    const chunk = 1600;
    let at = 0;
    let closedAt = null;
    const stream = new ReadableStream({
      async pull(controller) {
        await new Promise((r) => setTimeout(r, 80));
        if (at >= samples.length) {
          closedAt = performance.now();
          controller.close();
          return;
        }
        controller.enqueue(samples.slice(at, at + chunk));
        at += chunk;
      },
    });
    const t0 = performance.now();
    let ended = false;
    const done = a.speak(stream, 16000, { mute: true }).then(() => (ended = true));
    const jaw = [];
    let firstMove = null;
    while (closedAt === null) {
      await new Promise((r) => setTimeout(r, 40));
      const j = a.blendshapes().jawOpen;
      if (firstMove === null && jaw.length && Math.abs(j - jaw[0]) > 0.01) firstMove = performance.now() - t0;
      jaw.push(j);
    }
    await done;
    const seconds = (performance.now() - t0) / 1000;
    // A NaN in a chunk is refused, and the avatar goes back to rest.
    const bad = new ReadableStream({ start(c) { c.enqueue(new Float32Array([0, NaN])); c.close(); } });
    const err = await a.speak(bad, 16000, { mute: true }).then(() => null, (e) => ({ code: e.code, message: e.message }));
    return { seconds, jawStd: window.__std(jaw), samples: jaw.length, firstMoveMs: firstMove, streamOpenS: (closedAt - t0) / 1000, ended, err };
  });
  report.streamedSpeech = r;
  assert.ok(r.jawStd > 0.01, `jawOpen std ${r.jawStd} while the stream was open (${r.samples} samples)`);
  // The lips move while the stream is still arriving (not only once it is whole).
  assert.ok(r.firstMoveMs !== null && r.firstMoveMs < 1000 * r.streamOpenS, `the lips first moved after ${r.firstMoveMs} ms; the stream closed after ${r.streamOpenS} s`);
  assert.ok(r.seconds >= 2.9 && r.seconds < 10, `speak(stream) took ${r.seconds} s for 3 s of audio`);
  assert.equal(r.err?.code, 'BAD_AUDIO', JSON.stringify(r.err));
  assert.match(r.err.message, /sample 1 is not finite/);
});

test('listen(): the lips follow a microphone (Chromium capturing the sample speech)', LIMIT, async () => {
  await page.evaluate(STD);
  const r = await page.evaluate(async () => {
    const a = window.__synctalk;
    const mic = await navigator.mediaDevices.getUserMedia({ audio: true });
    await a.listen(mic);
    const listening = a.listening;
    a.start();
    const jaw = [];
    const t0 = performance.now();
    let heapMid = null;
    while (performance.now() - t0 < 5000) {
      await new Promise((r) => setTimeout(r, 40));
      jaw.push(a.blendshapes().jawOpen);
      if (heapMid === null && performance.now() - t0 > 2500) heapMid = a.stats().wasmHeapBytes;
    }
    const s = a.stats();
    const speaking = a.speaking;
    a.pause();
    a.stop();
    mic.getTracks().forEach((t) => t.stop());
    const rest = [];
    for (let i = 0; i < 10; i++) rest.push(a.blendshapes().jawOpen);
    let err = null;
    try {
      await a.listen({});
    } catch (e) {
      err = e.code;
    }
    return { listening, after: a.listening, jawStd: window.__std(jaw), restStd: window.__std(rest), samples: jaw.length, speaking, frames: s.framesRendered, latencyMs: 1000 * s.audioLatency, heapMid, wasmHeapBytes: s.wasmHeapBytes, err };
  });
  report.microphone = r;
  assert.ok(r.listening && !r.after, 'listening state');
  assert.ok(r.jawStd > 0.02, `jawOpen std ${r.jawStd} over ${r.samples} samples`);
  assert.equal(r.restStd, 0, 'after stop() the face rests');
  assert.ok(r.speaking, 'the lips were following the microphone');
  // Look-ahead 100 ms + capture chunk + drawing (SwiftShader: seconds).
  assert.ok(r.latencyMs > 100 && r.latencyMs < 10_000, `latency ${r.latencyMs} ms`);
  assert.equal(r.err, 'BAD_ARGUMENT');
  assert.equal(r.wasmHeapBytes, r.heapMid, 'the wasm heap grew while listening');
});

test('bad portraits are refused with BAD_PORTRAIT, not a crash', LIMIT, async () => {
  const r = await page.evaluate(async () => {
    const { Avatar } = await import('./synctalk/synctalk.js');
    const full = new Uint8Array(await (await fetch('./assets/demo.stk')).arrayBuffer());
    const out = {};
    for (const [name, bytes] of [['garbage', new Uint8Array([1, 2, 3, 4, 5])], ['truncated', full.slice(0, 200_000)]]) {
      const c = document.createElement('canvas');
      try {
        await Avatar.load(c, bytes, { autoStart: false });
        out[name] = 'loaded';
      } catch (e) {
        out[name] = { code: e.code, message: e.message };
      }
    }
    return out;
  });
  report.badPortraits = r;
  assert.equal(r.garbage.code, 'BAD_PORTRAIT', JSON.stringify(r.garbage));
  assert.equal(r.truncated.code, 'BAD_PORTRAIT', JSON.stringify(r.truncated));
  assert.match(r.truncated.message, /truncat|end|chunk/i);
});

test('a lost GPU device is recovered', LIMIT, async () => {
  const r = await page.evaluate(async ([b64, cond]) => {
    const a = window.__synctalk;
    const recovered = new Promise((res) => a.addEventListener('recovered', res, { once: true }));
    a.loseDevice();
    a.start();
    await Promise.race([recovered, new Promise((_, rej) => setTimeout(() => rej(new Error('no recovery in 60 s')), 60_000))]);
    a.pause();
    const names = a.constructor.blendshapeNames;
    a.clearBlendshapes();
    a.setBlendshapes(Object.fromEntries(names.map((n, i) => [n, cond[i]])), 1);
    a.renderAt(0, undefined);
    const { data } = await a.readPixels();
    return window.__psnr(data, await window.__img(b64));
  }, [native, condition]);
  report.afterDeviceLossPsnr = r;
  assert.ok(r >= 35, `after recovery: ${r} dB`);
  await page.close();
});

test('a page without WebGPU shows a message', LIMIT, async () => {
  const p = await open('index.html?test', () => {
    Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true });
  });
  assert.equal(await p.evaluate(() => window.__synctalkReady), 'error');
  const msg = await p.locator('#message');
  assert.ok(await msg.isVisible());
  assert.match(await msg.textContent(), /WebGPU/);
  await p.close();
});

test('the <synctalk-avatar> element loads, sized by CSS', LIMIT, async () => {
  const p = await context.newPage();
  await p.goto(site.url + 'element.html');
  await p.waitForFunction(() => document.querySelector('synctalk-avatar').avatar, null, { polling: POLLING, timeout: 120_000 });
  const r = await p.evaluate(() => {
    const el = document.querySelector('synctalk-avatar');
    const c = el.shadowRoot.querySelector('canvas');
    return { css: c.getBoundingClientRect().width, width: c.width, name: el.avatar.info.name };
  });
  // It draws at its CSS size (the device pixel ratio is 1 here).
  assert.equal(r.width, 360);
  assert.ok(Math.abs(r.css - 360) < 1, `canvas is ${r.css} CSS px wide`);
  await p.close();
});

/** Waits for the demo page (no `?test`: its service worker registers and
 * its animation loop starts) to be ready, then pauses that loop: what this
 * test checks is the service worker, and a software renderer drawing
 * frames as fast as it can (seconds each) slowed every wait here. */
async function ready(p) {
  await p.waitForFunction(() => window.__synctalkReady, null, { polling: POLLING, timeout: 120_000 });
  await p.evaluate(() => window.__synctalk?.pause());
}

test('the page works offline after the first visit (service worker), a new build replaces the cache, and only its origin is contacted', LIMIT, async () => {
  const p = await context.newPage();
  await p.goto(site.url);
  await ready(p);
  // Waits (at most 90 s) for the worker to activate with every file cached.
  // `navigator.serviceWorker.ready` is not awaited: it never settles when
  // the install fails (a full disk gives a small storage quota), which once
  // hung this suite until CI's limit.
  const worker = await p.evaluate(async () => {
    const until = performance.now() + 90_000;
    let state = 'not registered';
    while (performance.now() < until) {
      const reg = await navigator.serviceWorker.getRegistration();
      const worker = reg && (reg.installing ?? reg.waiting ?? reg.active);
      state = worker ? worker.state : 'not registered';
      if (state === 'redundant') break;
      const keys = await caches.keys();
      if (state === 'activated' && keys.length && (await (await caches.open(keys[0])).keys()).length >= 10) {
        return { ok: true };
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const { quota, usage } = await navigator.storage.estimate();
    return { ok: false, state, quotaMiB: quota / 2 ** 20, usageMiB: usage / 2 ** 20 };
  });
  assert.ok(worker.ok, `the service worker did not cache the site: ${JSON.stringify(worker)}`);
  const cached = await p.evaluate(async () => (await (await caches.open((await caches.keys())[0])).keys()).map((r) => new URL(r.url).pathname));
  report.cachedFiles = cached;
  // Network off, server gone.
  site.close();
  await context.setOffline(true);
  await p.evaluate(() => (window.__synctalkReady = undefined));
  await p.reload();
  await ready(p);
  assert.equal(await p.evaluate(() => window.__synctalkReady), 'ok', 'offline reload failed');
  await context.setOffline(false);

  // A new build on the same origin: its service worker replaces the cache
  // and the next load shows the new page.
  const next = mkdtempSync(join(tmpdir(), 'synctalk-next-'));
  cpSync(dist, next, { recursive: true, dereference: true });
  const marker = '<!-- synctalk test: build 2 -->';
  writeFileSync(join(next, 'index.html'), readFileSync(join(next, 'index.html'), 'utf8').replace('</body>', `${marker}\n</body>`));
  const sw = readFileSync(join(next, 'sw.js'), 'utf8');
  const oldName = /const CACHE = '([^']+)'/.exec(sw)[1];
  writeFileSync(join(next, 'sw.js'), sw.replace(oldName, `${oldName}-build2`));
  const site2 = await serve(next, '/synctalk/demo/', new URL(site.url).port);
  try {
    await p.evaluate(() => (window.__synctalkReady = undefined));
    await p.reload();
    await ready(p);
    const names = await p.evaluate(async (want) => {
      for (let i = 0; i < 600; i++) {
        const keys = await caches.keys();
        if (keys.length === 1 && keys[0] === want) return keys;
        await new Promise((r) => setTimeout(r, 100));
      }
      return caches.keys();
    }, `${oldName}-build2`);
    assert.deepEqual(names, [`${oldName}-build2`], 'the new build\'s cache replaced the old one');
    await p.evaluate(() => (window.__synctalkReady = undefined));
    await p.reload();
    await ready(p);
    const html = await p.content();
    assert.ok(html.includes(marker), 'the reload shows the new build');
    report.pwaUpdate = { from: oldName, to: names[0] };
  } finally {
    site2.close();
    rmSync(next, { recursive: true, force: true });
  }
  await p.close();
  assert.deepEqual(foreign, [], `requests to other origins: ${foreign.join(', ')}`);
});
