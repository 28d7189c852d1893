// SyncTalk Web: the Avatar, a talking portrait on a canvas: loading, the
// animation loop, speech (clips, streams, files read as they play, the
// microphone), overrides and settings, statistics, recovery from a lost GPU
// device.

import { WasmAvatar } from './synctalk_web.js';
import { SyncTalkError, wrap } from './synctalk-errors.js';
import { loadWasm, readBytes, wasmLoaded } from './synctalk-load.js';
import { applyMotionPreference, applySize, watchSize, watchVisibility } from './synctalk-display.js';
import { listenTo, speechTime } from './synctalk-playback.js';
import { LONG_SPEECH_SECONDS, decodeSpeech, tooLongToPrepare } from './synctalk-speech.js';
import { cancelQueue, sayInTurn, speakInTurn } from './synctalk-turns.js';

let blendshapeNames = null;


const nextFrame = () => new Promise((r) => requestAnimationFrame(() => r()));

/**
 * A talking portrait on a canvas.
 *
 * Events (it is an EventTarget): `progress` ({detail: {loaded, total}}),
 * `firstframe`, `ready` (networks loaded), `speechstart`, `speechend`,
 * `subtitle` (a word of `say()` heard), `frame` (a frame drawn), `error`
 * ({detail: SyncTalkError}), `devicelost`, `recovered`.
 */
export class Avatar extends EventTarget {
  /**
   * Loads a portrait onto `canvas` and starts drawing it.
   * @param {HTMLCanvasElement} canvas
   * @param {string|URL|Response|Blob|ArrayBuffer|Uint8Array} source the `.stk` portrait
   * Options: `onProgress(loaded, total)` (bytes of the portrait and, on the
   * page's first load, the wasm module); `signal` (an AbortSignal: stops
   * the download and rejects with its reason); `autoStart` (draw at once,
   * default true); `audioContext`, `output` (an AudioNode the speech plays
   * into; default the context's destination); `reducedMotion` ('auto',
   * the default, follows the viewer's `prefers-reduced-motion`: the head
   * is held still, the lips move); `pauseWhenHidden` (default true: no
   * drawing while the page is hidden or the canvas off screen);
   * `transparent` (no background plate: the page shows through around
   * the head and torso); `size` ('auto', the default: the canvas draws at
   * its CSS size times the device pixel ratio, up to the portrait's;
   * 'portrait': always the portrait's size).
   * @param {{onProgress?: (loaded: number, total: number|null) => void, signal?: AbortSignal,
   *          audioContext?: AudioContext, output?: AudioNode, autoStart?: boolean,
   *          reducedMotion?: boolean|'auto', pauseWhenHidden?: boolean, transparent?: boolean,
   *          size?: 'auto'|'portrait'}} [options]
   */
  static async load(canvas, source, options = {}) {
    options.signal?.throwIfAborted();
    if (!(canvas instanceof HTMLCanvasElement)) {
      throw new SyncTalkError('BAD_ARGUMENT', 'Avatar.load needs a <canvas> element');
    }
    if (!('gpu' in navigator) || !navigator.gpu) {
      throw new SyncTalkError('NO_WEBGPU', 'This browser does not support WebGPU, which SyncTalk needs to draw the portrait. Try a current Chrome, Edge or Safari, or enable WebGPU.');
    }
    const avatar = new Avatar(canvas, options);
    // Progress over both downloads: the portrait's and, on the page's first
    // load, the wasm module's (the total is known once both sizes are).
    const parts = { portrait: [0, null], wasm: [0, wasmLoaded() ? 0 : null] };
    const part = (name) => (loaded, total) => {
      parts[name] = [loaded, total];
      const all = Object.values(parts);
      const sum = all.reduce((n, [l]) => n + l, 0);
      const known = all.every(([, t]) => t !== null);
      const detail = { loaded: sum, total: known ? all.reduce((n, [, t]) => n + t, 0) : null };
      options.onProgress?.(detail.loaded, detail.total);
      avatar._emit('progress', detail);
    };
    const { signal } = options;
    const [bytes] = await Promise.all([readBytes(source, part('portrait'), 'portrait', signal), loadWasm(part('wasm'))]);
    signal?.throwIfAborted();
    avatar._bytes = bytes;
    try {
      await avatar._open();
      signal?.throwIfAborted();
      applyMotionPreference(avatar, options.reducedMotion ?? 'auto');
      avatar._draw(0, undefined);
      avatar._emit('firstframe');
      // The networks load after the first frame is on screen.
      await nextFrame();
      signal?.throwIfAborted();
      avatar._hasFaceSync = avatar._inner.loadNetworks();
    } catch (e) {
      avatar.dispose();
      if (signal?.aborted) throw signal.reason;
      throw wrap(e, 'BAD_PORTRAIT');
    }
    watchVisibility(avatar);
    watchSize(avatar);
    avatar._emit('ready');
    if (options.autoStart !== false) avatar.start();
    return avatar;
  }

  constructor(canvas, options) {
    super();
    this.canvas = canvas;
    this._options = options;
    this._inner = null;
    this._bytes = null;
    this._audio = options.output?.context ?? options.audioContext ?? null;
    this._master = null; // the GainNode all speech plays through (`output`)
    this._volume = 1;
    this._speech = null; // what the lips follow now (see synctalk-playback.js)
    this._prepared = null; // the clip the lips follow: {samples, rate, seconds}
    this._queue = []; // queued speak() calls waiting their turn: {resolve, reject}
    this._busy = null; // the speak() call that has the turn
    this._frameListeners = new Set();
    this._shown = { onScreen: true, hidden: false };
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
      this._inner = await WasmAvatar.create(this.canvas, this._bytes, this._options.transparent === true);
    } catch (e) {
      throw wrap(e, 'GPU_ERROR');
    }
    this.info = this._inner.info();
    applySize(this);
  }

  /** Seconds since the avatar started: drives blinks and head motion. */
  get clock() {
    return (performance.now() - this._t0) / 1000;
  }

  _draw(clock, speechTime) {
    const t = performance.now();
    this._inner.render(clock, speechTime);
    this._last = [clock, speechTime];
    this._frames++;
    this._frameTimes.push(t);
    if (this._frameTimes.length > 60) this._frameTimes.shift();
    this._lastDraw = performance.now() - t;
    if (this._frameListeners.size) {
      const blendshapes = new Float32Array(52);
      const speaking = this._inner.copyFrameBlendshapes(blendshapes);
      this._emit('frame', { clock, speechTime, speaking, blendshapes });
    }
  }

  /** Dispatches `type` (a CustomEvent with `detail` when one is given). */
  _emit(type, detail) {
    this.dispatchEvent(detail === undefined ? new Event(type) : new CustomEvent(type, { detail }));
  }

  addEventListener(type, listener, options) {
    if (type === 'frame' && listener) this._frameListeners.add(listener);
    super.addEventListener(type, listener, options);
  }

  removeEventListener(type, listener, options) {
    if (type === 'frame') this._frameListeners.delete(listener);
    super.removeEventListener(type, listener, options);
  }

  /** Starts the animation loop (Avatar.load does, unless autoStart is false). */
  start() {
    if (this._raf || this._disposed) return;
    const tick = () => {
      this._raf = requestAnimationFrame(tick);
      // Nothing is drawn while no one can see it (hidden page, canvas off
      // screen): the clocks go on, so the next frame shows the right moment.
      if (!this._shown.onScreen || this._shown.hidden) return;
      try {
        this._draw(this.clock, speechTime(this));
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

  _fail(err) {
    if (err.code === 'DEVICE_LOST' && !this._recovering) {
      this._recover();
      return;
    }
    this.pause();
    this._emit('error', err);
  }

  /** A lost GPU device: open a new one and carry on. */
  async _recover() {
    this._recovering = true;
    this.pause();
    this._emit('devicelost');
    try {
      this._inner?.free();
      this._inner = null;
      await this._open();
      if (this._hasFaceSync) this._inner.loadNetworks();
      for (const [name, [value, weight]] of this._overrides) this._inner.setBlendshapes({ [name]: value }, weight);
      for (const [method, value] of this._settings ?? []) this._inner[method](value);
      if (this._prepared) this._inner.setSpeech(this._prepared.samples, this._prepared.rate);
      const live = this._speech;
      if (live && ((live.kind === 'stream' && live.rate !== null) || live.kind === 'listen')) {
        // A new stream; its time starts where the old one was.
        this._inner.startStream(live.rate, live.kind === 'listen');
        if (live.kind === 'stream') live.offset = live.at;
        else live.received = live.lookahead;
      }
      this._recovering = false;
      this._emit('recovered');
      this.start();
    } catch (e) {
      this._recovering = false;
      this._emit('error', wrap(e, 'DEVICE_LOST'));
    }
  }

  _live() {
    if (this._disposed) throw new SyncTalkError('DISPOSED', 'this avatar was disposed');
    if (!this._inner) throw new SyncTalkError('DEVICE_LOST', 'the avatar is recovering from a lost GPU device');
  }

  _context() {
    if (!this._audio) {
      this._audio = new AudioContext();
      this._ownsAudio = true;
    }
    if (!this._master) {
      this._master = this._audio.createGain();
      this._master.gain.value = this._volume;
      this._master.connect(this._options.output ?? this._audio.destination);
    }
    return this._audio;
  }

  /** The AudioNode all speech plays through, into `options.output` (by
   * default the context's destination): connect it elsewhere to route the
   * avatar's voice through the app's own audio graph. */
  get output() {
    this._live();
    this._context();
    return this._master;
  }

  /** The speech's volume: 1 as recorded, 0 silent (the lips still move). */
  get volume() {
    return this._volume;
  }

  set volume(v) {
    if (!(Number.isFinite(v) && v >= 0 && v <= 10)) {
      throw new SyncTalkError('BAD_ARGUMENT', `volume ${v} must be a number from 0 to 10`);
    }
    this._volume = v;
    if (this._master) this._master.gain.value = v;
  }

  /**
   * Decodes `source` and makes it the speech the lips follow, without
   * playing it: frames then come from `renderAt(clock, speechTime)` (tests,
   * offline rendering). Resolves to its length in seconds. At most 10
   * minutes (the whole clip is analysed up front); `speak()` takes longer.
   */
  async prepareSpeech(source, sampleRate) {
    this._live();
    const { samples, rate } = await decodeSpeech(source, sampleRate, () => this._context());
    this.stop();
    return this._prepare(samples, rate);
  }

  _prepare(samples, rate) {
    if (samples.length / rate > LONG_SPEECH_SECONDS) {
      // The whole clip's mel frames would sit in wasm memory (11 MB a minute).
      throw tooLongToPrepare(`this is ${(samples.length / rate / 60).toFixed(1)}`);
    }
    this._end();
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
   * ends (or `interrupt()`/`stop()` ends it). Speech longer than 10 minutes
   * enters the engine as it plays, so that any length fits the same memory.
   * Options: `mute` moves the lips without the sound; `queue` waits for
   * the speech already playing or queued instead of replacing it; `signal`
   * (an AbortSignal) cancels it, queued or playing (the promise then
   * rejects with the signal's reason).
   * @param {string|URL|Response|Blob|ArrayBuffer|AudioBuffer|Float32Array|ReadableStream} source
   * @param {number} [sampleRate] for a Float32Array or a stream of PCM chunks
   * @param {{mute?: boolean, queue?: boolean, signal?: AbortSignal}} [options]
   */
  speak(source, sampleRate, options = {}) {
    return speakInTurn(this, source, sampleRate, options);
  }

  /**
   * Says typed text aloud, offline (eSpeak NG in a worker, loaded on the
   * first call: see `init({tts})`), and moves the lips with it. Resolves
   * when it has been said. Fires `subtitle` as each word is heard
   * (`{word, from, to, start, end, text}`: the word, its place in `text`,
   * its times in the speech). Options: `voice` (e.g. 'en-us', 'en-gb',
   * 'de', 'fr', 'es'; a variant after '+', e.g. 'en-us+f3'), `rate` (1: 175
   * words a minute; 0.5 to 3), `pitch` (1: the voice's own; 0 to 2),
   * `onProgress` (the synthesiser's download, once), `lips` ('phones', the
   * default: eSpeak's phone timings move the mouth, which articulates
   * better than Face-Sync hearing its voice; 'sound': Face-Sync hears it),
   * and `speak`'s `mute`, `queue` and `signal`.
   * @param {string} text
   * @param {{voice?: string, rate?: number, pitch?: number, lips?: 'phones'|'sound', mute?: boolean, queue?: boolean,
   *          signal?: AbortSignal, onProgress?: (loaded: number, total: number|null) => void}} [options]
   */
  say(text, options = {}) {
    return sayInTurn(this, text, options);
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
    cancelQueue(this);
    return listenTo(this, mediaStream, options);
  }

  /** Ends the speech playing now (its `speak()` resolves); the next queued
   * speech, if any, starts. */
  interrupt() {
    this._end();
  }

  /** Stops speaking or listening (the `speak()` playing resolves, queued
   * ones reject with an AbortError) and forgets the speech. */
  stop() {
    cancelQueue(this);
    this._end();
  }

  /** Ends what the lips follow now: the clip, stream or live audio. */
  _end() {
    const s = this._speech;
    this._speech = null;
    if (this._prepared) {
      this._prepared = null;
      this._inner?.clearSpeech();
    }
    s?.finish();
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
    return this._inner.speakingAt(speechTime(this));
  }

  /** The 52 blendshapes the avatar shows now (by name), without drawing. */
  blendshapes() {
    this._live();
    try {
      const v = this._inner.blendshapesAt(this.clock, speechTime(this));
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

  /**
   * Holds the head still for viewers who ask for reduced motion (the lips,
   * brows and blinks still move): `true`, `false`, or `'auto'` (the
   * default) to follow the viewer's `prefers-reduced-motion` setting as it
   * changes.
   */
  setReducedMotion(value) {
    this._live();
    if (value !== true && value !== false && value !== 'auto') {
      throw new SyncTalkError('BAD_ARGUMENT', `reduced motion ${value} must be true, false or 'auto'`);
    }
    applyMotionPreference(this, value);
  }

  /** Whether the head is held still now (see `setReducedMotion`). */
  get reducedMotion() {
    return this._settings?.get('setHeadStill') === true;
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
    const { samples, rate } = await decodeSpeech(source, sampleRate, () => this._context());
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
      // What moves the mouth now: 'phones' (a say()'s phone timings),
      // 'sound' (Face-Sync hearing the speech), null (no speech).
      lips: this._prepared?.phones ? 'phones' : this._speech ? 'sound' : null,
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

  /** Stops everything and frees what the avatar opened: the GPU and wasm
   * memory, its AudioContext (unless the app gave it one), its observers. */
  dispose() {
    if (this._disposed) return;
    this.stop();
    this.pause();
    this._inner?.free();
    this._inner = null;
    this._bytes = null;
    this._disposed = true;
    this._observer?.disconnect();
    this._resizer?.disconnect();
    if (this._onVisibility) document.removeEventListener('visibilitychange', this._onVisibility);
    this._motionQuery?.removeEventListener('change', this._onMotionQuery);
    this._master?.disconnect();
    this._master = null;
    if (this._ownsAudio) this._audio.close().catch(() => {});
    this._audio = null;
  }
}
