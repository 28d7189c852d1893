// SyncTalk Web: a talking portrait in the browser (WebGPU + wasm).
//
//   import { Avatar } from './synctalk/synctalk.js';
//   const avatar = await Avatar.load(canvas, 'portrait.stk');
//   await avatar.speak('hello.wav');
//
// Everything runs on the visitor's device: after the page, this module and
// the portrait have loaded, no request leaves the browser.

import init, { WasmAvatar } from './synctalk_web.js';
import { MAX_COMPRESSED_BYTES, isWav, join, openBytes, readWavHeader, wavChunks } from './synctalk-wav.js';

/** An error with a machine-readable `code` (NO_WEBGPU, BAD_PORTRAIT, BAD_AUDIO,
 * BAD_ARGUMENT, DEVICE_LOST, GPU_ERROR, NETWORK, DISPOSED, INTERNAL). */
export class SyncTalkError extends Error {
  constructor(code, message, options) {
    super(message, options);
    this.name = 'SyncTalkError';
    this.code = code;
  }
}

/** Turns whatever the wasm side threw into a SyncTalkError. */
function wrap(e, fallback = 'INTERNAL') {
  if (e instanceof SyncTalkError) return e;
  if (e && typeof e === 'object' && typeof e.code === 'string' && e.message) {
    return new SyncTalkError(e.code, e.message, { cause: e });
  }
  if (e instanceof WebAssembly.RuntimeError) {
    return new SyncTalkError('INTERNAL', `internal error in the wasm module (${e.message}); see the console`, { cause: e });
  }
  return new SyncTalkError(fallback, String(e && e.message ? e.message : e), { cause: e });
}

let wasmReady = null;
function loadWasm() {
  wasmReady ??= init({ module_or_path: new URL('./synctalk_web_bg.wasm', import.meta.url) });
  return wasmReady;
}

/** Whether this browser can run an avatar (WebGPU with an adapter). */
export async function webgpuAvailable() {
  if (!('gpu' in navigator) || !navigator.gpu) return false;
  try {
    return (await navigator.gpu.requestAdapter()) !== null;
  } catch {
    return false;
  }
}

/** Reads a URL, Response, Blob, ArrayBuffer or typed array into bytes,
 * reporting progress as (loaded, total|null). */
async function readBytes(source, onProgress, what) {
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (ArrayBuffer.isView(source)) return new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  if (typeof Blob !== 'undefined' && source instanceof Blob) return new Uint8Array(await source.arrayBuffer());
  let response = source;
  if (typeof source === 'string' || source instanceof URL) {
    try {
      response = await fetch(source);
    } catch (e) {
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
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    loaded += value.byteLength;
    onProgress?.(loaded, total);
  }
  return join(parts, loaded);
}

/** Mono mix of an AudioBuffer. */
function mono(buffer) {
  const n = buffer.length;
  const out = new Float32Array(n);
  for (let c = 0; c < buffer.numberOfChannels; c++) {
    const ch = buffer.getChannelData(c);
    for (let i = 0; i < n; i++) out[i] += ch[i];
  }
  if (buffer.numberOfChannels > 1) {
    const k = 1 / buffer.numberOfChannels;
    for (let i = 0; i < n; i++) out[i] *= k;
  }
  return out;
}

/** Longer speech is streamed into the engine as it plays (see `paced`). */
const LONG_SPEECH_SECONDS = 600;

/** The error for speech too long to prepare whole (`what` says how long it is). */
function tooLongToPrepare(what) {
  return new SyncTalkError('BAD_AUDIO', `prepareSpeech() holds at most ${LONG_SPEECH_SECONDS / 60} minutes of speech `
    + `(${what}); speak() streams longer speech`);
}

/** `samples` in one-second pieces. */
function* pieces(samples, rate) {
  for (let pos = 0; pos < samples.length; pos += rate) yield samples.subarray(pos, Math.min(pos + rate, samples.length));
}

/**
 * A stream of the chunks of `chunks` (an iterable or async iterable of mono
 * Float32Arrays at `rate` Hz) that runs at most `ahead` seconds in front of
 * `ctx`'s playback clock (read from its first pull): nothing further is
 * taken from `chunks` until playback comes near.
 */
function paced(chunks, rate, ctx, ahead = 20) {
  const it = chunks[Symbol.asyncIterator]?.() ?? chunks[Symbol.iterator]();
  let pos = 0;
  let t0 = null;
  let cancelled = false;
  return new ReadableStream({
    async pull(controller) {
      t0 ??= ctx.currentTime;
      while (!cancelled && pos / rate - (ctx.currentTime - t0) > ahead) {
        await new Promise((r) => setTimeout(r, 250));
      }
      if (cancelled) return;
      const { done, value } = await it.next();
      if (done) {
        controller.close();
        return;
      }
      controller.enqueue(value);
      pos += value.length;
    },
    cancel() {
      cancelled = true;
      it.return?.();
    },
  }, { highWaterMark: 0 });
}

let blendshapeNames = null;

const nextFrame = () => new Promise((r) => requestAnimationFrame(() => r()));

/**
 * A talking portrait on a canvas.
 *
 * Events (it is an EventTarget): `progress` ({detail: {loaded, total}}),
 * `firstframe`, `ready` (networks loaded), `speechstart`, `speechend`,
 * `error` ({detail: SyncTalkError}), `devicelost`, `recovered`.
 */
export class Avatar extends EventTarget {
  /**
   * Loads a portrait onto `canvas` and starts drawing it.
   * @param {HTMLCanvasElement} canvas
   * @param {string|URL|Response|Blob|ArrayBuffer|Uint8Array} source the `.stk` portrait
   * @param {{onProgress?: (loaded: number, total: number|null) => void,
   *          audioContext?: AudioContext, autoStart?: boolean}} [options]
   */
  static async load(canvas, source, options = {}) {
    if (!(canvas instanceof HTMLCanvasElement)) {
      throw new SyncTalkError('BAD_ARGUMENT', 'Avatar.load needs a <canvas> element');
    }
    if (!('gpu' in navigator) || !navigator.gpu) {
      throw new SyncTalkError('NO_WEBGPU', 'This browser does not support WebGPU, which SyncTalk needs to draw the portrait. Try a current Chrome, Edge or Safari, or enable WebGPU.');
    }
    const avatar = new Avatar(canvas, options);
    const onProgress = (loaded, total) => {
      options.onProgress?.(loaded, total);
      avatar.dispatchEvent(new CustomEvent('progress', { detail: { loaded, total } }));
    };
    const [bytes] = await Promise.all([readBytes(source, onProgress, 'portrait'), loadWasm()]);
    avatar._bytes = bytes;
    try {
      await avatar._open();
      avatar._draw(0, undefined);
      avatar.dispatchEvent(new Event('firstframe'));
      // The networks load after the first frame is on screen.
      await nextFrame();
      avatar._hasFaceSync = avatar._inner.loadNetworks();
    } catch (e) {
      avatar.dispose();
      throw wrap(e, 'BAD_PORTRAIT');
    }
    avatar.dispatchEvent(new Event('ready'));
    if (options.autoStart !== false) avatar.start();
    return avatar;
  }

  constructor(canvas, options) {
    super();
    this.canvas = canvas;
    this._options = options;
    this._inner = null;
    this._bytes = null;
    this._audio = options.audioContext ?? null;
    this._speech = null; // playing: {samples, rate, seconds, startTime, node, resolve}
    this._prepared = null; // the speech the lips follow: {samples, rate, seconds}
    this._overrides = new Map(); // name -> [value, weight], replayed after a device loss
    this._raf = 0;
    this._t0 = performance.now();
    this._frameTimes = [];
    this._frames = 0;
    this._lastDraw = 0;
    this._disposed = false;
    this._recovering = false;
  }

  async _open() {
    try {
      this._inner = await WasmAvatar.create(this.canvas, this._bytes);
    } catch (e) {
      throw wrap(e, 'GPU_ERROR');
    }
    this.info = this._inner.info();
  }

  /** Seconds since the avatar started: drives blinks and head motion. */
  get clock() {
    return (performance.now() - this._t0) / 1000;
  }

  _draw(clock, speechTime) {
    const t = performance.now();
    this._inner.render(clock, speechTime);
    this._frames++;
    this._frameTimes.push(t);
    if (this._frameTimes.length > 60) this._frameTimes.shift();
    this._lastDraw = performance.now() - t;
  }

  /** Starts the animation loop (Avatar.load does, unless autoStart is false). */
  start() {
    if (this._raf || this._disposed) return;
    const tick = () => {
      this._raf = requestAnimationFrame(tick);
      try {
        this._draw(this.clock, this._speechTime());
      } catch (e) {
        this._fail(wrap(e));
      }
    };
    this._raf = requestAnimationFrame(tick);
  }

  /** Stops the animation loop (the last frame stays on the canvas). */
  pause() {
    cancelAnimationFrame(this._raf);
    this._raf = 0;
  }

  /** Draws one frame for explicit times (for tests and offline use):
   * `clock` drives blinks and head motion, `speechTime` is the position in
   * the current speech (undefined: silence). */
  renderAt(clock, speechTime) {
    this._live();
    try {
      this._draw(clock, speechTime);
    } catch (e) {
      throw wrap(e);
    }
  }

  _speechTime() {
    const s = this._speech;
    if (!s) return undefined;
    // Listening: a look-ahead behind what has arrived.
    if (s.kind === 'listen') return s.received - s.lookahead;
    if (!this._audio || s.startTime === null) return undefined;
    // What is heard now was scheduled outputLatency ago.
    const latency = this._audio.outputLatency || this._audio.baseLatency || 0;
    return this._audio.currentTime - s.startTime - latency - (s.offset ?? 0);
  }

  _fail(err) {
    if (err.code === 'DEVICE_LOST' && !this._recovering) {
      this._recover();
      return;
    }
    this.pause();
    this.dispatchEvent(new CustomEvent('error', { detail: err }));
  }

  /** A lost GPU device: open a new one and carry on. */
  async _recover() {
    this._recovering = true;
    this.pause();
    this.dispatchEvent(new Event('devicelost'));
    try {
      this._inner?.free();
      this._inner = null;
      await this._open();
      if (this._hasFaceSync) this._inner.loadNetworks();
      for (const [name, [value, weight]] of this._overrides) this._inner.setBlendshapes({ [name]: value }, weight);
      for (const [method, value] of this._settings ?? []) this._inner[method](value);
      if (this._prepared) this._inner.setSpeech(this._prepared.samples, this._prepared.rate);
      const live = this._speech;
      if (live && (live.kind === 'stream' || live.kind === 'listen')) {
        // A new stream; its time starts where the old one was.
        this._inner.startStream(live.rate, live.kind === 'listen');
        if (live.kind === 'stream') live.offset = live.at;
        else live.received = live.lookahead;
      }
      this._recovering = false;
      this.dispatchEvent(new Event('recovered'));
      this.start();
    } catch (e) {
      this._recovering = false;
      this.dispatchEvent(new CustomEvent('error', { detail: wrap(e, 'DEVICE_LOST') }));
    }
  }

  _live() {
    if (this._disposed) throw new SyncTalkError('DISPOSED', 'this avatar was disposed');
    if (!this._inner) throw new SyncTalkError('DEVICE_LOST', 'the avatar is recovering from a lost GPU device');
  }

  _context() {
    if (!this._audio) this._audio = new AudioContext();
    return this._audio;
  }

  /**
   * Decodes a speech source to mono samples and a rate, or, for a WAV file
   * longer than LONG_SPEECH_SECONDS when `stream` is set, to `{chunks, rate}`:
   * its audio read as it is asked for.
   */
  async _samples(source, sampleRate, stream = false) {
    if (source instanceof Float32Array) {
      if (!(sampleRate > 0)) {
        throw new SyncTalkError('BAD_ARGUMENT', 'speak(Float32Array, sampleRate) needs the sample rate');
      }
      return { samples: source, rate: sampleRate };
    }
    if (typeof AudioBuffer !== 'undefined' && source instanceof AudioBuffer) {
      return { samples: mono(source), rate: source.sampleRate };
    }
    if (typeof ReadableStream !== 'undefined' && source instanceof ReadableStream) {
      throw new SyncTalkError('BAD_ARGUMENT', 'a ReadableStream is spoken as it arrives: use speak(stream, sampleRate)');
    }
    let bytes;
    try {
      const reader = await openBytes(source, 'audio');
      if (await isWav(reader)) {
        const wav = await readWavHeader(reader);
        const long = wav.seconds === null || wav.seconds > LONG_SPEECH_SECONDS;
        if (long && stream) return { chunks: wavChunks(reader, wav), rate: wav.rate };
        if (long) {
          reader.cancel();
          throw tooLongToPrepare(`this WAV file is ${wav.seconds === null ? 'of unknown length' : `${(wav.seconds / 60).toFixed(1)} minutes`}`);
        }
        const parts = [...wav.head, await reader.rest(Infinity, 'audio')];
        bytes = join(parts, parts.reduce((n, h) => n + h.length, 0));
      } else {
        bytes = await reader.rest(MAX_COMPRESSED_BYTES, 'the audio file');
      }
    } catch (e) {
      throw wrap(e, 'BAD_AUDIO');
    }
    let buffer;
    try {
      // `bytes` is join()'s own copy: detaching it leaves the caller's buffer whole.
      buffer = await this._context().decodeAudioData(bytes.buffer);
    } catch (e) {
      throw new SyncTalkError('BAD_AUDIO', `cannot decode the audio (${e.message || e})`, { cause: e });
    }
    return { samples: mono(buffer), rate: buffer.sampleRate };
  }

  /**
   * Decodes `source` and makes it the speech the lips follow, without
   * playing it: frames then come from `renderAt(clock, speechTime)` (tests,
   * offline rendering). Resolves to its length in seconds. At most 10
   * minutes (the whole clip is analysed up front); `speak()` takes longer.
   */
  async prepareSpeech(source, sampleRate) {
    this._live();
    const { samples, rate } = await this._samples(source, sampleRate);
    return this._prepare(samples, rate);
  }

  _prepare(samples, rate) {
    if (samples.length / rate > LONG_SPEECH_SECONDS) {
      // The whole clip's mel frames would sit in wasm memory (11 MB a minute).
      throw tooLongToPrepare(`this is ${(samples.length / rate / 60).toFixed(1)}`);
    }
    this.stop();
    let seconds;
    try {
      seconds = this._inner.setSpeech(samples, rate);
    } catch (e) {
      throw wrap(e, 'BAD_AUDIO');
    }
    this._prepared = { samples, rate, seconds };
    return seconds;
  }

  /**
   * Says `source` aloud and moves the lips with it. Resolves when playback
   * ends (or `stop()` is called). Speech longer than 10 minutes enters the
   * engine as it plays, so that any length fits the same memory.
   * @param {string|URL|Response|Blob|ArrayBuffer|AudioBuffer|Float32Array|ReadableStream} source
   * @param {number} [sampleRate] for a Float32Array or a stream of PCM chunks
   * @param {{mute?: boolean}} [options] mute: move the lips without playing the sound
   */
  async speak(source, sampleRate, options = {}) {
    if (typeof ReadableStream !== 'undefined' && source instanceof ReadableStream) {
      return this._speakStream(source, sampleRate, options);
    }
    this._live();
    const decoded = await this._samples(source, sampleRate, true);
    if (decoded.chunks) {
      // A long WAV file: read from its source as it plays.
      return this._speakStream(paced(decoded.chunks, decoded.rate, this._context()), decoded.rate, options);
    }
    if (decoded.samples.length / decoded.rate > LONG_SPEECH_SECONDS) {
      // Long speech enters the engine as it plays, a little ahead of the
      // sound: the wasm memory stays the same for an hour as for a minute.
      return this._speakStream(paced(pieces(decoded.samples, decoded.rate), decoded.rate, this._context()), decoded.rate, options);
    }
    this._prepare(decoded.samples, decoded.rate);
    const { samples, rate, seconds } = this._prepared;
    const ctx = this._context();
    if (ctx.state === 'suspended') await ctx.resume();
    const buffer = ctx.createBuffer(1, samples.length, rate);
    buffer.copyToChannel(samples, 0);
    const node = ctx.createBufferSource();
    node.buffer = buffer;
    const gain = ctx.createGain();
    gain.gain.value = options.mute ? 0 : 1;
    node.connect(gain).connect(ctx.destination);
    const startTime = ctx.currentTime + 0.05;
    return new Promise((resolve) => {
      const speech = { samples, rate, seconds, startTime, node, resolve };
      this._speech = speech;
      node.onended = () => {
        if (this._speech === speech) {
          this._speech = null;
          this._prepared = null;
          this._inner?.clearSpeech();
        }
        this.dispatchEvent(new Event('speechend'));
        resolve();
      };
      node.start(startTime);
      this.dispatchEvent(new Event('speechstart'));
    });
  }

  /**
   * Speaks a stream of PCM chunks as they arrive (a TTS engine's output):
   * each chunk is played right after the previous one and the lips follow
   * it, long before the stream ends.
   */
  async _speakStream(stream, rate, options) {
    this._live();
    if (!(rate > 0)) {
      throw new SyncTalkError('BAD_ARGUMENT', 'speak(stream, sampleRate) needs the sample rate of its PCM chunks');
    }
    this.stop();
    const ctx = this._context();
    if (ctx.state === 'suspended') await ctx.resume();
    try {
      this._inner.startStream(rate, false);
    } catch (e) {
      throw wrap(e, 'BAD_AUDIO');
    }
    const gain = ctx.createGain();
    gain.gain.value = options.mute ? 0 : 1;
    gain.connect(ctx.destination);
    const reader = stream.getReader();
    let resolve;
    let reject;
    const done = new Promise((res, rej) => ((resolve = res), (reject = rej)));
    // at: seconds of audio scheduled; offset: stream time of the engine's
    // current stream (after a device loss it starts anew).
    const speech = { kind: 'stream', rate, at: 0, offset: 0, startTime: null, nodes: new Set(), ended: false, resolve, reader, gain };
    this._speech = speech;
    const finish = () => {
      if (this._speech === speech) {
        this._speech = null;
        this._inner?.clearSpeech();
      }
      gain.disconnect();
      this.dispatchEvent(new Event('speechend'));
      resolve();
    };
    speech.finish = finish;
    (async () => {
      for (;;) {
        const { done: end, value } = await reader.read();
        if (this._speech !== speech) return;
        if (end) break;
        const chunk = value instanceof Float32Array ? value : value instanceof ArrayBuffer ? new Float32Array(value) : null;
        if (!chunk) throw new SyncTalkError('BAD_ARGUMENT', 'stream chunks must be Float32Arrays of mono PCM samples');
        if (chunk.length === 0) continue;
        this._inner.pushStream(chunk);
        const now = ctx.currentTime;
        if (speech.startTime === null) {
          speech.startTime = now + 0.1;
          this.dispatchEvent(new Event('speechstart'));
        } else if (speech.startTime + speech.at < now + 0.02) {
          // The stream fell behind playback: continue after a short gap.
          speech.startTime = now + 0.05 - speech.at;
        }
        const buffer = ctx.createBuffer(1, chunk.length, rate);
        buffer.copyToChannel(chunk, 0);
        const node = ctx.createBufferSource();
        node.buffer = buffer;
        node.connect(gain);
        node.onended = () => {
          speech.nodes.delete(node);
          if (speech.ended && speech.nodes.size === 0 && this._speech === speech) finish();
        };
        speech.nodes.add(node);
        node.start(speech.startTime + speech.at);
        speech.at += chunk.length / rate;
      }
      speech.ended = true;
      this._inner?.endStream();
      if (speech.nodes.size === 0) finish();
    })().catch((e) => {
      reject(wrap(e, 'BAD_AUDIO'));
      if (this._speech === speech) this.stop();
    });
    return done;
  }

  /**
   * Follows live audio, e.g. a microphone from `getUserMedia`: the lips move
   * with what it hears, `lookahead` seconds behind it (default 0.1: the
   * lips see 82.5 ms of the future; less is quicker but less accurate).
   * Nothing is played back. Runs until `stop()`.
   * @param {MediaStream} mediaStream
   * @param {{lookahead?: number}} [options]
   */
  async listen(mediaStream, options = {}) {
    this._live();
    if (typeof MediaStream === 'undefined' || !(mediaStream instanceof MediaStream) || mediaStream.getAudioTracks().length === 0) {
      throw new SyncTalkError('BAD_ARGUMENT', 'listen() needs a MediaStream with an audio track (e.g. from getUserMedia({audio: true}))');
    }
    const lookahead = options.lookahead ?? 0.1;
    if (!(lookahead >= 0 && lookahead <= 2)) {
      throw new SyncTalkError('BAD_ARGUMENT', `lookahead ${lookahead} must be between 0 and 2 seconds`);
    }
    this.stop();
    const ctx = this._context();
    if (ctx.state === 'suspended') await ctx.resume();
    if (!this._worklet || this._worklet.ctx !== ctx) {
      this._worklet = { ctx, ready: ctx.audioWorklet.addModule(new URL('./synctalk-capture.js', import.meta.url)) };
    }
    try {
      await this._worklet.ready;
    } catch (e) {
      this._worklet = null;
      throw new SyncTalkError('INTERNAL', `cannot load the audio capture worklet: ${e.message || e}`, { cause: e });
    }
    const source = ctx.createMediaStreamSource(mediaStream);
    const chunk = 512;
    const node = new AudioWorkletNode(ctx, 'synctalk-capture', {
      numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1], processorOptions: { chunk },
    });
    // Pulled through a silent gain so the graph runs; nothing is heard.
    const sink = ctx.createGain();
    sink.gain.value = 0;
    source.connect(node).connect(sink).connect(ctx.destination);
    this._inner.startStream(ctx.sampleRate, true);
    const speech = {
      kind: 'listen', rate: ctx.sampleRate, lookahead, received: 0, chunkSeconds: chunk / ctx.sampleRate,
      source, node, sink, lastChunk: null,
    };
    this._speech = speech;
    node.port.onmessage = (e) => {
      if (this._speech !== speech || !this._inner) return;
      try {
        speech.received = this._inner.pushStream(e.data.samples);
        speech.lastChunk = { time: e.data.time, at: performance.now() };
      } catch (err) {
        this.stop();
        this.dispatchEvent(new CustomEvent('error', { detail: wrap(err, 'BAD_AUDIO') }));
      }
    };
    this.dispatchEvent(new Event('speechstart'));
  }

  /** Stops speaking or listening (the promise of `speak` resolves) and
   * forgets the speech. */
  stop() {
    const s = this._speech;
    this._speech = null;
    if (this._prepared) {
      this._prepared = null;
      this._inner?.clearSpeech();
    }
    if (!s) return;
    if (s.kind === 'listen') {
      s.node.port.postMessage('stop');
      s.node.port.onmessage = null;
      s.source.disconnect();
      s.node.disconnect();
      s.sink.disconnect();
      this._inner?.clearSpeech();
      this.dispatchEvent(new Event('speechend'));
    } else if (s.kind === 'stream') {
      s.reader.cancel().catch(() => {});
      for (const n of s.nodes) {
        try {
          n.stop();
        } catch {
          /* not started yet */
        }
      }
      s.finish();
    } else {
      try {
        s.node.stop();
      } catch {
        /* not started yet */
      }
    }
  }

  /** Whether the avatar is following live audio (`listen`). */
  get listening() {
    return this._speech?.kind === 'listen';
  }

  /** Whether the lips follow speech now (speech playing or a microphone
   * heard, by the audio clock), without drawing: false in the pauses
   * before and after a clip, and after `stop()`. */
  get speaking() {
    if (this._disposed || !this._inner) return false;
    return this._inner.speakingAt(this._speechTime());
  }

  /** The 52 blendshapes the avatar shows now (by name), without drawing. */
  blendshapes() {
    this._live();
    try {
      const v = this._inner.blendshapesAt(this.clock, this._speechTime());
      return Object.fromEntries(Avatar.blendshapeNames.map((n, i) => [n, v[i]]));
    } catch (e) {
      throw wrap(e);
    }
  }

  /**
   * Sets blendshapes by ARKit name, e.g. `{jawOpen: 1}`, blended with the
   * engine's own values by `weight` (1: yours alone, 0: the engine's).
   */
  setBlendshapes(values, weight = 1) {
    this._live();
    try {
      this._inner.setBlendshapes(values, weight);
    } catch (e) {
      throw wrap(e, 'BAD_ARGUMENT');
    }
    for (const [name, value] of Object.entries(values)) this._overrides.set(name, [value, weight]);
  }

  /**
   * How much the brows and eyes move with the speech's stress (the
   * portrait's Expression Generator): 0 turns it off, 1 (the default) is as
   * fitted, at most 4.
   */
  setExpressionStrength(strength) {
    this._setting('setExpressionStrength', strength);
  }

  /**
   * How far the head nods with the speech's stress (the portrait's
   * Head-Sync): 0 turns the nods off (the head still moves more while
   * speech is heard than in silence), 1 (the default) is as fitted, at
   * most 4.
   */
  setHeadMotion(strength) {
    this._setting('setHeadMotion', strength);
  }

  /**
   * How fast the head moves along the person's recorded motion after
   * seconds of silence, against 1 while speech is heard (the portrait's
   * Head-Sync): 0.05 to 1 (0.35 by default).
   */
  setIdlePace(pace) {
    this._setting('setIdlePace', pace);
  }

  /** Calls the engine's setter `method` with `value` and keeps it, to set
   * again on the engine that replaces a lost GPU device's. */
  _setting(method, value) {
    this._live();
    try {
      this._inner[method](value);
    } catch (e) {
      throw wrap(e, 'BAD_ARGUMENT');
    }
    (this._settings ??= new Map()).set(method, value);
  }

  /** Removes every override set with setBlendshapes. */
  clearBlendshapes() {
    this._live();
    this._inner.clearBlendshapes();
    this._overrides.clear();
  }

  /** The 52 blendshape names, in the portrait's order. */
  static get blendshapeNames() {
    blendshapeNames ??= WasmAvatar.blendshapeNames();
    return blendshapeNames;
  }

  /**
   * Times the audio side per displayed frame (log-mel, the networks, the
   * controller) on this thread, as a microphone would feed it: `source`
   * pushed in `chunk`-sample pieces for an `fps` display, with a fresh
   * engine (the avatar's speech is untouched). Resolves to
   * `{frames, meanMs, medianMs, p95Ms, maxMs}`.
   */
  async benchAudio(source, { sampleRate, fps = 60, chunk = 128 } = {}) {
    this._live();
    const { samples, rate } = await this._samples(source, sampleRate);
    try {
      return this._inner.benchAudio(samples, rate, fps, chunk);
    } catch (e) {
      throw wrap(e, 'BAD_AUDIO');
    }
  }

  /** Frame rate, per-stage CPU times (ms), audio latency, frames, memory. */
  stats() {
    this._live();
    const s = this._inner.stats();
    const t = this._frameTimes;
    const fps = t.length > 1 ? ((t.length - 1) * 1000) / (t[t.length - 1] - t[0]) : 0;
    return {
      ...s,
      fps,
      frameMs: this._lastDraw,
      framesRendered: this._frames,
      audioLatency: this._audioLatency(),
    };
  }

  /** Seconds from sound to the frame that shows it, as far as the page
   * can know: for playback the output latency; when listening, the input
   * latency the browser reports, the capture chunk, the look-ahead and the
   * time since the last chunk arrived, plus the last frame's drawing time. */
  _audioLatency() {
    const ctx = this._audio;
    if (!ctx) return null;
    const s = this._speech;
    if (s?.kind === 'listen') {
      const track = s.source.mediaStream.getAudioTracks()[0];
      const input = track?.getSettings?.().latency ?? 0;
      const since = s.lastChunk ? (performance.now() - s.lastChunk.at) / 1000 : 0;
      return input + (ctx.baseLatency || 0) + s.chunkSeconds + s.lookahead + since + this._lastDraw / 1000;
    }
    return (ctx.outputLatency || 0) + (ctx.baseLatency || 0);
  }

  /** The current frame's pixels: {width, height, data: Uint8Array RGBA}. */
  async readPixels() {
    this._live();
    try {
      const data = await this._inner.readPixels();
      return { width: this.info.width, height: this.info.height, data };
    } catch (e) {
      throw wrap(e, 'DEVICE_LOST');
    }
  }

  /** The current frame as a PNG Blob. */
  async captureFrame() {
    const { width, height, data } = await this.readPixels();
    const canvas = new OffscreenCanvas(width, height);
    const g = canvas.getContext('2d');
    g.putImageData(new ImageData(new Uint8ClampedArray(data.buffer, data.byteOffset, data.byteLength), width, height), 0, 0);
    return canvas.convertToBlob({ type: 'image/png' });
  }

  /** Simulates a lost GPU device (the avatar recovers by itself). */
  loseDevice() {
    this._live();
    this._inner.loseDevice();
  }

  /** Stops everything and frees the GPU and wasm memory. */
  dispose() {
    if (this._disposed) return;
    this.stop();
    this.pause();
    this._inner?.free();
    this._inner = null;
    this._bytes = null;
    this._disposed = true;
  }
}

/** Shows a message in place of the avatar (never a blank canvas). */
function showMessage(root, text) {
  let box = root.querySelector('.message');
  if (!box) {
    box = document.createElement('div');
    box.className = 'message';
    box.setAttribute('role', 'alert');
    root.append(box);
  }
  box.textContent = text;
}

/**
 * `<synctalk-avatar src="portrait.stk" audio="speech.wav">`: the avatar as an
 * element, sized by CSS. Attributes: `src` (portrait), `audio` (spoken on
 * `speak()` or on a click), `autoplay` (speak `audio` as soon as loaded,
 * where the browser allows sound), `microphone` (a click starts and stops
 * following the microphone). Property `avatar`: the Avatar, once
 * loaded. Fires the Avatar's events plus `load`.
 */
export class SyncTalkAvatarElement extends HTMLElement {
  static get observedAttributes() {
    return ['src'];
  }

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    root.innerHTML = `<style>
      :host { display: inline-block; position: relative; width: 320px; aspect-ratio: 1; background: #111; }
      canvas { width: 100%; height: 100%; display: block; object-fit: contain; }
      .message { position: absolute; inset: 0; display: flex; align-items: center; justify-content: center;
        padding: 1em; text-align: center; color: #eee; background: #222; font: 14px/1.4 system-ui, sans-serif; }
    </style><canvas part="canvas"></canvas>`;
    this.avatar = null;
    this._loading = null;
    this._mic = null;
    this.addEventListener('click', () => {
      if (!this.avatar) return;
      if (this.hasAttribute('microphone')) {
        (this._mic ? Promise.resolve(this.stop()) : this.listen()).catch((e) => this._error(wrap(e)));
      } else if (this.getAttribute('audio')) {
        this.speak().catch(() => {});
      }
    });
  }

  connectedCallback() {
    if (this.getAttribute('src') && !this._loading) this._load();
  }

  attributeChangedCallback(name, before, after) {
    if (name === 'src' && before !== after && this.isConnected) this._load();
  }

  disconnectedCallback() {
    this.stop();
    this.avatar?.dispose();
    this.avatar = null;
    this._loading = null;
  }

  async _load() {
    this.avatar?.dispose();
    this.avatar = null;
    const root = this.shadowRoot;
    root.querySelector('.message')?.remove();
    const old = root.querySelector('canvas');
    const canvas = document.createElement('canvas');
    canvas.setAttribute('part', 'canvas');
    old.replaceWith(canvas);
    const src = new URL(this.getAttribute('src'), document.baseURI);
    const loading = (this._loading = Avatar.load(canvas, src));
    try {
      const avatar = await loading;
      if (this._loading !== loading) return avatar.dispose();
      this.avatar = avatar;
      for (const type of ['speechstart', 'speechend', 'error', 'devicelost', 'recovered']) {
        avatar.addEventListener(type, (e) => {
          if (type === 'error') showMessage(root, e.detail.message);
          this.dispatchEvent(new CustomEvent(type, { detail: e.detail }));
        });
      }
      this.dispatchEvent(new Event('load'));
      if (this.hasAttribute('autoplay') && this.getAttribute('audio')) this.speak().catch(() => {});
    } catch (e) {
      const err = wrap(e);
      showMessage(root, err.message);
      this.dispatchEvent(new CustomEvent('error', { detail: err }));
    }
  }

  /** Speaks `source`, or the `audio` attribute. */
  speak(source) {
    if (!this.avatar) return Promise.reject(new SyncTalkError('BAD_ARGUMENT', 'the avatar has not loaded yet'));
    return this.avatar.speak(source ?? new URL(this.getAttribute('audio'), document.baseURI));
  }

  /** Listens to the microphone (asks for it) and moves the lips with it. */
  async listen(options) {
    if (!this.avatar) throw new SyncTalkError('BAD_ARGUMENT', 'the avatar has not loaded yet');
    this.stop();
    let mic;
    try {
      mic = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true } });
    } catch (e) {
      throw new SyncTalkError('BAD_ARGUMENT', `the microphone cannot be used: ${e.message || e}`, { cause: e });
    }
    this._mic = mic;
    try {
      await this.avatar.listen(mic, options);
    } catch (e) {
      this.stop();
      throw e;
    }
  }

  /** Stops speaking or listening (and releases the microphone). */
  stop() {
    this.avatar?.stop();
    this._mic?.getTracks().forEach((t) => t.stop());
    this._mic = null;
  }

  _error(err) {
    showMessage(this.shadowRoot, err.message);
    this.dispatchEvent(new CustomEvent('error', { detail: err }));
  }
}

if (typeof customElements !== 'undefined' && !customElements.get('synctalk-avatar')) {
  customElements.define('synctalk-avatar', SyncTalkAvatarElement);
}
