// The frame-time bench (bench.html?cfg=NAME&seconds=S), driven by
// tools/gpu/browser/run.sh. It POSTs one growing JSON object to /result after
// each phase, so that a configuration that hangs or crashes still reports
// how far it got:
//   adapter  what navigator.gpu offers (GPUAdapterInfo, isFallbackAdapter,
//            features) and what WebGL runs on (the ANGLE renderer string);
//   loaded   the demo portrait through the public API (Avatar.load);
//   speech   S seconds of the sample speech played (speak()), stats() read
//            at every drawn frame: the CPU stages of a frame (engineMs: the
//            wasm audio side and controller; layersMs; encodeMs; frameMs:
//            the whole render call), the frame rate, memory;
//   gpu      the GPU side, which stats() does not time: paused, frames
//            drawn with renderAt() and the GPU waited for by readPixels()
//            (latency: one frame and its read-back minus a read-back alone;
//            throughput: a run of frames submitted back to back, then one
//            read-back, per frame);
//   audio    benchAudio(): the wasm audio side per displayed frame at 60 fps;
//   done.

import { Avatar } from './synctalk/synctalk.js';

const params = new URLSearchParams(location.search);
const result = {
  cfg: params.get('cfg') || 'unnamed',
  phase: 'start',
  userAgent: navigator.userAgent,
  errors: [],
  console: [],
  t: {},
};
const t0 = performance.now();
const logEl = document.getElementById('log');

function log(text) {
  logEl.textContent += `${text}\n`;
}

function error(where, e) {
  const text = `${where}: ${e && e.code ? `${e.code}: ` : ''}${e && e.message ? e.message : String(e)}`;
  result.errors.push(text);
  log(text);
}

for (const level of ['error', 'warn']) {
  const original = console[level].bind(console);
  console[level] = (...args) => {
    if (result.console.length < 50) result.console.push(`${level}: ${args.map(String).join(' ').slice(0, 500)}`);
    original(...args);
  };
}
window.addEventListener('error', (e) => error('window.onerror', e.error || e.message));
window.addEventListener('unhandledrejection', (e) => error('unhandled rejection', e.reason));

let posting = Promise.resolve();
function post(phase) {
  result.phase = phase;
  result.t[phase] = Math.round(performance.now() - t0);
  log(`phase ${phase} at ${result.t[phase]} ms`);
  const body = JSON.stringify(result);
  posting = posting.then(() =>
    fetch('/result', { method: 'POST', headers: { 'content-type': 'application/json' }, body }).catch(() => {}),
  );
  return posting;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const frame = () => new Promise((r) => requestAnimationFrame(r));

function summary(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const q = (p) => v[Math.min(v.length - 1, Math.floor(p * v.length))];
  const r = (x) => Math.round(x * 1000) / 1000;
  return { n: v.length, median: r(q(0.5)), p90: r(q(0.9)), min: r(v[0]), max: r(v[v.length - 1]),
           mean: r(v.reduce((a, b) => a + b, 0) / v.length) };
}

async function adapterInfo(options) {
  try {
    const a = await navigator.gpu.requestAdapter(options);
    if (!a) return null;
    const i = a.info || (a.requestAdapterInfo ? await a.requestAdapterInfo() : {});
    return {
      vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description,
      isFallbackAdapter: i.isFallbackAdapter ?? a.isFallbackAdapter ?? null,
      subgroupMinSize: i.subgroupMinSize, subgroupMaxSize: i.subgroupMaxSize,
      features: [...a.features].sort(),
      limits: { maxBufferSize: a.limits.maxBufferSize, maxStorageBufferBindingSize: a.limits.maxStorageBufferBindingSize,
                maxComputeWorkgroupStorageSize: a.limits.maxComputeWorkgroupStorageSize },
    };
  } catch (e) {
    return { error: String(e && e.message ? e.message : e) };
  }
}

function webglInfo() {
  try {
    const gl = document.createElement('canvas').getContext('webgl2') || document.createElement('canvas').getContext('webgl');
    if (!gl) return null;
    const ext = gl.getExtension('WEBGL_debug_renderer_info');
    return {
      version: gl.getParameter(gl.VERSION),
      vendor: ext ? gl.getParameter(ext.UNMASKED_VENDOR_WEBGL) : gl.getParameter(gl.VENDOR),
      renderer: ext ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER),
    };
  } catch (e) {
    return { error: String(e) };
  }
}

async function speechClip(seconds) {
  const bytes = await (await fetch('./assets/jfk.wav')).arrayBuffer();
  const jfk = (await new OfflineAudioContext(1, 16000, 16000).decodeAudioData(bytes)).getChannelData(0);
  const out = new Float32Array(Math.round(seconds * 16000));
  for (let i = 0; i < out.length; i++) out[i] = jfk[(8000 + i) % jfk.length];
  return out;
}

// Reads stats() once per drawn frame (this rAF callback runs after the
// avatar's own, registered earlier) until stop() is called.
function sampler(avatar) {
  const rows = [];
  let last = avatar.stats().framesRendered;
  let running = true;
  (async () => {
    while (running) {
      const now = await frame();
      const s = avatar.stats();
      if (s.framesRendered !== last) {
        rows.push({ at: now, drawn: s.framesRendered - last, speaking: s.speaking, engineMs: s.engineMs,
                    layersMs: s.layersMs, encodeMs: s.encodeMs, frameMs: s.frameMs });
        last = s.framesRendered;
      }
    }
  })();
  return { rows, stop: () => { running = false; } };
}

function frameFigures(rows, seconds) {
  const speaking = rows.filter((r) => r.speaking);
  const gaps = rows.slice(1).map((r, i) => r.at - rows[i].at);
  return {
    seconds: Math.round(seconds * 1000) / 1000,
    framesSampled: rows.length,
    framesDrawn: rows.reduce((a, r) => a + r.drawn, 0),
    speakingFrames: speaking.length,
    fps: Math.round((100 * rows.reduce((a, r) => a + r.drawn, 0)) / seconds) / 100,
    frameIntervalMs: summary(gaps),
    // CPU milliseconds of one render() call and its stages.
    cpuFrameMs: summary(rows.map((r) => r.frameMs)),
    engineMsSpeaking: summary(speaking.map((r) => r.engineMs)),
    engineMs: summary(rows.map((r) => r.engineMs)),
    layersMs: summary(rows.map((r) => r.layersMs)),
    encodeMs: summary(rows.map((r) => r.encodeMs)),
  };
}

async function timed(fn) {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

async function gpuFigures(avatar) {
  avatar.pause();
  await frame();
  await avatar.readPixels(); // warm the read-back path
  const one = await timed(async () => {
    avatar.renderAt(avatar.clock);
    await avatar.readPixels();
  });
  // About 2 s for each measurement, 3 to 60 frames (2 frames and one run
  // where a frame takes over half a second: a CPU renderer).
  const slow = one > 500;
  const n = slow ? 2 : Math.max(3, Math.min(60, Math.floor(2000 / Math.max(one, 1))));
  const readOnly = [];
  for (let i = 0; i < Math.min(n, 20); i++) readOnly.push(await timed(() => avatar.readPixels()));
  const read = summary(readOnly);
  const cpu = [];
  const latency = [];
  for (let i = 0; i < n; i++) {
    latency.push(await timed(async () => {
      const t = performance.now();
      avatar.renderAt(avatar.clock);
      cpu.push(performance.now() - t);
      await avatar.readPixels();
    }));
  }
  const runs = [];
  for (let rep = 0; rep < (slow ? 1 : 3); rep++) {
    const total = await timed(async () => {
      for (let i = 0; i < n; i++) avatar.renderAt(avatar.clock);
      await avatar.readPixels();
    });
    runs.push((total - read.median) / n);
  }
  const lat = summary(latency);
  return {
    frames: n,
    firstFrameAndReadBackMs: Math.round(one * 1000) / 1000,
    readBackAloneMs: read,
    renderCallCpuMs: summary(cpu),
    frameAndReadBackMs: lat,
    gpuLatencyMs: Math.round((lat.median - read.median) * 1000) / 1000,
    throughputMsPerFrame: summary(runs),
  };
}

async function main() {
  const seconds = Number(params.get('seconds') || 10);
  result.webgpu = 'gpu' in navigator;
  if (result.webgpu) {
    result.adapter = await adapterInfo();
    result.adapterHighPerformance = await adapterInfo({ powerPreference: 'high-performance' });
    result.adapterLowPower = await adapterInfo({ powerPreference: 'low-power' });
  }
  result.webgl = webglInfo();
  log(JSON.stringify({ adapter: result.adapter, webgl: result.webgl }, null, 1));
  await post('adapter');

  const canvas = document.getElementById('avatar');
  let avatar;
  const tl = performance.now();
  try {
    avatar = await Avatar.load(canvas, './assets/demo.stk', { size: 'portrait', pauseWhenHidden: false });
  } catch (e) {
    error('Avatar.load', e);
    await post('failed');
    return;
  }
  result.loadMs = Math.round(performance.now() - tl);
  result.info = { ...avatar.info };
  avatar.addEventListener('error', (e) => error('avatar error event', e.detail));
  avatar.addEventListener('devicelost', () => error('avatar', 'devicelost event'));
  await post('loaded');

  // Idle frames first (the pipelines of the first frames compile).
  await sleep(2000);
  const ctx = avatar.output.context;
  const audio0 = { state: ctx.state, currentTime: ctx.currentTime, at: performance.now() };
  const clip = await speechClip(seconds);
  const s0 = avatar.stats();
  const sample = sampler(avatar);
  const ts = performance.now();
  let spoken;
  try {
    spoken = await Promise.race([
      avatar.speak(clip, 16000).then(() => 'ended'),
      sleep((seconds + 20) * 1000).then(() => 'timed out'),
    ]);
  } catch (e) {
    error('speak', e);
    spoken = 'failed';
  }
  const speechSeconds = (performance.now() - ts) / 1000;
  sample.stop();
  if (spoken !== 'ended') avatar.stop();
  const s1 = avatar.stats();
  result.audioContext = {
    state: ctx.state, sampleRate: ctx.sampleRate, baseLatency: ctx.baseLatency, outputLatency: ctx.outputLatency,
    // Seconds of audio clock per second of page clock over the speech (1: real time).
    clockRate: Math.round(((ctx.currentTime - audio0.currentTime) / ((performance.now() - audio0.at) / 1000)) * 1000) / 1000,
  };
  result.speech = {
    requestedSeconds: seconds, result: spoken, ...frameFigures(sample.rows, speechSeconds),
    speakingFramesCounted: s1.speakingFrames - s0.speakingFrames,
    engineMsSpeakingMean: s1.engineMsSpeaking,
  };
  result.stats = s1;
  result.memory = { gpuBytes: s1.gpuBytes, wasmHeapBytes: s1.wasmHeapBytes, arenaBytes: s1.arenaBytes,
                    arenaHighWaterBytes: s1.arenaHighWaterBytes };
  await post('speech');

  try {
    result.gpu = await gpuFigures(avatar);
  } catch (e) {
    error('gpu timing', e);
  }
  await post('gpu');

  try {
    result.benchAudio = await avatar.benchAudio('./assets/jfk.wav', { fps: 60 });
  } catch (e) {
    error('benchAudio', e);
  }
  await post('done');
}

main().catch(async (e) => {
  error('bench', e);
  await post('failed');
});
