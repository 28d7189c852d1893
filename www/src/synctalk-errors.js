// SyncTalk Web: the error type of the API, and the wrapping of whatever the
// wasm side or the browser threw into it.

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
export function wrap(e, fallback = 'INTERNAL') {
  if (e instanceof SyncTalkError) return e;
  if (e && typeof e === 'object' && typeof e.code === 'string' && e.message) {
    return new SyncTalkError(e.code, e.message, { cause: e });
  }
  if (e instanceof WebAssembly.RuntimeError) {
    return new SyncTalkError('INTERNAL', `internal error in the wasm module (${e.message}); see the console`, { cause: e });
  }
  return new SyncTalkError(fallback, String(e && e.message ? e.message : e), { cause: e });
}
