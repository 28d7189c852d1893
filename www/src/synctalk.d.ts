// Types of the SyncTalk Web JavaScript API (synctalk.js).

export type ErrorCode =
  | 'NO_WEBGPU' | 'BAD_PORTRAIT' | 'BAD_AUDIO' | 'BAD_ARGUMENT' | 'DEVICE_LOST'
  | 'GPU_ERROR' | 'NETWORK' | 'DISPOSED' | 'INTERNAL';

export class SyncTalkError extends Error {
  readonly code: ErrorCode;
}

export type PortraitSource = string | URL | Response | Blob | ArrayBuffer | ArrayBufferView;
/** A chunk of a TTS service's stream (see SpeakOptions.format). */
export type SpeechChunk = Float32Array | Int16Array | Uint8Array | ArrayBuffer | string
  | { audio: Float32Array | Int16Array | Uint8Array | ArrayBuffer | string | null;
      words?: { word: string; start: number; end?: number }[] };
export type SpeechSource =
  | string | URL | Response | Blob | ArrayBuffer | ArrayBufferView
  | AudioBuffer | Float32Array | ReadableStream<SpeechChunk>;

export interface LoadOptions {
  /** Bytes downloaded of the portrait and, on a page's first load, the wasm module. */
  onProgress?: (loaded: number, total: number | null) => void;
  /** Cancels the load: the download stops and load() rejects with the signal's reason. */
  signal?: AbortSignal;
  audioContext?: AudioContext;
  /** Where the speech plays (default: the context's destination). */
  output?: AudioNode;
  /** Start the animation loop at once (default true). */
  autoStart?: boolean;
  /** Hold the head still (lips, brows and blinks move): 'auto' (default) follows prefers-reduced-motion. */
  reducedMotion?: boolean | 'auto';
  /** Draw nothing while the page is hidden or the canvas off screen (default true). */
  pauseWhenHidden?: boolean;
  /** No background plate: the page shows through around the head and torso (premultiplied alpha). */
  transparent?: boolean;
  /** 'auto' (default): the canvas draws at its CSS size times devicePixelRatio, up to the portrait's
   * size, following resizes; 'portrait': always the portrait's size. */
  size?: 'auto' | 'portrait';
}

export interface SpeakOptions {
  /** Move the lips without playing the sound. */
  mute?: boolean;
  /** A stream's chunks: Float32Array ('f32', the default), 16-bit little-endian PCM ('s16': Int16Array or
   * bytes), the same as base64 text ('base64-s16'), or MP3 bytes cut anywhere ('mp3'). A chunk may also be
   * `{audio, words: [{word, start, end}]}` (seconds from the stream's start): the words become `subtitle` events. */
  format?: 'f32' | 's16' | 'base64-s16' | 'mp3';
  /** Wait for the speech playing or queued instead of replacing it. */
  queue?: boolean;
  /** Cancels this speech, queued or playing: speak() rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface SayOptions extends SpeakOptions {
  /** An eSpeak NG voice: 'en-us' (default), 'en-gb', 'de', 'fr', 'es', … ; a variant after '+', e.g. 'en-us+f3'. */
  voice?: string;
  /** 1: 175 words a minute; 0.5 to 3. */
  rate?: number;
  /** 1: the voice's own; 0 to 2. */
  pitch?: number;
  /** The synthesiser's download, on the first say(). */
  onProgress?: (loaded: number, total: number | null) => void;
  /** What moves the mouth: 'phones' (default: the synthesiser's phone timings, which articulate
   * better) or 'sound' (Face-Sync hears the synthesised speech, as for any other). */
  lips?: 'phones' | 'sound';
}

/** A word as it is heard, for the `subtitle` event (of `say()`, or of a stream's word timings). */
export interface SubtitleDetail {
  word: string;
  /** say(): its place in `text` (text.slice(from, to) === word). */
  from?: number;
  to?: number;
  /** Its times in the speech, in seconds. */
  start: number;
  end: number;
  text?: string;
}

/** A drawn frame, for the `frame` event. */
export interface FrameDetail {
  /** The session clock (seconds) and the position in the speech (undefined: silence). */
  clock: number;
  speechTime: number | undefined;
  /** Whether the frame followed speech. */
  speaking: boolean;
  /** The 52 blendshapes drawn, in `Avatar.blendshapeNames` order. */
  blendshapes: Float32Array;
}

export interface AvatarEventMap {
  progress: CustomEvent<{ loaded: number; total: number | null }>;
  firstframe: Event;
  ready: Event;
  speechstart: Event;
  speechend: Event;
  subtitle: CustomEvent<SubtitleDetail>;
  frame: CustomEvent<FrameDetail>;
  error: CustomEvent<SyncTalkError>;
  devicelost: Event;
  recovered: Event;
}

export interface PortraitInfo {
  name: string; licence: string; attribution: string;
  width: number; height: number; gaussians: number; bases: number; poseFrames: number;
  networks: string[]; adapter: string; surfaceFormat: string; gpuBytes: number;
}

export interface AvatarStats {
  fps: number; frameMs: number; framesRendered: number; audioLatency: number | null;
  frames: number; engineMs: number; engineMsSpeaking: number; layersMs: number; encodeMs: number;
  visible: number; intersections: number; intersectionCapacity: number;
  /** Whether the last drawn frame followed speech; `speakingFrames`: drawn frames that did. */
  speaking: boolean; speakingFrames: number; poseFrame: number; jawOpen: number;
  /** What moves the mouth now: a say()'s 'phones', 'sound' (Face-Sync hearing the speech), or null. */
  lips: 'phones' | 'sound' | null;
  gpuBytes: number; wasmHeapBytes: number;
  /** The frame arena of tract's per-run tensors: size, most bytes of a slab in use, network runs served, allocations that went to the heap instead. */
  arenaBytes: number; arenaHighWaterBytes: number; arenaResets: number; arenaOverflows: number;
  faceSync: boolean; expression: boolean; headSync: boolean; headTurnDeg: number;
}

export type Blendshapes = Partial<Record<string, number>>;

export function webgpuAvailable(): Promise<boolean>;

export interface InitOptions {
  /** The wasm module (`synctalk_web_bg.wasm`): a URL, a Response, its bytes or a compiled module. */
  wasm?: string | URL | Response | BufferSource | WebAssembly.Module;
  /** The URL of the microphone's AudioWorklet module (`synctalk-capture.js`). */
  worklet?: string | URL;
  /** Where eSpeak NG's `espeak-ng.js` is (its `espeak-ng.data` beside it, or given as `data`),
   * for hosts that moved the package's `tts/` folder: the synthesiser `say()` loads on first use. */
  tts?: string | URL | { script: string | URL; data?: string | URL };
  /** Follows the wasm module's download. */
  onProgress?: (loaded: number, total: number | null) => void;
}

/** Where the package's files are, for hosts that move them; starts loading
 * the wasm module. Optional: by default they are found next to the module. */
export function init(options?: InitOptions): Promise<void>;

export class Avatar extends EventTarget {
  static load(canvas: HTMLCanvasElement, source: PortraitSource, options?: LoadOptions): Promise<Avatar>;
  static readonly blendshapeNames: string[];
  readonly canvas: HTMLCanvasElement;
  readonly info: PortraitInfo;
  readonly clock: number;
  /** Plays `source` and moves the lips with it; a ReadableStream of PCM
   * chunks (Float32Array, `sampleRate` Hz) is played as it arrives. */
  speak(source: SpeechSource, sampleRate?: number, options?: SpeakOptions): Promise<void>;
  /** Says typed text, offline (eSpeak NG from the package's tts/ folder); `subtitle` events follow its words. */
  say(text: string, options?: SayOptions): Promise<void>;
  prepareSpeech(source: Exclude<SpeechSource, ReadableStream<SpeechChunk>>, sampleRate?: number): Promise<number>;
  /** Follows live audio (a microphone) `lookahead` seconds behind it (default 0.1). */
  listen(stream: MediaStream, options?: { lookahead?: number }): Promise<void>;
  readonly listening: boolean;
  /** Whether the lips follow speech now, by the audio clock, without drawing. */
  readonly speaking: boolean;
  /** Ends the speech playing now; the next queued one starts. */
  interrupt(): void;
  /** Ends speaking or listening; queued speech is cancelled (AbortError). */
  stop(): void;
  /** The node all speech plays through: connect it to route the voice. */
  readonly output: GainNode;
  /** 1 as recorded, 0 silent (the lips still move); at most 10. */
  volume: number;
  /** The 52 blendshapes shown now, by name, without drawing. */
  blendshapes(): Record<string, number>;
  setBlendshapes(values: Blendshapes, weight?: number): void;
  clearBlendshapes(): void;
  start(): void;
  pause(): void;
  renderAt(clock: number, speechTime?: number): void;
  stats(): AvatarStats;
  /** How much the brows and eyes move with the speech's stress: 0 off, 1 as fitted (default), at most 4. */
  setExpressionStrength(strength: number): void;
  /** How far the head nods with the speech's stress (Head-Sync): 0 off, 1 as fitted (default), at most 4. */
  setHeadMotion(strength: number): void;
  /** How fast the head moves along its recorded motion after seconds of silence, against 1 in speech: 0.05 to 1 (0.35 default). */
  setIdlePace(pace: number): void;
  /** Hold the head still (true), let it move (false), or follow prefers-reduced-motion ('auto', the default). */
  setReducedMotion(value: boolean | 'auto'): void;
  /** Whether the head is held still now. */
  readonly reducedMotion: boolean;
  /** Times the audio side per displayed frame (log-mel, networks, controller) on this thread. */
  benchAudio(source: Blob | ArrayBuffer | AudioBuffer | Float32Array | string | URL | Response,
             options?: { sampleRate?: number; fps?: number; chunk?: number }):
    Promise<{ frames: number; meanMs: number; medianMs: number; p95Ms: number; maxMs: number }>;
  readPixels(): Promise<{ width: number; height: number; data: Uint8Array }>;
  captureFrame(): Promise<Blob>;
  loseDevice(): void;
  /** Frees the GPU and wasm memory, closes the AudioContext it opened. */
  dispose(): void;
  addEventListener<K extends keyof AvatarEventMap>(type: K, listener: (this: Avatar, ev: AvatarEventMap[K]) => unknown,
                                                   options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof AvatarEventMap>(type: K, listener: (this: Avatar, ev: AvatarEventMap[K]) => unknown,
                                                      options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
}

export interface SyncTalkAvatarElementEventMap extends Omit<HTMLElementEventMap, 'error'> {
  speechstart: CustomEvent<undefined>;
  speechend: CustomEvent<undefined>;
  subtitle: CustomEvent<SubtitleDetail>;
  error: CustomEvent<SyncTalkError>;
  devicelost: CustomEvent<undefined>;
  recovered: CustomEvent<undefined>;
}

export class SyncTalkAvatarElement extends HTMLElement {
  avatar: Avatar | null;
  speak(source?: SpeechSource): Promise<void>;
  /** Says `text` (or the `text` attribute) with captions. */
  say(text?: string, options?: SayOptions): Promise<void>;
  listen(options?: { lookahead?: number }): Promise<void>;
  stop(): void;
  addEventListener<K extends keyof SyncTalkAvatarElementEventMap>(type: K,
    listener: (this: SyncTalkAvatarElement, ev: SyncTalkAvatarElementEventMap[K]) => unknown,
    options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | AddEventListenerOptions): void;
}

declare global {
  interface HTMLElementTagNameMap { 'synctalk-avatar': SyncTalkAvatarElement; }
}
