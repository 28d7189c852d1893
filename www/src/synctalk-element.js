// SyncTalk Web: the <synctalk-avatar> element. Safe to import where there is
// no DOM (server-side rendering): the class then extends a placeholder and
// synctalk.js registers it only where `customElements` exists.

import { Avatar } from './synctalk-avatar.js';
import { SyncTalkError, wrap } from './synctalk-errors.js';
import { configureTts } from './synctalk-tts.js';

const ElementBase = typeof HTMLElement === 'undefined' ? class {} : HTMLElement;

const CSS = `
  :host { display: inline-block; position: relative; width: 320px; aspect-ratio: 1; background: #111; }
  canvas { width: 100%; height: 100%; display: block; object-fit: contain; }
  .captions { position: absolute; left: 4%; right: 4%; bottom: 4%; padding: 0.3em 0.6em; border-radius: 0.4em;
    background: rgb(0 0 0 / 0.7); color: #fff; font: 15px/1.35 system-ui, sans-serif; text-align: center; }
  .captions[hidden] { display: none; }
  .captions mark { background: none; color: #ffd54a; }
  .message { position: absolute; inset: 0; display: flex; align-items: center; justify-content: center;
    padding: 1em; text-align: center; color: #eee; background: #222; font: 14px/1.4 system-ui, sans-serif; }
`;
let sheet = null;

/** The element's style, as a constructed stylesheet where the browser has
 * them (a strict Content-Security-Policy refuses inline <style>), else as a
 * <style> element. */
function adoptStyle(root) {
  if (typeof CSSStyleSheet !== 'undefined' && 'adoptedStyleSheets' in root && 'replaceSync' in CSSStyleSheet.prototype) {
    if (!sheet) {
      sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
    }
    root.adoptedStyleSheets = [sheet];
  } else {
    const style = document.createElement('style');
    style.textContent = CSS;
    root.append(style);
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
 * following the microphone), `text` (said on `say()` or on a click, with
 * captions; `voice` and `rate` choose how, `tts` is the URL of eSpeak NG's
 * `espeak-ng.js` if the host moved the package's `tts/` folder; `nocaptions` hides them).
 * Property `avatar`: the Avatar, once
 * loaded. Fires `load` and the Avatar's events (`speechstart`, `speechend`,
 * `error`, `devicelost`, `recovered`), bubbling and composed, so a listener
 * anywhere above it hears them.
 *
 * Accessible: focusable (unless it has a tabindex), a button where it does
 * something when activated (with `audio` or `microphone`; Enter and Space
 * act as a click), else an image, labelled with the portrait's name unless
 * it has an aria-label; the head is held still for viewers who prefer
 * reduced motion.
 */
export class SyncTalkAvatarElement extends ElementBase {
  static get observedAttributes() {
    return ['src', 'audio', 'microphone', 'text'];
  }

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    adoptStyle(root);
    const canvas = document.createElement('canvas');
    canvas.setAttribute('part', 'canvas');
    // Captions of what say() speaks: the sentence, the word being heard marked.
    const captions = document.createElement('div');
    captions.className = 'captions';
    captions.setAttribute('part', 'captions');
    captions.setAttribute('aria-live', 'polite');
    captions.hidden = true;
    root.append(canvas, captions);
    this._captions = captions;
    this.avatar = null;
    this._loading = null;
    this._mic = null;
    this.addEventListener('click', () => this._activate());
    this.addEventListener('keydown', (e) => {
      if ((e.key === 'Enter' || e.key === ' ') && this._interactive()) {
        e.preventDefault();
        this._activate();
      }
    });
  }

  /** What a click, Enter or Space does: speak `audio`, or start or stop
   * following the microphone. */
  _activate() {
    if (!this.avatar) return;
    if (this.hasAttribute('microphone')) {
      (this._mic ? Promise.resolve(this.stop()) : this.listen()).catch((e) => this._error(wrap(e)));
    } else if (this.getAttribute('audio')) {
      this.speak().catch(() => {});
    } else if (this.getAttribute('text')) {
      this.say().catch((e) => this._error(wrap(e)));
    }
  }

  _interactive() {
    return this.hasAttribute('microphone') || !!this.getAttribute('audio') || !!this.getAttribute('text');
  }

  /** Role, label and focus, from the attributes and the portrait's name. */
  _describe() {
    const action = this.hasAttribute('microphone') ? 'press to follow the microphone'
      : this.getAttribute('audio') || this.getAttribute('text') ? 'press to hear it speak' : null;
    this.setAttribute('role', action ? 'button' : 'img');
    if (!this.hasAttribute('tabindex')) this.tabIndex = 0;
    if (action) this.setAttribute('aria-pressed', String(!!this._mic));
    else this.removeAttribute('aria-pressed');
    if (!this.hasAttribute('aria-label') || this._ownLabel) {
      const name = this.avatar?.info?.name;
      this.setAttribute('aria-label', `Talking portrait${name ? ` of ${name}` : ''}${action ? `: ${action}` : ''}`);
      this._ownLabel = true;
    }
  }

  connectedCallback() {
    this._describe();
    if (this.getAttribute('src') && !this._loading) this._load();
  }

  attributeChangedCallback(name, before, after) {
    if (name === 'src' && before !== after && this.isConnected) this._load();
    else if (before !== after && this.isConnected) this._describe();
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
      for (const type of ['speechstart', 'speechend', 'subtitle', 'error', 'devicelost', 'recovered']) {
        avatar.addEventListener(type, (e) => {
          if (type === 'error') showMessage(root, e.detail.message);
          if (type === 'subtitle') this._caption(e.detail);
          if (type === 'speechend') this._captions.hidden = true;
          this.dispatchEvent(new CustomEvent(type, { detail: e.detail, bubbles: true, composed: true }));
        });
      }
      this._describe();
      this.dispatchEvent(new Event('load'));
      if (this.hasAttribute('autoplay') && this.getAttribute('audio')) this.speak().catch(() => {});
    } catch (e) {
      const err = wrap(e);
      showMessage(root, err.message);
      this.dispatchEvent(new CustomEvent('error', { detail: err, bubbles: true, composed: true }));
    }
  }

  /** Speaks `source`, or the `audio` attribute. */
  speak(source) {
    if (!this.avatar) return Promise.reject(new SyncTalkError('BAD_ARGUMENT', 'the avatar has not loaded yet'));
    return this.avatar.speak(source ?? new URL(this.getAttribute('audio'), document.baseURI));
  }

  /** Says `text`, or the `text` attribute (see Avatar.say; `voice`, `rate`
   * from the attributes of those names unless given), with captions. */
  say(text, options = {}) {
    if (!this.avatar) return Promise.reject(new SyncTalkError('BAD_ARGUMENT', 'the avatar has not loaded yet'));
    const tts = this.getAttribute('tts');
    if (tts) {
      try {
        configureTts(new URL(tts, document.baseURI));
      } catch (e) {
        return Promise.reject(e);
      }
    }
    const voice = options.voice ?? this.getAttribute('voice') ?? undefined;
    const rate = options.rate ?? (this.hasAttribute('rate') ? Number(this.getAttribute('rate')) : undefined);
    return this.avatar.say(text ?? this.getAttribute('text'), { ...options, voice, rate });
  }

  /** Shows the sentence of the word heard, the word marked (a stream's
   * word timings carry the word alone: it is shown alone). */
  _caption({ word, text, from, to }) {
    if (text === undefined) {
      const mark = document.createElement('mark');
      mark.textContent = word;
      this._captions.replaceChildren(mark);
      this._captions.hidden = this.hasAttribute('nocaptions');
      return;
    }
    const start = Math.max(text.lastIndexOf('.', from - 1), text.lastIndexOf('!', from - 1), text.lastIndexOf('?', from - 1)) + 1;
    const ends = ['.', '!', '?'].map((c) => text.indexOf(c, to)).filter((i) => i >= 0);
    const end = ends.length ? Math.min(...ends) + 1 : text.length;
    const mark = document.createElement('mark');
    mark.textContent = text.slice(from, to);
    this._captions.replaceChildren(text.slice(start, from).trimStart(), mark, text.slice(to, end));
    this._captions.hidden = this.hasAttribute('nocaptions');
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
    this._describe();
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
    if (this.isConnected) this._describe();
  }

  _error(err) {
    showMessage(this.shadowRoot, err.message);
    this.dispatchEvent(new CustomEvent('error', { detail: err, bubbles: true, composed: true }));
  }
}
