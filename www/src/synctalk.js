// SyncTalk Web: a talking portrait in the browser (WebGPU + wasm).
//
//   import { Avatar } from './synctalk/synctalk.js';
//   const avatar = await Avatar.load(canvas, 'portrait.stk');
//   await avatar.speak('hello.wav');
//
// Everything runs on the visitor's device: after the page, this module and
// the portrait have loaded, no request leaves the browser. Importing it
// where there is no DOM (server-side rendering) is safe: nothing runs until
// an Avatar is loaded, and the element is registered only in a browser.

import { SyncTalkAvatarElement } from './synctalk-element.js';
import { configureFiles, loadWasm } from './synctalk-load.js';
import { configureTts } from './synctalk-tts.js';

export { Avatar } from './synctalk-avatar.js';
export { SyncTalkAvatarElement } from './synctalk-element.js';
export { SyncTalkError } from './synctalk-errors.js';
export { webgpuAvailable } from './synctalk-load.js';

/**
 * Tells the package where its files are, for hosts that move them (a CDN,
 * a bundler this package does not know), and starts loading the wasm
 * module. Optional: without it the files are found next to this module.
 * `wasm`: a URL, a `Response`, the bytes, or a compiled `WebAssembly.Module`;
 * `worklet`: the URL of `synctalk-capture.js`; `tts`: the URL of eSpeak NG's
 * `espeak-ng.js` (its `espeak-ng.data` beside it, or `{script, data}`) for
 * hosts that moved the package's `tts/` folder. Resolves when the wasm is ready; `onProgress(loaded,
 * total)` follows its download.
 * @param {{wasm?: string|URL|Response|BufferSource|WebAssembly.Module, worklet?: string|URL,
 *          tts?: string|URL|{script: string|URL, data?: string|URL},
 *          onProgress?: (loaded: number, total: number|null) => void}} [options]
 */
export function init(options = {}) {
  configureFiles(options);
  if (options.tts !== undefined) configureTts(options.tts);
  return loadWasm(options.onProgress);
}

if (typeof customElements !== 'undefined' && !customElements.get('synctalk-avatar')) {
  customElements.define('synctalk-avatar', SyncTalkAvatarElement);
}
