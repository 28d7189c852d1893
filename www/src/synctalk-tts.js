// SyncTalk Web: typed text to speech, offline: eSpeak NG in a worker
// (synctalk-tts-worker.js), loaded on the first `say()`. eSpeak NG ships in
// the package's `tts/` folder (`espeak-ng.js`, `espeak-ng.data`, from the npm
// package @echogarden/espeak-ng-emscripten): a separate program under
// GPL-3.0-or-later that the worker runs and that the rest of the package
// only exchanges messages with (see NOTICE). Hosts that move it say where
// with `init({tts: 'url/of/espeak-ng.js'})`.

import { SyncTalkError } from './synctalk-errors.js';
import { ttsFiles, ttsWorkerUrl } from './synctalk-load.js';

/** The most characters one `say()` takes (about ten minutes of speech). */
export const MAX_TEXT = 10_000;

let config = null; // {script, data}: where eSpeak NG is
let engine = null; // {worker, ready: Promise<voices>, pending: Map, next}

/** Where eSpeak NG's files are: `source` is the URL of `espeak-ng.js` (its
 * `espeak-ng.data` beside it) or `{script, data}`. */
export function configureTts(source) {
  const base = globalThis.document?.baseURI ?? import.meta.url;
  const script = new URL(typeof source === 'object' && !(source instanceof URL) ? source.script : source, base);
  const data = typeof source === 'object' && !(source instanceof URL) && source.data
    ? new URL(source.data, base)
    : new URL('espeak-ng.data', script);
  if (engine && (String(script) !== config.script || String(data) !== config.data)) {
    throw new SyncTalkError('BAD_ARGUMENT', 'init({tts}) must come before the first say(): the synthesiser is already loaded');
  }
  config = { script: String(script), data: String(data) };
}

/** A request to the worker; `onProgress` gets its progress messages. */
function request(msg, onProgress, transfer = []) {
  return new Promise((resolve, reject) => {
    const id = engine.next++;
    engine.pending.set(id, { resolve, reject, onProgress });
    engine.worker.postMessage({ ...msg, id }, transfer);
  });
}

/** Starts the worker and loads the synthesiser once; resolves to its voices. */
export function loadTts(onProgress) {
  if (!config) {
    const { script, data } = ttsFiles();
    config = { script: String(script), data: String(data) };
  }
  if (!engine) {
    let worker;
    try {
      worker = new Worker(ttsWorkerUrl(), { type: 'module' });
    } catch (e) {
      return Promise.reject(new SyncTalkError('INTERNAL', `cannot start the speech synthesiser's worker: ${e.message}`, { cause: e }));
    }
    engine = { worker, pending: new Map(), next: 1 };
    worker.onmessage = (e) => {
      const { id, progress, error } = e.data;
      const p = engine.pending.get(id);
      if (!p) return;
      if (progress) {
        p.onProgress?.(...progress);
        return;
      }
      engine.pending.delete(id);
      if (error) p.reject(new SyncTalkError(error.code, error.message));
      else p.resolve(e.data);
    };
    worker.onerror = (e) => {
      const err = new SyncTalkError('INTERNAL', `the speech synthesiser's worker failed: ${e.message || 'it could not start'}`);
      for (const p of engine.pending.values()) p.reject(err);
      engine.pending.clear();
      engine = null; // a later say() starts a new one
    };
    const loading = engine;
    engine.ready = request({ type: 'load', ...config }, (l, t) => loading.onProgress?.(l, t)).then((r) => r.voices);
    engine.ready.catch(() => {
      if (engine === loading) {
        loading.worker.terminate();
        engine = null;
      }
    });
  }
  engine.onProgress = onProgress;
  return engine.ready;
}

/**
 * Synthesises `text`: `{samples: Float32Array, sampleRate, words: [{start,
 * end, from, to}], phonemes: [{start, end, id}]}` (times in seconds into the
 * audio; `from`/`to` index `text`).
 */
export async function synthesize(text, { voice = 'en-us', rate = 1, pitch = 1, onProgress } = {}) {
  if (typeof text !== 'string' || !text.trim()) {
    throw new SyncTalkError('BAD_ARGUMENT', 'say() needs some text to speak');
  }
  if (text.length > MAX_TEXT) {
    throw new SyncTalkError('BAD_ARGUMENT', `say() takes at most ${MAX_TEXT} characters at once (this text has ${text.length}); split it and queue the parts with {queue: true}`);
  }
  if (typeof voice !== 'string' || !voice) throw new SyncTalkError('BAD_ARGUMENT', `voice ${voice} must be a voice name such as 'en-us'`);
  if (!(rate >= 0.5 && rate <= 3)) throw new SyncTalkError('BAD_ARGUMENT', `rate ${rate} must be from 0.5 to 3 (1: 175 words a minute)`);
  if (!(pitch >= 0 && pitch <= 2)) throw new SyncTalkError('BAD_ARGUMENT', `pitch ${pitch} must be from 0 to 2 (1: the voice's own)`);
  await loadTts(onProgress);
  return request({ type: 'say', text, voice, rate, pitch });
}

/** The synthesiser's voices ({id, name, languages}), loading it if needed. */
export function ttsVoices() {
  return loadTts();
}
