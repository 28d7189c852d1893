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

export { Avatar } from './synctalk-avatar.js';
export { SyncTalkAvatarElement } from './synctalk-element.js';
export { SyncTalkError } from './synctalk-errors.js';
export { init, webgpuAvailable } from './synctalk-load.js';

if (typeof customElements !== 'undefined' && !customElements.get('synctalk-avatar')) {
  customElements.define('synctalk-avatar', SyncTalkAvatarElement);
}
