// Types of the SyncTalk Web JavaScript API (synctalk.js).

export type ErrorCode =
  | 'NO_WEBGPU' | 'BAD_PORTRAIT' | 'BAD_AUDIO' | 'BAD_ARGUMENT' | 'DEVICE_LOST'
  | 'GPU_ERROR' | 'NETWORK' | 'DISPOSED' | 'INTERNAL';

export class SyncTalkError extends Error {
  readonly code: ErrorCode;
}

export type PortraitSource = string | URL | Response | Blob | ArrayBuffer | ArrayBufferView;
export type SpeechSource =
  | string | URL | Response | Blob | ArrayBuffer | ArrayBufferView
  | AudioBuffer | Float32Array | ReadableStream<Float32Array>;

export interface LoadOptions {
  onProgress?: (loaded: number, total: number | null) => void;
  audioContext?: AudioContext;
  /** Start the animation loop at once (default true). */
  autoStart?: boolean;
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
  gpuBytes: number; wasmHeapBytes: number;
  /** The frame arena of tract's per-run tensors: size, most bytes of a slab in use, network runs served, allocations that went to the heap instead. */
  arenaBytes: number; arenaHighWaterBytes: number; arenaResets: number; arenaOverflows: number;
  faceSync: boolean; expression: boolean; headSync: boolean; headTurnDeg: number;
}

export type Blendshapes = Partial<Record<string, number>>;

export function webgpuAvailable(): Promise<boolean>;

export class Avatar extends EventTarget {
  static load(canvas: HTMLCanvasElement, source: PortraitSource, options?: LoadOptions): Promise<Avatar>;
  static readonly blendshapeNames: string[];
  readonly canvas: HTMLCanvasElement;
  readonly info: PortraitInfo;
  readonly clock: number;
  /** Plays `source` and moves the lips with it; a ReadableStream of PCM
   * chunks (Float32Array, `sampleRate` Hz) is played as it arrives. */
  speak(source: SpeechSource, sampleRate?: number, options?: { mute?: boolean }): Promise<void>;
  prepareSpeech(source: Exclude<SpeechSource, ReadableStream<Float32Array>>, sampleRate?: number): Promise<number>;
  /** Follows live audio (a microphone) `lookahead` seconds behind it (default 0.1). */
  listen(stream: MediaStream, options?: { lookahead?: number }): Promise<void>;
  readonly listening: boolean;
  /** Whether the lips follow speech now, by the audio clock, without drawing. */
  readonly speaking: boolean;
  stop(): void;
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
  /** Times the audio side per displayed frame (log-mel, networks, controller) on this thread. */
  benchAudio(source: Blob | ArrayBuffer | AudioBuffer | Float32Array | string | URL | Response,
             options?: { sampleRate?: number; fps?: number; chunk?: number }):
    Promise<{ frames: number; meanMs: number; medianMs: number; p95Ms: number; maxMs: number }>;
  readPixels(): Promise<{ width: number; height: number; data: Uint8Array }>;
  captureFrame(): Promise<Blob>;
  loseDevice(): void;
  dispose(): void;
}

export class SyncTalkAvatarElement extends HTMLElement {
  avatar: Avatar | null;
  speak(source?: SpeechSource): Promise<void>;
  listen(options?: { lookahead?: number }): Promise<void>;
  stop(): void;
}

declare global {
  interface HTMLElementTagNameMap { 'synctalk-avatar': SyncTalkAvatarElement; }
}
