// SyncTalk Web: loading the package's own files (the wasm module, the
// microphone's AudioWorklet) wherever a bundler put them, and bytes with
// progress (the portrait, the wasm).

import initWasm from './synctalk_web.js';
import { SyncTalkError } from './synctalk-errors.js';
import { join } from './synctalk-wav.js';

/** The folder of this module (the package's folder when nothing moved it).
 * Not `new URL('./', import.meta.url)`: bundlers rewrite that literal too. */
const HERE = import.meta.url.slice(0, import.meta.url.lastIndexOf('/') + 1);

/**
 * Where a file of the package is. Each URL is written twice as a literal
 * `new URL(…, import.meta.url)`, which bundlers find and rewrite: relative
 * to this module (plain static hosting, webpack 5, Vite's build, Vite 8's
 * dev server), and through the package's name (Vite 7's dev server, which
 * moves this module into `node_modules/.vite/deps/` but rewrites a
 * package-name URL through the package's `exports`). The package-name URL
 * is used only where the relative one was left untouched and the other was
 * rewritten; unrewritten, it would point nowhere.
 */
function pick(local, localName, viaPackage, name) {
  const untouched = local.href === HERE + localName;
  const rewritten = viaPackage.href !== HERE + 'synctalk-web/' + name;
  return untouched && rewritten ? viaPackage : local;
}

/** The wasm module's URL. */
function wasmUrl() {
  return pick(
    new URL('./synctalk_web_bg.wasm', import.meta.url), 'synctalk_web_bg.wasm',
    new URL('synctalk-web/synctalk_web_bg.wasm', import.meta.url), 'synctalk_web_bg.wasm',
  );
}

/** The microphone's AudioWorklet module's URL. `?no-inline` keeps Vite's
 * build from inlining this small file as a `data:` URL, which a strict
 * Content-Security-Policy refuses; static hosts ignore the query. */
function defaultWorkletUrl() {
  return pick(
    new URL('./synctalk-capture.js?no-inline', import.meta.url), 'synctalk-capture.js?no-inline',
    new URL('synctalk-web/synctalk-capture.js', import.meta.url), 'synctalk-capture.js',
  );
}

const sources = {}; // what init() was given: {wasm, worklet}
let wasmLoad = null; // {promise, listeners}: the one load of the wasm module

/** Where the wasm module and the microphone's worklet are (see `init`). */
export function configureFiles(options) {
  if (options.wasm !== undefined) {
    if (wasmLoad && sources.wasm !== options.wasm) {
      throw new SyncTalkError('BAD_ARGUMENT', 'init({wasm}) must come before the first Avatar.load() or init(): the wasm module is already loading');
    }
    sources.wasm = options.wasm;
  }
  if (options.worklet !== undefined) sources.worklet = new URL(options.worklet, globalThis.document?.baseURI ?? import.meta.url);
}

/** The speech synthesiser's worker's URL. */
export function ttsWorkerUrl() {
  return pick(
    new URL('./synctalk-tts-worker.js?no-inline', import.meta.url), 'synctalk-tts-worker.js?no-inline',
    new URL('synctalk-web/synctalk-tts-worker.js', import.meta.url), 'synctalk-tts-worker.js',
  );
}

/** eSpeak NG's files in the package's `tts/` folder (GPL-3.0-or-later, see
 * NOTICE): `{script, data}`. Bundlers copy them into the app's build (25
 * MB); they are fetched only by the first `say()`. */
export function ttsFiles() {
  return {
    script: pick(
      new URL('./tts/espeak-ng.js', import.meta.url), 'tts/espeak-ng.js',
      new URL('synctalk-web/tts/espeak-ng.js', import.meta.url), 'tts/espeak-ng.js',
    ),
    data: pick(
      new URL('./tts/espeak-ng.data', import.meta.url), 'tts/espeak-ng.data',
      new URL('synctalk-web/tts/espeak-ng.data', import.meta.url), 'tts/espeak-ng.data',
    ),
  };
}

/** The microphone worklet's URL (init's, else the package's). */
export function workletUrl() {
  return sources.worklet ?? defaultWorkletUrl();
}

/** Whether the wasm module is loaded. */
export function wasmLoaded() {
  return wasmLoad?.done === true;
}

/** Loads the wasm module once; `onProgress(loaded, total)` follows the
 * download if it is still under way. */
export function loadWasm(onProgress) {
  if (!wasmLoad) {
    const listeners = new Set();
    const load = { listeners };
    load.promise = (async () => {
      let src = sources.wasm ?? wasmUrl();
      const checked = { bad: null };
      if (typeof src === 'string' || src instanceof URL || src instanceof Response) {
        src = await counted(src, (l, t) => listeners.forEach((f) => f(l, t)), checked);
      }
      try {
        await initWasm({ module_or_path: src });
        load.done = true;
      } catch (e) {
        throw checked.bad ?? new SyncTalkError('INTERNAL', `cannot start the wasm module: ${e.message || e}`, { cause: e });
      } finally {
        listeners.clear();
      }
    })();
    load.promise.catch(() => {
      if (wasmLoad === load) wasmLoad = null; // a later call tries again
    });
    wasmLoad = load;
  }
  if (onProgress) wasmLoad.listeners.add(onProgress);
  return wasmLoad.promise;
}

/**
 * The wasm module's response with its bytes counted as they arrive, typed
 * `application/wasm` (so it compiles while it downloads, whatever type the
 * host sent) once its first bytes prove it is WebAssembly; anything else
 * (a host's HTML page for a missing file) sets `checked.bad` to a clear
 * error and fails the stream.
 */
async function counted(source, onProgress, checked) {
  let response = source;
  const where = source instanceof Response ? source.url || 'the given Response' : String(source);
  if (!(source instanceof Response)) {
    try {
      response = await fetch(source);
    } catch (e) {
      throw new SyncTalkError('NETWORK', `cannot fetch the wasm module ${where}: ${e.message}`, { cause: e });
    }
  }
  if (!response.ok) {
    throw new SyncTalkError('NETWORK', `cannot fetch the wasm module ${where}: HTTP ${response.status}. `
      + 'If a bundler or a CDN moved the package\'s files, pass their URLs to init({wasm, worklet}).');
  }
  const total = Number(response.headers.get('content-length')) || null;
  const type = response.headers.get('content-type');
  if (!response.body) return response;
  let loaded = 0;
  let head = new Uint8Array(0);
  const body = response.body.pipeThrough(new TransformStream({
    transform(chunk, controller) {
      if (head.length < 4) {
        head = join([head, chunk.subarray(0, 4 - head.length)], Math.min(4, head.length + chunk.length));
        if (head.length === 4 && !(head[0] === 0 && head[1] === 0x61 && head[2] === 0x73 && head[3] === 0x6d)) {
          checked.bad = new SyncTalkError('NETWORK', `${where} is not the wasm module (the host sent ${type || 'no type'}, `
            + 'not WebAssembly). If a bundler or a CDN moved the package\'s files, pass their URLs to init({wasm, worklet}).');
          controller.error(checked.bad);
          return;
        }
      }
      loaded += chunk.length;
      onProgress(loaded, total);
      controller.enqueue(chunk);
    },
  }));
  return new Response(body, { headers: { 'content-type': 'application/wasm' } });
}

/** Whether this browser can run an avatar (WebGPU with an adapter). */
export async function webgpuAvailable() {
  if (typeof navigator === 'undefined' || !navigator.gpu) return false;
  try {
    return (await navigator.gpu.requestAdapter()) !== null;
  } catch {
    return false;
  }
}

/** Reads a URL, Response, Blob, ArrayBuffer or typed array into bytes,
 * reporting progress as (loaded, total|null). */
export async function readBytes(source, onProgress, what, signal) {
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (ArrayBuffer.isView(source)) return new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  if (typeof Blob !== 'undefined' && source instanceof Blob) return new Uint8Array(await source.arrayBuffer());
  let response = source;
  if (typeof source === 'string' || source instanceof URL) {
    try {
      response = await fetch(source, { signal });
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      throw new SyncTalkError('NETWORK', `cannot fetch ${what} ${source}: ${e.message}`, { cause: e });
    }
  }
  if (!(response instanceof Response)) {
    throw new SyncTalkError('BAD_ARGUMENT', `${what} must be a URL, Response, Blob, ArrayBuffer or typed array`);
  }
  if (!response.ok) {
    throw new SyncTalkError('NETWORK', `cannot fetch ${what} ${response.url}: HTTP ${response.status}`);
  }
  const total = Number(response.headers.get('content-length')) || null;
  if (!response.body) return new Uint8Array(await response.arrayBuffer());
  const reader = response.body.getReader();
  const parts = [];
  let loaded = 0;
  for (;;) {
    let step;
    try {
      step = await reader.read();
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      throw new SyncTalkError('NETWORK', `reading ${what} failed: ${e.message}`, { cause: e });
    }
    const { done, value } = step;
    if (done) break;
    if (signal?.aborted) {
      reader.cancel().catch(() => {});
      throw signal.reason;
    }
    parts.push(value);
    loaded += value.byteLength;
    onProgress?.(loaded, total);
  }
  return join(parts, loaded);
}
